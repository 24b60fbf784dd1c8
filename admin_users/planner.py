"""Which way the Users list reads a request, and why: :func:`plan`, for a batch of rows
(``listing.fetch_batch``) and for the status counts (``listing.status_counts``) alike.

A search is one substring, and no single way of reading is fast for every term: a
trigram index is fast for a rare term and slow for a common one (it collects every
candidate before sorting them), and walking the sort index, testing each row, is the
opposite. So a request takes one of five ways, by what is known of its term. The figures
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
    order), a batch reads at most ``scan_limit`` (20,000) entries of the sort index, and
    its cursor says where it stopped: a term in 1% of users spread over the order finds
    its 30 there. Its stop is found by stepping over the entries (``OFFSET`` within the
    budget), not by sorting them again, which cost more than the scan itself.
collecting
    A scan that left its batch short means the term's users sit far from the cursor,
    where a walk costs what it reads before them (``ë``, in 4% of users, all past the
    800,000th by email: 168 requests of 5,000 entries, 1.2 s). Then the next requests read
    the term's users from its index instead (SQLite's FTS5, which reads a range of ids
    alone), one window of ids at a time (the first
    1/``collect_windows`` of the ids, then windows sized to hold about ``collect_batch``,
    5,000, of them), each by its key, keeping the first 30 after the cursor; after the
    last window those 30 are the batch. The cost is the term's users, wherever they sit,
    and each request stays bounded. Where the term's users seen so far say there are
    more than ``collect_limit`` (60,000), the scan goes on instead: 12 requests of
    collecting cost about what 20 scans do. The cursor carries what the search has learned
    (:class:`Progress`), so no request finds it out again.

A short term's verdict comes before any walk where it is cheap: PostgreSQL's statistics of
the index of short terms (read again after ``stats_age``, 600 s) tell a common term from a
rare one, since collecting 15,000 users of a million would cost 6 ms. SQLite's vocabulary
of trigrams bounds a term's users from its counts (stopping at twice the probe limit for
two characters, four times for one); a term it found common is remembered ``stats_age``
seconds, for at most ``common_terms`` (10,000) terms, and its next batches skip the quick
walk (``aa``: 2.1-2.9 ms a batch, then 1.2-1.8).

The status counts plan the query without its status filter, from the top of the default
order: candidates are counted exactly, in one grouped query; otherwise one statement reads
at most ``count_limit`` entries in all (1,250 of each status: 2.3-2.6 ms, where reading
5,000 of each took 7.1-7.5), and stops counting a status one past ``status_count_cap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import column, func, literal_column, select, table

from . import search, walks
from .models import MAX_ID
from .state import get_state

if TYPE_CHECKING:
    from .listing import ListQuery
    from .state import State

INDEX_WALK = "index walk"
QUICK_WALK = "quick walk"
CANDIDATES = "candidates"
BOUNDED_SCAN = "bounded scan"
COLLECTING = "collecting"


@dataclass(frozen=True)
class PlanSettings:
    """The figures that choose a plan, one set per app: ``AdminUsers(plan_settings=...)``
    or the ``ADMIN_USERS_PLAN_SETTINGS`` key. The defaults are those measured above."""

    quick_walk: int = 300  # rows a search tests before it asks an index
    probe_limit: int = 2000  # a term found in fewer users is read through its index
    scan_limit: int = 20_000  # index entries a request reads at most where no index answers
    count_limit: int = 5000  # index entries the status counts read at most (a quarter each)
    collect_windows: int = 32  # collecting first reads the term's users in 1/32 of the ids
    collect_batch: int = 5000  # ... then about this many of them a request
    collect_limit: int = 60_000  # collecting gives up on a term in more users (0: never)
    stats_age: float = 600  # seconds a remembered common term, or PostgreSQL's statistics, hold
    common_terms: int = 10_000  # short terms SQLite remembers as common, at most
    status_count_cap: int = 1000  # status counts are exact up to this, "1,000+" beyond


@dataclass(frozen=True)
class Plan:
    """The way a request reads (one of the five above) and why."""

    way: str
    reason: str  # e.g. "term found in 812 users < probe limit 2,000"
    ids: list[int] | None = None  # candidates: ids that hold every match
    users: list | None = None  # quick walk: the batch it found
    progress: Progress | None = None  # what the search knows so far, for the next cursor


@dataclass(frozen=True)
class Progress:
    """What a search has learned, carried in its cursor from one batch to the next, so
    that no request finds it out again (no state is kept between requests).

    ``many``: the term's index holds ``probe_limit`` users or more, so the next batches
    skip that probe. ``collect``: a collecting search's ``(next id, window, last id,
    best ids)``: the term's users below ``next id`` are read, and ``best ids`` are the
    first of them in the list's order. ``scan_only``: collecting gave up."""

    many: bool = False
    collect: tuple[int, int, int, tuple[int, ...]] | None = None
    scan_only: bool = False

    def dumps(self) -> list:
        collect = None if self.collect is None else [*self.collect[:3], list(self.collect[3])]
        return [int(self.many), collect, int(self.scan_only)]

    @classmethod
    def loads(cls, value) -> Progress:
        """From :meth:`dumps`; ValueError or TypeError on anything else (a bad cursor)."""
        many, collect, scan_only = value
        if collect is not None:
            next_id, window, last_id, best = collect
            numbers = [next_id, window, last_id, *best]
            if any(type(n) is not int or not 0 <= n <= MAX_ID for n in numbers) or window < 1:
                raise ValueError("not a collecting position")
            collect = (next_id, window, last_id, tuple(best))
        if many not in (0, 1) or scan_only not in (0, 1):
            raise ValueError("not a search's progress")
        return cls(bool(many), collect, bool(scan_only))


