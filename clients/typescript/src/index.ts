// The typed client for todo-api: the types come from the service's OpenAPI schema
// (src/schema.ts, generated), the runtime below is small and has no dependencies.
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";

export type Task = components["schemas"]["TaskPublic"];
export type TaskCreate = components["schemas"]["TaskCreate"];
export type TaskUpdate = components["schemas"]["TaskUpdate"];
export type TaskStatus = components["schemas"]["TaskStatus"];
export type Tag = components["schemas"]["TagPublic"];
export type Conversation = components["schemas"]["ConversationPublic"];
export type ConversationDetail = components["schemas"]["ConversationDetail"];
export type Message = components["schemas"]["MessagePublic"];
export type ToolCall = components["schemas"]["ToolCall"];
/** A message to the assistant: `message`, and `conversation_id` to continue a conversation. */
export type ChatRequest = components["schemas"]["ChatRequest"];
/** The assistant's answer, once stored in the conversation. */
export type ChatResponse = components["schemas"]["ChatResponse"];
/** One entry of a 422's `detail`: where (`loc`), what (`msg`, `type`) and the value sent (`input`). */
export type ValidationIssue = components["schemas"]["ValidationError"];
/** One change of one of your tasks, as the events stream sends it (its `data`). */
export type EventPublic = components["schemas"]["EventPublic"];
/** A ticket that opens one events stream once, within a minute (`?ticket=` for an EventSource). */
export type EventsTicket = components["schemas"]["Ticket"];
/** The query of `GET /api/tasks`: status, sort, limit, offset (all optional). */
export type ListQuery = NonNullable<paths["/api/tasks"]["get"]["parameters"]["query"]>;

/** Returns the bearer token to send, or null/undefined when nobody is signed in. */
export type TokenProvider = () => Promise<string | null | undefined>;

export interface TodoClientOptions {
  /** The service's URL, e.g. http://localhost:8000. Required: a missing one throws at once. */
  baseUrl: string | undefined;
  /** Where bearer tokens come from; leave out to rely on cookies (`credentials: "include"`). */
  getToken?: TokenProvider;
  /** "include" sends the built-in accounts' session cookie to the service (browser only). */
  credentials?: RequestCredentials;
  /** Headers for every request, e.g. on a server the `cookie` of the request it answers. */
  headers?: Record<string, string>;
  /** A fetch of your own (tests, instrumentation); the global one by default. */
  fetch?: typeof fetch;
}

/** An answer other than 2xx, or no token to send. `message` is readable as it is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    // A string for every status except 422, where it is the list of issues.
    readonly detail: string | ValidationIssue[] | undefined,
    /** Seconds to wait before retrying, from `Retry-After` (429, 503; 409 for an Idempotency-Key in progress). */
    readonly retryAfter: number | null = null,
    /** A failed chat turn's conversation, from `X-Conversation-ID`: the message was kept there,
     * so pass it back as `conversation_id` to retry in the same conversation. */
    readonly conversationId: number | null = null,
  ) {
    super(describe(status, detail));
    this.name = "ApiError";
  }

  /** The validation issues of a 422, or an empty list. */
  get issues(): ValidationIssue[] {
    return Array.isArray(this.detail) ? this.detail : [];
  }
}

function describe(status: number, detail: string | ValidationIssue[] | undefined): string {
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) return detail.map(describeIssue).join("; ");
  return `HTTP ${status}`;
}

/** "title: String should have at least 1 character", from an issue located at body.title. */
export function describeIssue(issue: ValidationIssue): string {
  const where = issue.loc.filter((part, index) => !(index === 0 && part === "body")).join(".");
  return where ? `${where}: ${issue.msg}` : issue.msg;
}

/** One page of `listTasks`. */
export interface TaskPage {
  tasks: Task[];
  /** Every task matching the filter (`X-Total-Count`), not only this page's. */
  total: number;
  /** The query of the next page while there is one (from `Link: <…>; rel="next"`). */
  next: ListQuery | null;
  /** Where the user's changes stood when the list was read (`X-Sync-Token`): pass it to
   * `events` as `lastEventId`, or to `changesSince`, to get every change after this list.
   * Null when the answer had none (a service without live updates, or CORS hiding it). */
  syncToken: string | null;
}

