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
from sqlalchemy import and_, bindparam, column, func, literal_column, select, table

from . import search as search_index
from .models import MAX_ID, Status, utcnow, valid_id
from .state import get_state

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
PROBE_LIMIT = 2000  # a term found in fewer users is read through the trigram index
SCAN_LIMIT = 5000  # rows a batch reads at most where no index can answer
QUICK_WALK = 300  # rows read before asking the trigram index (a common term is done)


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
    """The conditions that define the list: the search (one case-folded substring of
    the email or the customer id), the status and the pending-requests filter."""
    conditions = []
    if query.search:
        term = bindparam("term", _term_value(query))
        if get_state().db.engine.dialect.name == "sqlite":
            # Text and term are both case-folded: a plain substring test, faster than LIKE.
            conditions.append(func.instr(User.search_text, term) > 0)
        else:  # LIKE, which the trigram index answers
            conditions.append(User.search_text.like(term, escape="\\"))
    if status and query.status is not None:
        conditions.append(User.status == int(query.status))
    if query.pending:
        conditions.append(User.id.in_(_pending_ids()))
    return conditions


def _term_value(query: ListQuery) -> str:
    """The value of the search's ``term`` parameter: the case-folded term (SQLite's
    ``instr``), or a LIKE pattern."""
    term = query.search.casefold()
    if get_state().db.engine.dialect.name == "sqlite":
        return term
    return f"%{escape_like(term)}%"


def _pending_ids():
    DataRequest = get_state().models.DataRequest
    return select(DataRequest.user_id).where(DataRequest.fulfilled_at.is_(None))


def candidates(query: ListQuery) -> list[int] | None:
    """Fewer than ``PROBE_LIMIT`` user ids that hold every match, or None.

    Users with a pending data request are few. A search term is looked up in the
    trigram index (or for one or two characters, the index of short terms); when it is
    common, the list is read in its sort order instead, which finds its matches soon.
    """
    state = get_state()
    session = state.db.session
    User = state.models.User
    term = query.search.casefold()
    if query.pending:
        ids = _pending_ids().distinct()
    elif len(term) < 3:
        connection = session.connection()
        return search_index.short_term_ids(connection, User.__tablename__, term, PROBE_LIMIT)
    elif search_index.available(session.connection(), User.__tablename__, remember=True):
        if session.get_bind().dialect.name == "sqlite":
            fts = table(search_index.index_name(User.__tablename__), column("rowid"))
            phrase = '"' + term.replace('"', '""') + '"'
            ids = select(fts.c.rowid).where(literal_column(fts.name).op("MATCH")(phrase))
        else:
            ids = select(User.id).where(*filters(User, query, status=False))
    else:
        return None
    found = session.scalars(ids.limit(PROBE_LIMIT)).all()
    return found if len(found) < PROBE_LIMIT else None


# -- cursors ------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="admin-users.list-cursor")


def _encode_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


