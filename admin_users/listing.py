"""The Users list: search, status filter, sort and keyset pagination.

One implementation for the admin's list, its batch endpoint and ``flask admin-users
list``. A batch is found by walking the index of the sort column from the cursor on
(``(value, id)`` after the last row shown): no OFFSET, no COUNT.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from .extension import get_state
from .models import Status, utcnow

SORTS = ("email", "status", "chats", "created", "last_activity")
# The direction of a first click on a header: names A to Z, numbers and times biggest first.
FIRST_CLICK_DESC = {
    "email": False,
    "status": False,
    "chats": True,
    "created": True,
    "last_activity": True,
}
DEFAULT_SORT = ("created", True)
MAX_SEARCH_LENGTH = 200
STATUS_COUNT_CAP = 1000


class BadListRequest(ValueError):
    """A request the list answers with 400 and this message."""


@dataclass(frozen=True)
class ListQuery:
    """What the admin asked the list for."""

    search: str = ""
    status: Status | None = None
    sort: str = DEFAULT_SORT[0]
    desc: bool = DEFAULT_SORT[1]
    pending: bool = False  # only users with an open data request

    @classmethod
    def from_args(cls, args) -> ListQuery:
        """Read ``q``, ``status``, ``sort`` and ``desc``; unknown sorts fall back to the default."""
        search = (args.get("q") or "").strip()
        if len(search) > MAX_SEARCH_LENGTH:
            raise BadListRequest(f"Search terms are limited to {MAX_SEARCH_LENGTH} characters.")
        if any(unicodedata.category(c) == "Cc" for c in search):
            raise BadListRequest("Search terms cannot contain control characters.")
        sort, desc = args.get("sort"), args.get("desc")
        if sort not in SORTS or desc not in (None, "", "0", "1"):
            sort, desc = DEFAULT_SORT
        else:
            desc = FIRST_CLICK_DESC[sort] if desc in (None, "") else desc == "1"
        status = {s.key: s for s in Status}.get(args.get("status") or "")
        pending = args.get("pending") == "1"
        return cls(search=search, status=status, sort=sort, desc=desc, pending=pending)

    def args(self, **changes) -> dict:
        """URL arguments for this query (with ``changes``), defaults left out."""
        query = ListQuery(**{**self.__dict__, **changes})
        out = {}
        if query.search:
            out["q"] = query.search
        if query.status is not None:
            out["status"] = query.status.key
        if query.pending:
            out["pending"] = "1"
        if (query.sort, query.desc) != DEFAULT_SORT:
            out["sort"] = query.sort
            out["desc"] = "1" if query.desc else "0"
        return out

    def sort_link(self, sort: str) -> dict:
        """Arguments of a header link: the first click sorts, the next flips."""
        desc = not self.desc if sort == self.sort else FIRST_CLICK_DESC[sort]
        return self.args(sort=sort, desc=desc)

    @property
    def fingerprint(self) -> str:
        text = json.dumps(
            [self.search, self.status and self.status.key, self.sort, self.desc, self.pending]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Batch:
    users: list
    next_cursor: str | None  # None at the end of the list


def sort_column(User, sort: str):
    return {
        "email": User.identifier_key,
        "status": User.status,
        "chats": User.chat_count,
        "created": User.created_at,
        "last_activity": User.last_activity_at,
    }[sort]


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filters(User, query: ListQuery, *, status: bool = True) -> list:
    """The search (one case-folded substring of email or customer id) and the filters."""
    conditions = []
    if query.pending:
        DataRequest = get_state().models.DataRequest
        conditions.append(
            User.id.in_(select(DataRequest.user_id).where(DataRequest.fulfilled_at.is_(None)))
        )
    if query.search:
        pattern = f"%{escape_like(query.search.casefold())}%"
        conditions.append(User.search_text.like(pattern, escape="\\"))
    if status and query.status is not None:
        conditions.append(User.status == int(query.status))
    return conditions


# -- cursors ------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="admin-users.list-cursor")


def _encode_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


def make_cursor(query: ListQuery, user, as_of: datetime) -> str:
    value = getattr(user, sort_column(type(user), query.sort).key)
    return _serializer().dumps(
        [query.fingerprint, _encode_value(value), user.id, as_of.isoformat()]
    )


def read_cursor(query: ListQuery, token: str):
    """``(value, id, as_of)`` from a cursor made for this very query; else BadListRequest."""
    try:
        fingerprint, value, user_id, as_of = _serializer().loads(token)
        as_of = datetime.fromisoformat(as_of)
        if query.sort in ("created", "last_activity"):
            value = datetime.fromisoformat(value)
        elif query.sort == "email":
            value = str(value)
        else:
            value = int(value)
        user_id = int(user_id)
    except (BadSignature, ValueError, TypeError):
        raise BadListRequest("This list position is not valid; reload the list.") from None
    if fingerprint != query.fingerprint:
        raise BadListRequest("This list position belongs to another search or sort.")
    return value, user_id, as_of


# -- batches ------------------------------------------------------------------------------


def fetch_batch(query: ListQuery, cursor: str | None = None, limit: int | None = None) -> Batch:
    """The next ``limit`` users of the list after ``cursor`` (the first ones without)."""
    state = get_state()
    User = state.models.User
    limit = limit or current_app.config["ADMIN_USERS_PAGE_SIZE"]
    column = sort_column(User, query.sort)
    conditions = filters(User, query)
    after = None
    if cursor is None:
        as_of = utcnow()
    else:
        value, last_id, as_of = read_cursor(query, cursor)
        after = (value, last_id)
        if query.sort == "last_activity":
            # A user active since the scroll began has moved: never show them twice.
            conditions.append(User.last_activity_at <= as_of)
    users = keyset_rows(
        state.db.session, select(User).where(*conditions), column, User.id, query.desc, after, limit
    )
    next_cursor = make_cursor(query, users[-1], as_of) if len(users) == limit else None
    return Batch(users, next_cursor)


def keyset_rows(session, statement, column, id_column, desc: bool, after, limit: int) -> list:
    """Up to ``limit`` rows of ``statement`` in ``(column, id)`` order after ``(value, id)``.

    Two range scans rather than one row-value comparison, which SQLite answers from
    the first column only: the rest of the tie group, then the values beyond it.
    """
    order = (column.desc(), id_column.desc()) if desc else (column.asc(), id_column.asc())
    if after is None:
        return session.scalars(statement.order_by(*order).limit(limit)).all()
    value, last_id = after
    same = statement.where(column == value, id_column < last_id if desc else id_column > last_id)
    rows = session.scalars(same.order_by(*order[1:]).limit(limit)).all()
    if len(rows) < limit:
        beyond = statement.where(column < value if desc else column > value)
        rows += session.scalars(beyond.order_by(*order).limit(limit - len(rows))).all()
    return rows


def iterate(query: ListQuery, limit: int | None = None):
    """Every user of the list, batch after batch (for the CLI)."""
    cursor, shown = None, 0
    while True:
        batch = fetch_batch(query, cursor)
        for user in batch.users:
            if limit is not None and shown >= limit:
                return
            shown += 1
            yield user
        if batch.next_cursor is None:
            return
        cursor = batch.next_cursor


def status_counts(query: ListQuery, cap: int = STATUS_COUNT_CAP) -> dict[str, int]:
    """Users per status for the current search, counted up to ``cap + 1`` each."""
    state = get_state()
    User = state.models.User
    conditions = filters(User, query, status=False)
    counts = {}
    for status in Status:
        capped = (
            select(User.id).where(User.status == int(status), *conditions).limit(cap + 1).subquery()
        )
        counts[status.key] = state.db.session.scalar(select(func.count()).select_from(capped))
    return counts
