// Browser side (Client Components): Better Auth's client and a todo-api client, with tokens from
// `authClient.token()` kept until shortly before they expire, or (builtin) the service's cookie.
import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";
import { cachedToken, createTodoClient } from "todo-api-client";
import type { PublicConfig } from "@/lib/config";

export function browserKit(config: PublicConfig) {
  // jwt and shared-database: this app's own /api/auth; builtin: the service's.
  const authClient = createAuthClient({
    ...(config.authMode === "builtin" ? { baseURL: config.apiUrl } : {}),
    plugins: [jwtClient()],
  });
  const getToken = cachedToken(async () => (await authClient.token()).data?.token);
  const api =
    config.authMode === "builtin"
      ? // The service's own session cookie, which it set at sign-in, goes along instead of a token.
        createTodoClient({ baseUrl: config.apiUrl, credentials: "include" })
      : createTodoClient({ baseUrl: config.apiUrl, getToken });
  return { authClient, api, getToken };
}

export type BrowserKit = ReturnType<typeof browserKit>;
