"""Better Auth's tables (user, session, account, verification, jwks), for the built-in sign-in.

Names, camelCase columns, types and constraint names are Better Auth's own (as its Node
migrations create them on PostgreSQL), so a database made by either side serves the other.
In shared database mode on PostgreSQL (BETTER_AUTH_SHARED_DATABASE=true) Better Auth's own
migrations have made these tables already, and this revision leaves them alone both ways (the foreign key 0002 adds marks such a database
even when a downgrade runs without the setting).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from todo_api.migrations import SHARED_DATABASE_ATTRIBUTE, SHARED_DATABASE_FOREIGN_KEY

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def _better_auth_owns_them() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    if context.config.attributes.get(SHARED_DATABASE_ATTRIBUTE, False):
        return True
    # A downgrade run without the setting must not drop Better Auth's tables either: the
    # foreign key 0002 adds in shared mode says whose they are.
    keys = sa.inspect(bind).get_foreign_keys("task")
    return any(key["name"] == SHARED_DATABASE_FOREIGN_KEY for key in keys)


def _stamp(name: str, *, nullable: bool = False, default: bool = False) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=NOW if default else None
    )


def _user_id(table: str) -> sa.Column[object]:
    foreign_key = sa.ForeignKey("user.id", ondelete="CASCADE", name=f"{table}_userId_fkey")
    return sa.Column("userId", sa.Text(), foreign_key, nullable=False)


def upgrade() -> None:
    if _better_auth_owns_them():
        return
    op.create_table(
        "user",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("emailVerified", sa.Boolean(), nullable=False),
        sa.Column("image", sa.Text(), nullable=True),
        _stamp("createdAt", default=True),
        _stamp("updatedAt", default=True),
        sa.PrimaryKeyConstraint("id", name="user_pkey"),
        sa.UniqueConstraint("email", name="user_email_key"),
    )
    op.create_table(
        "session",
        sa.Column("id", sa.Text(), nullable=False),
        _stamp("expiresAt"),
        sa.Column("token", sa.Text(), nullable=False),
        _stamp("createdAt", default=True),
        _stamp("updatedAt"),
        sa.Column("ipAddress", sa.Text(), nullable=True),
        sa.Column("userAgent", sa.Text(), nullable=True),
        _user_id("session"),
        sa.PrimaryKeyConstraint("id", name="session_pkey"),
        sa.UniqueConstraint("token", name="session_token_key"),
    )
    op.create_index("session_userId_idx", "session", ["userId"])
    op.create_table(
        "account",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("accountId", sa.Text(), nullable=False),
        sa.Column("providerId", sa.Text(), nullable=False),
        _user_id("account"),
        sa.Column("accessToken", sa.Text(), nullable=True),
        sa.Column("refreshToken", sa.Text(), nullable=True),
        sa.Column("idToken", sa.Text(), nullable=True),
        _stamp("accessTokenExpiresAt", nullable=True),
        _stamp("refreshTokenExpiresAt", nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        _stamp("createdAt", default=True),
        _stamp("updatedAt"),
        sa.PrimaryKeyConstraint("id", name="account_pkey"),
    )
    op.create_index("account_userId_idx", "account", ["userId"])
    op.create_table(
        "verification",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _stamp("expiresAt"),
        _stamp("createdAt", default=True),
        _stamp("updatedAt", default=True),
        sa.PrimaryKeyConstraint("id", name="verification_pkey"),
    )
    op.create_index("verification_identifier_idx", "verification", ["identifier"])
    op.create_table(
        "jwks",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("publicKey", sa.Text(), nullable=False),
        sa.Column("privateKey", sa.Text(), nullable=False),
        _stamp("createdAt"),
        _stamp("expiresAt", nullable=True),
        sa.Column("alg", sa.Text(), nullable=True),
        sa.Column("crv", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="jwks_pkey"),
    )


def downgrade() -> None:
    if _better_auth_owns_them():
        return
    op.drop_table("jwks")
    op.drop_index("verification_identifier_idx", table_name="verification")
    op.drop_table("verification")
    op.drop_index("account_userId_idx", table_name="account")
    op.drop_table("account")
    op.drop_index("session_userId_idx", table_name="session")
    op.drop_table("session")
    op.drop_table("user")
