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
  // @ts-expect-error tasks have no such field
  const missing: string = (await api.getTask(1)).name;
  void missing;
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
}
