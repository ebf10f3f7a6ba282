// A frontend on another origin (http://localhost:PAGE_PORT, as `next dev` serves one) that signs
// users up and in against the service's built-in /api/auth with Better Auth's own client,
// then manages tasks with nothing but the session cookie (`credentials: "include"`).
//
// Usage: node sign-in-page.mjs   with SERVICE_URL, PAGE_PORT, FORGING_PORT, PASSWORD and CHROMIUM set.
// Prints one JSON object: what each step saw, and every URL the pages requested.
import http from "node:http";
import { build } from "esbuild";
import { required, withChromium } from "./chromium.mjs";

const SERVICE_URL = required("SERVICE_URL");
const PASSWORD = required("PASSWORD");
const PAGE_ORIGIN = `http://localhost:${required("PAGE_PORT")}`;
// Same site as the page (localhost), another origin: the cookie is sent, CORS applies.
const FORGING_ORIGIN = `http://localhost:${required("FORGING_PORT")}`;

// Better Auth's browser client, bundled from the pinned package: what a Next.js build ships.
const bundled = await build({
  stdin: { contents: 'export { createAuthClient } from "better-auth/client";', resolveDir: import.meta.dirname },
  bundle: true,
  format: "iife",
  globalName: "BetterAuth",
  platform: "browser",
  write: false,
});
const CLIENT_JS = bundled.outputFiles[0].text;
const PAGE_HTML = '<!doctype html><html><head><script src="/auth-client.js"></script></head><body></body></html>';

// The frontends: real servers on loopback (a page Playwright answered itself would have no
// address, and Chromium treats such a page as public, refusing its calls to localhost).
function serveFrontend(port) {
  const server = http.createServer((req, res) => {
    const script = new URL(req.url, "http://localhost").pathname === "/auth-client.js";
    res.writeHead(200, { "content-type": script ? "text/javascript" : "text/html" });
    res.end(script ? CLIENT_JS : PAGE_HTML);
  });
  return new Promise((resolve) => server.listen(Number(port), "127.0.0.1", () => resolve(server)));
}
const frontends = await Promise.all([required("PAGE_PORT"), required("FORGING_PORT")].map(serveFrontend));

// Runs in the page: sign up, then create, list, toggle and read a task by cookie alone.
async function signUpAndManageTasks({ serviceUrl, email, password, title }) {
  const auth = window.BetterAuth.createAuthClient({ baseURL: serviceUrl, fetchOptions: { credentials: "include" } });
  const api = async (path, init = {}) => {
    const response = await fetch(`${serviceUrl}${path}`, {
      ...init,
      credentials: "include",
      headers: init.body ? { "Content-Type": "application/json" } : {},
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  try {
    const signUp = await auth.signUp.email({ email, password, name: "Browser User" });
    const session = await auth.getSession();
    const created = await api("/api/tasks", { method: "POST", body: JSON.stringify({ title }) });
    const toggled = await api(`/api/tasks/${created.body?.id}/complete`, { method: "PATCH" });
    const listed = await api("/api/tasks");
    return {
      signUp: { error: signUp.error?.code ?? null, userId: signUp.data?.user.id ?? null },
      sessionUserId: session.data?.user.id ?? null,
      // The cookie is HttpOnly: the page's script never sees it.
      cookieVisibleToScript: document.cookie.includes("session_token"),
      created: { status: created.status, id: created.body?.id, userId: created.body?.user_id },
      toggled: { status: toggled.status, completed: toggled.body?.completed },
      listed: { status: listed.status, titles: Array.isArray(listed.body) ? listed.body.map((task) => task.title) : listed.body },
    };
  } catch (error) {
    return { error: String(error) };
  }
}

async function signInAgainAndSignOut({ serviceUrl, email, password, taskId }) {
  const auth = window.BetterAuth.createAuthClient({ baseURL: serviceUrl, fetchOptions: { credentials: "include" } });
  const status = async (path, method = "GET") =>
    (await fetch(`${serviceUrl}${path}`, { method, credentials: "include" })).status;
  try {
    const signIn = await auth.signIn.email({ email, password });
    const read = await status(`/api/tasks/${taskId}`);
    const signOut = await auth.signOut();
    return {
      signIn: signIn.error?.code ?? "ok",
      read,
      signOut: signOut.data?.success ?? signOut.error?.code,
      afterSignOut: await status("/api/tasks"),
      deleteAfterSignOut: await status(`/api/tasks/${taskId}`, "DELETE"),
    };
  } catch (error) {
    return { error: String(error) };
  }
}

// Runs on the forging origin: a "simple" cross-origin POST, which the browser sends with the
// cookie and without a preflight; the service must not act on it.
async function forge({ serviceUrl }) {
  try {
    await fetch(`${serviceUrl}/api/tasks`, {
      method: "POST",
      mode: "no-cors",
      credentials: "include",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ title: "forged" }),
    });
    return "sent";
  } catch (error) {
    return String(error);
  }
}

async function listTitles({ serviceUrl }) {
  try {
    const response = await fetch(`${serviceUrl}/api/tasks`, { credentials: "include" });
    return response.ok ? (await response.json()).map((task) => task.title) : response.status;
  } catch (error) {
    return String(error);
  }
}

async function readOwnTask({ serviceUrl, taskId }) {
  try {
    return (await fetch(`${serviceUrl}/api/tasks/${taskId}`, { credentials: "include" })).status;
  } catch (error) {
    return String(error);
  }
}

const report = await withChromium(async (page) => {
  const context = page.context();
  const stamp = Date.now().toString(36);
  const alice = { serviceUrl: SERVICE_URL, email: `alice-${stamp}@example.com`, password: PASSWORD };

  await page.goto(`${PAGE_ORIGIN}/`);
  const aliceRound = await page.evaluate(signUpAndManageTasks, { ...alice, title: "written in the browser" });
  const taskId = aliceRound.created?.id;

  const forger = await context.newPage();
  await forger.goto(`${FORGING_ORIGIN}/`);
  const forged = await forger.evaluate(forge, { serviceUrl: SERVICE_URL });
  await forger.close();
  const afterForgery = await page.evaluate(listTitles, { serviceUrl: SERVICE_URL });

  // Bob on the same frontend, his own cookies only (a profile of his own, in effect).
  await context.clearCookies();
  const bobRound = await page.evaluate(signUpAndManageTasks, {
    serviceUrl: SERVICE_URL,
    email: `bob-${stamp}@example.com`,
    password: PASSWORD,
    title: "bob's own",
  });
  const bobReadsAlices = await page.evaluate(readOwnTask, { serviceUrl: SERVICE_URL, taskId });
  await context.clearCookies();

  const aliceAgain = await page.evaluate(signInAgainAndSignOut, { ...alice, taskId });
  return {
    pageOrigin: await page.evaluate(() => window.location.origin),
    alice: aliceRound,
    forged,
    afterForgery,
    bob: bobRound,
    bobReadsAlices,
    aliceAgain,
  };
});
for (const server of frontends) server.close();
console.log(JSON.stringify(report));
