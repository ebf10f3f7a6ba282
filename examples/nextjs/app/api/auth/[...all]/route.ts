import { toNextJsHandler } from "better-auth/next-js";
import { getAuth } from "@/lib/auth";
import { authMode } from "@/lib/config";

// Better Auth's endpoints (sign-up, sign-in, get-session, token, jwks...) under /api/auth.
function handler() {
  if (authMode() === "builtin") return null; // the service serves /api/auth itself
  return toNextJsHandler(getAuth());
}

export async function GET(request: Request): Promise<Response> {
  return handler()?.GET(request) ?? new Response(null, { status: 404 });
}

export async function POST(request: Request): Promise<Response> {
  return handler()?.POST(request) ?? new Response(null, { status: 404 });
}
