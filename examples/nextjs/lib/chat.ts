// The chat panel's wording: what a tool call's chip says, and which calls change the task list.
import type { Message, ToolCall } from "todo-api-client";

/** The tools that change tasks: after a turn that called one, the list is loaded again. */
const CHANGING = new Set(["add_task", "update_task", "complete_task", "delete_task"]);

export const changesTasks = (call: ToolCall) => CHANGING.has(call.name);

/** A message as the panel shows it: stored, or the answer being written. */
export interface ShownMessage {
  /** The stored message's id, or a local key until it is stored. */
  key: string;
  role: Message["role"];
  content: string;
  toolCalls: ToolCall[];
  /** A message of the user's that got no answer (the model failed, or the user stopped it). */
  unanswered: boolean;
  /** The answer is still being written. */
  writing: boolean;
}

export function shown(message: Message): ShownMessage {
  return {
    key: String(message.id),
    role: message.role,
    content: message.content,
    toolCalls: message.tool_calls,
    unanswered: message.unanswered,
    writing: false,
  };
}

/** "Buy milk", "2 tasks", "task 7 deleted", or the tool's own sentence when it failed. */
export function toolSummary(call: ToolCall): string {
  const result = call.result;
  if (typeof result === "string") return result;
  if (typeof result !== "object" || result === null || Array.isArray(result)) return "";
  const fields = result as Record<string, unknown>;
  if (typeof fields.title === "string") return call.name === "complete_task" && fields.completed === true ? `${fields.title} ✓` : fields.title;
  if (typeof fields.total === "number") return `${fields.total} ${fields.total === 1 ? "task" : "tasks"}`;
  if (typeof fields.deleted_task_id === "number") return `task ${fields.deleted_task_id} deleted`;
  return "";
}

/** "9 Dec, 14:05": when a conversation last moved, in the browser's own time zone. */
export function formatWhen(timestamp: string): string {
  return new Date(timestamp).toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}
