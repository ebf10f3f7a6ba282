import type { FormEvent } from "react";
import type { Task } from "todo-api-client";
import { TaskFields } from "@/components/task-fields";
import { draftOf, formatDue, repeatLabel, type Draft } from "@/lib/tasks";

export interface TaskActions {
  toggle(task: Task): void;
  edit(task: Task): void;
  save(task: Task, draft: Draft): void;
  cancel(): void;
  remove(task: Task): void;
  filterByTag(tag: string): void;
}

/** One task: a row, or (while edited) a small form in its place. `editing` is the version the
 * form was opened with, fetched with its ETag. */
export function TaskItem({ task, editing, next, actions }: { task: Task; editing: Task | null; next: Task | undefined; actions: TaskActions }) {
  const classes = ["task", task.completed && "done", task.overdue && "overdue"].filter(Boolean).join(" ");
  if (editing) {
    const save = (event: FormEvent<HTMLFormElement>) => {
      event.preventDefault();
      actions.save(editing, draftOf(new FormData(event.currentTarget)));
    };
    return (
      <li id={`task-${task.id}`} className={`${classes} editing`} data-testid="task">
        <form onSubmit={save} aria-label={`Edit ${task.title}`}>
          <label>
            Title <input name="title" aria-label="Title" defaultValue={editing.title} autoFocus />
          </label>
          <TaskFields task={editing} />
          <button type="submit">Save</button>
          <button type="button" onClick={actions.cancel}>
            Cancel
          </button>
        </form>
      </li>
    );
  }
  const repeat = repeatLabel(task);
  return (
    <li id={`task-${task.id}`} className={classes} data-testid="task" data-priority={task.priority}>
      <input type="checkbox" checked={task.completed} aria-label={`Done: ${task.title}`} onChange={() => actions.toggle(task)} />
      <span className="title" data-testid="task-title">
        {task.title}
      </span>
      <span className={`badge ${task.priority}`} data-testid="task-priority">
        {task.priority}
      </span>
      {task.tags.map((tag) => (
        <button key={tag} type="button" className="chip" aria-label={`Show tag ${tag}`} onClick={() => actions.filterByTag(tag)}>
          #{tag}
        </button>
      ))}
      {task.due_date && (
        <time className="due" dateTime={task.due_date} title={task.timezone} data-testid="task-due">
          {task.overdue && <strong>Overdue </strong>}
          {formatDue(task.due_date)}
        </time>
      )}
      {repeat && (
        <span className="repeat" data-testid="task-repeat" title={task.recurrence_rule ?? undefined}>
          ↻ {repeat}
        </span>
      )}
      {next?.due_date && (
        <a className="next" href={`#task-${next.id}`}>
          next: {formatDue(next.due_date)}
        </a>
      )}
      <span className="actions">
        <button type="button" aria-label={`Edit ${task.title}`} onClick={() => actions.edit(task)}>
          Edit
        </button>
        <button type="button" aria-label={`Delete ${task.title}`} onClick={() => actions.remove(task)}>
          Delete
        </button>
      </span>
    </li>
  );
}
