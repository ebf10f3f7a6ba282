// examples/nextjs in Chromium, as a user clicks through it: sign up; add tasks with a priority,
// tags, a due date (one long past: overdue; one at a local time) and a repeat; complete the daily
// one (its next occurrence appears, due a day later); edit a task in place (with If-Match);
// search, filter by priority, tag and status, sort; delete; a validation error; the list in the
// server's HTML; a full-page screenshot; sign out, a second user who sees none of it (and gets
// 404 for the first user's task), and signing in again. Then, with CHAT=1, a third user chats
// with the assistant (the service's model answers from the script the test gave it): a message
// that adds a task (the reply streams in, the tool call shows as a chip, the list shows the task
// without a reload), a second message in the same conversation, a new conversation, the list of
// conversations, reopening one and deleting it. Without CHAT=1 the service has no model, and the
// first user's message gets the panel's note saying so.
//
// Usage: node nextjs-example.mjs   with CHROMIUM, APP_URL, API_URL, PASSWORD set, COOKIES=1 when
// the service knows the user by its own session cookie (the built-in accounts) rather than by a
// token from the app's /api/auth/token, and SCREENSHOT, CHAT_SCREENSHOT (optional): where to
// write the PNGs of the list and of the chat.
import { STEP_TIMEOUT_MS, required, withChromium } from "./chromium.mjs";

const APP_URL = required("APP_URL");
const API_URL = required("API_URL");
const PASSWORD = required("PASSWORD");
const COOKIES = process.env.COOKIES === "1";
const SCREENSHOT = process.env.SCREENSHOT;
const CHAT_SCREENSHOT = process.env.CHAT_SCREENSHOT;
const CHAT = process.env.CHAT === "1";
// Far from UTC, so that a local due time read in the wrong zone shows.
const TIME_ZONE = "Pacific/Auckland";
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

// The list as the user sees it, row by row.
const rows = (page) =>
  page
    .getByTestId("tasks")
    .getByTestId("task")
    .evaluateAll((items) =>
      items.map((item) => {
        const title = item.querySelector('[data-testid="task-title"]');
        return {
          title: title.textContent,
          done: item.querySelector('input[type="checkbox"]').checked,
          struck: getComputedStyle(title).textDecorationLine.includes("line-through"),
          priority: item.querySelector('[data-testid="task-priority"]').textContent,
          tags: [...item.querySelectorAll(".chip")].map((chip) => chip.textContent),
          due: item.querySelector('[data-testid="task-due"]')?.textContent ?? null,
          overdue: item.classList.contains("overdue"),
          repeat: item.querySelector('[data-testid="task-repeat"]')?.textContent ?? null,
        };
      }),
    );
const titles = async (page) => (await rows(page)).map((row) => row.title);

