"""Which way the Users list reads a request, and why: :func:`plan`, for a batch of rows
(``listing.fetch_batch``) and for the status counts (``listing.status_counts``) alike.

A search is one substring, and no single way of reading is fast for every term: a
trigram index is fast for a rare term and slow for a common one (it collects every
candidate before sorting them), and walking the sort index, testing each row, is the
opposite. So a request takes one of four ways, by what is known of its term. The figures
that choose are :class:`PlanSettings`; the times are ``bench/run.py``'s at 1,000,000
users on SQLite (docs/performance.md has their history).

index walk
    No search and no filter: the sort column's index read from the cursor on, every row
    in the list (a batch of 30 in 2.0-4.6 ms, at any depth).
quick walk
    A term not known to be common or rare first tests the first ``quick_walk`` (300) rows
    of the list's order after the cursor: a common term (``example``, in 64% of users)
    finds its batch there, in 2.6-3.4 ms, and no index is asked.
candidates
    Otherwise the term's index is probed for fewer than ``probe_limit`` (2,000) users:
    the trigram index (FTS5 on SQLite, ``pg_trgm`` on PostgreSQL) for three characters or
    more, the index of short terms for one or two. Those users are read by their key and
    sorted: a rare term in 3.6-4.0 ms, where plain Flask-Admin takes 3,828. Users with a
    pending data request are few, and read the same way.
bounded scan
    Where nothing narrows the list (a status filter alone; a term in 2,000 users or more
    whose batch is not in the first 300 rows: the middle band, or users late in the
    order), a batch reads at most ``scan_limit`` (5,000) entries of the sort index, and
    its cursor says where it stopped. Each request stays around 10 ms however many it
    takes: ``ë``, in 4% of users, all past the 800,000th by email, takes 168 of 6.9 ms.

A short term's verdict comes before any walk where it is cheap: PostgreSQL's statistics of
the index of short terms (read again after ``stats_age``, 600 s) tell a common term from a
rare one, since collecting 15,000 users of a million would cost 6 ms. SQLite's vocabulary
of trigrams bounds a term's users from its counts (stopping at twice the probe limit for
two characters, four times for one); a term it found common is remembered ``stats_age``
seconds, for at most ``common_terms`` (10,000) terms, and its next batches skip the quick
walk (``aa``: 2.1-2.9 ms a batch, then 1.2-1.8).

The status counts plan the query without its status filter, from the top of the default
order: candidates are counted exactly, in one grouped query; otherwise one statement reads
at most ``scan_limit`` entries in all (1,250 of each status: 2.3-2.6 ms, where reading
5,000 of each took 7.1-7.5), and stops counting a status one past ``status_count_cap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import column, literal_column, select, table

from . import search, walks
from .state import get_state

if TYPE_CHECKING:
    from .listing import ListQuery
    from .state import State

INDEX_WALK = "index walk"
QUICK_WALK = "quick walk"
CANDIDATES = "candidates"
BOUNDED_SCAN = "bounded scan"


@dataclass(frozen=True)
class PlanSettings:
    """The figures that choose a plan, one set per app: ``AdminUsers(plan_settings=...)``
    or the ``ADMIN_USERS_PLAN_SETTINGS`` key. The defaults are those measured above."""

    quick_walk: int = 300  # rows a search tests before it asks an index
    probe_limit: int = 2000  # a term found in fewer users is read through its index
    scan_limit: int = 5000  # index entries a request reads at most where no index answers
    stats_age: float = 600  # seconds a remembered common term, or PostgreSQL's statistics, hold
    common_terms: int = 10_000  # short terms SQLite remembers as common, at most
    status_count_cap: int = 1000  # status counts are exact up to this, "1,000+" beyond


@dataclass(frozen=True)
class Plan:
    """The way a request reads (one of the four above) and why."""

    way: str
    reason: str  # e.g. "term found in 812 users < probe limit 2,000"
    ids: list[int] | None = None  # candidates: ids that hold every match
    users: list | None = None  # quick walk: the batch it found


def plan(query: ListQuery, after=None, as_of=None, *, limit: int) -> Plan:
    """The way to read ``limit`` rows of ``query`` after ``after`` (``(value, id)``, None:
    from the top) in a list begun at ``as_of``.

    Finding it out may read: a quick walk's batch (then in the plan), an index's ids.
    """
    state = get_state()
    settings = state.plan_settings
    if not (query.search or query.pending):
        if query.status is None:
            return Plan(INDEX_WALK, "no search or filter: every row of the sort index is listed")
        return Plan(BOUNDED_SCAN, "a status filter alone: no index narrows the sort index")
    walked = ""
    if query.search and not query.pending and not _known(state, query):
        session, User = state.db.session, state.models.User
        users = walks.quick_walk(session, User, query, after, as_of, limit, settings.quick_walk)
        if users is not None:
            return Plan(
                QUICK_WALK, f"{limit} matches within {settings.quick_walk:,} rows", users=users
            )
        walked = f"not {limit} matches within {settings.quick_walk:,} rows; "
    ids, why = _probe(state, query)
    if ids is None:
        return Plan(BOUNDED_SCAN, walked + why)
    return Plan(CANDIDATES, walked + why, ids=ids)


def candidates(query: ListQuery) -> list[int] | None:
    """Fewer than ``probe_limit`` user ids that hold every match of ``query``'s search or
    pending filter, from an index; None where none tells them cheaply."""
    return _probe(get_state(), query)[0]


def _known(state: State, query: ListQuery) -> bool:
    """Whether the index of short terms tells whether the term is common without reading
    its users, so that the walk which would find it out need not come first."""
    term = query.search.casefold()
    if len(term) >= 3:
        return False
    connection = state.db.session.connection()
    return search.known(connection, state.models.User.__tablename__, term, state.plan_settings)


def _probe(state: State, query: ListQuery) -> tuple[list[int] | None, str]:
    """``(ids, why)``: the ids of :func:`candidates`, and what the index said."""
    session, User, limit = state.db.session, state.models.User, state.plan_settings.probe_limit
    term = query.search.casefold()
    what = "term"
    if query.pending:
        ids, what = walks.pending_ids().distinct(), "pending data requests"
    elif len(term) < 3:
        connection = session.connection()
        return search.short_term_ids(connection, User.__tablename__, term, state.plan_settings)
    elif search.available(session.connection(), User.__tablename__, remember=True):
        if session.get_bind().dialect.name == "sqlite":
            fts = table(search.index_name(User.__tablename__), column("rowid"))
            phrase = '"' + term.replace('"', '""') + '"'
            ids = select(fts.c.rowid).where(literal_column(fts.name).op("MATCH")(phrase))
        else:
            ids = select(User.id).where(*walks.filters(User, query, status=False))
    else:
        return None, "no trigram index: the term is tested on every row read"
    return search.probed(session.scalars(ids.limit(limit)).all(), limit, what)
