// examples/nextjs in Chromium, as a user clicks through it: sign up, create, toggle, delete,
// a validation error, the server-rendered list (in the HTML itself), sign out, a second user
// who sees none of it (and gets 404 for the first user's task), and signing in again.
//
// Usage: node nextjs-example.mjs   with CHROMIUM, APP_URL, API_URL, PASSWORD set, and
// COOKIES=1 when the service knows the user by its own session cookie (the built-in accounts)
// rather than by a token from the app's /api/auth/token.
import { required, withChromium } from "./chromium.mjs";

const APP_URL = required("APP_URL");
const API_URL = required("API_URL");
const PASSWORD = required("PASSWORD");
const COOKIES = process.env.COOKIES === "1";
const suffix = Math.random().toString(16).slice(2, 10);

async function signUp(page, name) {
  const email = `${name}-${suffix}@example.com`;
  await page.goto(APP_URL);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
  return email;
}

async function signIn(page, email) {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
}

const listed = (page, testId) => page.getByTestId(testId).locator("li").allInnerTexts();
const browserTasks = (page) =>
  page
    .getByTestId("browser-tasks")
    .locator("li")
    .evaluateAll((items) =>
      items.map((item) => ({ title: item.querySelector("label").innerText.trim(), done: item.querySelector("input").checked })),
    );

async function add(page, title) {
  await page.getByLabel("New task").fill(title);
  await page.getByRole("button", { name: "Add" }).click();
  if (title) await page.getByTestId("browser-tasks").getByText(title, { exact: true }).waitFor();
}

// What the browser can do with the user's session: ask the service for tasks directly.
const asTheUser = (page, path) =>
  page.evaluate(
    async ({ url, cookies }) => {
      if (cookies) return fetch(url, { credentials: "include" }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const { token } = await (await fetch("/api/auth/token")).json();
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      return { status: response.status, body: await response.json() };
    },
    { url: `${API_URL}${path}`, cookies: COOKIES },
  );
const statusOfTask = async (page, id) => (await asTheUser(page, `/api/tasks/${id}`)).status;
const taskIds = async (page) => (await asTheUser(page, "/api/tasks?sort=created_at")).body.map((task) => task.id);

const report = await withChromium(async (page) => {
  const result = {};
  const alice = await signUp(page, "alice");
  await page.getByTestId("browser-tasks").waitFor({ state: "attached" }); // loaded, empty
  result.aliceFirstList = await browserTasks(page);

  await add(page, "Buy milk");
  await add(page, "Call mum");
  await add(page, "Throw away");
  // A controlled checkbox: checked once the service has answered and the list reloaded.
  await page.getByLabel("Done: Buy milk").click();
  await page.getByLabel("Done: Buy milk").and(page.locator(":checked")).waitFor();
  await page.getByRole("button", { name: "Delete Throw away" }).click();
  await page.getByTestId("browser-tasks").getByText("Throw away").waitFor({ state: "detached" });
  result.aliceBrowserList = await browserTasks(page);
  await add(page, "");
  result.emptyTitleError = await page.getByLabel("Your tasks").getByRole("alert").innerText();

  // The server's HTML itself holds the list (the browser list loads only after hydration).
  const html = await (await page.request.get(APP_URL)).text();
  result.serverHtmlHasTasks = ["[x] Buy milk", "[ ] Call mum"].map((text) => html.includes(text));
  result.serverHtmlHasBrowserList = html.includes('data-testid="browser-tasks"');
  await page.reload();
  result.aliceServerList = await listed(page, "server-tasks");
  result.aliceTaskIds = await taskIds(page);

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign up" }).waitFor();

  await signUp(page, "bob");
  await page.getByTestId("browser-tasks").waitFor({ state: "attached" });
  result.bobServerList = await listed(page, "server-tasks");
  result.bobBrowserList = await browserTasks(page);
  result.bobGetsAlicesTask = await statusOfTask(page, result.aliceTaskIds[0]);
  await page.getByRole("button", { name: "Sign out" }).click();

  await signIn(page, alice);
  result.aliceAgainServerList = await listed(page, "server-tasks");
  result.aliceGetsHerTask = await statusOfTask(page, result.aliceTaskIds[0]);
  return result;
});

console.log(JSON.stringify(report));
