// The client's runtime on its own (node --test, against dist/): what needs no service.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, cachedToken, createTodoClient, describeIssue, expiryOf, nextLink } from "../dist/index.js";

const base64url = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const jwtWithExp = (exp) => `${base64url({ alg: "EdDSA" })}.${base64url({ sub: "u1", exp })}.signature`;

function counting(tokens) {
  const provider = async () => tokens[Math.min(provider.calls++, tokens.length - 1)];
  provider.calls = 0;
  return provider;
}

test("a JWT is reused until refreshBeforeSeconds before its exp, then fetched again", async () => {
  let now = 1_000_000_000;
  const provider = counting([jwtWithExp(now / 1000 + 900), jwtWithExp(now / 1000 + 1800)]);
  const getToken = cachedToken(provider, { refreshBeforeSeconds: 30, now: () => now });

  const first = await getToken();
  now += 869_000; // 31 s before exp
  assert.equal(await getToken(), first);
  assert.equal(provider.calls, 1);
  now += 2_000; // 29 s before exp
  assert.notEqual(await getToken(), first);
  assert.equal(provider.calls, 2);
});

test("concurrent calls share one fetch, and clear() forgets the token", async () => {
  const provider = counting([jwtWithExp(Date.now() / 1000 + 900)]);
  const getToken = cachedToken(provider);

  await Promise.all([getToken(), getToken(), getToken()]);
  assert.equal(provider.calls, 1);
  getToken.clear();
  await getToken();
  assert.equal(provider.calls, 2);
});

test("tokens without an exp (and no token) are not kept", async () => {
  const provider = counting(["opaque-session-token"]);
  const getToken = cachedToken(provider);
  await getToken();
  await getToken();
  assert.equal(provider.calls, 2);
  assert.equal(expiryOf("opaque-session-token"), null);
  assert.equal(expiryOf(jwtWithExp(42)), 42);
});

test("a 401 drops the cached token, so the next call fetches a new one", async () => {
  const provider = counting([jwtWithExp(Date.now() / 1000 + 900)]);
  const getToken = cachedToken(provider);
  const unauthorized = async () => Response.json({ detail: "Invalid token" }, { status: 401 });
  const api = createTodoClient({ baseUrl: "http://localhost:8000/", getToken, fetch: unauthorized });

  await assert.rejects(api.listTasks(), (error) => error instanceof ApiError && error.status === 401);
  await assert.rejects(api.listTasks());
  assert.equal(provider.calls, 2);
});

test("requests go to the base URL without a doubled slash, with the token and If-Match", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push({ url, auth: init.headers.get("Authorization"), ifMatch: init.headers.get("If-Match") });
    return new Response(null, { status: 204 });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000/", getToken: async () => "t", fetch: fake });
  await api.deleteTask(7, { ifMatch: '"v1"' });
  assert.deepEqual(seen, [{ url: "http://localhost:8000/api/tasks/7", auth: "Bearer t", ifMatch: '"v1"' }]);
});

test("each write sends its idempotencyKey as Idempotency-Key, and none without one", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push([init.method, url.replace("http://localhost:8000", ""), init.headers.get("Idempotency-Key")]);
    if (init.method === "DELETE") return new Response(null, { status: 204 });
    const body = url.includes("/api/tags/") ? { name: "b", task_count: 1 } : { id: 7, title: "t" };
    return Response.json(body, { headers: { "Idempotent-Replayed": "true" } });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  await api.createTask({ title: "t" }, { idempotencyKey: "k1" });
  await api.updateTask(7, { title: "t" }, { idempotencyKey: "k2" });
  await api.toggleTask(7, { idempotencyKey: "k3", completed: true });
  await api.deleteTask(7, { idempotencyKey: "k4" });
  await api.renameTag("a", "b", { idempotencyKey: "k5" });
  await api.deleteTag("b", { idempotencyKey: "k6" });
  await api.chat({ message: "hi" }, { idempotencyKey: "k7" });
  await api.createTask({ title: "t" });
  assert.deepEqual(seen, [
    ["POST", "/api/tasks", "k1"],
    ["PATCH", "/api/tasks/7", "k2"],
    ["PATCH", "/api/tasks/7/complete", "k3"],
    ["DELETE", "/api/tasks/7", "k4"],
    ["PATCH", "/api/tags/a", "k5"],
    ["DELETE", "/api/tags/b", "k6"],
    ["POST", "/api/chat", "k7"],
    ["POST", "/api/tasks", null],
  ]);
});

