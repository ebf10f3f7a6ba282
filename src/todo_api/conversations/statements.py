"""The conversation feature's statements, written once with SQLAlchemy Core and compiled once per
process (see `todo_api.db.query`); every one is scoped to the owner. The service runs them.

Each route's statement is one round trip: a page of the list with its total
(`list_page_query`), a conversation with a page of its messages (`with_messages_query`), a
delete (DELETE_CONVERSATION). The two built by functions are built on first use, not at import,
so that a test (and a mutation test) that runs them also runs the code that builds them; the
cached functions only call the builders, which mutation testing can then change (it leaves
decorated functions alone).
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from todo_api.db.query import Query
from todo_api.models import MessageRole, UTCDateTime, conversation_table, message_table

conversations = conversation_table.c
messages = message_table.c
CONVERSATION_COLUMNS = (
    conversations.id,
    conversations.title,
    conversations.message_count,
    conversations.created_at,
    conversations.updated_at,
)
# Labelled apart from the conversation's own `id` and `created_at`, beside which they are read.
MESSAGE_COLUMNS = (
    messages.id.label("message_id"),
    messages.conversation_id,
    messages.role,
    messages.content,
    messages.tool_calls,
    messages.unanswered,
    messages.created_at.label("message_created_at"),
)

# Parameter names differ from column names: SQLAlchemy reserves those for INSERT/UPDATE values.
OWNER = sa.bindparam("owner", type_=sa.String)
NOW = sa.bindparam("now", type_=UTCDateTime())
CONVERSATION_ID = sa.bindparam("conversation_id", type_=sa.Integer)
OWNED = (conversations.id == CONVERSATION_ID, conversations.user_id == OWNER)
LIMIT = sa.bindparam("limit", type_=sa.Integer)
OFFSET = sa.bindparam("offset", type_=sa.Integer)

# The most recently active first; ties by id, so pages never overlap or skip one.
_NEWEST_FIRST = (conversations.updated_at.desc(), conversations.id.desc())
_COUNT = (
    sa.select(sa.func.count().label("total"))
    .select_from(conversation_table)
    .where(conversations.user_id == OWNER)
)
COUNT_CONVERSATIONS = Query(_COUNT)


@functools.cache
def list_page_query() -> Query:
    """A page of the user's conversations with their total; built on first use, then kept."""
    return _list_page()


def _list_page() -> Query:
    page = (
        sa.select(*CONVERSATION_COLUMNS)
        .where(conversations.user_id == OWNER)
        .order_by(*_NEWEST_FIRST)
        .limit(LIMIT)
        .offset(OFFSET)
        .subquery("page")
    )
    on_page = sa.func.count().over()
    # A short page is the last one, so the total is known without counting; both databases run
    # the count only when its branch is taken (a full page). Past the last page no row carries
    # it: the service counts then (COUNT_CONVERSATIONS).
    total = sa.case((on_page < LIMIT, OFFSET + on_page), else_=_COUNT.scalar_subquery()).label("total")
    return Query(sa.select(page, total).order_by(page.c.updated_at.desc(), page.c.id.desc()))


@functools.cache
def with_messages_query(*, answered_only: bool) -> Query:
    """A conversation with a page of its messages; with `answered_only`, what a chat turn sends
    the model (the user's messages the model failed to answer left out). Built on first use."""
    return _with_messages(answered_only=answered_only)


def _with_messages(*, answered_only: bool) -> Query:
    # The conversation, joined with its latest `limit` messages up to `through`: one row per
    # message, oldest first, or one row with no message (NULLs) for a conversation without
    # any. Only the owner's conversation has rows at all, so no row is a 404.
    conditions = [
        messages.conversation_id == CONVERSATION_ID,
        messages.id <= sa.bindparam("through", type_=sa.Integer),
    ]
    if answered_only:
        conditions.append(messages.unanswered.is_(sa.false()))
    page = (
        sa.select(*MESSAGE_COLUMNS)
        .where(*conditions)
        .order_by(messages.id.desc())
        .limit(LIMIT)
        .subquery("page")
    )
    return Query(
        sa.select(*CONVERSATION_COLUMNS, *(column for column in page.c if column.key != "conversation_id"))
        .select_from(conversation_table.outerjoin(page, page.c.conversation_id == conversations.id))
        .where(*OWNED)
        .order_by(page.c.message_id)
    )


DELETE_CONVERSATION = Query(sa.delete(conversation_table).where(*OWNED).returning(conversations.id))

START_CONVERSATION = Query(
    sa.insert(conversation_table)
    .values(
        user_id=OWNER,
        title=sa.bindparam("new_title", type_=sa.String),
        message_count=0,
        created_at=NOW,
        updated_at=NOW,
    )
    .returning(*CONVERSATION_COLUMNS)
)
# Taken by the owner's next message: the conversation's activity, and its count. It matches
# nothing for another user's conversation, so the insert that follows never runs for one.
TOUCH_CONVERSATION = Query(
    sa.update(conversation_table)
    .where(*OWNED)
    .values(updated_at=NOW, message_count=conversations.message_count + 1)
    .returning(conversations.id)
)
ADD_MESSAGE = Query(
    sa.insert(message_table)
    .values(
        conversation_id=CONVERSATION_ID,
        user_id=OWNER,
        role=sa.bindparam("new_role", type_=sa.String),
        content=sa.bindparam("new_content", type_=sa.Text),
        tool_calls=sa.bindparam("new_tool_calls", type_=sa.Text),
        unanswered=False,
        created_at=NOW,
    )
    .returning(*MESSAGE_COLUMNS)
)
MARK_UNANSWERED = Query(
    sa.update(message_table)
    .where(
        messages.id == sa.bindparam("message_id", type_=sa.Integer),
        messages.user_id == OWNER,
        messages.role == MessageRole.USER.value,
    )
    .values(unanswered=True)
    .returning(messages.id)
)
