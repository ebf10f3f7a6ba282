// Drive the service's Swagger UI in the system's headless Chromium, as a developer would:
// Authorize with a bearer token, execute "create task" and "list tasks", take a screenshot.
//
// Usage: node swagger.mjs   with SERVICE_URL, TOKEN, TASK_TITLE, SCREENSHOT and CHROMIUM set.
// Prints one JSON object: every URL the page requested, and each operation's status and body.
import { STEP_TIMEOUT_MS, required, withChromium } from "./chromium.mjs";

const serviceUrl = required("SERVICE_URL");
const token = required("TOKEN");
const taskTitle = required("TASK_TITLE");
const screenshot = required("SCREENSHOT");

// Run one operation's "Try it out" / "Execute" and return what Swagger UI shows for it.
async function execute(page, operationId, requestBody) {
  const operation = page.locator(`#operations-tasks-${operationId}`);
  await operation.locator(".opblock-summary").first().click();
  await operation.locator(".try-out__btn").click();
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

const report = await withChromium(async (page) => {
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
  return { authorized, created, listed };
});
console.log(JSON.stringify(report));