test("a retry still in progress (409) carries its Retry-After", async () => {
  const inProgress = async () =>
    Response.json(
      { detail: "A request with this Idempotency-Key is still in progress; retry shortly" },
      { status: 409, headers: { "Retry-After": "1" } },
    );
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: inProgress });
  await assert.rejects(
    api.createTask({ title: "t" }, { idempotencyKey: "k" }),
    (error) => error instanceof ApiError && error.status === 409 && error.retryAfter === 1 && /in progress/.test(error.message),
  );
});

test("a task without an ETag as ifMatch is refused before anything is sent", async () => {
  const seen = [];
  const fake = async (url) => {
    seen.push(url);
    return Response.json([{ id: 7, title: "listed" }], { headers: { "X-Total-Count": "1" } });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  const [listed] = (await api.listTasks()).tasks;
  await assert.rejects(api.updateTask(7, { title: "x" }, { ifMatch: listed }), TypeError);
  await assert.rejects(api.deleteTask(7, { ifMatch: listed }), /task 7 has no ETag/);
  assert.equal(seen.length, 1);
});

test("headers given to the client go with every request", async () => {
  let cookie;
  const fake = async (url, init) => {
    cookie = init.headers.get("cookie");
    return Response.json([], { headers: { "X-Total-Count": "0" } });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", headers: { cookie: "a=b" }, fetch: fake });
  assert.deepEqual(await api.listTasks(), { tasks: [], total: 0, next: null, syncToken: null });
  assert.equal(cookie, "a=b");
});

test("a 429 carries Retry-After, and a 422's message lists each issue", async () => {
  const limited = async () => Response.json({ detail: "Too many requests" }, { status: 429, headers: { "Retry-After": "7" } });
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: limited });
  await assert.rejects(api.listTasks(), (error) => error.retryAfter === 7 && error.message === "Too many requests");

  const issues = [
    { loc: ["body", "title"], msg: "String should have at least 1 character", type: "string_too_short", input: "" },
    { loc: ["body"], msg: "Field required", type: "missing", input: null },
  ];
  assert.equal(new ApiError(422, issues).message, "title: String should have at least 1 character; Field required");
  assert.equal(describeIssue({ loc: ["query", "limit"], msg: "bad", type: "x" }), "query.limit: bad");
  assert.equal(new ApiError(500, undefined).message, "HTTP 500");
});

test("nextLink finds rel=next among several links, and null without one", () => {
  const page = (link) => new Response(null, { headers: link ? { Link: link } : {} });
  const next = "http://localhost:8000/api/tasks?limit=1&offset=1";
  assert.equal(nextLink(page(`<http://localhost:8000/api/tasks?offset=0>; rel="prev", <${next}>; rel="next"`)), next);
  assert.equal(nextLink(page(`<${next}>; rel="prev"`)), null);
  assert.equal(nextLink(page(null)), null);
});