// Waits until the list shows exactly these titles, in this order, then returns its rows.
async function showing(page, expected) {
  try {
    await page.waitForFunction(
      (wanted) =>
        JSON.stringify(
          [...document.querySelectorAll('[data-testid="tasks"] [data-testid="task-title"]')].map((title) => title.textContent),
        ) === JSON.stringify(wanted),
      expected,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch (error) {
    throw new Error(`the list shows ${JSON.stringify(await titles(page))}, not ${JSON.stringify(expected)}: ${error.message}`);
  }
  return rows(page);
}

// The list's heading says what the list shows once the service has answered: "6 tasks, by priority".
const heading = (page) => page.getByTestId("list-heading");
const sortedBy = (page, order) => heading(page).getByText(`, by ${order}`).waitFor();

const row = (page, title) => page.getByTestId("task").filter({ has: page.getByText(title, { exact: true }) });

async function add(page, { title, priority, tags, date, time, repeat }) {
  const form = page.getByRole("form", { name: "Add a task" });
  await form.getByLabel("New task").fill(title);
  if (priority) await form.getByLabel("Priority").selectOption(priority);
  if (tags) await form.getByLabel("Tags").fill(tags);
  if (date) await form.getByLabel("Due date").fill(date);
  if (time) await form.getByLabel("Due time").fill(time);
  if (repeat) await form.getByLabel("Repeat").selectOption(repeat);
  await form.getByRole("button", { name: "Add" }).click();
  // Listed once the service has answered; the form is empty again by then.
  if (title) await row(page, title).waitFor();
}

const toolbar = (page) => page.getByRole("search", { name: "Find tasks" });

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

// The page's HTML as the server sends it, read without running its scripts.
async function serverHtml(page) {
  const html = await (await page.request.get(APP_URL)).text();
  return page.evaluate((source) => {
    const doc = new DOMParser().parseFromString(source, "text/html");
    return {
      lists: doc.querySelectorAll('[data-testid="tasks"]').length,
      rows: [...doc.querySelectorAll('[data-testid="tasks"] [data-testid="task"]')].map((item) => ({
        title: item.querySelector('[data-testid="task-title"]').textContent,
        done: item.querySelector('input[type="checkbox"]').hasAttribute("checked"),
        overdue: item.classList.contains("overdue"),
      })),
    };
  }, html);
}

// The assistant's panel, and its conversation as the user reads it.
const assistant = (page) => page.getByRole("complementary", { name: "Assistant" });
const conversationTitles = (page) => assistant(page).getByTestId("conversation").locator(".title").allInnerTexts();
const messages = (page) =>
  assistant(page)
    .getByTestId("message")
    .evaluateAll((items) =>
      items.map((item) => ({
        role: item.classList.contains("user") ? "user" : "assistant",
        text: item.querySelector("p")?.textContent ?? "",
        chips: [...item.querySelectorAll('[data-testid="tool-call"]')].map((chip) => chip.textContent),
        unanswered: item.querySelector(".unanswered") !== null,
      })),
    );

// Sends a message; returns what the reply showed while it was still being written.
async function ask(page, text) {
  const form = page.getByRole("form", { name: "Message the assistant" });
  await form.getByLabel("Message").fill(text);
  await form.getByRole("button", { name: "Send" }).click();
  const partly = await page.waitForFunction(() => {
    const reply = [...document.querySelectorAll('[data-testid="message"].assistant')].at(-1);
    const written = reply?.querySelector("p")?.textContent;
    return reply?.getAttribute("aria-busy") === "true" && written && written !== "…" ? written : null;
  });
  const writing = await partly.jsonValue();
  await form.getByRole("button", { name: "Send" }).waitFor(); // the answer is stored
  return writing;
}

// Waits until the panel lists exactly these conversations, in this order.
async function listing(page, expected) {
  await page.waitForFunction(
    (wanted) =>
      JSON.stringify([...document.querySelectorAll('[data-testid="conversation"] .title')].map((title) => title.textContent)) ===
      JSON.stringify(wanted),
    expected,
    { timeout: STEP_TIMEOUT_MS },
  );
  return conversationTitles(page);
}

// The service has no model: the message is sent, and the panel says chat is not configured.
async function chatOff(page, result) {
  const form = page.getByRole("form", { name: "Message the assistant" });
  await form.getByLabel("Message").fill("hello");
  await form.getByRole("button", { name: "Send" }).click();
  result.chatOffNote = await assistant(page).locator(".note").innerText();
  result.chatOffMessages = await messages(page);
}

async function chat(page, result) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign up" }).waitFor();
  await signUp(page, "carol");
  await assistant(page).getByText("No conversations yet.").waitFor();
  await page.evaluate(() => {
    window.notReloaded = true; // gone if the page loads again
  });

  result.chatWhileWriting = await ask(page, "add buy milk tomorrow with high priority");
  result.chatFirstTurn = await messages(page);
  result.chatTasks = await showing(page, ["Buy milk"]);
  result.chatListings = await listing(page, ["add buy milk tomorrow with high priority"]);

  result.chatSecondWhileWriting = await ask(page, "what's due this week?");
  result.chatSecondTurn = await messages(page);
  if (CHAT_SCREENSHOT) {
    await page.mouse.move(0, 0);
    await page.screenshot({ path: CHAT_SCREENSHOT, fullPage: true });
  }
  result.chatNotReloaded = await page.evaluate(() => window.notReloaded === true);

  await assistant(page).getByRole("button", { name: "New" }).click();
  await ask(page, "hello");
  result.chatConversations = await listing(page, ["hello", "add buy milk tomorrow with high priority"]);

  await assistant(page).getByRole("button", { name: /^add buy milk/ }).click();
  await assistant(page).getByRole("region", { name: "Conversation: add buy milk tomorrow with high priority" }).waitFor();
  result.chatReopened = await messages(page);

  await assistant(page).getByRole("button", { name: "Delete conversation add buy milk tomorrow with high priority" }).click();
  result.chatAfterDelete = await listing(page, ["hello"]);
  result.chatThreadAfterDelete = await messages(page);
  result.chatConversationsFromTheService = (await asTheUser(page, "/api/conversations")).body;
}

const report = await withChromium(
  async (page) => {
    const result = { timeZone: TIME_ZONE, pageErrors: [] };
    // Uncaught errors, a failed hydration among them (a 4xx answer is logged too, and expected).
    page.on("pageerror", (error) => result.pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) result.pageErrors.push(message.text());
    });
    const alice = await signUp(page, "alice");
    await page.getByTestId("tasks").waitFor({ state: "attached" }); // rendered, empty
    result.aliceFirstList = await rows(page);

    await add(page, { title: "Buy milk", priority: "high", tags: "shop, home", date: "2024-01-15" });
    await add(page, { title: "Call mum", priority: "urgent", tags: "family", date: "2099-06-01", time: "18:30" });
    await add(page, { title: "Water plants", tags: "home", date: "2030-03-10", repeat: "daily" });
    await add(page, { title: "Read a book", priority: "low" });
    await add(page, { title: "Throw away" });
    result.added = await showing(page, ["Throw away", "Read a book", "Water plants", "Call mum", "Buy milk"]);

    // Completing the daily task adds its next occurrence, the newest task.
    await page.getByLabel("Done: Water plants").click();
    result.afterRecurring = await showing(page, ["Water plants", "Throw away", "Read a book", "Water plants", "Call mum", "Buy milk"]);
    result.recurringNotice = await page.getByRole("status").innerText();
    result.nextLink = await page.locator(".task.done .next").innerText();

    // Edit in place: the form opens on the task fetched with its ETag, which Save sends back.
    const opened = page.waitForResponse((r) => r.request().method() === "GET" && /\/api\/tasks\/\d+$/.test(r.url()));
    await page.getByRole("button", { name: "Edit Read a book" }).click();
    result.editEtag = await (await opened).headerValue("etag");
    const form = page.getByRole("form", { name: "Edit Read a book" });
    await form.getByLabel("Title").fill("Read a novel");
    await form.getByLabel("Priority").selectOption("high");
    const saved = page.waitForRequest((r) => r.method() === "PATCH" && /\/api\/tasks\/\d+$/.test(r.url()));
    await form.getByRole("button", { name: "Save" }).click();
    result.editIfMatch = await (await saved).headerValue("if-match");
    result.edited = await showing(page, ["Water plants", "Throw away", "Read a novel", "Water plants", "Call mum", "Buy milk"]);

    // Search by the start of a word, then the toolbar's filters one at a time.
    await toolbar(page).getByLabel("Search").fill("nov");
    result.searched = await showing(page, ["Read a novel"]);
    result.searchHeading = await heading(page).innerText();
    await toolbar(page).getByLabel("Search").fill("");
    await showing(page, result.edited.map((task) => task.title));
    await toolbar(page).getByLabel("Priority filter").selectOption("high");
    result.highPriority = await showing(page, ["Read a novel", "Buy milk"]);
    await toolbar(page).getByLabel("Priority filter").selectOption("");
    result.tagOptions = await toolbar(page).getByLabel("Tag filter").locator("option").allInnerTexts();
    await toolbar(page).getByLabel("Tag filter").selectOption("home");
    result.taggedHome = await showing(page, ["Water plants", "Water plants", "Buy milk"]);
    await page.getByRole("button", { name: "Show tag shop" }).click(); // a chip picks its tag
    result.taggedShop = await showing(page, ["Buy milk"]);
    result.tagChosenByChip = await toolbar(page).getByLabel("Tag filter").inputValue();
    await toolbar(page).getByLabel("Tag filter").selectOption("");
    await toolbar(page).getByLabel("Show").selectOption("done");
    result.done = await showing(page, ["Water plants"]);
    await toolbar(page).getByLabel("Show").selectOption("open");
    result.open = await showing(page, ["Water plants", "Throw away", "Read a novel", "Call mum", "Buy milk"]);
    await toolbar(page).getByLabel("Show").selectOption("all");
    await toolbar(page).getByLabel("Sort by").selectOption("priority");
    await sortedBy(page, "priority");
    result.byPriority = await rows(page);
    await toolbar(page).getByLabel("Sort by").selectOption("due");
    await sortedBy(page, "due date");
    result.byDueDate = await titles(page);
    await toolbar(page).getByLabel("Sort by").selectOption("newest");
    await showing(page, result.edited.map((task) => task.title));

    await page.getByRole("button", { name: "Delete Throw away" }).click();
    result.afterDelete = await showing(page, ["Water plants", "Read a novel", "Water plants", "Call mum", "Buy milk"]);
    result.tasksFromTheService = (await asTheUser(page, "/api/tasks?sort=created_at")).body;
    if (SCREENSHOT) {
      await page.mouse.move(0, 0); // no button left hovered in the picture
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }

    await add(page, { title: "" });
    result.emptyTitleError = await page.getByLabel("Your tasks").getByRole("alert").innerText();

    // The server's HTML itself holds the list: the first page, which the browser then owns.
    result.aliceServerHtml = await serverHtml(page);
    await page.reload();
    result.aliceReloaded = await rows(page);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign up" }).waitFor();

    await signUp(page, "bob");
    await page.getByTestId("tasks").waitFor({ state: "attached" });
    result.bobServerHtml = await serverHtml(page);
    // The browser asks the service too (for open tasks), with Bob's session.
    const asked = page.waitForResponse((r) => r.request().method() === "GET" && r.url().includes("/api/tasks?"));
    await toolbar(page).getByLabel("Show").selectOption("open");
    result.bobBrowserStatus = (await asked).status();
    await heading(page).getByText("0 open tasks", { exact: true }).waitFor();
    result.bobBrowserList = await rows(page);
    result.bobGetsAlicesTask = await statusOfTask(page, result.tasksFromTheService[0].id);
    await page.getByRole("button", { name: "Sign out" }).click();

    await signIn(page, alice);
    result.aliceAgainList = await titles(page);
    result.aliceGetsHerTask = await statusOfTask(page, result.tasksFromTheService[0].id);

    await (CHAT ? chat : chatOff)(page, result);
    return result;
  },
  { timezoneId: TIME_ZONE, viewport: { width: 1000, height: 800 } },
);

console.log(JSON.stringify(report));
