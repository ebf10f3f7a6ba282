// examples/nextjs updating live, in Chromium: two tabs of one user, where a task added,
// completed or deleted in one (or by another device, straight through the service) shows in the
// other without a reload; a second user, in a browser of their own, who never sees any of it;
// and reminders: a task whose reminder is due makes a banner in each tab (or, where the page
// may show notifications, a browser notification instead), which the user can dismiss.
//
// Every wait polls the page up to DEADLINE_MS and says how long it took; nothing sleeps.
//
// Usage: node nextjs-live.mjs   with CHROMIUM, APP_URL, API_URL, PASSWORD set, COOKIES=1 when
// the service knows the user by its own session cookie, and SCREENSHOT (optional): where to
// write a PNG of a tab showing a reminder.
import { required, withChromium } from "./chromium.mjs";

const APP_URL = required("APP_URL");
const API_URL = required("API_URL");
const PASSWORD = required("PASSWORD");
const COOKIES = process.env.COOKIES === "1";
const SCREENSHOT = process.env.SCREENSHOT;
const DEADLINE_MS = 5_000;
const suffix = Math.random().toString(16).slice(2, 10);

async function signUp(page, name) {
  const email = `${name}-${suffix}@example.com`;
  await page.goto(APP_URL);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  for (let attempt = 1; ; attempt += 1) {
    const answered = page.waitForResponse((response) => response.url().endsWith("/api/auth/sign-up/email"));
    await page.getByRole("button", { name: "Sign up" }).click();
    const answer = await answered;
    if (answer.status() !== 429 || attempt === 3) break;
    // Better Auth lets one address sign up three times within 10 s, and the journey before this
    // one (on the same app) may just have: wait as long as the answer says, then again.
    await page.waitForTimeout(1000 * Number(answer.headers()["x-retry-after"] ?? 10));
  }
  try {
    await page.getByText(`Signed in as ${email}`).waitFor();
  } catch (error) {
    const said = await page.getByRole("alert").allInnerTexts();
    throw new Error(`${name} is not signed in (the page says ${JSON.stringify(said)}): ${error.message}`);
  }
  return email;
}

// Uncaught errors and console errors (a 4xx answer is logged too, and expected).
function watch(page, errors) {
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) errors.push(message.text());
  });
}

// The list as a page shows it: each row's title and whether it is done.
const rowsIn = () =>
  [...document.querySelectorAll('[data-testid="tasks"] [data-testid="task"]')].map((item) => ({
    title: item.querySelector('[data-testid="task-title"]').textContent,
    done: item.querySelector('input[type="checkbox"]').checked,
  }));
// The reminders' banners a page shows.
const bannersIn = () => [...document.querySelectorAll('[data-testid="reminder"]')].map((banner) => banner.textContent);

// Waits until `read` (run in the page) returns `expected`; how long that took, in ms, from
// `since`. Fails after DEADLINE_MS with what the page showed instead.
async function seen(page, read, expected, since = Date.now()) {
  try {
    await page.waitForFunction(
      ({ source, wanted }) => JSON.stringify(new Function(`return (${source})()`)()) === JSON.stringify(wanted),
      { source: read.toString(), wanted: expected },
      { timeout: Math.max(0, since + DEADLINE_MS - Date.now()), polling: 20 },
    );
  } catch (error) {
    const shown = await page.evaluate(read).catch(() => "(unreadable)");
    throw new Error(`${page.url()} shows ${JSON.stringify(shown)}, not ${JSON.stringify(expected)}: ${error.message}`);
  }
  return Date.now() - since;
}

// Changes made "on another device": straight to the service, with the page's session.
const asTheUser = (page, path, init = {}) =>
  page.evaluate(
    async ({ url, cookies, init }) => {
      const headers = { "Content-Type": "application/json" };
      if (!cookies) headers.Authorization = `Bearer ${(await (await fetch("/api/auth/token")).json()).token}`;
      const response = await fetch(url, { ...init, headers, ...(cookies ? { credentials: "include" } : {}) });
      return { status: response.status, body: response.status === 204 ? null : await response.json() };
    },
    { url: `${API_URL}${path}`, cookies: COOKIES, init },
  );

// A task whose reminder came due a minute ago, due on 1 June 2099.
const withDueReminder = (title) => ({
  method: "POST",
  body: JSON.stringify({ title, due_date: "2099-06-01", remind_at: new Date(Date.now() - 60_000).toISOString() }),
});

// In a page, before its scripts: a Notification API whose permission starts as "default",
// which asking turns to "granted", and which records what it would show.
function recordedNotifications() {
  window.shownNotifications = [];
  window.Notification = class {
    static permission = "default";
    static async requestPermission() {
      window.Notification.permission = "granted";
      return "granted";
    }
    constructor(title, options = {}) {
      window.shownNotifications.push({ title, body: options.body ?? null, tag: options.tag ?? null });
    }
  };
}

