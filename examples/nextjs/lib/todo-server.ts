// Server side (Server Components, Route Handlers, Server Actions): the caller's token from
// Better Auth on the server, with the request's cookies. `authClient.token()` would have no
// cookies here and fail with 401 "not signed in".
import { headers } from "next/headers";
import { createTodoClient, type TodoClient } from "todo-api-client";
import { getAuth } from "@/lib/auth";

/** The signed-in user of this request, or null. */
export async function currentUser(): Promise<{ id: string; email: string } | null> {
  const session = await getAuth().api.getSession({ headers: await headers() });
  return session ? { id: session.user.id, email: session.user.email } : null;
}

/** A client for this request only: never share one between requests, its token is the caller's. */
export async function serverTodoClient(): Promise<TodoClient> {
  const requestHeaders = await headers();
  return createTodoClient({
    baseUrl: process.env.TODO_API_URL,
    getToken: async () => (await getAuth().api.getToken({ headers: requestHeaders })).token,
  });
}
