"""The Users list: search, status filter, sort and keyset pagination.

One implementation for the admin's list, its batch endpoint and ``flask admin-users
list``. A batch is found by walking the index of the sort column from the cursor on
(``(value, id)`` after the last row shown): no OFFSET, no COUNT. Which way a request
reads is :func:`admin_users.planner.plan`'s to say; the sorts are
:data:`admin_users.sorts.SORT_TABLE`'s.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from . import counters, walks
from .errors import BadListRequest, SelectionChanged
from .keyset import CursorFormat, keyset_rows, row_id
from .models import Status, utcnow
from .planner import (
    CANDIDATES,
    COLLECTING,
    INDEX_WALK,
    QUICK_WALK,
    Plan,
    Progress,
    plan,
    start_collecting,
    term_ids,
)
from .sorts import BY_NAME, DEFAULT_SORT, SORTS
from .state import get_state

__all__ = [
    "SORTS",
    "BadListRequest",
    "Batch",
    "ListQuery",
    "fetch_batch",
    "iterate",
    "make_cursor",
    "read_cursor",
    "status_counts",
]

MAX_SEARCH_LENGTH = 200
CURSOR = CursorFormat(
    "admin-users.list-cursor", "This list position is not valid; reload the list."
)
# Whether a term is common, for the status counts: a first page of its matches within
# the quick walk from the top of the default order.
COMMON_PAGE = 30


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
            desc = BY_NAME[sort].first_desc if desc in (None, "") else desc == "1"
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
        desc = not self.desc if sort == self.sort else BY_NAME[sort].first_desc
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
    plan: Plan | None = None  # how it was read, and why


# -- cursors ------------------------------------------------------------------------------


def make_cursor(
    query: ListQuery, value, user_id: int, as_of: datetime, progress: Progress | None = None
) -> str:
    """An opaque position in the list: just after the row ``(value, user_id)``, with what
    the search knows so far (``progress``). Times go as ISO 8601 and collation keys as
    hex; the sort's ``decode`` reads them back."""
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, bytes | memoryview):
        value = bytes(value).hex()
    known = [progress.dumps()] if progress not in (None, Progress()) else []
    return CURSOR.dumps(query.fingerprint, value, user_id, as_of.isoformat(), *known)


def read_cursor(query: ListQuery, token: str):
    """``(value, id, as_of, progress)`` from a cursor made for this very query; else
    BadListRequest."""
    decode = BY_NAME[query.sort].decode

    def read(fingerprint, value, user_id, as_of, progress=None):
        progress = Progress() if progress is None else Progress.loads(progress)
        return fingerprint, decode(value), row_id(user_id), datetime.fromisoformat(as_of), progress

    fingerprint, value, user_id, as_of, progress = CURSOR.loads(token, read)
    if fingerprint != query.fingerprint:
        raise BadListRequest("This list position belongs to another search or sort.")
    return value, user_id, as_of, progress


# -- batches ------------------------------------------------------------------------------


def fetch_batch(query: ListQuery, cursor: str | None = None, limit: int | None = None) -> Batch:
    """The next users of the list after ``cursor`` (the first ones without).

    Usually ``limit`` users, in order, read the way :func:`~admin_users.planner.plan`
    says. After a bounded scan, or while collecting, the batch may hold fewer, and its
    cursor says where the reading stopped, so that scrolling goes on from there.
    """
    state = get_state()
    session, User = state.db.session, state.models.User
    limit = limit or current_app.config["ADMIN_USERS_PAGE_SIZE"]
    column = BY_NAME[query.sort].column(User)
    after, progress = None, None
    if cursor is None:
        as_of = utcnow()
    else:
        value, last_id, as_of, progress = read_cursor(query, cursor)
        after = (value, last_id)
    how = plan(query, after, as_of, limit=limit, progress=progress)
    progress, last = how.progress, None
    if how.way == QUICK_WALK:
        users = how.users
    elif how.way in (INDEX_WALK, CANDIDATES):
        conditions = walks.conditions_after(User, query, after, as_of)
        if how.ids is not None:
            conditions.append(User.id.in_(how.ids))  # read these few rows by their key
        statement = select(User).where(*conditions)
        users = keyset_rows(session, statement, column, User.id, query.desc, after, limit)
    elif how.way == COLLECTING:
        found = term_ids(state, query)
        users, step = None, None  # no index now (dropped meanwhile): scan instead
        if found is not None:
            users, step = walks.collect(
                session, User, query, after, as_of, limit, found, progress, state.plan_settings
            )
        if users is None:  # windows left, or collecting gave up: on from the same place
            if step is None:
                progress = Progress(many=True, scan_only=True)
            else:
                progress = Progress(many=True, collect=step)
            return Batch([], make_cursor(query, *after, as_of, progress), how)
        progress = Progress(many=True)
    else:
        budget = state.plan_settings.scan_limit
        users, last = walks.scan(session, User, query, after, as_of, limit, budget)
        if last is not None and len(users) < limit and progress is not None:
            progress = start_collecting(query, progress)
    if last is None and len(users) == limit:  # a whole batch: the list goes on after it
        last = (getattr(users[-1], column.key), users[-1].id)
    return Batch(users, make_cursor(query, *last, as_of, progress) if last else None, how)


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