// Every title the list ever showed in a page, kept from before its first render.
function titlesEverShown() {
  window.everShown = new Set();
  new MutationObserver(() => {
    for (const title of document.querySelectorAll('[data-testid="tasks"] [data-testid="task-title"]')) window.everShown.add(title.textContent);
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

// Clicks and typing go to the tab in front, as a user's do (in a tab behind, the browser holds
// back the animation frames the clicks wait for); the other tab follows from behind.
async function add(page, title) {
  await page.bringToFront();
  const form = page.getByRole("form", { name: "Add a task" });
  await form.getByLabel("New task").fill(title);
  await form.getByRole("button", { name: "Add" }).click();
}

const report = await withChromium(async (a) => {
  const result = { pageErrors: [], took: {} };
  watch(a, result.pageErrors);
  const email = await signUp(a, "dana");
  // The second tab: the same browser, so the same session; notifications it may be asked for.
  const b = await a.context().newPage();
  watch(b, result.pageErrors);
  await b.addInitScript(recordedNotifications);
  await b.goto(APP_URL);
  await b.getByText(`Signed in as ${email}`).waitFor();
  for (const page of [a, b]) await page.evaluate(() => (window.notReloaded = true)); // gone on a reload

  // (a) One tab's changes in the other.
  let start = Date.now();
  await add(a, "Buy milk");
  result.took.added = await seen(b, rowsIn, [{ title: "Buy milk", done: false }], start);
  start = Date.now();
  await a.bringToFront();
  await a.getByLabel("Done: Buy milk").click();
  result.took.completed = await seen(b, rowsIn, [{ title: "Buy milk", done: true }], start);
  start = Date.now();
  await b.bringToFront();
  await b.getByRole("button", { name: "Delete Buy milk" }).click();
  result.took.deleted = await seen(a, rowsIn, [], start);
  // Another device: neither tab made the change.
  start = Date.now();
  const call = await asTheUser(a, "/api/tasks", { method: "POST", body: JSON.stringify({ title: "Call mum" }) });
  result.took.elsewhere = Math.max(
    await seen(a, rowsIn, [{ title: "Call mum", done: false }], start),
    await seen(b, rowsIn, [{ title: "Call mum", done: false }], start),
  );

  // (b) A second user, in a browser of their own, while the first one's changes go on.
  const erin = await withChromium(async (e) => {
    const errors = [];
    watch(e, errors);
    await e.addInitScript(titlesEverShown);
    await signUp(e, "erin");
    await add(a, "Dana's secret");
    await seen(b, rowsIn, [{ title: "Dana's secret", done: false }, { title: "Call mum", done: false }]);
    await asTheUser(a, `/api/tasks/${call.body.id}/complete`, { method: "PATCH" });
    await seen(b, rowsIn, [{ title: "Dana's secret", done: false }, { title: "Call mum", done: true }]);
    // Erin's own change, from another device, shows: her page follows her changes, only hers.
    await asTheUser(e, "/api/tasks", { method: "POST", body: JSON.stringify({ title: "Erin's task" }) });
    await seen(e, rowsIn, [{ title: "Erin's task", done: false }]);
    return { everShown: await e.evaluate(() => [...window.everShown]), rows: await e.evaluate(rowsIn), errors };
  });
  result.erin = { everShown: erin.everShown, rows: erin.rows, requests: erin.requests };
  result.pageErrors.push(...erin.errors);

  // (c) Reminders. Tab a has Chromium's own Notification API, which this page may not use.
  result.permissionInA = await a.evaluate(() => (typeof Notification === "undefined" ? "none" : Notification.permission));
  start = Date.now();
  await asTheUser(a, "/api/tasks", withDueReminder("Stretch"));
  const stretch = "Reminder: Stretch (due Mon 1 Jun 2099)Dismiss";
  result.took.reminded = Math.max(await seen(a, bannersIn, [stretch], start), await seen(b, bannersIn, [stretch], start));
  result.bannerRole = await a.getByTestId("reminder").getAttribute("role");
  if (SCREENSHOT) {
    await a.mouse.move(0, 0);
    await a.screenshot({ path: SCREENSHOT, fullPage: true });
  }
  await a.bringToFront();
  await a.getByRole("button", { name: "Dismiss reminder Stretch" }).click();
  await seen(a, bannersIn, []);
  result.stillInB = await b.evaluate(bannersIn);
  // Allowed in tab b: its next reminder is a notification there, still a banner in tab a.
  await b.bringToFront();
  await b.getByRole("button", { name: "Show reminders as notifications" }).click();
  await b.getByRole("button", { name: "Show reminders as notifications" }).waitFor({ state: "detached" });
  start = Date.now();
  await asTheUser(a, "/api/tasks", withDueReminder("Drink water"));
  await seen(a, bannersIn, ["Reminder: Drink water (due Mon 1 Jun 2099)Dismiss"], start);
  await b.waitForFunction(() => window.shownNotifications.length > 0, null, { timeout: DEADLINE_MS });
  result.notificationsInB = await b.evaluate(() => window.shownNotifications);
  result.bannersInB = await b.evaluate(bannersIn);

  result.notReloaded = await Promise.all([a, b].map((page) => page.evaluate(() => window.notReloaded === true)));
  return result;
}, { viewport: { width: 1000, height: 560 } });

console.log(JSON.stringify(report));