test("several priorities go as a repeated parameter, null filters as none, and the next page keeps them", async () => {
  const seen = [];
  const next = "http://localhost:8000/api/tasks?priority=high&priority=urgent&overdue=true&limit=1&offset=1";
  const fake = async (url) => {
    seen.push(url);
    return Response.json([], { headers: { "X-Total-Count": "2", Link: `<${next}>; rel="next"` } });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  const page = await api.listTasks({ priority: ["high", "urgent"], due_date_from: null, overdue: true, limit: 1 });
  assert.deepEqual(seen, ["http://localhost:8000/api/tasks?priority=high&priority=urgent&overdue=true&limit=1"]);
  assert.deepEqual(page.next, { priority: ["high", "urgent"], overdue: "true", limit: 1, offset: 1 });
});

test("the next page keeps every tag of a tag filter, under the name it was sent with", async () => {
  const next = "http://localhost:8000/api/tasks?tags=a&tags=b&tag=c&tag=d&search=x&limit=1&offset=1";
  const fake = async () => Response.json([], { headers: { "X-Total-Count": "2", Link: `<${next}>; rel="next"` } });
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  const page = await api.listTasks({ tags: ["a", "b"], limit: 1 });
  assert.deepEqual(page.next, { tags: ["a", "b"], tag: ["c", "d"], search: "x", limit: 1, offset: 1 });
});

test("tag calls name the tag in the path, slashes kept and the rest encoded", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push(`${init.method ?? "GET"} ${url} ${init.body ?? ""}`.trim());
    return init.method === "DELETE" ? new Response(null, { status: 204 }) : Response.json({ name: "q 2", task_count: 1 });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  assert.deepEqual(await api.renameTag("work/q 1?", "q 2"), { name: "q 2", task_count: 1 });
  await api.deleteTag("50%");
  assert.deepEqual(seen, [
    'PATCH http://localhost:8000/api/tags/work/q%201%3F {"name":"q 2"}',
    "DELETE http://localhost:8000/api/tags/50%25",
  ]);
});

test("conversation calls: the list's next page, a conversation's older messages, and delete", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push(`${init.method ?? "GET"} ${url}`);
    if (init.method === "DELETE") return new Response(null, { status: 204 });
    if (url.includes("/api/conversations/3")) {
      const older = "http://localhost:8000/api/conversations/3?limit=2&before=41";
      return Response.json({ id: 3, messages: [{ id: 41 }, { id: 42 }] }, { headers: { Link: `<${older}>; rel="next"` } });
    }
    const next = "http://localhost:8000/api/conversations?limit=1&offset=1";
    return Response.json([{ id: 3 }], { headers: { "X-Total-Count": "2", Link: `<${next}>; rel="next"` } });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  const page = await api.listConversations({ limit: 1 });
  const { conversation, older } = await api.getConversation(3, { limit: 2, before: undefined });
  await api.deleteConversation(3);
  assert.deepEqual(page, { conversations: [{ id: 3 }], total: 2, next: { limit: 1, offset: 1 } });
  assert.deepEqual(conversation.messages.map((message) => message.id), [41, 42]);
  assert.deepEqual(older, { limit: 2, before: 41 });
  assert.deepEqual(seen, [
    "GET http://localhost:8000/api/conversations?limit=1",
    "GET http://localhost:8000/api/conversations/3?limit=2",
    "DELETE http://localhost:8000/api/conversations/3",
  ]);
});

test("the last page of conversations and of messages has no next", async () => {
  const fake = async (url) =>
    url.includes("/3") ? Response.json({ id: 3, messages: [] }) : Response.json([], { headers: { "X-Total-Count": "0" } });
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  assert.equal((await api.listConversations()).next, null);
  assert.equal((await api.getConversation(3)).older, null);
});

// A streamed answer from a fake fetch: the body in these chunks, each read separately.
function streaming(chunks, { status = 200, type = "text/event-stream", seen = [] } = {}) {
  return async (url, init) => {
    seen.push({ url, accept: init.headers.get("Accept"), body: JSON.parse(init.body), signal: init.signal });
    const encoder = new TextEncoder();
    const body = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(typeof next === "string" ? encoder.encode(next) : next);
      },
      cancel() {
        seen.push("cancelled");
      },
    });
    return new Response(body, { status, headers: { "Content-Type": type } });
  };
}

