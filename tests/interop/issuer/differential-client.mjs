// One script, two servers: Better Auth's own client (the pinned package) makes the same calls
// against a Node Better Auth and against the service's built-in /api/auth, and this prints
// what each answer looked like, without values that differ by nature (ids, tokens, dates).
// Usage: node differential-client.mjs   with API_URL, EMAIL and PASSWORD set.
import { createAuthClient } from "better-auth/client";
import { required } from "./env.mjs";

const API_URL = required("API_URL");
const EMAIL = required("EMAIL");
const PASSWORD = required("PASSWORD");
const OTHER_SITE = "http://other-site.example";

// The shape of a JSON value: its keys and the types of its leaves, never the values.
function shape(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, shape(value[key])]));
  }
  return typeof value;
}

// A Set-Cookie header without its value: the name, then each attribute in the order sent
// (with Max-Age's number, which says how long the cookie lives).
function describeCookie(header) {
  const [pair, ...attributes] = header.split(";").map((part) => part.trim());
  const name = pair.slice(0, pair.indexOf("="));
  const empty = pair.slice(pair.indexOf("=") + 1) === "";
  return {
    name,
    empty,
    attributes: attributes.map((attribute) =>
      attribute.toLowerCase().startsWith("max-age=") ? attribute : attribute.split("=")[0],
    ),
    sameSite: attributes.find((attribute) => attribute.toLowerCase().startsWith("samesite="))?.split("=")[1],
  };
}

// What each response looked like, in order; the client's own view is recorded beside it.
const exchanges = [];
const cookies = new Map();
let origin = API_URL;
let bearer = null;

async function recordingFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  if (origin) headers.set("origin", origin);
  else headers.delete("origin");
  if (bearer) headers.set("authorization", `Bearer ${bearer}`);
  else if (cookies.size) {
    headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
  }
  const response = await fetch(input, { ...init, headers });
  const setCookies = response.headers.getSetCookie();
  for (const cookie of setCookies) {
    const [pair, ...attributes] = cookie.split(";");
    const name = pair.slice(0, pair.indexOf("="));
    if (attributes.some((attribute) => attribute.trim().toLowerCase() === "max-age=0")) cookies.delete(name);
    else cookies.set(name, pair.slice(pair.indexOf("=") + 1));
  }
  const text = await response.clone().text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = "(not JSON)";
  }
  const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
  exchanges.push({
    path,
    status: response.status,
    contentType: response.headers.get("content-type")?.split(";")[0] ?? null,
    shape: shape(body),
    code: body?.code ?? null,
    message: body?.message ?? null,
    cookies: setCookies.map(describeCookie),
    authToken: response.headers.has("set-auth-token"),
    // Better Auth marks get-session no-store; the service marks every answer so (stricter).
    cacheControl: path.endsWith("/get-session") ? response.headers.get("cache-control") : "(not compared)",
  });
  return response;
}

const authClient = createAuthClient({ baseURL: API_URL, fetchOptions: { customFetchImpl: recordingFetch } });

const steps = {};
async function step(name, call) {
  const before = exchanges.length;
  const result = await call();
  steps[name] = {
    exchanges: exchanges.slice(before),
    // The client's own reading: an error's status and code, or the shape of its data.
    client: result.error
      ? { error: { status: result.error.status, code: result.error.code ?? null } }
      : { data: shape(result.data) },
  };
}

const user = { email: EMAIL, password: PASSWORD, name: "Differential User" };
await step("signUp", () => authClient.signUp.email(user));
cookies.clear();
await step("duplicateEmail", () => authClient.signUp.email(user));
await step("shortPassword", () => authClient.signUp.email({ ...user, email: `short-${EMAIL}`, password: "short" }));
await step("longPassword", () =>
  authClient.signUp.email({ ...user, email: `long-${EMAIL}`, password: "x".repeat(129) }),
);
await step("malformedEmail", () => authClient.signUp.email({ ...user, email: "not-an-email" }));
await step("wrongPassword", () => authClient.signIn.email({ email: EMAIL, password: `${PASSWORD}-wrong` }));
await step("unknownEmail", () => authClient.signIn.email({ email: `unknown-${EMAIL}`, password: PASSWORD }));
await step("foreignCallback", () =>
  authClient.signIn.email({ email: EMAIL, password: PASSWORD, callbackURL: `${OTHER_SITE}/welcome` }),
);
origin = OTHER_SITE;
await step("signInFromOtherSite", () => authClient.signIn.email({ email: EMAIL, password: PASSWORD }));
origin = API_URL;
await step("signInForgetful", () => authClient.signIn.email({ email: EMAIL, password: PASSWORD, rememberMe: false }));
cookies.clear();
await step("signIn", () => authClient.signIn.email({ email: EMAIL, password: PASSWORD }));
await step("getSession", () => authClient.getSession());
const token = (await authClient.getSession()).data.session.token;
const savedCookies = new Map(cookies);
cookies.clear();
bearer = token;
await step("getSessionByBearer", () => authClient.getSession());
bearer = null;
await step("getSessionWithoutCredentials", () => authClient.getSession());
for (const [name, value] of savedCookies) cookies.set(name, value);
origin = null;
await step("signOutWithoutOrigin", () => authClient.signOut());
origin = OTHER_SITE;
await step("signOutFromOtherSite", () => authClient.signOut());
origin = API_URL;
await step("signOut", () => authClient.signOut());
for (const [name, value] of savedCookies) cookies.set(name, value);
await step("getSessionAfterSignOut", () => authClient.getSession());

console.log(JSON.stringify(steps));
