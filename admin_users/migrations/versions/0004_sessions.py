"""Server-side sessions, the session version, email changes and throttle counts.

Revision ID: admin_users_0004
Revises: admin_users_0003
Create Date: 2026-12-01 23:00:00

A table of session records (one a sign-in); on the users, the session version that one
write moves to end every session (0 for every existing user) and an email change
waiting for its link; a table of the counts of sign-in emails per address and IP.
Sessions from before this revision carried the user's id, which the user loader no
longer accepts: everyone signs in once more.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "admin_users_0004"
down_revision = "admin_users_0003"
branch_labels = None
depends_on = None


def _time():
    """``UTCDateTime``: timestamps with a time zone (naive UTC on SQLite)."""
    return sa.DateTime(timezone=True)


def upgrade():
    op.add_column(
        "users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("pending_email", sa.String(320), nullable=True))
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("last_seen_at", _time(), nullable=False),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("browser", sa.String(64), nullable=True),
        sa.Column("os", sa.String(64), nullable=True),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id", "created_at", "id"])
    op.create_table(
        "throttle_counts",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_throttle_counts_expires_at", "throttle_counts", ["expires_at"])


def downgrade():
    op.drop_table("throttle_counts")
    op.drop_table("user_sessions")
    op.drop_column("users", "pending_email")
    op.drop_column("users", "session_version")
