import type { Task } from "todo-api-client";
import { PRIORITIES, REPEATS } from "@/lib/tasks";

/** The fields after the title, in the add form (empty) and in the edit form (the task's). */
export function TaskFields({ task }: { task?: Task }) {
  const due = task?.due_date ?? "";
  return (
    <>
      <label>
        Priority
        <select name="priority" aria-label="Priority" defaultValue={task?.priority ?? "medium"}>
          {PRIORITIES.map((priority) => (
            <option key={priority} value={priority}>
              {priority}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tags
        <input name="tags" aria-label="Tags" placeholder="work, home" defaultValue={task?.tags.join(", ")} />
      </label>
      <label>
        Due
        <input name="due-date" type="date" aria-label="Due date" defaultValue={due.slice(0, 10)} />
      </label>
      <label>
        at
        {/* Left empty, the task is due all day. */}
        <input name="due-time" type="time" aria-label="Due time" defaultValue={due.slice(11, 16)} />
      </label>
      <label>
        Repeat
        <select name="repeat" aria-label="Repeat" defaultValue={task?.recurrence_pattern ?? "none"}>
          {REPEATS.map((repeat) => (
            <option key={repeat} value={repeat}>
              {repeat === "none" ? "never" : repeat}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}
