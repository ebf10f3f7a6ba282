// jose (the pinned package Better Auth signs with) verifies a JWT against a remote JWKS.
// Usage: node verify-jwt.mjs   with JWKS_URL, TOKEN and ISSUER (also the audience) set.
// Prints one JSON object: the protected header and payload, or the error.
import { createRemoteJWKSet, jwtVerify } from "jose";

const { JWKS_URL, TOKEN, ISSUER } = process.env;
if (!JWKS_URL || !TOKEN || !ISSUER) throw new Error("JWKS_URL, TOKEN and ISSUER must be set");
try {
  const { payload, protectedHeader } = await jwtVerify(TOKEN, createRemoteJWKSet(new URL(JWKS_URL)), {
    issuer: ISSUER,
    audience: ISSUER,
  });
  console.log(JSON.stringify({ header: protectedHeader, payload }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error) }));
}
