// The typed client (clients/typescript, built to dist/) as an app uses it: Better Auth's own
// client with jwtClient() signs two users up, `cachedToken(authClient.token)` provides the
// tokens, and every call goes to a real todo-api. Only the cookie jar stands in for the browser.
//
// Chat: API_URL has no model (its chat calls are 503s); CHAT_API_URL is a service on the same
// Better Auth whose model answers from the script the test gave it, in the order below.
//
// Usage: node typed-client.mjs   with AUTH_URL, API_URL, CHAT_API_URL, PASSWORD set.
// Prints one JSON object with what each call returned.
import { createAuthClient } from "better-auth/client";
import { jwtClient } from "better-auth/client/plugins";
import { ApiError, cachedToken, createTodoClient, etagOf } from "../../../clients/typescript/dist/index.js";
import { cuttableProxy } from "./cuttable-proxy.mjs";
import { required } from "./env.mjs";

const AUTH_URL = required("AUTH_URL");
const API_URL = required("API_URL");
const CHAT_API_URL = required("CHAT_API_URL");
const PASSWORD = required("PASSWORD");

// A browser keeps Better Auth's session cookie and sends its page's Origin; Node does neither.
function browserLike() {
  const cookies = new Map();
  return async (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("origin", AUTH_URL);
    if (cookies.size) headers.set("cookie", [...cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(input, { ...init, headers });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const equals = pair.indexOf("=");
      cookies.set(pair.slice(0, equals), pair.slice(equals + 1));
    }
    return response;
  };
}

async function signedInUser(name) {
  const authClient = createAuthClient({
    baseURL: AUTH_URL,
    plugins: [jwtClient()],
    fetchOptions: { customFetchImpl: browserLike() },
  });
  const email = `${name}-${Math.random().toString(16).slice(2, 10)}@example.com`;
  const { data, error } = await authClient.signUp.email({ name, email, password: PASSWORD });
  if (error) throw new Error(`sign-up failed: ${JSON.stringify(error)}`);
  let tokenFetches = 0;
  const getToken = cachedToken(async () => {
    tokenFetches += 1;
    const { data: token } = await authClient.token();
    return token?.token ?? null;
  });
  const api = createTodoClient({ baseUrl: API_URL, getToken });
  const chat = createTodoClient({ baseUrl: CHAT_API_URL, getToken });
  return { id: data.user.id, api, chat, getToken, fetches: () => tokenFetches };
}

async function failure(promise) {
  try {
    await promise;
    return { resolved: true };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const failed = {
      name: error.name,
      status: error.status,
      detail: error.detail,
      message: error.message,
      issues: error.issues,
      // Only a failed chat turn's error names its conversation.
      ...(error.conversationId === null ? {} : { conversationId: error.conversationId }),
    };
    return error.before ? { ...failed, before: error.before } : failed;
  }
}

function thrown(make) {
  try {
    make();
    return null;
  } catch (error) {
    return String(error.message);
  }
}

const alice = await signedInUser("alice");
const report = { userId: alice.id };
report.missingBaseUrl = thrown(() => createTodoClient({ baseUrl: undefined }));
report.relativeBaseUrl = thrown(() => createTodoClient({ baseUrl: "/api" }));

const first = await alice.api.createTask({ title: "Buy milk", description: "2 litres" });
const second = await alice.api.createTask({ title: "Call mum" });
report.first = first;
report.second = second;
report.firstEtag = etagOf(first);
const page1 = await alice.api.listTasks({ limit: 1 });
report.page1 = page1;
report.page2 = await alice.api.listTasks(page1.next);

const fetched = await alice.api.getTask(first.id);
report.fetched = fetched;
report.fetchedEtag = etagOf(fetched);
report.updated = await alice.api.updateTask(first.id, { title: "Buy oat milk" }, { ifMatch: fetched });
report.updatedEtag = etagOf(report.updated);
// Edited with the version from before the update: refused, nothing written.
report.staleEdit = await failure(alice.api.updateTask(first.id, { title: "Lost edit" }, { ifMatch: fetched }));
report.afterStaleEdit = await alice.api.getTask(first.id);
report.toggled = await alice.api.toggleTask(first.id, { ifMatch: report.updated });
report.setPending = await alice.api.toggleTask(first.id, { completed: false });
await alice.api.deleteTask(second.id, { ifMatch: etagOf(second) });
report.afterDelete = await alice.api.listTasks();
report.missing = await failure(alice.api.getTask(second.id));
report.invalid = await failure(alice.api.createTask({ title: "", description: "x" }));
report.badQuery = await failure(alice.api.listTasks({ status: "bogus" }));
report.aliceTokenFetches = alice.fetches();

const bob = await signedInUser("bob");
report.bobList = await bob.api.listTasks();
report.bobGetsAlicesTask = await failure(bob.api.getTask(first.id));
report.bobDeletesAlicesTask = await failure(bob.api.deleteTask(first.id));
report.aliceAfterBob = await alice.api.getTask(first.id);

const nobody = createTodoClient({ baseUrl: API_URL, getToken: async () => null });
report.notSignedIn = await failure(nobody.listTasks());
const forged = createTodoClient({ baseUrl: API_URL, getToken: async () => "not-a-token" });
report.badToken = await failure(forged.listTasks());

// Live updates. Alice follows her changes from her list's sync token, through a proxy that
// drops the connection and refuses new ones while she changes a task; Bob follows his.
async function until(condition, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function follow(client, options) {
  const stop = new AbortController();
  const seen = [];
  const done = (async () => {
    try {
      for await (const event of client.events({ ...options, signal: stop.signal })) seen.push(event);
      return null;
    } catch (error) {
      return { name: error.name, status: error.status ?? null, message: error.message };
    }
  })();
  return { seen, stop: async () => (stop.abort(), done), done };
}

const brief = (event) => ({ type: event.type, seq: event.seq, taskId: event.task_id ?? null, title: event.task?.title ?? null });

const listed = await alice.api.listTasks();
const proxy = await cuttableProxy(API_URL);
const resumedFrom = []; // the Last-Event-ID of each request for the stream
const recording = async (input, init) => {
  resumedFrom.push(new Headers(init.headers).get("Last-Event-ID"));
  return fetch(input, init);
};
const aliceLive = follow(createTodoClient({ baseUrl: proxy.url, getToken: alice.getToken, fetch: recording }), {
  lastEventId: listed.syncToken,
});
const bobLive = follow(bob.api);
await until(() => aliceLive.seen.length && bobLive.seen.length, "both streams to be ready");
const watered = await alice.api.createTask({ title: "Water plants" });
await until(() => aliceLive.seen.some((event) => event.type === "task.created"), "task.created");
proxy.refuse(true);
proxy.cut();
await alice.api.toggleTask(watered.id);
await alice.api.deleteTask(watered.id);
await until(() => proxy.refused > 0, "a refused attempt to reconnect");
proxy.refuse(false);
await until(() => aliceLive.seen.some((event) => event.type === "task.deleted"), "task.deleted after reconnecting");
report.live = {
  listToken: listed.syncToken,
  taskId: watered.id,
  events: aliceLive.seen.map(brief),
  resumedFrom,
  refused: proxy.refused,
  stopped: await aliceLive.stop(),
  bobEvents: bobLive.seen.map(brief),
  bobStopped: await bobLive.stop(),
};
await proxy.close();

report.changes = await alice.api.changesSince(listed.syncToken);
const a = await alice.api.createTask({ title: "a" });
const b = await alice.api.updateTask((await alice.api.createTask({ title: "b" })).id, { title: "b2" });
const firstPage = await alice.api.changesSince(report.changes.syncToken, { limit: 1 });
report.changePages = [firstPage, await alice.api.changesSince(firstPage.next)];
report.changedIds = [a.id, b.id];
await alice.api.deleteTask(a.id);
await alice.api.deleteTask(b.id);

// A ticket opens one stream, once, with no token sent: what a browser's EventSource needs.
const { ticket, expires_at } = await alice.api.eventsTicket();
const byTicket = async () => {
  const stop = new AbortController();
  const response = await fetch(`${API_URL}/api/events?ticket=${encodeURIComponent(ticket)}`, { signal: stop.signal });
  let text = "";
  if (response.ok) {
    const reader = response.body.getReader();
    while (!text.includes("event: ready")) text += new TextDecoder().decode((await reader.read()).value);
  }
  stop.abort();
  return { status: response.status, type: response.headers.get("Content-Type"), text };
};
report.ticket = { expiresAt: expires_at, first: await byTicket(), again: await byTicket() };
// Refused: thrown at once, never tried again.
const attempts = [];
const counting = async (input, init) => (attempts.push(String(input)), fetch(input, init));
const forgedLive = createTodoClient({ baseUrl: API_URL, getToken: async () => "not-a-token", fetch: counting });
report.eventsBadToken = { ...(await follow(forgedLive).done), attempts: attempts.length };
report.eventsNotSignedIn = await follow(nobody).done;

// Chat, on the service without a model: a 503 saying what to set, streaming or not.
report.chatNotConfigured = await failure(alice.api.chat({ message: "hello" }));
report.chatStreamNotConfigured = await failure(events(alice.api.chatStream({ message: "hello" })));

// Every event of a stream, or where it failed and what came before.
async function events(stream, { stopAfterDelta } = {}) {
  const seen = [];
  try {
    for await (const event of stream) {
      seen.push(event);
      if (stopAfterDelta && event.type === "delta") stopAfterDelta.abort();
    }
    return seen;
  } catch (error) {
    if (error instanceof ApiError) throw Object.assign(error, { before: seen });
    return { error: error.name, before: seen };
  }
}

const chat = alice.chat;
report.chatAnswer = await chat.chat({ message: "add buy milk tomorrow with high priority", timezone: "Europe/Berlin" });
const conversationId = report.chatAnswer.conversation_id;
report.streamed = await events(chat.chatStream({ message: "what's due this week?", conversation_id: conversationId }));
// The model fails once the stream has begun: the error event is thrown.
const streamFailure = await failure(events(chat.chatStream({ message: "and next week?", conversation_id: conversationId })));
report.streamFailure = streamFailure;
// A long answer, stopped after its first piece.
const stop = new AbortController();
report.aborted = await events(
  chat.chatStream({ message: "tell me a long story", conversation_id: conversationId }, { signal: stop.signal }),
  { stopAfterDelta: stop },
);
report.unknownConversation = await failure(events(chat.chatStream({ message: "hi", conversation_id: 999_999_999 })));
report.bobGetsAlicesConversation = await failure(bob.chat.getConversation(conversationId));
report.bobContinuesAlicesConversation = await failure(bob.chat.chat({ message: "hi", conversation_id: conversationId }));
// The stopped turn is marked unanswered once the service sees the client gone.
for (let tries = 0; tries < 50; tries += 1) {
  report.conversation = await chat.getConversation(conversationId);
  if (report.conversation.conversation.messages.at(-1).unanswered) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
report.conversations = await chat.listConversations();
report.olderMessages = await chat.getConversation(conversationId, { limit: 2 });
report.olderStill = await chat.getConversation(conversationId, report.olderMessages.older);
await chat.deleteConversation(conversationId);
report.afterDeleteConversations = await chat.listConversations();
report.deletedConversation = await failure(chat.getConversation(conversationId));

console.log(JSON.stringify(report));