def make_cursor(query: ListQuery, value, user_id: int, as_of: datetime) -> str:
    """An opaque position in the list: just after the row ``(value, user_id)``."""
    return _serializer().dumps(
        [query.fingerprint, _encode_value(value), user_id, as_of.isoformat()]
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
        elif type(value) is not int or abs(value) > MAX_ID:
            raise ValueError("not a count")
        user_id = valid_id(user_id)
        if user_id is None:
            raise ValueError("not an id")
    except (BadSignature, ValueError, TypeError):
        raise BadListRequest("This list position is not valid; reload the list.") from None
    if fingerprint != query.fingerprint:
        raise BadListRequest("This list position belongs to another search or sort.")
    return value, user_id, as_of


# -- batches ------------------------------------------------------------------------------


def fetch_batch(query: ListQuery, cursor: str | None = None, limit: int | None = None) -> Batch:
    """The next users of the list after ``cursor`` (the first ones without).

    Usually ``limit`` users, in order, from an index walk or from a small candidate set.
    Where no index can answer (a short term, a common one, a status filter) the walk
    reads at most ``SCAN_LIMIT`` rows: the batch may then hold fewer users, and its cursor
    says where the reading stopped, so that scrolling goes on from there.
    """
    state = get_state()
    session = state.db.session
    User = state.models.User
    limit = limit or current_app.config["ADMIN_USERS_PAGE_SIZE"]
    column = sort_column(User, query.sort)
    after = None
    if cursor is None:
        as_of = utcnow()
    else:
        value, last_id, as_of = read_cursor(query, cursor)
        after = (value, last_id)
    users, last = None, None
    if query.search and not query.pending and not _known(session, User, query):
        # A common term finds its rows within the first few read: then no index is needed.
        users = _quick_page(session, User, query, after, as_of, limit)
    if users is None:
        conditions = _conditions(User, query, after, as_of)
        ids = candidates(query) if query.search or query.pending else None
        if ids is not None:
            conditions.append(User.id.in_(ids))  # read these few rows by their key
        if ids is not None or not (query.search or query.status or query.pending):
            statement = select(User).where(*conditions)
            users = keyset_rows(session, statement, column, User.id, query.desc, after, limit)
        else:
            users, last = _scan(session, User, query, after, as_of, limit)
    if last is None and len(users) == limit:  # a whole batch: the list goes on after it
        last = (getattr(users[-1], column.key), users[-1].id)
    return Batch(users, make_cursor(query, *last, as_of) if last else None)


def _known(session, User, query: ListQuery) -> bool:
    """Whether the index of short terms tells whether the term is common without reading
    its users, so that the walk which would find it out need not come first."""
    term = query.search.casefold()
    return len(term) < 3 and search_index.known(session.connection(), User.__tablename__, term)


def _conditions(User, query: ListQuery, after, as_of) -> list:
    """The conditions of the rows of ``query`` after ``after`` (None: from the top), for
    a list begun at ``as_of``."""
    conditions = filters(User, query)
    if after is not None and query.sort == "last_activity" and not query.desc:
        # A user active since the scroll began has moved to the end: never show them
        # twice. (Newest first, they moved above the cursor, out of reach already; and
        # a second upper bound there would make SQLite walk from the top.)
        conditions.append(User.last_activity_at <= bindparam("as_of", as_of))
    return conditions


def _scan(session, User, query: ListQuery, after, as_of, limit: int):
    """Read the list in order from ``after``, at most ``SCAN_LIMIT`` index entries a
    range, keeping the rows that match ``query``: ``(users, where to go on)``, the latter
    None at the end of the list. The database does the reading and filtering."""
    connection = session.connection()
    column, desc = sort_column(User, query.sort), query.desc
    users, go_on = [], None
    for part in _ranges(column, User.id, desc, after):
        found = _hits(session, User, query, part, SCAN_LIMIT, limit - len(users), after, as_of)
        users += found
        if len(users) == limit:
            go_on = (getattr(found[-1], column.key), found[-1].id)
            break
        last_read = connection.execute(_last_of(User, column, desc, part, SCAN_LIMIT)).first()
        last_there = connection.execute(
            select(column, User.id)
            .where(*part)
            .order_by(*_order(column, User.id, not desc))
            .limit(1)
        ).first()
        if last_read is not None and tuple(last_read) != tuple(last_there):
            go_on = tuple(last_read)  # the budget ran out inside this range
            break
    return users, go_on


def _quick_page(session, User, query: ListQuery, after, as_of, limit: int):
    """A whole batch of matches among the first ``QUICK_WALK`` rows (of each range) after
    ``after``, or None: a common term is done here, without any index."""
    column = sort_column(User, query.sort)
    users = []
    for part in _ranges(column, User.id, query.desc, after):
        users += _hits(session, User, query, part, QUICK_WALK, limit - len(users), after, as_of)
        if len(users) == limit:
            return users
    return None


# Building a statement and its cache key costs more than SQLite takes to run a walk
# (0.3 ms of a 3 ms search batch), so the statements of a walk and of the status counts
# are built once for each shape and reused; their values are named parameters, bound at
# each run.
_statements: dict = {}


def _hits(session, User, query: ListQuery, part, budget: int, limit: int, after, as_of):
    """The first ``limit`` users matching ``query`` among the first ``budget`` rows of the
    range ``part`` (of those after ``after``), in order."""
    dialect = session.get_bind().dialect.name
    shape = (User, dialect, query.sort, query.desc, bool(query.search), query.status,
             query.pending, len(part), budget)  # fmt: skip
    walk = _statements.get(shape)
    if walk is None:
        column = sort_column(User, query.sort)
        wanted = and_(*_conditions(User, query, after, as_of))
        read = (
            select(User.id, column.label("value"), wanted.label("hit"))
            .where(*part)
            .order_by(*_order(column, User.id, query.desc))
            .limit(budget)
            .subquery()
        )
        # The walk reads the sort index and tests each row; only its hits, at most
        # `limit`, are then read whole by their key (reading every row read whole costs
        # 15 times as much). It has no ORDER BY: the rows come in the order read
        # (SQLite's co-routine and PostgreSQL's subquery scan keep it), and sorting would
        # read the whole budget. Its few hits are sorted again instead.
        found = select(read.c.id, read.c.value).where(read.c.hit).limit(bindparam("limit"))
        found = found.subquery()
        walk = _statements[shape] = (
            select(User)
            .join(found, User.id == found.c.id)
            .order_by(*_order(found.c.value, found.c.id, query.desc))
        )
    values = {"limit": limit, "as_of": as_of}
    if query.search:
        values["term"] = _term_value(query)
    if after is not None:
        values["value"], values["last_id"] = after
    return session.scalars(walk, values).all()


def _last_of(User, column, desc: bool, part, budget: int):
    """The last ``(value, id)`` among the first ``budget`` rows of a range (reading the
    index alone, without the search test)."""
    span = select(column.label("value"), User.id).where(*part)
    span = span.order_by(*_order(column, User.id, desc)).limit(budget).subquery()
    last = _order(span.c.value, span.c.id, not desc)
    return select(span.c.value, span.c.id).order_by(*last).limit(1)


def _common(session, User, search: str) -> bool:
    """Whether a page of ``search``'s matches lies within the first ``QUICK_WALK`` users
    (newest first)."""
    return _quick_page(session, User, ListQuery(search=search), None, None, 30) is not None


def _order(column, id_column, desc: bool):
    return (column.desc(), id_column.desc()) if desc else (column.asc(), id_column.asc())


def _ranges(column, id_column, desc: bool, after) -> list[list]:
    """The conditions of the rows after ``(value, id)``, as index ranges.

    Two ranges rather than one row-value comparison, which SQLite answers from the
    first column only: the rest of the tie group, then the values beyond it.
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
    for part in _ranges(column, id_column, desc, after):
        if len(rows) < limit:
            rows += session.scalars(
                statement.where(*part)
                .order_by(*_order(column, id_column, desc))
                .limit(limit - len(rows))
            ).all()
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


def status_counts(query: ListQuery, cap: int = STATUS_COUNT_CAP) -> dict[str, dict]:
    """Users per status for the current search and filters: ``{"count": n, "more": bool}``.

    Exact up to ``cap``; ``more`` means "at least ``count``": beyond the cap, or where a
    term no index answers would need more index entries read than a batch reads
    (``SCAN_LIMIT``, a quarter of them for each status).
    """
    state = get_state()
    session = state.db.session
    User = state.models.User
    conditions = filters(User, query, status=False)
    ids = None
    if query.pending or (
        query.search and (_known(session, User, query) or not _common(session, User, query.search))
    ):
        ids = candidates(query)
    if ids is not None:  # few: counted exactly, in one query
        found = dict(
            session.execute(
                select(User.status, func.count())
                .where(User.id.in_(ids), *conditions)
                .group_by(User.status)
            ).all()
        )
        return {s.key: {"count": found.get(int(s), 0), "more": False} for s in Status}
    # Read at most `budget` entries of each status's index, counting the matches among
    # them up to one past the cap (a common term stops early); where fewer matched, count
    # the entries read (the index alone), to tell whether the budget ran out.
    budget = SCAN_LIMIT // len(Status) if conditions else cap + 1
    values = {"term": _term_value(query)} if query.search else {}
    found = _counted(session, User, query, list(Status), budget, cap, conditions, values)
    unsure = [s for s, n in zip(Status, found, strict=True) if n <= cap] if conditions else []
    read = dict(zip(unsure, _counted(session, User, query, unsure, budget, None), strict=True))
    return {
        status.key: {"count": min(n, cap), "more": n > cap or read.get(status) == budget}
        for status, n in zip(Status, found, strict=True)
    }


def _counted(session, User, query, statuses, budget, cap, conditions=(), values=None) -> tuple:
    """For each status, how many of its first ``budget`` index entries match
    ``conditions``, counted up to ``cap + 1`` (with ``cap`` None: entries, all of them).
    One statement, built once for each shape."""
    if not statuses:
        return ()
    shape = ("counts", User, session.get_bind().dialect.name, bool(query.search),
             query.pending, tuple(statuses), budget, cap)  # fmt: skip
    statement = _statements.get(shape)
    if statement is None:
        counts = []
        for status in statuses:
            entries = select(User.id).where(User.status == int(status))
            entries = entries.order_by(User.status, User.id).limit(budget)
            if cap is not None:
                read = entries.add_columns(and_(True, *conditions).label("hit")).subquery()
                entries = select(read.c.id).where(read.c.hit).limit(cap + 1)
            counts.append(select(func.count()).select_from(entries.subquery()).scalar_subquery())
        statement = _statements[shape] = select(*counts)
    return tuple(session.execute(statement, values or {}).one())