const collect = async (events) => {
  const all = [];
  for await (const event of events) all.push(event);
  return all;
};

const answer = { conversation_id: 12, response: "Added “Buy milk”.", tool_calls: [], message: { id: 3 } };

test("chatStream reads events split anywhere across chunks, CRLF lines and comments included", async () => {
  const call = { name: "add_task", arguments: { title: "Buy milk" }, result: { id: 1 } };
  const text = [
    ": a comment\n\n",
    `event: tool_call\r\ndata: ${JSON.stringify(call)}\r\n\r\n`,
    'event: delta\ndata: {"text": "Added “Buy"}\n\n',
    'event: delta\rdata: {"text": " milk”."}\r\r',
    `event: done\ndata: ${JSON.stringify(answer)}\n\n`,
  ].join("");
  const bytes = new TextEncoder().encode(text);
  // One byte at a time: every line, event, CRLF and multi-byte character is cut somewhere.
  const chunks = [...bytes].map((byte) => new Uint8Array([byte]));
  const seen = [];
  const api = createTodoClient({ baseUrl: "http://localhost:8000", getToken: async () => "t", fetch: streaming(chunks, { seen }) });

  const events = await collect(api.chatStream({ message: "add buy milk", conversation_id: 12 }));

  assert.deepEqual(events, [
    { type: "tool_call", call },
    { type: "delta", text: "Added “Buy" },
    { type: "delta", text: " milk”." },
    { type: "done", answer },
  ]);
  assert.deepEqual(seen[0].body, { message: "add buy milk", conversation_id: 12 });
  assert.equal(seen[0].url, "http://localhost:8000/api/chat");
  assert.equal(seen[0].accept, "text/event-stream");
});

test("an error event throws an ApiError with the status the answer would have had", async () => {
  const failed = 'event: delta\ndata: {"text": "Hel"}\n\nevent: error\ndata: {"status": 502, "detail": "The model provider failed"}\n\n';
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: streaming([failed]) });
  const seen = [];
  await assert.rejects(
    (async () => {
      for await (const event of api.chatStream({ message: "hi" })) seen.push(event.type);
    })(),
    (error) => error instanceof ApiError && error.status === 502 && error.message === "The model provider failed",
  );
  assert.deepEqual(seen, ["delta"]);
});

test("an error before the stream throws as any call's does, and so does a stream cut short", async () => {
  const notConfigured = async () => Response.json({ detail: "Chat is not configured on this service" }, { status: 503 });
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: notConfigured });
  await assert.rejects(collect(api.chatStream({ message: "hi" })), (error) => error.status === 503 && /not configured/.test(error.message));
  await assert.rejects(api.chat({ message: "hi" }), (error) => error.status === 503);

  const cut = createTodoClient({ baseUrl: "http://localhost:8000", fetch: streaming(['event: delta\ndata: {"text": "Hel"}\n\nevent: done\ndata: {"conv']) });
  await assert.rejects(collect(cut.chatStream({ message: "hi" })), /ended before its done event/);
  const json = createTodoClient({ baseUrl: "http://localhost:8000", fetch: streaming(["{}"], { type: "application/json" }) });
  await assert.rejects(collect(json.chatStream({ message: "hi" })), /is application\/json, not text\/event-stream/);
});

test("leaving the loop early cancels the body, and the signal goes to fetch", async () => {
  const seen = [];
  const chunks = ['event: delta\ndata: {"text": "one"}\n\n', 'event: delta\ndata: {"text": "two"}\n\n'];
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: streaming(chunks, { seen }) });
  const stop = new AbortController();
  for await (const event of api.chatStream({ message: "hi" }, { signal: stop.signal })) {
    assert.deepEqual(event, { type: "delta", text: "one" });
    break;
  }
  assert.equal(seen[0].signal, stop.signal);
  assert.equal(seen.at(-1), "cancelled");
});

