// A real Better Auth issuer for the interop tests, configured by environment variables:
// PORT, DATABASE_URL, BETTER_AUTH_SECRET, BETTER_AUTH_URL, JWT_ALG (EdDSA),
// JWT_EXPIRATION (15m), ISSUER_TEST_ROUTES (1 enables POST /test/rotate-keys), BEARER (1 adds
// the bearer() plugin, which the service's built-in sign-in always answers as).
import http from "node:http";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { fromNodeHeaders, toNodeHandler } from "better-auth/node";
import { bearer, createJwk, jwt } from "better-auth/plugins";
import { SignJWT } from "jose";
import pg from "pg";
import { required } from "./env.mjs";

const port = Number(required("PORT"));
const baseURL = required("BETTER_AUTH_URL");
const secret = required("BETTER_AUTH_SECRET");
const alg = process.env.JWT_ALG || "EdDSA";
const testRoutes = process.env.ISSUER_TEST_ROUTES === "1";

// Ed25519 is the plugin's default; every other algorithm takes its defaults from jose.
const keyPairConfig = alg === "EdDSA" ? { alg, crv: "Ed25519" } : { alg };
const jwtOptions = {
  jwks: { keyPairConfig },
  jwt: { expirationTime: process.env.JWT_EXPIRATION || "15m" },
};

const pool = new pg.Pool({ connectionString: required("DATABASE_URL") });
const options = {
  baseURL,
  secret,
  database: pool,
  emailAndPassword: { enabled: true, requireEmailVerification: false },
  // POST /api/auth/delete-user, for the shared database test (tasks go with their user).
  user: { deleteUser: { enabled: true } },
  // Exactly what docs/frontend.md asks of a Next.js app: email/password and jwt().
  plugins: [jwt(jwtOptions), ...(process.env.BEARER === "1" ? [bearer()] : [])],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
};

const { runMigrations } = await getMigrations(options);
await runMigrations();

const auth = betterAuth(options);
const authHandler = toNodeHandler(auth);
// The plugin mints its first key on the first JWKS read; do it now so the key set is
// stable before any client asks for a token.
await auth.api.getJwks();

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

// The HS256 bridge route of docs/frontend.md (section 2): session in, HS256 JWT out.
async function hs256Token(req, res) {
  const session = await auth.api.getSession({ headers: fromNodeHeaders(req.headers) });
  if (!session) return sendJson(res, 401, { error: "unauthorized" });
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(session.user.id)
    .setIssuer(baseURL)
    .setAudience(baseURL)
    .setIssuedAt()
    .setExpirationTime("15m")
    .sign(new TextEncoder().encode(secret));
  return sendJson(res, 200, { token });
}

// Rotation with the plugin's own key minting: the newest live key signs from now on,
// and the older keys (no expiresAt) stay published in the JWKS.
async function rotateKeys(res) {
  const key = await createJwk({ context: await auth.$context }, jwtOptions);
  return sendJson(res, 200, { kid: key.id });
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, baseURL).pathname;
  let handled;
  if (req.method === "GET" && path === "/api/hs256-token") handled = hs256Token(req, res);
  else if (testRoutes && req.method === "POST" && path === "/test/rotate-keys") handled = rotateKeys(res);
  else return authHandler(req, res);
  handled.catch((err) => {
    console.error(err);
    if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
  });
});

server.listen(port, "127.0.0.1", () => console.log(`READY ${port}`));

process.on("SIGTERM", () => {
  server.close(() => pool.end().then(() => process.exit(0)));
  server.closeAllConnections();
});
