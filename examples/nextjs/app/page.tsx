import { connection } from "next/server";
import { SignInForm } from "@/components/sign-in-form";
import { TaskBoard } from "@/components/task-board";
import { publicConfig } from "@/lib/config";
import { DEFAULT_FILTERS, listQuery } from "@/lib/tasks";
import { currentUser, serverTodoClient } from "@/lib/todo-server";

// A Server Component: the first page of the signed-in user's tasks is in the HTML the server
// sends, and becomes the list the Client Component owns from then on.
export default async function Home() {
  await connection(); // rendered per request, never at build time
  const config = publicConfig();
  const user = await currentUser();
  if (!user) return <SignInForm config={config} />;
  const api = await serverTodoClient();
  const filters = DEFAULT_FILTERS;
  const [page, tags] = await Promise.all([api.listTasks(listQuery(filters)), api.listTags()]);
  return (
    <main>
      <header>
        <h1>Tasks</h1>
        <p>
          Signed in as <strong>{user.email}</strong>
        </p>
      </header>
      <TaskBoard key={user.id} config={config} first={{ ...page, tags, filters }} />
    </main>
  );
}
