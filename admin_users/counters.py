"""How many users have each status, kept beside the users: the list's totals without
counting a million rows.

One row a status (:class:`StatusCountMixin`). Every insert, status change and delete of
a user through the ORM adds its change to these rows in the flush that writes the user,
so in the same transaction; the lower status's row first, so that two transactions
moving users between the same two statuses wait for each other rather than deadlock.
Rows written without the ORM (``demo-data``, a host's own SQL, an adopted table) are
counted again by :func:`recount`, which ``demo-data`` and ``flask admin-users backfill``
run.
"""

from __future__ import annotations

from sqlalchemy import Integer, SmallInteger, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import mapped_column

from .definitions import Status

# The counts' table of each user class (build_models registers them).
_TABLES: dict[type, object] = {}


class StatusCountMixin:
    """How many users have one status (see :mod:`admin_users.counters`)."""

    status = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    count = mapped_column(Integer, nullable=False)


def register(User, StatusCount) -> None:
    _TABLES[User] = StatusCount.__table__


def moved(connection, User, was, now) -> None:
    """A user of class ``User`` went from status ``was`` to ``now`` (None: no row)."""
    table = _TABLES.get(User)
    if table is None or was == now:
        return
    changes = [(int(s), d) for s, d in ((was, -1), (now, 1)) if s is not None]
    upsert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert
    for status, delta in sorted(changes):
        statement = upsert(table).values(status=status, count=delta)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.status],
            set_={"count": table.c.count + statement.excluded["count"]},
        )
        connection.execute(statement)


def totals(session, StatusCount) -> dict[Status, int]:
    """The number of users of each status, as kept."""
    table = StatusCount.__table__
    found = dict(session.execute(select(table.c.status, table.c.count)).all())
    return {status: max(found.get(int(status), 0), 0) for status in Status}


def recount(connection, User, StatusCount) -> None:
    """Count the users of each status again (the rows written without the ORM too)."""
    users, table = User.__table__, StatusCount.__table__
    if connection.dialect.name == "postgresql":
        # Writers of the counts wait until this transaction ends; it sees what they wrote.
        connection.exec_driver_sql(f'LOCK TABLE "{table.name}" IN EXCLUSIVE MODE')
    connection.execute(delete(table))
    by_status = select(users.c.status, func.count()).group_by(users.c.status)
    connection.execute(insert(table).from_select(["status", "count"], by_status))
