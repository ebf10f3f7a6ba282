// Browser side (Client Components): Better Auth's client and a todo-api client whose tokens
// come from `authClient.token()`, each kept until shortly before it expires.
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
  const api = createTodoClient({ baseUrl: config.apiUrl, getToken });
  return { authClient, api, getToken };
}

export type BrowserKit = ReturnType<typeof browserKit>;
