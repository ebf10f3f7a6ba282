"use client";

import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, type Conversation, type MessagesQuery, type TodoClient } from "todo-api-client";
import { changesTasks, formatWhen, shown, toolSummary, type ShownMessage } from "@/lib/chat";

const CONVERSATIONS_SHOWN = 20;
const MESSAGES_SHOWN = 50;

// The assistant beside the list: the reply streams in as the model writes it (the client's
// `chatStream`, straight from the browser with the same token or cookie as the list), each
// task tool it calls shows as a chip, and a turn that changed tasks loads the list again.
export function ChatPanel({ api, onTasksChanged }: { api: TodoClient; onTasksChanged: () => Promise<void> }) {
  const [conversations, setConversations] = useState<Conversation[] | null>(null);
  const [conversationId, setConversationId] = useState<number | null>(null);
  const [messages, setMessages] = useState<ShownMessage[]>([]);
  const [older, setOlder] = useState<MessagesQuery | null>(null);
  const [writing, setWriting] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const stopper = useRef<AbortController | null>(null);
  const localKeys = useRef(0);

  const loadConversations = useCallback(async () => {
    setConversations((await api.listConversations({ limit: CONVERSATIONS_SHOWN })).conversations);
  }, [api]);

  useEffect(() => {
    loadConversations().catch((caught: unknown) => setError(messageOf(caught)));
    return () => stopper.current?.abort(); // leaving the page stops a reply being written
  }, [loadConversations]);

  // The answer being written is the last message: each event changes it.
  const writeLast = (change: (message: ShownMessage) => ShownMessage) =>
    setMessages((current) => [...current.slice(0, -1), ...current.slice(-1).map(change)]);

  async function send(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const message = String(new FormData(form).get("message") ?? "").trim();
    if (!message || writing) return;
    form.reset();
    setError(null);
    setNote(null);
    const key = () => `local-${++localKeys.current}`;
    const question: ShownMessage = { key: key(), role: "user", content: message, toolCalls: [], unanswered: false, writing: false };
    const reply: ShownMessage = { key: key(), role: "assistant", content: "", toolCalls: [], unanswered: false, writing: true };
    setMessages((current) => [...current, question, reply]);
    setWriting(true);
    const stop = new AbortController();
    stopper.current = stop;
    let changed = false;
    try {
      const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      const turn = { message, timezone, ...(conversationId === null ? {} : { conversation_id: conversationId }) };
      for await (const event of api.chatStream(turn, { signal: stop.signal })) {
        if (event.type === "delta") writeLast((last) => ({ ...last, content: last.content + event.text }));
        else if (event.type === "tool_call") {
          changed ||= changesTasks(event.call);
          writeLast((last) => ({ ...last, toolCalls: [...last.toolCalls, event.call] }));
        } else {
          setConversationId(event.answer.conversation_id);
          writeLast(() => shown(event.answer.message));
        }
      }
    } catch (caught) {
      // The message was kept in a conversation (a new one, if this was its first turn): the next
      // message goes on there.
      if (caught instanceof ApiError && caught.conversationId !== null) setConversationId(caught.conversationId);
      // The service keeps the message, marked unanswered; so does the panel, without an empty answer.
      setMessages((current) => [
        ...current.slice(0, -2),
        { ...question, unanswered: true },
        ...current.slice(-1).filter((last) => last.content || last.toolCalls.length).map((last) => ({ ...last, writing: false })),
      ]);
      if (stop.signal.aborted) setNote("Stopped.");
      // Chat not configured on the service (or its model busy): said as it is, not as a failure.
      else if (caught instanceof ApiError && caught.status === 503) setNote(caught.message);
      else setError(messageOf(caught));
    } finally {
      stopper.current = null;
      setWriting(false);
      await Promise.all([changed ? onTasksChanged() : null, loadConversations()]).catch((caught: unknown) => setError(messageOf(caught)));
    }
  }

  async function open(conversation: Conversation, query: MessagesQuery = { limit: MESSAGES_SHOWN }) {
    try {
      const found = await api.getConversation(conversation.id, query);
      const page = found.conversation.messages.map(shown);
      // An earlier page goes before what is shown; another conversation replaces it.
      setMessages((current) => (query.before === undefined ? page : [...page, ...current]));
      setOlder(found.older);
      setConversationId(conversation.id);
      setError(null);
      setNote(null);
    } catch (caught) {
      setError(messageOf(caught));
    }
  }

  function startNew() {
    setConversationId(null);
    setMessages([]);
    setOlder(null);
    setNote(null);
  }

  async function remove(conversation: Conversation) {
    try {
      await api.deleteConversation(conversation.id);
      if (conversation.id === conversationId) startNew();
      await loadConversations();
    } catch (caught) {
      setError(messageOf(caught));
    }
  }

  const current = conversations?.find((conversation) => conversation.id === conversationId);
  return (
    <aside className="chat" aria-label="Assistant">
      <h2>Assistant</h2>
      <nav aria-label="Conversations">
        <div className="chat-heading">
          <h3>Conversations</h3>
          <button type="button" onClick={startNew} disabled={writing}>
            New
          </button>
        </div>
        {conversations === null ? (
          <p className="empty">Loading…</p>
        ) : conversations.length === 0 ? (
          <p className="empty">No conversations yet.</p>
        ) : (
          <ul className="conversations" data-testid="conversations">
            {conversations.map((conversation) => (
              <li key={conversation.id} className={conversation.id === conversationId ? "current" : undefined} data-testid="conversation">
                <button type="button" className="open" onClick={() => void open(conversation)} disabled={writing}>
                  <span className="title">{conversation.title ?? "(no message)"}</span>
                  <span className="when">{formatWhen(conversation.updated_at)}</span>
                </button>
                <button
                  type="button"
                  aria-label={`Delete conversation ${conversation.title ?? conversation.id}`}
                  onClick={() => void remove(conversation)}
                  disabled={writing}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
      </nav>

      <section className="thread" aria-label={current?.title ? `Conversation: ${current.title}` : "New conversation"}>
        {older && current && (
          <button type="button" onClick={() => void open(current, older)}>
            Earlier messages
          </button>
        )}
        <ol className="messages" data-testid="messages">
          {messages.map((message) => (
            <li key={message.key} className={`message ${message.role}`} data-testid="message" aria-busy={message.writing}>
              {message.toolCalls.map((call, index) => (
                <span key={index} className="chip tool" data-testid="tool-call" title={JSON.stringify(call.arguments)}>
                  {call.name}
                  {toolSummary(call) && `: ${toolSummary(call)}`}
                </span>
              ))}
              {(message.content || message.writing) && <p>{message.content || "…"}</p>}
              {message.unanswered && <p className="unanswered">not answered</p>}
            </li>
          ))}
        </ol>
        {messages.length === 0 && <p className="empty">Ask about your tasks, or tell the assistant what to add, change or complete.</p>}
      </section>

      {note && <p className="note">{note}</p>}
      {error && <p role="alert">{error}</p>}
      <form className="ask" onSubmit={(event) => void send(event)} aria-label="Message the assistant">
        <input name="message" className="grow" aria-label="Message" placeholder="Ask about your tasks" autoComplete="off" />
        {writing ? (
          <button type="button" onClick={() => stopper.current?.abort()}>
            Stop
          </button>
        ) : (
          <button type="submit">Send</button>
        )}
      </form>
    </aside>
  );
}

function messageOf(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}
