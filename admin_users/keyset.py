"""Keyset pagination: the rows of an order after a position ``(value, id)``, and the
signed cursors that carry such a position from one batch to the next.

The list (:mod:`admin_users.listing`) and the dialog's tabs (:mod:`admin_users.details`)
both read this way: no OFFSET, no COUNT, and a batch deep in the order costs what the
first one does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam

from .errors import BadListRequest
from .models import valid_id


def order(column, id_column, desc: bool) -> tuple:
    """``ORDER BY`` of the order ``(column, id)``, in one direction."""
    return (column.desc(), id_column.desc()) if desc else (column.asc(), id_column.asc())


def ranges(column, id_column, desc: bool, after) -> list[list]:
    """The conditions of the rows after ``(value, id)``, as index ranges.

    Two ranges rather than one row-value comparison, which SQLite answers from the
    first column only: the rest of the tie group, then the values beyond it. The
    position is bound as the parameters ``value`` and ``last_id``.
    """
    if after is None:
        return [[]]
    value, last_id = after
    value, last_id = bindparam("value", value), bindparam("last_id", last_id)
    return [
        [column == value, id_column < last_id if desc else id_column > last_id],
        [column < value if desc else column > value],
    ]


def keyset_rows(session, statement, column, id_column, desc: bool, after, limit: int) -> list:
    """Up to ``limit`` rows of ``statement`` in ``(column, id)`` order after ``(value, id)``."""
    rows = []
    for part in ranges(column, id_column, desc, after):
        if len(rows) < limit:
            rows += session.scalars(
                statement.where(*part)
                .order_by(*order(column, id_column, desc))
                .limit(limit - len(rows))
            ).all()
    return rows


def row_id(value) -> int:
    """``value`` as a row id, or ValueError (a cursor naming no row)."""
    checked = valid_id(value)
    if checked is None:
        raise ValueError("not an id")
    return checked


@dataclass(frozen=True)
class CursorFormat:
    """Cursors of one kind: a list of JSON values, signed with the app's secret key under
    a salt of their own, so that a cursor of one kind never reads as another."""

    salt: str
    invalid: str  # what the admin is told of a cursor that does not read

    def dumps(self, *values) -> str:
        return self._serializer().dumps(list(values))

    def loads(self, token: str, read: Callable):
        """``read(*values)`` of the cursor ``token``; BadListRequest where it is not one
        this app signed, or ``read`` finds its values wrong (ValueError, TypeError)."""
        try:
            return read(*self._serializer().loads(token))
        except (BadSignature, ValueError, TypeError):
            raise BadListRequest(self.invalid) from None

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(current_app.secret_key, salt=self.salt)
