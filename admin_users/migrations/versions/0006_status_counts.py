"""The number of users of each status, kept beside the users (admin_users.counters).

Revision ID: admin_users_0006
Revises: admin_users_0005
Create Date: 2026-12-03 07:00:00

A row a status, filled from the users there are (the backfill); from then on every
change of a user through the ORM keeps it, in the same transaction.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "admin_users_0006"
down_revision = "admin_users_0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_status_counts",
        sa.Column("status", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("status"),
    )
    op.execute(
        "INSERT INTO user_status_counts (status, count) "
        "SELECT status, count(*) FROM users GROUP BY status"
    )


def downgrade():
    op.drop_table("user_status_counts")
