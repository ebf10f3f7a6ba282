"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import type { Task } from "todo-api-client";
import type { PublicConfig } from "@/lib/config";
import { browserKit } from "@/lib/todo-browser";

// The tasks as the browser sees them: listed, created, toggled and deleted from the page.
export function TaskBoard({ config }: { config: PublicConfig }) {
  const router = useRouter();
  const { authClient, api, getToken } = useMemo(() => browserKit(config), [config]);
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);

  // Every failure is an ApiError whose message reads as it is (422s included).
  const run = useCallback(async (action: () => Promise<unknown>) => {
    try {
      await action();
      const page = await api.listTasks({ sort: "created_at" });
      setTasks(page.tasks);
      setTotal(page.total);
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  }, [api]);

  useEffect(() => {
    void run(async () => {});
  }, [run]);

  function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const title = String(new FormData(form).get("title"));
    void run(async () => {
      await api.createTask({ title });
      form.reset();
    });
  }

  async function signOut() {
    await authClient.signOut();
    getToken.clear(); // a JWT already issued stays valid until its exp: drop it here
    router.refresh();
  }

  return (
    <section aria-label="Your tasks">
      <h2>In the browser ({total})</h2>
      <form onSubmit={create}>
        <input name="title" aria-label="New task" placeholder="What needs doing?" />
        <button type="submit">Add</button>
      </form>
      {error && <p role="alert">{error}</p>}
      {tasks === null ? (
        <p>Loading…</p>
      ) : (
        <ul data-testid="browser-tasks">
          {tasks.map((task) => (
            <li key={task.id} data-testid="task">
              <label>
                <input
                  type="checkbox"
                  checked={task.completed}
                  aria-label={`Done: ${task.title}`}
                  onChange={() => void run(() => api.toggleTask(task.id, { ifMatch: task }))}
                />
                {task.title}
              </label>
              <button type="button" aria-label={`Delete ${task.title}`} onClick={() => void run(() => api.deleteTask(task.id))}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </section>
  );
}