test("chat sends the message and returns the JSON answer", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push([url, init.method, JSON.parse(init.body), init.headers.get("Accept")]);
    return Response.json(answer);
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  assert.deepEqual(await api.chat({ message: "hi", timezone: "Europe/Berlin" }), answer);
  assert.deepEqual(seen, [["http://localhost:8000/api/chat", "POST", { message: "hi", timezone: "Europe/Berlin" }, null]]);
});

// The events stream from a fake fetch: each request gets the next of `answers` (chunks of a
// `text/event-stream` body, a Response, or an Error to throw), and is recorded in `seen`.
function connections(answers, seen = []) {
  return async (url, init) => {
    seen.push({ url, lastEventId: init.headers.get("Last-Event-ID"), auth: init.headers.get("Authorization") });
    const answer = answers.shift();
    if (answer === undefined) throw new Error("no more answers");
    if (answer instanceof Error) throw answer;
    if (answer instanceof Response) return answer;
    const encoder = new TextEncoder();
    const body = new ReadableStream({
      pull(controller) {
        const next = answer.shift();
        if (next === undefined) controller.close();
        else if (next instanceof Error) controller.error(next);
        else controller.enqueue(encoder.encode(next));
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream; charset=utf-8" } });
  };
}

const milk = { id: 7, title: "Buy milk", completed: false };
const change = (seq, type, task) => {
  const data = { event_id: `e${seq}`, seq, type, user_id: "u1", task_id: 7, task, at: "2026-12-07T10:00:00Z" };
  return `id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
};

test("events yields typed events and reconnects after a drop with the last id, missing nothing", async () => {
  const seen = [];
  const answers = [
    // A short retry keeps the test quick; the stream then drops mid-frame.
    ["retry: 5\n\n", 'id: 3\nevent: ready\ndata: {"seq": 3}\n\n', ": keep-alive\n\n", change(4, "task.created", milk), "id: 5\nevent: task.up"],
    new TypeError("fetch failed"), // the service is away for a moment
    Response.json({ detail: "Service unavailable" }, { status: 503 }),
    ['id: 4\nevent: ready\ndata: {"seq": 4}\n\n', change(5, "task.deleted", null), change(6, "task.someday", milk)],
    ['id: 6\nevent: ready\ndata: {"seq": 6}\n\n'],
  ];
  const api = createTodoClient({ baseUrl: "http://localhost:8000", getToken: async () => "t", fetch: connections(answers, seen) });
  const stop = new AbortController();
  const events = [];
  for await (const event of api.events({ lastEventId: 3, signal: stop.signal })) {
    events.push(event);
    if (events.length === 5) stop.abort();
  }

  assert.deepEqual(
    events.map((event) => [event.type, event.seq]),
    [["ready", 3], ["task.created", 4], ["ready", 4], ["task.deleted", 5], ["ready", 6]],
  );
  assert.deepEqual(events[1].task, milk);
  assert.equal(events[3].task, null);
  // The first from the caller's position, each later one from the last event received (a
  // frame cut short does not count; an event of an unknown type does).
  assert.deepEqual(seen.map((request) => request.lastEventId), ["3", "4", "4", "4", "6"]);
  assert.ok(seen.every((request) => request.url === "http://localhost:8000/api/events" && request.auth === "Bearer t"));
});

test("a reset says to load the list again, and the stream goes on from its position", async () => {
  const answers = [['id: 40\nevent: reset\ndata: {"seq": 40, "detail": "Events since that position are no longer kept"}\n\n', change(41, "task.updated", milk)]];
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: connections(answers) });
  const events = [];
  for await (const event of api.events({ lastEventId: "2" })) {
    events.push(event);
    if (events.length === 2) break;
  }
  assert.deepEqual(events[0], { type: "reset", seq: 40, detail: "Events since that position are no longer kept" });
  assert.equal(events[1].type, "task.updated");
});

test("a 401, 403 or 429 stops the stream with an ApiError, without trying again", async () => {
  for (const [status, retryAfter] of [[401, null], [403, null], [429, 7]]) {
    const seen = [];
    const answer = Response.json({ detail: `refused ${status}` }, { status, headers: retryAfter ? { "Retry-After": String(retryAfter) } : {} });
    const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: connections([answer], seen) });
    await assert.rejects(collect(api.events()), (error) => error instanceof ApiError && error.status === status && error.retryAfter === retryAfter);
    assert.equal(seen.length, 1);
  }
});

test("the waits between attempts double up to maxRetryDelayMs, and maxRetries failures in a row throw the last", async () => {
  const seen = [];
  const times = [];
  const failing = async (url, init) => {
    times.push(performance.now());
    return connections([new TypeError(`fetch failed ${times.length}`)], seen)(url, init);
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: failing });
  // The service's retry (1 s) is never read here: 1 s, then 2 s, capped at 1.5 s.
  await assert.rejects(collect(api.events({ maxRetries: 2, maxRetryDelayMs: 1500 })), /fetch failed 3/);
  const waits = times.slice(1).map((time, index) => time - times[index]);
  assert.equal(waits.length, 2);
  assert.ok(waits[0] >= 990 && waits[0] < 1400, `first wait ${waits[0]}`);
  assert.ok(waits[1] >= 1490 && waits[1] < 1900, `second wait ${waits[1]}`);
});

test("aborting while it waits to reconnect ends the loop at once, without an error", async () => {
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: connections([new TypeError("fetch failed")]) });
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 50);
  const started = performance.now();
  assert.deepEqual(await collect(api.events({ signal: stop.signal })), []);
  assert.ok(performance.now() - started < 900);
});

test("an answer that is not an event stream is an error, not a reason to reconnect", async () => {
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: connections([Response.json([])]) });
  await assert.rejects(collect(api.events()), /events answer is application\/json, not text\/event-stream/);
});

test("changesSince asks with since and limit, and returns the changes, the token and the next", async () => {
  const seen = [];
  const gone = { id: 3, deleted: true };
  const fake = async (url) => {
    seen.push(url);
    const more = url.includes("limit=2");
    const headers = { "X-Sync-Token": more ? "12" : "15", ...(more ? { Link: '<http://localhost:8000/api/tasks?since=12&limit=2>; rel="next"' } : {}) };
    return Response.json(more ? [milk, gone] : [gone], { headers });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  const first = await api.changesSince("10", { limit: 2 });
  assert.deepEqual(first, { changes: [milk, gone], syncToken: "12", next: "12" });
  assert.deepEqual(await api.changesSince(first.next), { changes: [gone], syncToken: "15", next: null });
  assert.deepEqual(seen, ["http://localhost:8000/api/tasks?since=10&limit=2", "http://localhost:8000/api/tasks?since=12"]);
});

test("listTasks returns the list's X-Sync-Token, and eventsTicket posts for a ticket", async () => {
  const seen = [];
  const fake = async (url, init) => {
    seen.push(`${init.method ?? "GET"} ${url}`);
    if (url.endsWith("/tickets")) return Response.json({ ticket: "k", expires_at: "2026-12-07T10:01:00Z" }, { status: 201 });
    return Response.json([], { headers: { "X-Total-Count": "0", "X-Sync-Token": "9" } });
  };
  const api = createTodoClient({ baseUrl: "http://localhost:8000", fetch: fake });
  assert.equal((await api.listTasks()).syncToken, "9");
  assert.deepEqual(await api.eventsTicket(), { ticket: "k", expires_at: "2026-12-07T10:01:00Z" });
  assert.deepEqual(seen, ["GET http://localhost:8000/api/tasks", "POST http://localhost:8000/api/events/tickets"]);
});
