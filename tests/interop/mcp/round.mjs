// One round of the task tools through the official MCP TypeScript SDK client, as two users.
// Reads MCP_URL, OWNER_TOKEN and OTHER_TOKEN; prints one JSON report line for the test to check.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.env.MCP_URL);

async function connect(token) {
  const client = new Client({ name: "todo-api-interop", version: "1.0.0" });
  const headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  return client;
}

const text = (result) => result.content.map((block) => block.text ?? "").join(" ");

async function refusal(token) {
  try {
    const client = await connect(token);
    await client.close();
    return { refused: false };
  } catch (error) {
    return { refused: true, message: String(error?.message ?? error), code: error?.code ?? null };
  }
}

const owner = await connect(process.env.OWNER_TOKEN);
const { tools } = await owner.listTools();
const added = await owner.callTool({ name: "add_task", arguments: { title: "Written by the TypeScript SDK" } });
const id = added.structuredContent.id;
await owner.callTool({ name: "add_task", arguments: { title: "Still to do" } });
const completed = await owner.callTool({ name: "complete_task", arguments: { task_id: id } });
const onlyCompleted = await owner.callTool({ name: "list_tasks", arguments: { status: "completed" } });
const updated = await owner.callTool({ name: "update_task", arguments: { task_id: id, title: "Renamed" } });
const emptyTitle = await owner.callTool({ name: "add_task", arguments: { title: "" } });

const other = await connect(process.env.OTHER_TOKEN);
const foreign = {};
for (const [name, extra] of [["get_task", {}], ["update_task", { title: "x" }], ["complete_task", {}], ["delete_task", {}]]) {
  const result = await other.callTool({ name, arguments: { task_id: id, ...extra } });
  foreign[name] = { isError: result.isError === true, text: text(result) };
}
const otherList = await other.callTool({ name: "list_tasks", arguments: {} });
await other.close();

const deleted = await owner.callTool({ name: "delete_task", arguments: { task_id: id } });
const left = await owner.callTool({ name: "list_tasks", arguments: {} });
await owner.close();

console.log(
  JSON.stringify({
    tools: Object.fromEntries(
      tools.map((tool) => [tool.name, { input: tool.inputSchema, output: tool.outputSchema ?? null }]),
    ),
    added: added.structuredContent,
    completed: completed.structuredContent,
    onlyCompleted: onlyCompleted.structuredContent,
    updated: updated.structuredContent,
    emptyTitle: { isError: emptyTitle.isError === true, text: text(emptyTitle) },
    foreign,
    otherTotal: otherList.structuredContent.total,
    deleted: deleted.structuredContent,
    left: left.structuredContent,
    withoutToken: await refusal(undefined),
    withBadToken: await refusal("not-a-token"),
  }),
);
