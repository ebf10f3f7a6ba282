// Live updates in the browser: the typed client's `events()` (fetch, with the same token or
// cookie as every other call, so no token ever goes into a URL), started from the sync token of
// the list the server rendered, so a change made between that render and this stream is not
// missed. The client reconnects by itself after a dropped connection.
import { useEffect, useRef } from "react";
import { ApiError, type LiveEvent, type TodoClient } from "todo-api-client";

/** A reminder as the page shows it. */
export interface Reminder {
  /** One per firing: the same reminder fired again is another. */
  key: string;
  taskId: number;
  title: string;
  /** The task's due date as the task shows it, or null. */
  due: string | null;
}

export interface LiveHandlers {
  /** A task changed, or the stream said to start over (`reset`): the list is out of date. */
  changed(): void;
  /** A task's reminder fired. */
  reminded(reminder: Reminder): void;
  /** The stream ended for good (signed out, refused): why, as it reads. */
  stopped(message: string): void;
}

/** Follow the user's changes while the component is shown; `since` is where its list was read. */
export function useLiveUpdates(api: TodoClient, since: string | null, handlers: LiveHandlers): void {
  // The latest handlers, without restarting the stream when they change (they close over state).
  const current = useRef(handlers);
  useEffect(() => {
    current.current = handlers;
  });
  useEffect(() => {
    const stop = new AbortController();
    void (async () => {
      try {
        for await (const event of api.events({ lastEventId: since, signal: stop.signal })) {
          if (event.type === "reminder.due") current.current.reminded(reminderOf(event));
          else if (event.type !== "ready") current.current.changed();
        }
      } catch (caught) {
        if (!stop.signal.aborted) current.current.stopped(stoppedBecause(caught));
      }
    })();
    return () => stop.abort();
  }, [api, since]);
}

function reminderOf(event: Extract<LiveEvent, { type: "reminder.due" }>): Reminder {
  // The reminder names its task; an event without it (an older service's) still has the task.
  const title = event.reminder?.title ?? event.task?.title ?? `task ${event.task_id}`;
  const due = event.reminder ? event.reminder.due_at : (event.task?.due_date ?? null);
  return { key: event.event_id, taskId: event.task_id, title, due };
}

function stoppedBecause(caught: unknown): string {
  const why = caught instanceof Error ? caught.message : String(caught);
  if (caught instanceof ApiError && caught.status === 429) return `Live updates paused: ${why}`;
  return `Live updates stopped: ${why}`;
}
