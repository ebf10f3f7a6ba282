import { connection } from "next/server";
import { SignInForm } from "@/components/sign-in-form";
import { TaskBoard } from "@/components/task-board";
import { publicConfig } from "@/lib/config";
import { currentUser, serverTodoClient } from "@/lib/todo-server";

// A Server Component: the signed-in user's tasks are in the HTML the server sends.
export default async function Home() {
  await connection(); // rendered per request, never at build time
  const config = publicConfig();
  const user = await currentUser();
  if (!user) return <SignInForm config={config} />;
  const api = await serverTodoClient();
  const { tasks, total } = await api.listTasks({ sort: "created_at" });
  return (
    <main>
      <p>
        Signed in as <strong>{user.email}</strong>
      </p>
      <section aria-label="Rendered on the server">
        <h2>Rendered on the server ({total})</h2>
        <ul data-testid="server-tasks">
          {tasks.map((task) => (
            <li key={task.id}>{`${task.completed ? "[x]" : "[ ]"} ${task.title}`}</li>
          ))}
        </ul>
      </section>
      <TaskBoard config={config} />
    </main>
  );
}
