"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { Task } from "todo-api-client";
import { ChatPanel } from "@/components/chat-panel";
import { notificationsAllowed, notify, Reminders } from "@/components/reminders";
import { TaskFields } from "@/components/task-fields";
import { TaskItem, type TaskActions } from "@/components/task-item";
import type { PublicConfig } from "@/lib/config";
import { useLiveUpdates, type Reminder } from "@/lib/live";
import {
  changesTo,
  DEFAULT_FILTERS,
  draftOf,
  formatDue,
  heading,
  listQuery,
  PAGE_SIZE,
  PRIORITIES,
  taskToCreate,
  type Draft,
  type Filters,
  type Show,
  type Snapshot,
  type SortName,
} from "@/lib/tasks";
import { browserKit } from "@/lib/todo-browser";

const SEARCH_PAUSE_MS = 300;

const sameQuery = (a: Filters, b: Filters) => JSON.stringify(listQuery(a)) === JSON.stringify(listQuery(b));

// The user's one list: it starts as the page the server rendered (`first`) and is the browser's
// from then on: every filter, edit and click goes through the browser client, and a change made
// anywhere else (another tab or device, the assistant) loads it again as it happens.
export function TaskBoard({ config, first }: { config: PublicConfig; first: Snapshot }) {
  const router = useRouter();
  const { authClient, api, getToken } = useMemo(() => browserKit(config), [config]);
  const [list, setList] = useState(first);
  const [filters, setFilters] = useState(first.filters);
  const [editing, setEditing] = useState<Task | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [reminders, setReminders] = useState<Reminder[]>([]);
  const [live, setLive] = useState<string | null>(null); // why live updates stopped
  const [, setAsked] = useState(0); // bumped once the browser was asked about notifications
  const loads = useRef(0); // the latest load's number: an older answer arriving late is dropped

  const load = useCallback(
    async (wanted: Filters, limit = PAGE_SIZE) => {
      const ticket = ++loads.current;
      const [page, tags] = await Promise.all([api.listTasks(listQuery(wanted, limit)), api.listTags()]);
      if (ticket === loads.current) setList({ ...page, tags, filters: wanted });
    },
    [api],
  );

  // The list again, as the toolbar shows it: when the assistant's turn changed tasks, and on
  // every change the events stream reports.
  const shown = useRef({ filters, count: list.tasks.length });
  useEffect(() => {
    shown.current = { filters, count: list.tasks.length };
  });
  const reloadShown = useCallback(
    () => load(shown.current.filters, Math.max(PAGE_SIZE, shown.current.count)),
    [load],
  );

  // A change anywhere loads the list again, filtered, sorted and paged by the service as the
  // toolbar asks (an event names the task; where it belongs now is the service's to say). A
  // burst of events is one load, and one more if any came while it ran. A load that succeeds
  // leaves an error shown as it is: the user may be reading it.
  const reloading = useRef<{ again: boolean } | null>(null);
  const reloadForChange = useCallback(() => {
    if (reloading.current) {
      reloading.current.again = true;
      return;
    }
    const state = { again: true };
    reloading.current = state;
    void (async () => {
      try {
        while (state.again) {
          state.again = false;
          await reloadShown();
        }
      } catch (caught) {
        setError(caught instanceof Error ? caught.message : String(caught));
      } finally {
        reloading.current = null;
      }
    })();
  }, [reloadShown]);

  useLiveUpdates(api, first.syncToken, {
    changed: reloadForChange,
    reminded(reminder) {
      if (notificationsAllowed()) notify(reminder);
      else setReminders((current) => [...current.filter((other) => other.key !== reminder.key), reminder]);
    },
    stopped: setLive,
  });
  const dismiss = (reminder: Reminder) => setReminders((current) => current.filter((other) => other !== reminder));
  const askToNotify =
    typeof Notification !== "undefined" && Notification.permission === "default"
      ? () => void Notification.requestPermission().then(() => setAsked((count) => count + 1))
      : null;

  // Every failure is an ApiError whose message reads as it is (422s included).
  const attempt = useCallback(async (action: () => Promise<unknown>) => {
    try {
      await action();
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }, []);

  // The list follows the toolbar: at once for a menu, once typing pauses in the search box.
  useEffect(() => {
    if (sameQuery(filters, list.filters)) return;
    const pause = filters.search === list.filters.search ? 0 : SEARCH_PAUSE_MS;
    const timer = setTimeout(() => void attempt(() => load(filters)), pause);
    return () => clearTimeout(timer);
  }, [filters, list.filters, attempt, load]);

  // A change, then the list again: the task may no longer match the filters, a completed
  // recurring task has added its next occurrence, a tag may have come or gone.
  function change(action: () => Promise<unknown>) {
    setNotice(null);
    void attempt(async () => {
      try {
        await action();
      } finally {
        await load(filters, Math.max(PAGE_SIZE, list.tasks.length));
      }
    });
  }

  const choose = (patch: Partial<Filters>) => setFilters((current) => ({ ...current, ...patch }));
  const timezone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

  function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const draft = draftOf(new FormData(form));
    change(async () => {
      await api.createTask(taskToCreate(draft, timezone()));
      form.reset();
    });
  }

  const actions: TaskActions = {
    toggle(task) {
      change(async () => {
        const done = await api.toggleTask(task.id, { completed: !task.completed });
        if (done.completed && done.next_task_id !== null) {
          const next = await api.getTask(done.next_task_id);
          setNotice(`“${next.title}” repeats${next.due_date ? `: next due ${formatDue(next.due_date)}` : ""}.`);
        }
      });
    },
    edit(task) {
      // A listed task carries no ETag: the form opens on the task as it is now, with its ETag.
      void attempt(async () => setEditing(await api.getTask(task.id)));
    },
    save(task: Task, draft: Draft) {
      const changes = changesTo(task, draft, timezone());
      if (Object.keys(changes).length === 0) return setEditing(null);
      change(async () => {
        try {
          // Saved only if the task is still the version the form was opened with (412 otherwise).
          await api.updateTask(task.id, changes, { ifMatch: task });
          setEditing(null);
        } catch (caught) {
          // The form stays, with what the user typed, on the task as it is now (a second Save
          // after a 412 overwrites the other change knowingly).
          setEditing(await api.getTask(task.id).catch(() => null));
          throw caught;
        }
      });
    },
    cancel: () => setEditing(null),
    remove(task) {
      change(() => api.deleteTask(task.id));
    },
    // As the tag menu writes it: a tag's tasks may write it in other cases (it is one tag).
    filterByTag: (name) => choose({ tag: tags.find((tag) => tag.name.toLowerCase() === name.toLowerCase())?.name ?? name }),
  };

  async function signOut() {
    await authClient.signOut();
    getToken.clear(); // a JWT already issued stays valid until its exp: drop it here
    router.refresh();
  }

  const { tasks, tags } = list;
  return (
    <>
      <Reminders reminders={reminders} dismiss={dismiss} allowNotifications={askToNotify} />
      <div className="workspace">
        <section aria-label="Your tasks">
          <button type="button" className="sign-out" onClick={() => void signOut()}>
            Sign out
          </button>
          <form className="add" onSubmit={add} aria-label="Add a task">
            <input name="title" className="grow" aria-label="New task" placeholder="What needs doing?" />
            <TaskFields />
            <button type="submit">Add</button>
          </form>

          <form className="toolbar" role="search" aria-label="Find tasks" onSubmit={(event) => event.preventDefault()}>
            <input
              type="search"
              className="grow"
              aria-label="Search"
              placeholder="Search"
              value={filters.search}
              onChange={(event) => choose({ search: event.target.value })}
            />
            <select aria-label="Show" value={filters.show} onChange={(event) => choose({ show: event.target.value as Show })}>
              <option value="all">all</option>
              <option value="open">open</option>
              <option value="done">done</option>
            </select>
            <select
              aria-label="Priority filter"
              value={filters.priority}
              onChange={(event) => choose({ priority: event.target.value as Filters["priority"] })}
            >
              <option value="">any priority</option>
              {PRIORITIES.map((priority) => (
                <option key={priority} value={priority}>
                  {priority}
                </option>
              ))}
            </select>
            <select aria-label="Tag filter" value={filters.tag} onChange={(event) => choose({ tag: event.target.value })}>
              <option value="">any tag</option>
              {tags.map((tag) => (
                <option key={tag.name} value={tag.name}>{`${tag.name} (${tag.task_count})`}</option>
              ))}
              {filters.tag && !tags.some((tag) => tag.name === filters.tag) && (
                <option value={filters.tag}>{`${filters.tag} (0)`}</option>
              )}
            </select>
            <select aria-label="Sort by" value={filters.sort} onChange={(event) => choose({ sort: event.target.value as SortName })}>
              <option value="newest">newest first</option>
              <option value="due">due date</option>
              <option value="priority">priority</option>
              <option value="title">title</option>
            </select>
          </form>

          {error && <p role="alert">{error}</p>}
          <p role="status">{notice}</p>
          {live && <p className="note" data-testid="live-stopped">{live}</p>}

          <h2 data-testid="list-heading">{heading(list)}</h2>
          <ul className="tasks" data-testid="tasks">
            {tasks.map((task) => (
              <TaskItem
                key={task.id}
                task={task}
                editing={editing?.id === task.id ? editing : null}
                next={tasks.find((other) => other.id === task.next_task_id)}
                actions={actions}
              />
            ))}
          </ul>
          {tasks.length === 0 && (
            <p className="empty">{sameQuery(list.filters, DEFAULT_FILTERS) ? "Nothing to do yet." : "No task matches these filters."}</p>
          )}
          {list.next && (
            <button type="button" onClick={() => void attempt(() => load(list.filters, tasks.length + PAGE_SIZE))}>
              Show more
            </button>
          )}
        </section>
        <ChatPanel api={api} onTasksChanged={reloadShown} />
      </div>
    </>
  );
}
