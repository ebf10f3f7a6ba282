// Runs once when the server starts: Better Auth's tables, with the pinned better-auth itself
// (no separate CLI), before the first request. The built-in set-up has no Better Auth here.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs" || process.env.AUTH_MODE === "builtin") return;
  const { migrateAuthDatabase } = await import("./lib/auth");
  await migrateAuthDatabase();
}
