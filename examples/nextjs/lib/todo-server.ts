// Server side (Server Components, Route Handlers, Server Actions): the caller's token from
// Better Auth on the server, with the request's cookies. `authClient.token()` would have no
// cookies here and fail with 401 "not signed in".
import { createAuthClient } from "better-auth/client";
import { headers } from "next/headers";
import { createTodoClient, type TodoClient } from "todo-api-client";
import { getAuth } from "@/lib/auth";
import { authMode } from "@/lib/config";

/** The signed-in user of this request, or null. */
export async function currentUser(): Promise<{ id: string; email: string } | null> {
  if (authMode() === "builtin") {
    const { data } = await (await serviceAuth()).authClient.getSession();
    return data ? { id: data.user.id, email: data.user.email } : null;
  }
  const session = await getAuth().api.getSession({ headers: await headers() });
  return session ? { id: session.user.id, email: session.user.email } : null;
}

/** A client for this request only: never share one between requests, its token is the caller's. */
export async function serverTodoClient(): Promise<TodoClient> {
  if (authMode() === "builtin") return (await serviceAuth()).api;
  const requestHeaders = await headers();
  return createTodoClient({
    baseUrl: process.env.TODO_API_URL,
    getToken: async () => (await getAuth().api.getToken({ headers: requestHeaders })).token,
  });
}

/** Built-in accounts: the service's own session cookie, forwarded from this request. */
async function serviceAuth() {
  // Only Better Auth's cookies: the service has no business with the app's other cookies. The
  // browser sends them here because the app and the service share a host name (cookies ignore
  // ports); on two host names, the app's server never sees the service's cookie.
  const cookie = ((await headers()).get("cookie") ?? "")
    .split(/;\s*/)
    .filter((pair) => /^(__Secure-)?better-auth\./.test(pair))
    .join("; ");
  // Checked first: without TODO_API_URL this throws the client's clear error.
  const api = createTodoClient({ baseUrl: process.env.TODO_API_URL, headers: { cookie } });
  const authClient = createAuthClient({ baseURL: api.baseUrl, fetchOptions: { headers: { cookie } } });
  return { authClient, api };
}