def plan(query: ListQuery, after=None, as_of=None, *, limit: int, progress=None) -> Plan:
    """The way to read ``limit`` rows of ``query`` after ``after`` (``(value, id)``, None:
    from the top) in a list begun at ``as_of``, knowing what the search's cursor carried
    (``progress``, a :class:`Progress`).

    Finding it out may read: a quick walk's batch (then in the plan), an index's ids.
    """
    state = get_state()
    settings = state.plan_settings
    progress = progress or Progress()
    if not (query.search or query.pending):
        if query.status is None:
            return Plan(INDEX_WALK, "no search or filter: every row of the sort index is listed")
        return Plan(BOUNDED_SCAN, "a status filter alone: no index narrows the sort index")
    if progress.collect is not None:
        return Plan(COLLECTING, "the term's users read window by window", progress=progress)
    walked = ""
    if query.search and not query.pending and not _known(state, query):
        session, User = state.db.session, state.models.User
        users = walks.quick_walk(session, User, query, after, as_of, limit, settings.quick_walk)
        if users is not None:
            return Plan(
                QUICK_WALK,
                f"{limit} matches within {settings.quick_walk:,} rows",
                users=users,
                progress=progress,
            )
        walked = f"not {limit} matches within {settings.quick_walk:,} rows; "
    if progress.many:
        why = f"term found in {settings.probe_limit:,} users or more (known from the last batch)"
        return Plan(BOUNDED_SCAN, walked + why, progress=progress)
    ids, why = _probe(state, query)
    if ids is None:
        return Plan(BOUNDED_SCAN, walked + why, progress=Progress(many=query.search != ""))
    return Plan(CANDIDATES, walked + why, ids=ids)


def start_collecting(query: ListQuery, progress: Progress) -> Progress:
    """What the cursor of a bounded scan that left its batch short carries next: begin
    collecting the term's users from its index, where one answers and collecting has not
    given up on this search; else scan on."""
    state = get_state()
    settings = state.plan_settings
    # Not on PostgreSQL: its trigram index cannot be read by a range of ids, so each
    # window would recheck every user of the term (57-110 ms a window for `.ga`, in 5%).
    if progress.scan_only or not settings.collect_limit:
        return progress
    if state.db.engine.dialect.name != "sqlite" or term_ids(state, query) is None:
        return progress
    User = state.models.User
    last_id = state.db.session.scalar(select(func.max(User.id))) or 0
    window = max(1, -(-(last_id + 1) // settings.collect_windows))
    return Progress(many=True, collect=(0, window, last_id, ()))


def term_ids(state: State, query: ListQuery):
    """``(statement, id column)``: the ids of the users whose search text holds the
    term, read from the search index alone (the caller narrows the ids and limits them);
    None where no index here answers the term so (PostgreSQL's short terms are
    :func:`admin_users.search.short_term_ids`), or the list has no term."""
    if not query.search or query.pending:
        return None
    session, User = state.db.session, state.models.User
    connection, table_name = session.connection(), User.__tablename__
    term, dialect = query.search.casefold(), connection.dialect.name
    if dialect == "sqlite":
        s = search.index_name(table_name)
        if len(term) >= 3:
            if not search.available(connection, table_name, quiet=True):
                return None
            phrase = '"' + term.replace('"', '""') + '"'
        elif term != term.lower() or not search.current(connection, table_name):
            return None  # the index folds case as str.lower() does, not as str.casefold()
        else:
            phrase, _ = search.sqlite_phrases(connection, table_name, term)
            if not phrase:
                return None
        fts = table(s, column("rowid"))
        return select(fts.c.rowid).where(literal_column(s).op("MATCH")(phrase)), fts.c.rowid
    if dialect == "postgresql" and len(term) >= 3:
        if search.available(connection, table_name, quiet=True, remember=True):
            # LIKE, which pg_trgm answers
            return select(User.id).where(*walks.filters(User, query, status=False)), User.id
    return None


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
    else:
        found = term_ids(state, query)
        if found is None:
            return None, "no trigram index: the term is tested on every row read"
        ids = found[0]
    return search.probed(session.scalars(ids.limit(limit)).all(), limit, what)
