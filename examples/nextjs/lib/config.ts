// What the app is configured with, read on the server at request time (not baked in at
// build time), so one build runs against any service and in any of the three set-ups.

/** jwt: Better Auth's jwt() plugin in this app; shared-database: the same, on the service's
 * database; builtin: no Better Auth here, the service's own accounts at its /api/auth. */
export type AuthMode = "jwt" | "shared-database" | "builtin";

/** What the browser needs; passed from Server Components to Client Components as props. */
export interface PublicConfig {
  authMode: AuthMode;
  /** The service, e.g. http://localhost:8000 (TODO_API_URL). */
  apiUrl: string | undefined;
}

export function authMode(): AuthMode {
  const mode = process.env.AUTH_MODE ?? "jwt";
  if (mode === "jwt" || mode === "shared-database" || mode === "builtin") return mode;
  throw new Error(`AUTH_MODE must be jwt, shared-database or builtin, not ${JSON.stringify(mode)}`);
}

export function publicConfig(): PublicConfig {
  return { authMode: authMode(), apiUrl: process.env.TODO_API_URL };
}
