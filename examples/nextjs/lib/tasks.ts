// The list's question and the tasks' wording, shared by the Server Component (which renders the
// first page) and the Client Component (everything after), so that both ask the same thing and
// write dates the same way: the HTML the server sends is what the browser hydrates.
import type { ListQuery, Tag, Task, TaskCreate, TaskUpdate } from "todo-api-client";

export type Priority = Task["priority"];
export type Repeat = Task["recurrence_pattern"];

/** Most important first, as the menus list them. */
export const PRIORITIES: readonly Priority[] = ["urgent", "high", "medium", "low"];
export const REPEATS: readonly Repeat[] = ["none", "daily", "weekly", "monthly", "yearly"];

/** The orders the toolbar offers, and the service's `sort` for each. */
export const SORTS = {
  newest: "-created_at",
  due: "due_date", // soonest first; tasks without a due date last
  priority: "-priority", // urgent first
  title: "title",
} as const satisfies Record<string, ListQuery["sort"]>;
export type SortName = keyof typeof SORTS;

export type Show = "all" | "open" | "done";

/** What the toolbar has chosen. */
export interface Filters {
  search: string;
  show: Show;
  priority: Priority | "";
  tag: string;
  sort: SortName;
}

export const DEFAULT_FILTERS: Filters = { search: "", show: "all", priority: "", tag: "", sort: "newest" };
export const PAGE_SIZE = 50;
const MAX_LIMIT = 1000; // the most the service lists at once

/** The service's list query for these filters. */
export function listQuery(filters: Filters, limit = PAGE_SIZE): ListQuery {
  const search = filters.search.trim();
  return {
    sort: SORTS[filters.sort],
    limit: Math.min(limit, MAX_LIMIT),
    ...(search ? { search } : {}),
    ...(filters.show === "all" ? {} : { completed: filters.show === "done" }),
    ...(filters.priority ? { priority: [filters.priority] } : {}),
    ...(filters.tag ? { tags: [filters.tag] } : {}),
  };
}

/** What the list shows: a page of tasks for these filters, how many match in all, and the
 * user's tags. */
export interface Snapshot {
  filters: Filters;
  tasks: Task[];
  total: number;
  next: ListQuery | null;
  /** Where the user's changes stood when this list was read: live updates start there. */
  syncToken: string | null;
  tags: Tag[];
}

const SORT_NAMES: Record<SortName, string> = { newest: "", due: "by due date", priority: "by priority", title: "by title" };

/** "3 tasks", "2 of 60 open tasks", "1 high-priority task tagged #home matching “milk”, by due date". */
export function heading({ filters, tasks, total }: Snapshot): string {
  const words = [
    tasks.length < total ? `${tasks.length} of ${total}` : String(total),
    filters.priority && `${filters.priority}-priority`,
    filters.show !== "all" && filters.show,
    total === 1 ? "task" : "tasks",
    filters.tag && `tagged #${filters.tag}`,
    filters.search.trim() && `matching “${filters.search.trim()}”`,
  ];
  const order = SORT_NAMES[filters.sort];
  return words.filter(Boolean).join(" ") + (order ? `, ${order}` : "");
}

/** What an add or edit form holds. */
export interface Draft {
  title: string;
  priority: Priority;
  tags: string[];
  /** `2026-12-31` (all day), `2026-12-31T17:00` (a local time), or null. */
  due: string | null;
  repeat: Repeat;
}

/** The draft in a form's fields (named title, priority, tags, due-date, due-time, repeat). */
export function draftOf(form: FormData): Draft {
  const text = (name: string) => String(form.get(name) ?? "");
  const date = text("due-date");
  const time = text("due-time");
  return {
    title: text("title"),
    priority: oneOf(text("priority"), PRIORITIES, "medium"),
    tags: text("tags")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean),
    due: date ? (time ? `${date}T${time}` : date) : null,
    repeat: oneOf(text("repeat"), REPEATS, "none"),
  };
}

/** A new task. Its time zone is the user's: a local due time, "today" and "overdue" mean theirs. */
export function taskToCreate(draft: Draft, timezone: string): TaskCreate {
  return {
    title: draft.title,
    priority: draft.priority,
    tags: draft.tags,
    recurrence_pattern: draft.repeat,
    timezone,
    ...(draft.due ? { due_date: draft.due } : {}),
  };
}

/** Only what the edit changed (an empty object when nothing did). */
export function changesTo(task: Task, draft: Draft, timezone: string): TaskUpdate {
  const changes: TaskUpdate = {};
  if (draft.title.trim() !== task.title) changes.title = draft.title;
  if (draft.priority !== task.priority) changes.priority = draft.priority;
  if (draft.tags.join(",") !== task.tags.join(",")) changes.tags = draft.tags;
  if (draft.due !== dueInput(task.due_date)) {
    changes.due_date = draft.due;
    // A local date-time is read in the time zone sent with it: the user's, who typed it.
    if (draft.due) changes.timezone = timezone;
  }
  if (draft.repeat !== task.recurrence_pattern) {
    changes.recurrence_pattern = draft.repeat;
    if (task.recurrence_rule) changes.recurrence_rule = null; // the rule would win over the menu
  }
  return changes;
}

/** A due date as the form holds it: the date, or the date and time on the task's own clock. */
export function dueInput(due: string | null): string | null {
  return due && due.length > 10 ? due.slice(0, 16) : due;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Thu 31 Dec 2026" or "Thu 31 Dec 2026, 17:00", read off the string itself (the task's own
 * clock), so the server and the browser write the same whatever their locale and time zone. */
export function formatDue(due: string): string {
  const [year = 0, month = 1, day = 1] = due.slice(0, 10).split("-").map(Number);
  const weekday = WEEKDAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()];
  const date = `${weekday} ${day} ${MONTHS[month - 1]} ${year}`;
  return due.length > 10 ? `${date}, ${due.slice(11, 16)}` : date;
}

const UNITS: Record<Repeat, string> = { none: "", daily: "day", weekly: "week", monthly: "month", yearly: "year" };

/** "daily", "every 2 weeks", or null for a task that does not repeat. */
export function repeatLabel(task: Task): string | null {
  if (task.recurrence_pattern === "none") return null;
  const every = task.recurrence_interval ?? 1;
  return every === 1 ? task.recurrence_pattern : `every ${every} ${UNITS[task.recurrence_pattern]}s`;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], fallback: T): T {
  return allowed.find((option) => option === value) ?? fallback;
}
