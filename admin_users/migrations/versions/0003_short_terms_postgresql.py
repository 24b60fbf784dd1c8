"""PostgreSQL's search also answers terms of one or two characters.

Revision ID: admin_users_0003
Revises: admin_users_0002
Create Date: 2026-11-27 05:00:00

A GIN index of every substring of one or two characters of each user's search text,
which pg_trgm cannot index: the search objects are made again with it. SQLite's do not
change.
"""

from alembic import op

from admin_users import search

# revision identifiers, used by Alembic.
revision = "admin_users_0003"
down_revision = "admin_users_0002"
branch_labels = None
depends_on = None


def upgrade():
    search.update(op.get_bind(), "users")


def downgrade():
    pass  # the index of short terms serves the earlier revision as well
