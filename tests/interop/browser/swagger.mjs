// Drive the service's Swagger UI in the system's headless Chromium, as a developer would:
// Authorize with a bearer token, execute "create task" and "list tasks", take a screenshot.
//
// Usage: node swagger.mjs   with SERVICE_URL, TOKEN, TASK_TITLE, SCREENSHOT and CHROMIUM set.
// Prints one JSON object: every URL the page requested, and each operation's status and body.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

const serviceUrl = required("SERVICE_URL");
const token = required("TOKEN");
const taskTitle = required("TASK_TITLE");
const screenshot = required("SCREENSHOT");
const executablePath = required("CHROMIUM");
const STEP_TIMEOUT_MS = 15_000;

// Without the background-networking flags Chromium phones home (updates, sync, field
// trials); on a closed network that only fails and slows things down. The resolver rule
// makes every host name but the loopback address unresolvable: offline, in effect.
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

// Run one operation's "Try it out" / "Execute" and return what Swagger UI shows for it.
async function execute(page, operationId, requestBody) {
  const operation = page.locator(`#operations-tasks-${operationId}`);
  if (!(await operation.locator(".try-out__btn").isVisible())) {
    await operation.locator(".opblock-summary").first().click();
  }
  const tryItOut = operation.locator(".try-out__btn");
  if ((await tryItOut.textContent()).trim() === "Try it out") await tryItOut.click();
  if (requestBody !== undefined) {
    await operation.locator("textarea.body-param__text").fill(JSON.stringify(requestBody));
  }
  await operation.locator("button.execute").click();
  const live = operation.locator(".live-responses-table .response");
  await live.first().waitFor({ timeout: STEP_TIMEOUT_MS });
  return {
    status: Number((await live.locator(".response-col_status").first().textContent()).trim()),
    body: (await live.locator(".response-col_description pre").first().textContent()).trim(),
    curl: (await operation.locator(".curl-command pre, .curl").first().textContent()).trim(),
  };
}

const profile = await mkdtemp(join(tmpdir(), "todo-api-chromium-"));
// Every request the page makes, recorded before it leaves: non-loopback ones are aborted,
// so a page that reaches for a CDN fails visibly here instead of hanging on the network.
const requests = [];
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args,
    viewport: { width: 1280, height: 1600 },
  });
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    requests.push(url);
    const { hostname } = new URL(url);
    if (url.startsWith("data:") || url.startsWith("blob:") || hostname === "127.0.0.1") {
      await route.continue();
    } else {
      await route.abort("blockedbyclient");
    }
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);

  await page.goto(`${serviceUrl}/docs`, { waitUntil: "networkidle" });
  await page.locator("#operations-tasks-create_task").waitFor();

  await page.locator(".auth-wrapper button.authorize").click();
  const dialog = page.locator(".modal-ux");
  await dialog.locator("input").first().fill(token);
  await dialog.locator(".auth-btn-wrapper button.authorize").click();
  const authorized = (await dialog.locator(".auth-btn-wrapper button").first().textContent()).trim();
  await dialog.locator("button.btn-done").click();

  const created = await execute(page, "create_task", { title: taskTitle });
  const listed = await execute(page, "list_tasks");

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ requests, authorized, created, listed }));
} finally {
  await context?.close();
  await rm(profile, { recursive: true, force: true });
}
