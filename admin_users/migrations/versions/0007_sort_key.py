"""The User column sorts as people read names; search finds guests by their guest id.

Revision ID: admin_users_0007
Revises: admin_users_0006
Create Date: 2026-12-04 09:00:00

A column ``sort_key``, the ICU collation key of the identifier shown (Ödön with the O's),
and its covering index in place of ``identifier_key``'s (that key stays: it keeps emails
unique regardless of case); the guest id in each user's search text. Both are filled for
the users there are, in batches of ids, by the functions the ORM calls on every write
(``admin_users.definitions``), and only where they differ; the search index follows the
search text by itself. The new index is made once they are filled.

The downgrade gives the search text back as the earlier version wrote it, the email and
the customer id.
"""

import sqlalchemy as sa
from alembic import op

from admin_users.definitions import search_text, sort_key

# revision identifiers, used by Alembic.
revision = "admin_users_0007"
down_revision = "admin_users_0006"
branch_labels = None
depends_on = None

BATCH = 1000
USERS = sa.table(
    "users",
    *(sa.column(name, sa.String) for name in ("email", "guest_id", "customer_id", "search_text")),
    sa.column("id", sa.Integer),
    sa.column("sort_key", sa.LargeBinary),
)


def upgrade():
    op.add_column("users", sa.Column("sort_key", sa.LargeBinary(), nullable=True))
    op.drop_index("ix_users_identifier", table_name="users")
    _fill({"sort_key": sort_key, "search_text": search_text})
    op.create_index("ix_users_sort_key", "users", ["sort_key", "id", "status", "search_text"])


def downgrade():
    op.drop_index("ix_users_sort_key", table_name="users")
    op.drop_column("users", "sort_key")
    _fill({"search_text": _earlier_search_text})
    op.create_index(
        "ix_users_identifier", "users", ["identifier_key", "id", "status", "search_text"]
    )


def _earlier_search_text(user) -> str:
    return "\n".join(value.casefold() for value in (user.email, user.customer_id) if value)


def _fill(functions: dict) -> None:
    """Give each column named in ``functions`` its function's value of the user, where it
    differs from the one stored: ``BATCH`` users at a time in id order, one UPDATE for
    each set of changed columns."""
    bind, c = op.get_bind(), USERS.c
    read = (
        sa.select(c.id, c.email, c.guest_id, c.customer_id, *(c[name] for name in functions))
        .where(c.id > sa.bindparam("after"))
        .order_by(c.id)
        .limit(BATCH)
    )
    update = USERS.update().where(c.id == sa.bindparam("b_id"))
    after = 0
    while rows := bind.execute(read, {"after": after}).all():
        groups: dict[tuple, list[dict]] = {}
        for row in rows:
            change = {}
            for name, function in functions.items():
                value = function(row)
                if getattr(row, name) != value:
                    change[name] = value
            if change:
                groups.setdefault(tuple(change), []).append({**change, "b_id": row.id})
        for params in groups.values():
            bind.execute(update, params)  # the parameters name the columns to SET
        after = rows[-1].id
