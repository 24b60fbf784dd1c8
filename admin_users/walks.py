"""The statements that read the Users list where no small set of ids holds the answer: a
walk of the sort index that tests each row, a scan bounded by a budget of index entries,
and the status counts' reads. :mod:`admin_users.planner` says which one a request takes.

Building a statement and its cache key costs more than SQLite takes to run a walk (0.3 ms
of a 3 ms search batch), so the statements of a walk and of the status counts are built
once for each shape and kept on the app's state; their values are named parameters,
bound at each run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, func, or_, select

from .keyset import order, ranges
from .sorts import BY_NAME
from .state import get_state

if TYPE_CHECKING:
    from .listing import ListQuery


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filters(User, query: ListQuery, *, status: bool = True) -> list:
    """The conditions that define the list: the search (one case-folded substring of
    the email, the customer id or the guest id), the status and the pending-requests
    filter."""
    conditions = []
    if query.search:
        term = bindparam("term", term_value(query))
        if get_state().db.engine.dialect.name == "sqlite":
            # Text and term are both case-folded: a plain substring test, faster than LIKE.
            conditions.append(func.instr(User.search_text, term) > 0)
        else:  # LIKE, which the trigram index answers
            conditions.append(User.search_text.like(term, escape="\\"))
    if status and query.status is not None:
        conditions.append(User.status == int(query.status))
    if query.pending:
        conditions.append(User.id.in_(pending_ids()))
    return conditions


def term_value(query: ListQuery) -> str:
    """The value of the search's ``term`` parameter: the case-folded term (SQLite's
    ``instr``), or a LIKE pattern."""
    term = query.search.casefold()
    if get_state().db.engine.dialect.name == "sqlite":
        return term
    return f"%{escape_like(term)}%"


def pending_ids():
    """The ids of the users with an open data request (a subquery)."""
    DataRequest = get_state().models.DataRequest
    return select(DataRequest.user_id).where(DataRequest.fulfilled_at.is_(None))


def conditions_after(User, query: ListQuery, after, as_of) -> list:
    """The conditions of the rows of ``query`` after ``after`` (None: from the top), for
    a list begun at ``as_of``."""
    found = filters(User, query)
    sort = BY_NAME[query.sort]
    if after is not None and sort.follows_activity and not query.desc:
        # A user active since the scroll began has moved to the end: never show them
        # twice. (Newest first, they moved above the cursor, out of reach already; and
        # a second upper bound there would make SQLite walk from the top.)
        found.append(sort.column(User) <= bindparam("as_of", as_of))
    return found


def _statements() -> dict:
    return get_state().caches.setdefault("statements", {})


def hits(session, User, query: ListQuery, part, budget: int, limit: int, after, as_of):
    """The first ``limit`` users matching ``query`` among the first ``budget`` rows of the
    range ``part`` (of those after ``after``), in order."""
    shape = ("walk", query.sort, query.desc, bool(query.search), query.status,
             query.pending, len(part), budget)  # fmt: skip
    statements = _statements()
    walk = statements.get(shape)
    if walk is None:
        column = BY_NAME[query.sort].column(User)
        wanted = and_(*conditions_after(User, query, after, as_of))
        read = (
            select(User.id, column.label("value"), wanted.label("hit"))
            .where(*part)
            .order_by(*order(column, User.id, query.desc))
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
        walk = statements[shape] = (
            select(User)
            .join(found, User.id == found.c.id)
            .order_by(*order(found.c.value, found.c.id, query.desc))
        )
    values = {"limit": limit, "as_of": as_of}
    if query.search:
        values["term"] = term_value(query)
    if after is not None:
        values["value"], values["last_id"] = after
    return session.scalars(walk, values).all()


def quick_walk(session, User, query: ListQuery, after, as_of, limit: int, budget: int):
    """A whole batch of matches among the first ``budget`` rows (of each range) after
    ``after``, or None: a common term is done here, without any index."""
    users = []
    for part in ranges(BY_NAME[query.sort].column(User), User.id, query.desc, after):
        users += hits(session, User, query, part, budget, limit - len(users), after, as_of)
        if len(users) == limit:
            return users
    return None


def scan(session, User, query: ListQuery, after, as_of, limit: int, budget: int):
    """Read the list in order from ``after``, at most ``budget`` index entries a range,
    keeping the rows that match ``query``: ``(users, where to go on)``, the latter None at
    the end of the list. The database does the reading and filtering."""
    column, desc = BY_NAME[query.sort].column(User), query.desc
    users, go_on = [], None
    for part in ranges(column, User.id, desc, after):
        found = hits(session, User, query, part, budget, limit - len(users), after, as_of)
        users += found
        if len(users) == limit:
            go_on = (getattr(found[-1], column.key), found[-1].id)
            break
        last_read = session.execute(_last_of(User, column, desc, part, budget)).first()
        if last_read is not None:  # the budget ran out inside this range
            go_on = tuple(last_read)
            break
    return users, go_on


def collect(session, User, query: ListQuery, after, as_of, limit: int, found, progress, settings):
    """One step of a collecting search: the term's users of the next window of ids (from
    ``found``, :func:`admin_users.planner.term_ids`), the first ``limit`` of them after
    ``after`` kept with those kept before. ``(users, progress)``: users None while there
    are windows left (the next one sized to hold about ``settings.collect_batch`` of the
    term's users); at the last, the first ``limit`` users of the list, in order; progress
    None where the term's users left would be over ``settings.collect_limit``: scan instead.

    Each user of the term is read once, by its key: the cost is the term's users, not how
    far down the order they sit (a walk's cost)."""
    next_id, window, last_id, best = progress.collect
    ids, id_column = found
    column, desc = BY_NAME[query.sort].column(User), query.desc
    wanted = conditions_after(User, query, after, as_of)
    if after is not None:
        wanted.append(or_(*(and_(*part) for part in ranges(column, User.id, desc, after))))
    in_window = ids.where(id_column >= next_id, id_column < next_id + window)
    in_window = in_window.cte("collect_window")
    held = select(func.count()).select_from(in_window).scalar_subquery()
    first = session.execute(
        select(User.id, held)
        .join(in_window, User.id == in_window.c[0])
        .where(*wanted)
        .order_by(*order(column, User.id, desc))
        .limit(limit)
    ).all()
    kept = select(User).where(User.id.in_([*best, *(row[0] for row in first)]), *wanted)
    kept = kept.order_by(*order(column, User.id, desc)).limit(limit)
    next_id += window
    if next_id > last_id:
        return session.scalars(kept).all(), None
    best = tuple(session.scalars(kept.with_only_columns(User.id)).all())
    held = first[0][1] if first else 0  # (no row kept: fewer, but still a fair guess)
    if held * (last_id - next_id + 1) / window > settings.collect_limit:
        return None, None
    window = max(1, int(window * min(4.0, max(0.25, settings.collect_batch / max(held, 1)))))
    return None, (next_id, window, last_id, best)


def _last_of(User, column, desc: bool, part, budget: int):
    """The ``budget``-th ``(value, id)`` of a range, if it has that many rows: where a
    scan of ``budget`` rows stopped. OFFSET steps over the index entries without sorting
    or keeping them (reading them back in reverse order cost more than the scan)."""
    span = select(column, User.id).where(*part).order_by(*order(column, User.id, desc))
    return span.offset(budget - 1).limit(1)


def count_by_status(session, User, query, statuses, budget, cap, conditions=(), values=None):
    """For each status, how many of its first ``budget`` index entries match
    ``conditions``, counted up to ``cap + 1`` (with ``cap`` None: entries, all of them).
    One statement, built once for each shape."""
    if not statuses:
        return ()
    shape = ("counts", bool(query.search), query.pending, tuple(statuses), budget, cap)
    statements = _statements()
    statement = statements.get(shape)
    if statement is None:
        counts = []
        for status in statuses:
            entries = select(User.id).where(User.status == int(status))
            entries = entries.order_by(User.status, User.id).limit(budget)
            if cap is not None:
                read = entries.add_columns(and_(True, *conditions).label("hit")).subquery()
                entries = select(read.c.id).where(read.c.hit).limit(cap + 1)
            counts.append(select(func.count()).select_from(entries.subquery()).scalar_subquery())
        statement = statements[shape] = select(*counts)
    return tuple(session.execute(statement, values or {}).one())