/** A task deleted since a sync token: only its id is left. */
export interface Tombstone {
  id: number;
  deleted: true;
}

/** `changesSince`'s answer: what changed after a sync token, each task once, in the order of its
 * latest change; a deleted one as a `Tombstone`. */
export interface Changes {
  changes: (Task | Tombstone)[];
  /** Where these changes end: the token for the next `changesSince` (or `events`' `lastEventId`). */
  syncToken: string;
  /** The token to ask for the rest with, while `limit` cut the answer short; else null. */
  next: string | null;
}

/** One page of `listConversations`, the most recently active first. */
export interface ConversationPage {
  conversations: Conversation[];
  /** All your conversations (`X-Total-Count`). */
  total: number;
  /** The `limit` and `offset` of the next page while there is one. */
  next: { limit: number; offset: number } | null;
}

/** The messages of a conversation to get: the latest `limit`, or those before the message `before`. */
export interface MessagesQuery {
  limit?: number;
  before?: number;
}

/** `getConversation`'s answer: the conversation with a page of its messages, oldest first. */
export interface ConversationWithMessages {
  conversation: ConversationDetail;
  /** The query of the page of older messages while some remain, to pass back to `getConversation`. */
  older: MessagesQuery | null;
}

/**
 * One event of a streamed answer (`chatStream`), in the order the service sends them: `delta`s
 * (the answer's text, piece by piece) and `tool_call`s (each task tool the assistant called,
 * once it returned), then `done` with the same body as `chat`'s answer, always last.
 */
export type ChatEvent =
  | { type: "delta"; text: string }
  | { type: "tool_call"; call: ToolCall }
  | { type: "done"; answer: ChatResponse };

export interface ChatOptions extends RetryOptions {
  /** Abort to stop waiting (and, streaming, the stream); the service keeps the message, marked unanswered. */
  signal?: AbortSignal;
}

/** A reminder that fired, as a `reminder.due` event names it (the service's reminder scheduler
 * writes these events; until a service has one, none come). */
export interface FiredReminder {
  task_id: number;
  /** The task's title when the reminder fired. */
  title: string;
  /** The task's due date as the task shows it, or null. */
  due_at: string | null;
  /** The instant the reminder was set for. */
  remind_at: string;
  user_id: string;
}

type Change<Type extends EventPublic["type"], Snapshot extends Task | null> = Omit<EventPublic, "type" | "task"> & {
  type: Type;
  /** The task after the change (for `reminder.due`, as it was when the reminder fired). */
  task: Snapshot;
};

/**
 * One event of `events()`, told apart by `type`:
 * - `ready`: the stream is live from `seq` (every change after it follows);
 * - `reset`: the changes after the position asked for are no longer kept: load your tasks again
 *   (the stream goes on from `seq`);
 * - a change of a task (`task.created`, `task.updated`, `task.completed`, `task.deleted`, with
 *   the task after it; `null` once deleted), or `reminder.due` with the reminder that fired.
 */
export type LiveEvent =
  | { type: "ready"; seq: number }
  | { type: "reset"; seq: number; detail: string }
  | Change<"task.created" | "task.updated" | "task.completed", Task>
  | Change<"task.deleted", null>
  | (Change<"reminder.due", Task | null> & { reminder?: FiredReminder | null });

export interface EventsOptions {
  /** Resume after this event (its `seq`), or a list's `syncToken`: every change after it comes
   * first. Leave out to start from now. */
  lastEventId?: string | number | null;
  /** Abort to close the stream: the loop then ends (no error). */
  signal?: AbortSignal;
  /** The longest wait between two attempts to reconnect, in ms (default 30 s). The first wait
   * is the service's `retry:` (1 s), doubled after each failed attempt up to this. */
  maxRetryDelayMs?: number;
  /** How many attempts in a row may fail before `events` throws the last error (default: no
   * end). A connection that reached `ready` starts the count again. */
  maxRetries?: number;
}

/** The `X-Total-Count` of a list response. */
export function totalCount(response: Response): number {
  const value = Number(response.headers.get("X-Total-Count"));
  return Number.isInteger(value) && value >= 0 ? value : 0;
}

