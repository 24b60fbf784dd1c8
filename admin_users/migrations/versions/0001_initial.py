"""The extension's tables and the search index.

Revision ID: admin_users_0001
Revises:
Create Date: 2025-01-01 00:00:00

Frozen DDL of ``build_models(db)`` at this revision: the tables, the indexes of
``models._add_indexes``, then the trigram search objects (an FTS5 table and its
triggers on SQLite, a ``pg_trgm`` GIN index on PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

from admin_users import search

# revision identifiers, used by Alembic.
revision = "admin_users_0001"
down_revision = None
branch_labels = ("admin_users",)
depends_on = None


def _time():
    """``UTCDateTime``: timestamps with a time zone (naive UTC on SQLite)."""
    return sa.DateTime(timezone=True)


def _key_text(length):
    """``KeyText``: text compared by code point, ``COLLATE "C"`` on PostgreSQL."""
    if op.get_bind().dialect.name == "postgresql":
        return sa.String(length, collation="C")
    return sa.String(length)


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("guest_id", sa.String(11), nullable=True),
        sa.Column("identifier_key", _key_text(320), nullable=True),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("search_text", _key_text(600), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("confirmed_at", _time(), nullable=True),
        sa.Column("last_activity_at", _time(), nullable=False),
        sa.Column("deactivated_at", _time(), nullable=True),
        sa.Column("deactivation_reason", sa.Text(), nullable=True),
        sa.Column("erased_at", _time(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("chat_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("login_nonce", sa.String(32), nullable=True),
        sa.Column("deactivated_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("guest_id"),
        sa.UniqueConstraint("identifier_key"),
        sa.ForeignKeyConstraint(["deactivated_by_id"], ["users.id"]),
    )
    # Each sort's index also holds the status and the search text.
    op.create_index("ix_users_created", "users", ["created_at", "id", "status", "search_text"])
    op.create_index(
        "ix_users_last_activity", "users", ["last_activity_at", "id", "status", "search_text"]
    )
    op.create_index("ix_users_chat_count", "users", ["chat_count", "id", "status", "search_text"])
    op.create_index("ix_users_status", "users", ["status", "id", "search_text"])
    op.create_index(
        "ix_users_identifier", "users", ["identifier_key", "id", "status", "search_text"]
    )

    op.create_table(
        "user_profiles",
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("last_name", sa.String(100), nullable=True),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("address_line1", sa.String(200), nullable=True),
        sa.Column("address_line2", sa.String(200), nullable=True),
        sa.Column("postal_code", sa.String(20), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("country", sa.String(100), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    )

    op.create_table(
        "chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("deleted_at", _time(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    )
    op.create_index("ix_chats_user", "chats", ["user_id", "created_at", "id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"]),
    )
    op.create_index("ix_messages_chat_id_id", "messages", ["chat_id", "id"])

    op.create_table(
        "audit_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(128), nullable=True),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"]),
    )
    op.create_index("ix_audit_logs_user", "audit_logs", ["user_id", "created_at", "id"])

    op.create_table(
        "app_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_permission", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "data_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("fulfilled_at", _time(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    )
    op.create_index("ix_data_requests_user_id", "data_requests", ["user_id"])

    # Like init-db: where this database cannot have the index (SQLite without FTS5's
    # trigram tokenizer), search reads the table instead.
    search.create(op.get_bind(), "users")


def downgrade():
    search.drop(op.get_bind(), "users")
    for table in (
        "data_requests",
        "app_config",
        "audit_logs",
        "messages",
        "chats",
        "user_profiles",
        "users",
    ):
        op.drop_table(table)  # its indexes go with it