MATCHING_LIMIT = 10_000  # the most users one bulk action on "all matching" may change


def matching_ids(query: ListQuery, typed) -> list[int]:
    """The ids of every user of the list, for a bulk action on "all N matching": only
    where N is exact, at most ``MATCHING_LIMIT``, and what the admin typed."""
    n = listed(query, status_counts(query))
    if n["more"] or n["count"] > MATCHING_LIMIT:
        raise SelectionChanged(
            f"All matching users can be chosen only up to {MATCHING_LIMIT:,} counted exactly."
        )
    ids = [user.id for user in iterate(query, limit=MATCHING_LIMIT + 1)]
    if str(typed).replace(",", "").strip() != str(len(ids)):  # "1,234" as the page shows it
        raise SelectionChanged(
            f"The list holds {len(ids):,} users, not {typed}: nobody was deactivated."
        )
    return ids


def status_counts(query: ListQuery, cap: int | None = None) -> dict[str, dict]:
    """Users per status for the current search and filters: ``{"count": n, "more": bool}``.

    Without a search or the pending filter, the counts kept beside the users
    (:mod:`admin_users.counters`), exact. Otherwise exact up to ``cap``
    (``PlanSettings.status_count_cap``); ``more`` means "at least ``count``": beyond the
    cap, or where a term no index answers would need more index entries read than a
    batch reads (``count_limit``, a quarter of them for each status).
    """
    state = get_state()
    session, User = state.db.session, state.models.User
    if not query.search and not query.pending:  # every user: the counts kept, exact
        kept = counters.totals(session, state.models.StatusCount)
        return {status.key: {"count": n, "more": False} for status, n in kept.items()}
    cap = state.plan_settings.status_count_cap if cap is None else cap
    conditions = walks.filters(User, query, status=False)
    unfiltered = ListQuery(search=query.search, pending=query.pending)
    how = plan(unfiltered, limit=COMMON_PAGE)
    if how.way == CANDIDATES:  # few: counted exactly, in one query
        found = dict(
            session.execute(
                select(User.status, func.count())
                .where(User.id.in_(how.ids), *conditions)
                .group_by(User.status)
            ).all()
        )
        return {s.key: {"count": found.get(int(s), 0), "more": False} for s in Status}
    # Read at most `budget` entries of each status's index, counting the matches among
    # them up to one past the cap (a common term stops early); where fewer matched, count
    # the entries read (the index alone), to tell whether the budget ran out.
    budget = state.plan_settings.count_limit // len(Status) if conditions else cap + 1
    values = {"term": walks.term_value(query)} if query.search else {}
    found = walks.count_by_status(
        session, User, query, list(Status), budget, cap, conditions, values
    )
    unsure = [s for s, n in zip(Status, found, strict=True) if n <= cap] if conditions else []
    read = walks.count_by_status(session, User, query, unsure, budget, None)
    read = dict(zip(unsure, read, strict=True))
    return {
        status.key: {"count": min(n, cap), "more": n > cap or read.get(status) == budget}
        for status, n in zip(Status, found, strict=True)
    }


def total(counts: dict[str, dict]) -> dict:
    """All users of :func:`status_counts`: exact where each count is, else "at least"."""
    return {
        "count": sum(count["count"] for count in counts.values()),
        "more": any(count["more"] for count in counts.values()),
    }


def listed(query: ListQuery, counts: dict[str, dict]) -> dict:
    """How many users the list of ``query`` holds, from its :func:`status_counts`."""
    return counts[query.status.key] if query.status is not None else total(counts)
