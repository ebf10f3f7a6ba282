// Better Auth's own client (the pinned package) against the service's built-in /api/auth.
// Usage: node builtin-client.mjs   with API_URL, EMAIL and PASSWORD set.
// Prints one JSON object with what each call returned.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { required } from "./env.mjs";

const API_URL = required("API_URL");
const EMAIL = required("EMAIL");
const PASSWORD = required("PASSWORD");

// A browser on the service's own origin keeps the cookies and sends its Origin; Node does neither.
const cookies = new Map();
async function browserLikeFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("origin", API_URL);
  if (cookies.size) headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
  const response = await fetch(input, { ...init, headers });
  for (const cookie of response.headers.getSetCookie()) {
    const [pair, ...attributes] = cookie.split(";");
    const equals = pair.indexOf("=");
    const name = pair.slice(0, equals);
    if (attributes.some((attribute) => attribute.trim().toLowerCase() === "max-age=0")) cookies.delete(name);
    else cookies.set(name, pair.slice(equals + 1));
  }
  return response;
}

const authClient = createAuthClient({
  baseURL: API_URL,
  fetchOptions: { customFetchImpl: browserLikeFetch },
  plugins: [jwtClient()],
});

// jose verifies the JWT against the service's published keys, as any third party would.
async function describeJwt(token) {
  const keys = createRemoteJWKSet(new URL(`${API_URL}/api/auth/jwks`));
  try {
    const { payload } = await jwtVerify(token, keys, { algorithms: ["EdDSA"] });
    const tasks = await fetch(`${API_URL}/api/tasks`, { headers: { authorization: `Bearer ${token}` } });
    return { header: decodeProtectedHeader(token), payload, tasksStatus: tasks.status };
  } catch (error) {
    return { error: String(error) };
  }
}

const failure = ({ error }) => (error ? { status: error.status, code: error.code, message: error.message } : null);

function describeSession(data) {
  if (!data) return data;
  const dates = {
    expiresAt: data.session.expiresAt,
    sessionCreatedAt: data.session.createdAt,
    userCreatedAt: data.user.createdAt,
  };
  return {
    userId: data.user.id,
    email: data.user.email,
    token: data.session.token,
    // The client turns the ISO strings into Date objects; these are what it made of them.
    datesAreDates: Object.values(dates).every((value) => value instanceof Date),
    dates: Object.fromEntries(Object.entries(dates).map(([key, value]) => [key, value.getTime()])),
  };
}

const signUp = await authClient.signUp.email({ email: EMAIL, password: PASSWORD, name: "Built-in User" });
const duplicate = await authClient.signUp.email({ email: EMAIL, password: PASSWORD, name: "Again" });
const shortPassword = await authClient.signUp.email({
  email: `short-${EMAIL}`,
  password: "short",
  name: "Short",
});
const wrongPassword = await authClient.signIn.email({ email: EMAIL, password: `${PASSWORD}-wrong` });
const unknownEmail = await authClient.signIn.email({ email: `unknown-${EMAIL}`, password: PASSWORD });
cookies.clear();
const signIn = await authClient.signIn.email({ email: EMAIL, password: PASSWORD });
const session = await authClient.getSession();
const jwt = await authClient.token();
const jwks = await authClient.jwks();
// The same answer as raw JSON, to compare the client's dates with the text it was sent.
const raw = await (await browserLikeFetch(`${API_URL}/api/auth/get-session`)).json();
const signOut = await authClient.signOut();
const afterSignOut = await authClient.getSession();
const tokenAfterSignOut = await authClient.token();

console.log(
  JSON.stringify({
    signUp: signUp.error ? failure(signUp) : { userId: signUp.data.user.id, token: signUp.data.token },
    duplicate: failure(duplicate),
    shortPassword: failure(shortPassword),
    wrongPassword: failure(wrongPassword),
    unknownEmail: failure(unknownEmail),
    signIn: signIn.error ? failure(signIn) : { userId: signIn.data.user.id, token: signIn.data.token, redirect: signIn.data.redirect },
    session: session.error ? failure(session) : describeSession(session.data),
    raw,
    jwt: jwt.error ? failure(jwt) : await describeJwt(jwt.data.token),
    jwks: jwks.error ? failure(jwks) : jwks.data,
    tokenAfterSignOut: failure(tokenAfterSignOut),
    signOut: signOut.error ? failure(signOut) : signOut.data,
    afterSignOut: afterSignOut.error ? failure(afterSignOut) : afterSignOut.data,
    cookiesLeft: [...cookies.keys()],
  }),
);