/** The absolute URL of `rel="next"` in a `Link` header, or null on the last page. */
export function nextLink(response: Response): string | null {
  const header = response.headers.get("Link");
  if (!header) return null;
  for (const part of header.split(",")) {
    const match = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (match?.[2] && /\brel="?next"?/.test(match[2]) && match[1]) return match[1];
  }
  return null;
}

/** The list query a `Link` URL stands for, to pass back to `listTasks`. */
export function queryOf(url: string): ListQuery {
  const params = new URL(url).searchParams;
  const query: Record<string, string | number | string[]> = {};
  for (const key of new Set(params.keys())) {
    const value = params.get(key) ?? "";
    if (key === "limit" || key === "offset") query[key] = Number(value);
    else if (LIST_PARAMETERS.has(key)) query[key] = params.getAll(key);
    else query[key] = value;
  }
  return query as ListQuery;
}

// The list's parameters that take several values, each sent as a repeated parameter.
const LIST_PARAMETERS = new Set(["priority", "tags", "tag"]);

// The ETag each task came with, so a later write can send it as If-Match.
const etags = new WeakMap<Task, string>();

/**
 * The ETag of the version a task object came from: tasks from `getTask`, `createTask`,
 * `updateTask` and `toggleTask` have one; tasks of a `listTasks` page have none (the list
 * answer has no per-task ETag), so this is null for them.
 */
export function etagOf(task: Task): string | null {
  return etags.get(task) ?? null;
}

/** `If-Match` for a write: an ETag, or a task this client returned (its ETag). */
export type IfMatch = string | Task | null | undefined;

export interface RetryOptions {
  /**
   * Sent as `Idempotency-Key` (1 to 255 visible ASCII characters: `crypto.randomUUID()` will do).
   * Make one per write and send the same one when retrying that write (after a timeout, or from an
   * offline queue): the service answers a retry with the first answer instead of writing twice.
   * A 409 means the first is still in progress (retry after `retryAfter`); a 422, that the key was
   * used for another request.
   */
  idempotencyKey?: string | undefined;
}

export interface WriteOptions extends RetryOptions {
  /** With the version the user saw, the write is refused (412, nothing written) if it changed. */
  ifMatch?: IfMatch;
}

export interface TodoClient {
  readonly baseUrl: string;
  listTasks(query?: ListQuery): Promise<TaskPage>;
  getTask(id: number): Promise<Task>;
  createTask(input: TaskCreate, options?: RetryOptions): Promise<Task>;
  updateTask(id: number, changes: TaskUpdate, options?: WriteOptions): Promise<Task>;
  /** Flip `completed` (no body), or set it when `completed` is given. */
  toggleTask(id: number, options?: WriteOptions & { completed?: boolean }): Promise<Task>;
  deleteTask(id: number, options?: WriteOptions): Promise<void>;
  /** The user's tags, by name, with how many tasks have each. */
  listTags(): Promise<Tag[]>;
  /** Rename a tag on every one of the user's tasks at once. */
  renameTag(name: string, newName: string, options?: RetryOptions): Promise<Tag>;
  /** Remove a tag from every one of the user's tasks (the tasks stay). */
  deleteTag(name: string, options?: RetryOptions): Promise<void>;
  /** The user's conversations with the assistant, the most recently active first. */
  listConversations(query?: { limit?: number; offset?: number }): Promise<ConversationPage>;
  /** A conversation with its latest messages (or those before `before`), oldest first. */
  getConversation(id: number, query?: MessagesQuery): Promise<ConversationWithMessages>;
  /** Delete a conversation and all its messages. */
  deleteConversation(id: number): Promise<void>;
  /** Send the assistant a message (a new conversation without `conversation_id`); its answer, once stored. */
  chat(input: ChatRequest, options?: ChatOptions): Promise<ChatResponse>;
  /**
   * The same turn, streamed as the model writes it: iterate with `for await`; the request is
   * sent when iteration starts. Every failure throws an ApiError, whether it came before the
   * stream (404, 422, 429, 503 without a model…) or as the stream's `error` event (with the
   * status the JSON answer would have had). Leaving the loop early, or aborting
   * `options.signal`, closes the stream.
   */
  chatStream(input: ChatRequest, options?: ChatOptions): AsyncIterable<ChatEvent>;
  /**
   * The user's changes as they happen (`GET /api/events`, Server-Sent Events read from `fetch`
   * with this client's token or cookie): iterate with `for await`. After a dropped connection
   * (a network error, the service restarting, a 5xx) it reconnects by itself, sending the last
   * event's id as `Last-Event-ID`, so no change is missed or repeated; the waits between
   * attempts grow, bounded by `maxRetryDelayMs`. A 401, 403 or 429 (or any other 4xx) stops it
   * with an ApiError. Aborting `options.signal`, or leaving the loop, closes it.
   */
  events(options?: EventsOptions): AsyncIterable<LiveEvent>;
  /** A ticket for a browser's `new EventSource(`${baseUrl}/api/events?ticket=…`)`, which cannot
   * send a bearer token: it opens one stream, once, within a minute. */
  eventsTicket(): Promise<EventsTicket>;
  /** What changed after a sync token (a list's `syncToken`, an event's `seq`), up to `limit`
   * tasks; a `410` ApiError when those changes are no longer kept (list again). */
  changesSince(token: string | number, options?: { limit?: number }): Promise<Changes>;
}

