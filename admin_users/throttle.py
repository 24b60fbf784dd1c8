"""Counts of sign-in emails, in the database, for the ``limits`` library.

``service.throttle`` keeps its counts here by default (``ADMIN_USERS_THROTTLE_STORAGE =
"database"``), so that every worker and machine on one database counts together; any
storage URI of ``limits`` (``redis://...``) replaces it. Each count is a fixed window:
the first hit of a key starts it, and its count starts over once it has expired.
"""

from __future__ import annotations

import time

from limits.storage import Storage
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from .state import get_state


class DatabaseStorage(Storage):
    """A ``limits`` storage in the extension's ``throttle_counts`` table; each call is a
    transaction of its own, apart from the request's."""

    STORAGE_SCHEME = None  # made by the extension, not from a URI

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    @staticmethod
    def _table():
        state = get_state()
        return state.db.engine, state.models.ThrottleCount.__table__

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        engine, table = self._table()
        now = time.time()
        insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert
        expired = table.c.expires_at <= now
        statement = (
            insert(table)
            .values(key=key, hits=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "hits": case((expired, amount), else_=table.c.hits + amount),
                    "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
                },
            )
            .returning(table.c.hits)
        )
        with engine.begin() as connection:
            connection.execute(delete(table).where(table.c.expires_at < now))  # old windows
            return connection.execute(statement).scalar_one()

    def get(self, key: str) -> int:
        engine, table = self._table()
        with engine.connect() as connection:
            hits = connection.scalar(
                select(table.c.hits).where(table.c.key == key, table.c.expires_at > time.time())
            )
        return hits or 0

    def get_expiry(self, key: str) -> float:
        engine, table = self._table()
        with engine.connect() as connection:
            expires = connection.scalar(select(table.c.expires_at).where(table.c.key == key))
        return max(expires or 0, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        engine, table = self._table()
        with engine.begin() as connection:
            return connection.execute(delete(table)).rowcount

    def clear(self, key: str) -> None:
        engine, table = self._table()
        with engine.begin() as connection:
            connection.execute(delete(table).where(table.c.key == key))
