"""The SQLite search index also answers terms of one or two characters.

Revision ID: admin_users_0002
Revises: admin_users_0001
Create Date: 2026-11-27 00:00:00

Each indexed text now ends with two newlines, and the index has a vocabulary table: an
index made before that is rebuilt. PostgreSQL's index does not change.
"""

from alembic import op

from admin_users import search

# revision identifiers, used by Alembic.
revision = "admin_users_0002"
down_revision = "admin_users_0001"
branch_labels = None
depends_on = None


def upgrade():
    search.update(op.get_bind(), "users")


def downgrade():
    pass  # the rebuilt index serves the earlier revision as well