/** A client for one service; on the server, make one per request (its tokens are the caller's). */
export function createTodoClient(options: TodoClientOptions): TodoClient {
  const baseUrl = checkedBaseUrl(options.baseUrl);
  const send = options.fetch ?? globalThis.fetch.bind(globalThis);

  async function request(path: string, init: RequestInit & WriteOptions = {}): Promise<Response> {
    const { ifMatch, idempotencyKey, ...rest } = init;
    const headers = new Headers(options.headers);
    new Headers(rest.headers).forEach((value, name) => headers.set(name, value));
    if (rest.body !== undefined) headers.set("Content-Type", "application/json");
    const etag = typeof ifMatch === "string" ? ifMatch : ifMatch ? etagOf(ifMatch) : null;
    if (ifMatch && !etag) {
      // Sending the write without the condition would drop the protection the caller asked for.
      throw new TypeError(
        `ifMatch: task ${typeof ifMatch === "string" ? "" : ifMatch.id} has no ETag (tasks of a listTasks page have none); fetch it with getTask first, or pass its ETag`,
      );
    }
    if (etag) headers.set("If-Match", etag);
    if (idempotencyKey !== undefined) headers.set("Idempotency-Key", idempotencyKey);
    if (options.getToken) {
      const token = await options.getToken();
      if (!token) throw new ApiError(401, "not signed in: the token provider returned no token");
      headers.set("Authorization", `Bearer ${token}`);
    }
    const response = await send(`${baseUrl}${path}`, {
      ...rest,
      headers,
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    if (!response.ok) {
      if (response.status === 401) invalidate(options.getToken);
      const body = (await response.json().catch(() => null)) as { detail?: string | ValidationIssue[] } | null;
      const retryAfter = Number(response.headers.get("Retry-After"));
      throw new ApiError(
        response.status,
        body?.detail,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
        conversationOf(response),
      );
    }
    return response;
  }

  async function task(response: Response): Promise<Task> {
    const value = (await response.json()) as Task;
    const etag = response.headers.get("ETag");
    if (etag) etags.set(value, etag);
    return value;
  }

  return {
    baseUrl,
    async listTasks(query = {}) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        // Several values (priorities) go as a repeated parameter; null and undefined as none.
        for (const one of Array.isArray(value) ? value : [value]) {
          if (one !== undefined && one !== null) params.append(key, String(one));
        }
      }
      const search = params.size ? `?${params}` : "";
      const response = await request(`/api/tasks${search}`);
      const link = nextLink(response);
      return {
        tasks: (await response.json()) as Task[],
        total: totalCount(response),
        next: link ? queryOf(link) : null,
        syncToken: response.headers.get(SYNC_TOKEN),
      };
    },
    async getTask(id) {
      return task(await request(`/api/tasks/${id}`));
    },
    async createTask(input, { idempotencyKey } = {}) {
      return task(await request("/api/tasks", { method: "POST", body: JSON.stringify(input), idempotencyKey }));
    },
    async updateTask(id, changes, { ifMatch, idempotencyKey } = {}) {
      return task(await request(`/api/tasks/${id}`, { method: "PATCH", body: JSON.stringify(changes), ifMatch, idempotencyKey }));
    },
    async toggleTask(id, { ifMatch, idempotencyKey, completed } = {}) {
      const body = completed === undefined ? {} : { body: JSON.stringify({ completed }) };
      return task(await request(`/api/tasks/${id}/complete`, { method: "PATCH", ifMatch, idempotencyKey, ...body }));
    },
    async deleteTask(id, { ifMatch, idempotencyKey } = {}) {
      await request(`/api/tasks/${id}`, { method: "DELETE", ifMatch, idempotencyKey });
    },
    async listTags() {
      return (await (await request("/api/tags")).json()) as Tag[];
    },
    async renameTag(name, newName, { idempotencyKey } = {}) {
      const response = await request(`/api/tags/${tagPath(name)}`, {
        method: "PATCH",
        body: JSON.stringify({ name: newName }),
        idempotencyKey,
      });
      return (await response.json()) as Tag;
    },
    async deleteTag(name, { idempotencyKey } = {}) {
      await request(`/api/tags/${tagPath(name)}`, { method: "DELETE", idempotencyKey });
    },
    async listConversations(query = {}) {
      const response = await request(`/api/conversations${searchOf(query)}`);
      const link = nextLink(response);
      const params = link ? new URL(link).searchParams : null;
      return {
        conversations: (await response.json()) as Conversation[],
        total: totalCount(response),
        next: params ? { limit: Number(params.get("limit")), offset: Number(params.get("offset")) } : null,
      };
    },
    async getConversation(id, query = {}) {
      const response = await request(`/api/conversations/${id}${searchOf(query)}`);
      const link = nextLink(response);
      const params = link ? new URL(link).searchParams : null;
      return {
        conversation: (await response.json()) as ConversationDetail,
        older: params ? { limit: Number(params.get("limit")), before: Number(params.get("before")) } : null,
      };
    },
    async deleteConversation(id) {
      await request(`/api/conversations/${id}`, { method: "DELETE" });
    },
    async chat(input, { signal, idempotencyKey } = {}) {
      const response = await request("/api/chat", {
        method: "POST",
        body: JSON.stringify(input),
        idempotencyKey,
        ...(signal ? { signal } : {}),
      });
      return (await response.json()) as ChatResponse;
    },
    chatStream(input, { signal, idempotencyKey } = {}) {
      return chatEvents(() =>
        request("/api/chat", {
          method: "POST",
          body: JSON.stringify(input),
          headers: { Accept: EVENT_STREAM },
          idempotencyKey,
          ...(signal ? { signal } : {}),
        }),
      );
    },
    events(options = {}) {
      return liveEvents(
        (lastEventId) =>
          request("/api/events", {
            headers: { Accept: EVENT_STREAM, ...(lastEventId === null ? {} : { "Last-Event-ID": lastEventId }) },
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        options,
      );
    },
    async eventsTicket() {
      return (await (await request("/api/events/tickets", { method: "POST" })).json()) as EventsTicket;
    },
    async changesSince(token, { limit } = {}) {
      const response = await request(`/api/tasks${searchOf({ since: String(token), limit })}`);
      const syncToken = response.headers.get(SYNC_TOKEN);
      if (syncToken === null) throw new Error(`todo-api-client: the changes answer has no ${SYNC_TOKEN} (is it exposed to this origin?)`);
      return {
        changes: (await response.json()) as (Task | Tombstone)[],
        syncToken,
        next: nextLink(response) ? syncToken : null,
      };
    },
  };
}

const SYNC_TOKEN = "X-Sync-Token";

const EVENT_STREAM = "text/event-stream";

// What the `delta` and `error` events carry (the service documents them; its schema lists neither).
interface TextDelta {
  text: string;
}
interface StreamError {
  status: number;
  detail: string;
}

/** The conversation a chat answer names in `X-Conversation-ID`, if it names one. */
function conversationOf(response: Response): number | null {
  const id = Number(response.headers.get("X-Conversation-ID") ?? Number.NaN);
  return Number.isInteger(id) && id > 0 ? id : null;
}

async function* chatEvents(open: () => Promise<Response>): AsyncGenerator<ChatEvent, void, undefined> {
  const response = await open();
  if (!response.body || !response.headers.get("Content-Type")?.startsWith(EVENT_STREAM)) {
    await response.body?.cancel();
    throw new Error(`todo-api-client: the chat answer is ${response.headers.get("Content-Type") ?? "empty"}, not ${EVENT_STREAM}`);
  }
  for await (const { event, data } of serverSentEvents(response.body)) {
    if (event === "delta") yield { type: "delta", text: (JSON.parse(data) as TextDelta).text };
    else if (event === "tool_call") yield { type: "tool_call", call: JSON.parse(data) as ToolCall };
    else if (event === "done") {
      yield { type: "done", answer: JSON.parse(data) as ChatResponse };
      return;
    } else if (event === "error") {
      const failure = JSON.parse(data) as StreamError;
      throw new ApiError(failure.status, failure.detail, null, conversationOf(response));
    }
    // An event this client does not know (a later version's) is skipped.
  }
  throw new Error("todo-api-client: the chat stream ended before its done event (the connection was lost?)");
}

// The service's first `retry:` (ms), until a stream says otherwise; and the longest wait.
const RECONNECT_MS = 1000;
const MAX_RETRY_DELAY_MS = 30_000;
// Answers worth trying again: the service, or a proxy in front of it, is away for a moment.
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);

// An events stream's position frames (`ready`, `reset`); the changes carry an EventPublic.
interface Position {
  seq: number;
  detail?: string;
}

async function* liveEvents(
  open: (lastEventId: string | null) => Promise<Response>,
  { lastEventId = null, signal, maxRetryDelayMs = MAX_RETRY_DELAY_MS, maxRetries = Number.POSITIVE_INFINITY }: EventsOptions,
): AsyncGenerator<LiveEvent, void, undefined> {
  let resumeAfter = lastEventId === null ? null : String(lastEventId);
  let retryMs = RECONNECT_MS;
  let failures = 0;
  for (;;) {
    let failure: unknown;
    try {
      const response = await open(resumeAfter);
      if (!response.body || !response.headers.get("Content-Type")?.startsWith(EVENT_STREAM)) {
        await response.body?.cancel();
        throw new Error(`todo-api-client: the events answer is ${response.headers.get("Content-Type") ?? "empty"}, not ${EVENT_STREAM}`);
      }
      for await (const frame of serverSentEvents(response.body, (ms) => (retryMs = ms))) {
        // Every frame's id is a position, an event of a type this client does not know too.
        if (frame.id !== null) resumeAfter = frame.id;
        const event = liveEvent(frame.event, frame.data);
        if (!event) continue;
        if (event.type === "ready" || event.type === "reset") failures = 0;
        yield event;
      }
      // The service closed the stream (it restarted, or a proxy's timeout): connect again.
      failure = new Error("todo-api-client: the events stream ended");
    } catch (error) {
      if (signal?.aborted) return;
      if (!transient(error)) throw error;
      failure = error;
    }
    failures += 1;
    if (failures > maxRetries) throw failure;
    await pause(Math.min(retryMs * 2 ** (failures - 1), maxRetryDelayMs), signal);
    if (signal?.aborted) return;
  }
}

// The change events this client knows: every type EventPublic names (a record, so that a type
// the schema adds fails to compile until it is listed here and in LiveEvent).
const CHANGE_TYPES: Record<EventPublic["type"], true> = {
  "task.created": true,
  "task.updated": true,
  "task.completed": true,
  "task.deleted": true,
  "reminder.due": true,
};
const CHANGES: ReadonlySet<string> = new Set(Object.keys(CHANGE_TYPES));

function liveEvent(name: string, data: string): LiveEvent | null {
  if (name === "ready" || name === "reset") {
    const { seq, detail = "" } = JSON.parse(data) as Position;
    return name === "ready" ? { type: name, seq } : { type: name, seq, detail };
  }
  if (CHANGES.has(name)) return JSON.parse(data) as LiveEvent;
  return null; // a later version's event, or an unnamed one
}

// Worth connecting again: the network failed (fetch throws a TypeError, before the answer or
// while reading it), or the service answered that it is away for now. A 401, 403, 429 or any
// other 4xx will be the same next time (a 429's Retry-After is the caller's to honour).
function transient(error: unknown): boolean {
  if (error instanceof ApiError) return TRANSIENT_STATUSES.has(error.status);
  return error instanceof TypeError;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The events of a `text/event-stream` body as the HTML standard reads them: lines end in
 * `\n`, `\r\n` or `\r`, a blank line ends an event, its `data` lines are joined with `\n`,
 * comments are skipped; `id` is the last event id set so far (null before any), and a `retry`
 * of digits goes to `onRetry`. Chunks may end anywhere (inside a line, a character or a
 * `\r\n`). The body is cancelled when the caller stops early.
 */
async function* serverSentEvents(
  body: ReadableStream<Uint8Array>,
  onRetry: (milliseconds: number) => void = () => undefined,
): AsyncGenerator<{ event: string; data: string; id: string | null }, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | null = null;
  let ended = false;
  try {
    while (!ended) {
      const { done, value } = await reader.read();
      ended = done;
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (;;) {
        const end = /\r\n|\r|\n/.exec(buffer);
        // A `\r` last in the chunk may be the first half of a `\r\n`: wait for the next chunk.
        if (!end || (end[0] === "\r" && end.index === buffer.length - 1 && !ended)) break;
        const line = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        if (line === "") {
          if (data.length) yield { event: event || "message", data: data.join("\n"), id };
          event = "";
          data = [];
          continue;
        }
        const colon = line.indexOf(":");
        if (colon === 0) continue; // a comment
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
        else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
      }
    }
    // An event without its blank line at the very end is incomplete, and dropped.
  } finally {
    // Stopped early (a break, an abort, an error): close the connection.
    if (!ended) await reader.cancel().catch(() => undefined);
  }
}

// A query string, the values left out (undefined) not sent.
function searchOf(query: { [key: string]: number | string | undefined } | MessagesQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  return params.size ? `?${params}` : "";
}

// A tag's name in the path: each segment encoded, its slashes kept (the route takes them).
function tagPath(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

function checkedBaseUrl(value: string | undefined): string {
  if (!value) {
    throw new Error(
      "todo-api-client: baseUrl is missing. Pass the service's URL, e.g. http://localhost:8000 " +
        "(in Next.js: is TODO_API_URL set on the server, or NEXT_PUBLIC_TODO_API_URL at build time?)",
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`todo-api-client: baseUrl must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`todo-api-client: baseUrl must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  return url.href.replace(/\/+$/, "");
}

/** A token provider that keeps each token until shortly before its `exp`. */
export interface CachedTokenProvider extends TokenProvider {
  /** Forget the token (the client calls this on a 401, and you should at sign-out). */
  clear(): void;
}

/**
 * Reuse a JWT until `refreshBeforeSeconds` (default 30) before its `exp`, so that not every
 * call costs a round trip to Better Auth. Tokens that are not JWTs with an `exp` are not kept.
 * Concurrent calls share one fetch. Per user: in server code, one per request.
 */
export function cachedToken(
  provider: TokenProvider,
  { refreshBeforeSeconds = 30, now = () => Date.now() }: { refreshBeforeSeconds?: number; now?: () => number } = {},
): CachedTokenProvider {
  let kept: { token: string; refreshAt: number } | null = null;
  let pending: Promise<string | null | undefined> | null = null;
  const cached = async () => {
    if (kept && now() < kept.refreshAt) return kept.token;
    pending ??= provider().then(
      (token) => {
        const exp = token ? expiryOf(token) : null;
        kept = token && exp !== null ? { token, refreshAt: (exp - refreshBeforeSeconds) * 1000 } : null;
        pending = null;
        return token;
      },
      (error: unknown) => {
        pending = null;
        throw error;
      },
    );
    return pending;
  };
  return Object.assign(cached, {
    clear() {
      kept = null;
    },
  });
}

function invalidate(provider: TokenProvider | undefined): void {
  if (provider && "clear" in provider && typeof provider.clear === "function") provider.clear();
}

/** The `exp` claim (seconds) of a JWT, read without verifying it (the service verifies). */
export function expiryOf(token: string): number | null {
  const payload = token.split(".")[1];
  if (token.split(".").length !== 3 || !payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp: unknown = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}
