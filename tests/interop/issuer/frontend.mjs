// The frontend side, as docs/frontend.md writes it: Better Auth's own client with
// jwtClient() signs a user up and gets tokens with authClient.token(), and a small `api`
// helper calls todo-api with them. Only the cookie jar stands in for the browser.
//
// Usage: node frontend.mjs   with AUTH_URL, API_URL, EMAIL and PASSWORD set.
// Prints one JSON object with what each call returned.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

const AUTH_URL = required("AUTH_URL");
const API_URL = required("API_URL");

// A browser keeps Better Auth's session cookie and sends its page's Origin; Node does neither.
const cookies = new Map();
async function browserLikeFetch(input, init = {}) {
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
}

// ---- from docs/frontend.md: lib/auth-client.ts --------------------------------------
const authClient = createAuthClient({
  baseURL: AUTH_URL,
  plugins: [jwtClient()],
  fetchOptions: { customFetchImpl: browserLikeFetch },
});

// ---- from docs/frontend.md: lib/api.ts -----------------------------------------------
class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

async function getToken() {
  const { data, error } = await authClient.token();
  if (error || !data) throw new ApiError(401, "not signed in");
  return data.token;
}

async function api(path, init = {}) {
  const response = await fetch(`${API_URL}${path}`, {
    ...init,
    headers: {
      Authorization: `Bearer ${await getToken()}`,
      ...(init.body ? { "Content-Type": "application/json" } : {}),
      ...init.headers,
    },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new ApiError(response.status, body?.detail);
  }
  return response;
}

async function listTasks({ status = "all", sort = "-created_at", limit = 100, offset = 0 } = {}) {
  const query = new URLSearchParams({ status, sort, limit: String(limit), offset: String(offset) });
  const response = await api(`/api/tasks?${query}`);
  return {
    tasks: await response.json(),
    total: Number(response.headers.get("X-Total-Count")),
    next: response.headers.get("Link")?.match(/<([^>]+)>;\s*rel="next"/)?.[1] ?? null,
  };
}

const createTask = async (input) =>
  (await api("/api/tasks", { method: "POST", body: JSON.stringify(input) })).json();
const getTask = async (id) => (await api(`/api/tasks/${id}`)).json();
// With the ETag of the version the user edited, the write fails (412) if it changed since.
const getTaskVersion = async (id) => {
  const response = await api(`/api/tasks/${id}`);
  return { task: await response.json(), etag: response.headers.get("ETag") };
};
const updateTask = async (id, changes, etag) =>
  (
    await api(`/api/tasks/${id}`, {
      method: "PATCH",
      body: JSON.stringify(changes),
      headers: etag ? { "If-Match": etag } : {},
    })
  ).json();
const toggleTask = async (id) => (await api(`/api/tasks/${id}/complete`, { method: "PATCH" })).json();
const deleteTask = async (id) => {
  await api(`/api/tasks/${id}`, { method: "DELETE" });
};
// ---- end of the docs' code -------------------------------------------------------------

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { name: error.name, status: error.status, detail: error.detail };
  }
}

const signUp = await authClient.signUp.email({
  email: required("EMAIL"),
  password: required("PASSWORD"),
  name: "Frontend User",
});
if (signUp.error) throw new Error(`sign-up failed: ${JSON.stringify(signUp.error)}`);

const first = await createTask({ title: "Buy milk", description: "2 litres" });
const second = await createTask({ title: "Walk the dog" });
const page1 = await listTasks({ limit: 1 });
const page2 = await listTasks({ limit: 1, offset: 1 });
const fetched = await getTask(first.id);
const { etag } = await getTaskVersion(first.id);
const updated = await updateTask(first.id, { title: "Buy oat milk" }, etag);
const staleEdit = await failure(updateTask(first.id, { title: "Buy cow milk" }, etag));
const toggled = await toggleTask(first.id);
await deleteTask(second.id);
const afterDelete = await listTasks();

console.log(
  JSON.stringify({
    userId: signUp.data.user.id,
    token: await getToken(),
    first,
    second,
    page1,
    page2,
    fetched,
    etag,
    updated,
    staleEdit,
    toggled,
    afterDelete,
    missing: await failure(getTask(second.id)),
    invalid: await failure(createTask({ title: "" })),
    badQuery: await failure(listTasks({ status: "done" })),
  }),
);
