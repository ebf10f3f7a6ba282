// Better Auth in this app (AUTH_MODE jwt or shared-database): email and password, and the
// jwt() plugin, whose tokens todo-api verifies with the keys at /api/auth/jwks.
import { betterAuth, type BetterAuthOptions } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { jwt } from "better-auth/plugins";
import { Pool } from "pg";

function authOptions() {
  return {
    // Its origin (no path, no trailing slash) becomes the tokens' `iss` and `aud`.
    baseURL: process.env.BETTER_AUTH_URL, // e.g. http://localhost:3000
    secret: process.env.BETTER_AUTH_SECRET,
    // AUTH_DATABASE_URL, not DATABASE_URL: that name is the service's (its tasks database).
    database: new Pool({ connectionString: process.env.AUTH_DATABASE_URL }),
    emailAndPassword: { enabled: true },
    // With a shared database, deleting a user deletes their tasks (todo-api's foreign key).
    user: { deleteUser: { enabled: process.env.AUTH_MODE === "shared-database" } },
    plugins: [
      jwt({
        // The token travels in every request's headers: carry the id (`sub`) and little else,
        // not the whole user (a data-URL `image` alone can push the headers past 16 KiB: 431).
        jwt: { definePayload: ({ user }) => ({ name: user.name, email: user.email }) },
      }),
    ],
  } satisfies BetterAuthOptions;
}

let instance: ReturnType<typeof betterAuth<ReturnType<typeof authOptions>>> | undefined;

/** Better Auth, made on first use: `next build` imports this module with no secret set. */
export function getAuth() {
  instance ??= betterAuth(authOptions());
  return instance;
}

/** Create or update Better Auth's tables (user, session, account, verification, jwks). */
export async function migrateAuthDatabase(): Promise<void> {
  const { runMigrations } = await getMigrations(authOptions());
  await runMigrations();
}
