// Mistakes a frontend could make with the client, each of which `tsc --strict` must refuse: the
// line after every `@ts-expect-error` has to be a type error, or this file does not compile
// (`npm run test:types`). The calls below them show the same calls written right.
import { createTodoClient } from "../../src/index.js";

const api = createTodoClient({ baseUrl: "http://localhost:8000" });

export async function mistakes(): Promise<void> {
  // @ts-expect-error the changes are an object, not a number
  await api.updateTask(1, 42);
  // @ts-expect-error a misspelt field
  await api.updateTask(1, { titel: "x" });
  // @ts-expect-error not a priority
  await api.updateTask(1, { priority: "highest" });
  // @ts-expect-error completed is a boolean
  await api.updateTask(1, { completed: "yes" });
  // @ts-expect-error a status that does not exist
  await api.updateTask(1, { status: "done" });
  // @ts-expect-error tags are names, not numbers
  await api.updateTask(1, { tags: [1, 2] });
  // @ts-expect-error a title cannot be cleared
  await api.updateTask(1, { title: null });
  // @ts-expect-error a task id is a number
  await api.updateTask("1", { title: "x" });
  // @ts-expect-error a new task needs a title
  await api.createTask({ description: "no title" });
  // @ts-expect-error a title is text
  await api.createTask({ title: 7 });
  // @ts-expect-error a misspelt field on create
  await api.createTask({ title: "x", priorty: "high" });
  // @ts-expect-error not a status filter
  await api.listTasks({ status: "done" });
  // @ts-expect-error not an order
  await api.listTasks({ sort: "rank" });
  // @ts-expect-error sort_order is asc or desc
  await api.listTasks({ sort_order: "up" });
  // @ts-expect-error a new tag name is text
  await api.renameTag("work", 5);
  // @ts-expect-error a conversation id is a number
  await api.getConversation("1");
  // @ts-expect-error messages are paged by a message id, not an offset
  await api.getConversation(1, { offset: 10 });
  // @ts-expect-error a message's role is user or assistant
  const role: "system" = (await api.getConversation(1)).conversation.messages[0]!.role;
  void role;
  // @ts-expect-error tasks have no such field
  const missing: string = (await api.getTask(1)).name;
  void missing;
  // @ts-expect-error a chat message is text
  await api.chat({ message: 42 });
  // @ts-expect-error the field is `message`
  await api.chat({ text: "hi" });
  // @ts-expect-error a conversation id is a number
  await api.chat({ message: "hi", conversation_id: "12" });
  // @ts-expect-error a misspelt field in a chat request
  await api.chat({ message: "hi", conversationId: 12 });
  // @ts-expect-error the message goes in an object
  api.chatStream("hi");
  // @ts-expect-error stopping takes an AbortSignal
  api.chatStream({ message: "hi" }, { signal: true });
  // @ts-expect-error an answer's conversation id is a number
  const conversationId: string = (await api.chat({ message: "hi" })).conversation_id;
  void conversationId;
  for await (const event of api.chatStream({ message: "hi" })) {
    // @ts-expect-error no such event: it is tool_call
    if (event.type === "tool_calls") continue;
    // @ts-expect-error only a done event carries the answer
    if (event.type === "delta") void event.answer;
    // @ts-expect-error a tool call's name is in `call`
    if (event.type === "tool_call") void event.name;
  }
  // @ts-expect-error a position is a number or a sync token's text
  api.events({ lastEventId: { seq: 3 } });
  // @ts-expect-error closing takes an AbortSignal
  api.events({ signal: new AbortController() });
  // @ts-expect-error the list's sync token is the header's text
  const token: number = (await api.listTasks()).syncToken;
  void token;
  // @ts-expect-error changesSince takes the token itself
  await api.changesSince({ since: "3" });
  // @ts-expect-error a change may be a deleted task's tombstone, which has no title
  void (await api.changesSince("3")).changes[0]?.title;
  // @ts-expect-error a ticket is for the stream, not a path's query
  await api.eventsTicket({ path: "/api/events" });
  for await (const event of api.events()) {
    // @ts-expect-error no such event: it is task.updated
    if (event.type === "task.changed") continue;
    // @ts-expect-error ready carries only its position, no task
    if (event.type === "ready") void event.task;
    // @ts-expect-error a deleted task's event has no task left
    if (event.type === "task.deleted") void event.task.title;
    // @ts-expect-error a reminder's event may come without its task
    if (event.type === "reminder.due") void event.task.title;
    // @ts-expect-error only a reset carries a detail
    if (event.type === "task.created") void event.detail;
  }
}

export async function rightly(): Promise<void> {
  await api.updateTask(1, { title: "x", priority: "critical", tags: "work, home", due_date: null });
  await api.updateTask(1, { completed: true, tags: ["a"] });
  await api.createTask({ title: "x", priority: "high", tags: ["work"], due_date: "2026-12-31", timezone: "Europe/Berlin" });
  await api.listTasks({ priority: ["high", "urgent"], tags: ["work"], tags_match: "all", sort_by: "due_date", order: "desc", search: "gro", overdue: true });
  const task = await api.getTask(1);
  const fields: [string, string[], boolean, string | null] = [task.priority, task.tags, task.overdue, task.due_date];
  void fields;
  const tags = await api.listTags();
  const first: number | undefined = tags[0]?.task_count;
  void first;
  const { conversation, older } = await api.getConversation(1, { limit: 50 });
  const said: [string, "user" | "assistant", string[]] = [
    conversation.messages[0]?.content ?? "",
    conversation.messages[0]?.role ?? "user",
    conversation.messages[0]?.tool_calls.map((call) => call.name) ?? [],
  ];
  void said;
  if (older) await api.getConversation(conversation.id, older);
  const { conversations, next } = await api.listConversations({ limit: 20 });
  if (next) await api.listConversations(next);
  void conversations[0]?.title;
  const answer = await api.chat({ message: "add buy milk tomorrow", timezone: "Europe/Berlin" });
  const stop = new AbortController();
  let written = "";
  for await (const event of api.chatStream({ message: "what's due?", conversation_id: answer.conversation_id }, { signal: stop.signal })) {
    if (event.type === "delta") written += event.text;
    else if (event.type === "tool_call") void [event.call.name, event.call.arguments, event.call.result];
    else {
      const done: [number, string, string[], boolean] = [
        event.answer.conversation_id,
        event.answer.response,
        event.answer.tool_calls.map((call) => call.name),
        event.answer.message.unanswered,
      ];
      void done;
    }
  }
  void written;
  const page = await api.listTasks();
  const stop2 = new AbortController();
  for await (const event of api.events({ lastEventId: page.syncToken, signal: stop2.signal, maxRetryDelayMs: 10_000 })) {
    if (event.type === "ready") void (event.seq + 1);
    else if (event.type === "reset") void [event.seq, event.detail];
    else if (event.type === "task.deleted") void [event.task_id, event.seq, event.event_id];
    else if (event.type === "reminder.due") void [event.reminder?.title ?? event.task?.title, event.reminder?.remind_at];
    else {
      const changed: [string, boolean, string] = [event.task.title, event.task.completed, event.at];
      void changed;
    }
  }
  const { changes, syncToken, next: rest } = await api.changesSince(page.syncToken ?? "0", { limit: 100 });
  for (const change of changes) void ("deleted" in change ? change.id : change.title);
  if (rest) await api.changesSince(rest);
  void syncToken;
  const { ticket, expires_at } = await api.eventsTicket();
  void new URL(`${api.baseUrl}/api/events?ticket=${encodeURIComponent(ticket)}`);
  void expires_at;
}
