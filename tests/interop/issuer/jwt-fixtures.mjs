// Writes tests/accounts/fixtures/better_auth_jwt.json: what the pinned Better Auth's jwt()
// plugin stores and answers, with a placeholder secret, on its in-memory adapter.
// Usage (from the repository's root): node tests/interop/issuer/jwt-fixtures.mjs > tests/accounts/fixtures/better_auth_jwt.json
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt } from "better-auth/plugins";

const secret = "placeholder-secret-for-fixtures-0123456789";
const baseURL = "http://localhost:8000";
const db = { user: [], session: [], account: [], verification: [], jwks: [] };
const auth = betterAuth({
  baseURL,
  secret,
  database: memoryAdapter(db),
  emailAndPassword: { enabled: true },
  plugins: [jwt()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});

const call = (path, init = {}) => auth.handler(new Request(`${baseURL}/api/auth${path}`, init));
const answer = async (response) => ({
  status: response.status,
  headers: Object.fromEntries(response.headers),
  body: await response.text(),
});

const signUp = await call("/sign-up/email", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ name: "Fixture User", email: "fixture@example.com", password: "placeholder-password-123" }),
});
// The session cookie, as a browser would send it back.
const withSession = { cookie: signUp.headers.getSetCookie().map((cookie) => cookie.split(";")[0]).join("; ") };

const token = await answer(await call("/token", { headers: withSession }));
const jwks = await answer(await call("/jwks"));
const noSession = await answer(await call("/token"));
const getSession = await call("/get-session", { headers: withSession });

const [row] = db.jwks;
console.log(
  JSON.stringify(
    {
      secret,
      baseURL,
      jwksRow: { ...row, createdAt: row.createdAt.toISOString() },
      token,
      jwks,
      noSession,
      getSessionHeaders: Object.fromEntries(getSession.headers),
    },
    null,
    2,
  ),
);
