// The typed client (clients/typescript, built to dist/) as an app uses it: Better Auth's own
// client with jwtClient() signs two users up, `cachedToken(authClient.token)` provides the
// tokens, and every call goes to a real todo-api. Only the cookie jar stands in for the browser.
//
// Usage: node typed-client.mjs   with AUTH_URL, API_URL, PASSWORD set.
// Prints one JSON object with what each call returned.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { ApiError, cachedToken, createTodoClient, etagOf } from "../../../clients/typescript/dist/index.js";
import { required } from "./env.mjs";

const AUTH_URL = required("AUTH_URL");
const API_URL = required("API_URL");
const PASSWORD = required("PASSWORD");

// A browser keeps Better Auth's session cookie and sends its page's Origin; Node does neither.
function browserLike() {
  const cookies = new Map();
  return async (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("origin", AUTH_URL);
    if (cookies.size) headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(input, { ...init, headers });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const equals = pair.indexOf("=");
      cookies.set(pair.slice(0, equals), pair.slice(equals + 1));
    }
    return response;
  };
}

async function signedInUser(name) {
  const authClient = createAuthClient({
    baseURL: AUTH_URL,
    plugins: [jwtClient()],
    fetchOptions: { customFetchImpl: browserLike() },
  });
  const email = `${name}-${Math.random().toString(16).slice(2, 10)}@example.com`;
  const { data, error } = await authClient.signUp.email({ name, email, password: PASSWORD });
  if (error) throw new Error(`sign-up failed: ${JSON.stringify(error)}`);
  let tokenFetches = 0;
  const getToken = cachedToken(async () => {
    tokenFetches += 1;
    const { data: token } = await authClient.token();
    return token?.token ?? null;
  });
  const api = createTodoClient({ baseUrl: API_URL, getToken });
  return { id: data.user.id, api, getToken, fetches: () => tokenFetches };
}

async function failure(promise) {
  try {
    await promise;
    return { resolved: true };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { name: error.name, status: error.status, detail: error.detail, message: error.message, issues: error.issues };
  }
}

function thrown(make) {
  try {
    make();
    return null;
  } catch (error) {
    return String(error.message);
  }
}

const alice = await signedInUser("alice");
const report = { userId: alice.id };
report.missingBaseUrl = thrown(() => createTodoClient({ baseUrl: undefined }));
report.relativeBaseUrl = thrown(() => createTodoClient({ baseUrl: "/api" }));

const first = await alice.api.createTask({ title: "Buy milk", description: "2 litres" });
const second = await alice.api.createTask({ title: "Call mum" });
report.first = first;
report.second = second;
report.firstEtag = etagOf(first);
const page1 = await alice.api.listTasks({ limit: 1 });
report.page1 = page1;
report.page2 = await alice.api.listTasks(page1.next);

const fetched = await alice.api.getTask(first.id);
report.fetched = fetched;
report.fetchedEtag = etagOf(fetched);
report.updated = await alice.api.updateTask(first.id, { title: "Buy oat milk" }, { ifMatch: fetched });
report.updatedEtag = etagOf(report.updated);
// Edited with the version from before the update: refused, nothing written.
report.staleEdit = await failure(alice.api.updateTask(first.id, { title: "Lost edit" }, { ifMatch: fetched }));
report.afterStaleEdit = await alice.api.getTask(first.id);
report.toggled = await alice.api.toggleTask(first.id, { ifMatch: report.updated });
report.setPending = await alice.api.toggleTask(first.id, { completed: false });
await alice.api.deleteTask(second.id, { ifMatch: etagOf(second) });
report.afterDelete = await alice.api.listTasks();
report.missing = await failure(alice.api.getTask(second.id));
report.invalid = await failure(alice.api.createTask({ title: "", description: "x" }));
report.badQuery = await failure(alice.api.listTasks({ status: "bogus" }));
report.aliceTokenFetches = alice.fetches();

const bob = await signedInUser("bob");
report.bobList = await bob.api.listTasks();
report.bobGetsAlicesTask = await failure(bob.api.getTask(first.id));
report.bobDeletesAlicesTask = await failure(bob.api.deleteTask(first.id));
report.aliceAfterBob = await alice.api.getTask(first.id);

const nobody = createTodoClient({ baseUrl: API_URL, getToken: async () => null });
report.notSignedIn = await failure(nobody.listTasks());
const forged = createTodoClient({ baseUrl: API_URL, getToken: async () => "not-a-token" });
report.badToken = await failure(forged.listTasks());

console.log(JSON.stringify(report));
