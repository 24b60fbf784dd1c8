"""The trigram index behind search: FTS5 on SQLite, ``pg_trgm`` on PostgreSQL.

Both index the users' ``search_text`` (email, customer id and guest id, case-folded), so that a
substring of three characters or more finds its users without reading the table. A term
of one or two characters is found too. On SQLite, each indexed text ends with two
newlines, so every character of it begins a trigram, and the users holding the term are
those of the trigrams that begin with it (listed by a vocabulary table). On PostgreSQL,
whose trigram index cannot answer such terms, a second GIN index holds every substring of
one or two characters of each text.
``init-db`` and the migrations create these objects through :func:`create`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app, has_app_context
from sqlalchemy import text

if TYPE_CHECKING:
    from .planner import PlanSettings

log = logging.getLogger(__name__)


@dataclass
class Memory:
    """What search remembers of one app's database, kept on the app's state (its
    ``caches``): facts that cost more to look up than a search takes. Keyed by index."""

    warned: set[str] = field(default_factory=set)  # indexes found missing (logged once)
    seen: set[str] = field(default_factory=set)  # PostgreSQL indexes found, taken to stay
    # The index of short terms: (when read, its most common substrings with their share
    # of users, the number of users), from PostgreSQL's statistics, read again after
    # PlanSettings.stats_age seconds.
    statistics: dict[str, tuple[float, dict[str, float], float]] = field(default_factory=dict)
    # {index: {short term: when SQLite's index found it common}}. Finding that out reads
    # the counts of its trigrams, and a search first walks PlanSettings.quick_walk rows to
    # see whether it can skip that, so the verdict is kept stats_age seconds, for at most
    # PlanSettings.common_terms terms.
    common: dict[str, dict[str, float]] = field(default_factory=dict)


def _memory() -> Memory:
    """The current app's memory; outside an app (a host's own migration), an empty one
    that is then forgotten."""
    state = current_app.extensions.get("admin_users") if has_app_context() else None
    if state is None:
        return Memory()
    memory = state.caches.get("search")
    if memory is None:
        memory = state.caches["search"] = Memory()
    return memory


# What the SQLite index holds of a user: the search text and two newlines (which a search
# term cannot contain), so that each of its characters begins a trigram.
DOCUMENT = "{}.search_text || char(10, 10)"


def index_name(user_table: str) -> str:
    return f"{user_table}_search"


def object_names(user_table: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(tables, indexes)``: the search objects of ``user_table`` that a schema comparison
    sees, SQLite's FTS5 table with its shadow and vocabulary tables and PostgreSQL's GIN
    indexes. Made by :func:`create`'s raw DDL, they look like drift to autogenerate."""
    s = index_name(user_table)
    shadows = ("data", "idx", "docsize", "config", "content", "vocab")
    return frozenset({s, *(f"{s}_{shadow}" for shadow in shadows)}), frozenset({s, f"{s}_grams"})


def statements(dialect: str, user_table: str) -> tuple[list[str], list[str]]:
    """``(create, drop)`` statements of the search objects for this database."""
    t, s = user_table, index_name(user_table)
    if dialect == "sqlite":
        new, old = DOCUMENT.format("new"), DOCUMENT.format("old")
        insert = f"INSERT INTO {s}(rowid, search_text) VALUES (new.id, {new});"
        delete = f"INSERT INTO {s}({s}, rowid, search_text) VALUES ('delete', old.id, {old});"
        create = [
            # External content: the rows are the users', and only rowids are read back.
            f"CREATE VIRTUAL TABLE {s} USING fts5(search_text, content='{t}', "
            "content_rowid='id', tokenize='trigram')",
            f"CREATE VIRTUAL TABLE {s}_vocab USING fts5vocab({s}, row)",
            f"CREATE TRIGGER {s}_insert AFTER INSERT ON {t} BEGIN {insert} END",
            f"CREATE TRIGGER {s}_delete AFTER DELETE ON {t} BEGIN {delete} END",
            f"CREATE TRIGGER {s}_update AFTER UPDATE OF search_text ON {t} BEGIN "
            f"{delete} {insert} END",
            # Filled in one go, then merged once: faster than merging as it grows.
            f"INSERT INTO {s}({s}, rank) VALUES ('automerge', 0)",
            fill(user_table),
            f"INSERT INTO {s}({s}) VALUES ('optimize')",
            f"INSERT INTO {s}({s}, rank) VALUES ('automerge', 4)",
        ]
        drop = [
            f"DROP TRIGGER IF EXISTS {s}_insert",
            f"DROP TRIGGER IF EXISTS {s}_delete",
            f"DROP TRIGGER IF EXISTS {s}_update",
            f"DROP TABLE IF EXISTS {s}_vocab",
            f"DROP TABLE IF EXISTS {s}",
        ]
        return create, drop
    if dialect == "postgresql":
        create = [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            f"CREATE INDEX {s} ON {t} USING gin (search_text gin_trgm_ops)",
            # Every substring of one or two characters, for the terms pg_trgm cannot answer.
            f"CREATE FUNCTION {s}_grams(text) RETURNS text[] LANGUAGE sql IMMUTABLE "
            "PARALLEL SAFE AS $$ SELECT ARRAY("
            "SELECT substr($1, i, 1) FROM generate_series(1, length($1)) AS i UNION "
            "SELECT substr($1, i, 2) FROM generate_series(1, length($1) - 1) AS i) $$",
            f"CREATE INDEX {s}_grams ON {t} USING gin ({s}_grams(search_text))",
            # Its statistics tell the common terms (whose users are not collected first);
            # otherwise they wait for autovacuum, which may not analyze a quiet table.
            f"ANALYZE {t}",
        ]
        drop = [
            f"DROP INDEX IF EXISTS {s}_grams",
            f"DROP FUNCTION IF EXISTS {s}_grams(text)",
            f"DROP INDEX IF EXISTS {s}",
        ]
        return create, drop
    return [], []


def fill(user_table: str) -> str:
    """The statement that indexes every user (into an empty SQLite index)."""
    s = index_name(user_table)
    return (
        f"INSERT INTO {s}(rowid, search_text) "
        # In id order: else SQLite reads whichever covering index it picks (6x slower).
        f"SELECT id, {DOCUMENT.format(user_table)} FROM {user_table} ORDER BY id"
    )


def available(connection, user_table: str, *, quiet: bool = False, remember: bool = False) -> bool:
    """Whether this database has the trigram index (logged once when it has not).

    With ``remember``, a PostgreSQL index once seen is taken to be there from then on:
    the catalog query costs more than a search, and should the index go, the same
    search still runs, only slower."""
    dialect = connection.dialect.name
    name = index_name(user_table)
    if dialect == "sqlite":
        found = _sqlite_table(connection, name)
    else:
        found = dialect == "postgresql" and _pg_index(connection, name, remember)
    warned = _memory().warned
    if not found and not quiet and name not in warned:
        warned.add(name)
        log.warning("admin-users: no trigram index %s; search reads the table instead", name)
    return found


def current(connection, user_table: str) -> bool:
    """Whether the search objects are there, as this version makes them: with what answers
    terms of one or two characters (SQLite's vocabulary table, PostgreSQL's second index)."""
    if not available(connection, user_table, quiet=True):
        return False
    if connection.dialect.name == "sqlite":
        return _sqlite_table(connection, f"{index_name(user_table)}_vocab")
    return _pg_index(connection, f"{index_name(user_table)}_grams")


def _pg_index(connection, name: str, remember: bool = False) -> bool:
    seen = _memory().seen
    if remember and name in seen:
        return True
    found = connection.execute(
        text("SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": name}
    ).first()
    if found is not None:
        seen.add(name)
    return found is not None


def _sqlite_table(connection, name: str) -> bool:
    found = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).first()
    return found is not None


def create(connection, user_table: str) -> bool:
    """Create the search objects (filled from the table); False where this database or
    SQLite build cannot have them, in which case search falls back to reading the table."""
    create_sql, drop_sql = statements(connection.dialect.name, user_table)
    if not create_sql:
        return False
    _memory().common.pop(index_name(user_table), None)
    try:
        with connection.begin_nested():
            for statement in drop_sql + create_sql:
                connection.exec_driver_sql(statement)
    except Exception as error:  # e.g. SQLite without FTS5 or without its trigram tokenizer
        log.warning(
            "admin-users: cannot create the trigram index (%s); search will read the table instead",
            error,
        )
        return False
    return True


def update(connection, user_table: str) -> None:
    """Create the search objects unless they are there as this version makes them: for a
    new database, or over those an earlier version made."""
    if not current(connection, user_table):
        create(connection, user_table)


def drop(connection, user_table: str) -> None:
    for statement in statements(connection.dialect.name, user_table)[1]:
        connection.exec_driver_sql(statement)


def purge(connection, user_table: str) -> None:
    """Rewrite the index so that deleted entries leave nothing behind (after an erasure).

    FTS5 keeps a deleted row's terms in older segments until they are merged; merging
    them all into one drops them for good. PostgreSQL's GIN entries go with VACUUM.
    """
    if connection.dialect.name == "sqlite":
        s = index_name(user_table)
        if _sqlite_table(connection, s):
            connection.exec_driver_sql(f"INSERT INTO {s}({s}) VALUES ('optimize')")


def probed(ids: list[int], limit: int, what: str = "term") -> tuple[list[int] | None, str]:
    """``(ids, why)``: the ids read (at most ``limit``) when fewer than ``limit``, which
    are then every match; else None."""
    if len(ids) < limit:
        users = f"{len(ids):,} user" + ("" if len(ids) == 1 else "s")
        return ids, f"{what} found in {users} < probe limit {limit:,}"
    return None, f"{what} found in {limit:,} users or more (probe limit {limit:,})"


def short_term_ids(
    connection, user_table: str, term: str, settings: PlanSettings
) -> tuple[list[int] | None, str]:
    """``(ids, why)``: fewer than ``settings.probe_limit`` ids holding every user whose
    search text contains ``term`` (one or two characters, case-folded), from the index;
    None where it cannot tell cheaply: the term is common, or there is no such index (one
    made by an earlier version)."""
    if connection.dialect.name == "postgresql":
        return _pg_short_term_ids(connection, user_table, term, settings)
    if connection.dialect.name != "sqlite" or term != term.lower():
        # The index folds case as str.lower() does, not as str.casefold().
        return None, "no index of short terms folds this term's case"
    s, limit = index_name(user_table), settings.probe_limit
    if known(connection, user_table, term, settings):
        return None, f"remembered common (found so in the last {settings.stats_age:,} s)"
    if not _sqlite_table(connection, f"{s}_vocab"):
        return None, "no index of short terms (one made by an earlier version)"
    phrases, why = sqlite_phrases(connection, user_table, term, limit)
    if phrases is None:
        common = _memory().common.setdefault(s, {})
        if len(common) >= settings.common_terms:
            common.clear()
        common[term] = time.monotonic()
        return None, why
    if not phrases:
        return [], why
    ids = (
        connection.exec_driver_sql(
            f"SELECT rowid FROM {s} WHERE {s} MATCH ? LIMIT ?", (phrases, limit)
        )
        .scalars()
        .all()
    )
    return probed(ids, limit)


def sqlite_phrases(
    connection, user_table: str, term: str, limit: int | None = None
) -> tuple[str | None, str]:
    """``(phrases, why)``: the FTS5 query of the trigrams that begin with ``term`` (one or
    two characters, case-folded), "" where none does; with ``limit``, None once the counts
    of users of those trigrams say the term is in ``limit`` users or more."""
    # Each trigram's count of users bounds the matches from below, their sum from above.
    # Reading a count costs as many as it counts: stop early, once the sum says "common": a
    # user holds about one trigram that begins with a given two characters, and often
    # several that begin with one.
    s = index_name(user_table)
    most = None if limit is None else (4 if len(term) == 1 else 2) * limit
    trigrams, total = [], 0
    vocabulary = connection.exec_driver_sql(
        f"SELECT term, doc FROM {s}_vocab WHERE term >= ? AND term < ?", (term, term + "\U0010ffff")
    )
    for trigram, users in vocabulary:
        trigrams.append(trigram)
        total += users
        if limit is not None and (users >= limit or total >= most):
            vocabulary.close()
            return None, f"common: its trigrams hold {total:,} users by the index's counts"
    if not trigrams:
        return "", "found in no user (no trigram begins with it)"
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in trigrams), ""


def _pg_short_term_ids(
    connection, user_table: str, term: str, settings: PlanSettings
) -> tuple[list[int] | None, str]:
    statistics = _pg_statistics(connection, user_table, settings.stats_age)
    if statistics is None:
        return None, "no index of short terms (one made by an earlier version)"
    # Collecting a common term's users costs as many as it finds (6 ms for 15,000 of a
    # million): PostgreSQL's statistics of the index tell which terms are common.
    shares, users = statistics
    limit = settings.probe_limit
    estimate = shares.get(term, 0) * users
    if estimate >= limit:
        return None, f"common: in about {estimate:,.0f} users by the statistics"
    grams = f"{index_name(user_table)}_grams"
    holding = text(
        f"SELECT id FROM {user_table} WHERE {grams}(search_text) @> ARRAY[:term] LIMIT :limit"
    )
    ids = connection.execute(holding, {"term": term, "limit": limit}).scalars().all()
    return probed(ids, limit)


def known(connection, user_table: str, term: str, settings: PlanSettings) -> bool:
    """Whether :func:`short_term_ids` tells whether ``term`` is common without reading its
    users: on PostgreSQL, once ANALYZE has seen the index of short terms; on SQLite, for a
    term it found common in the last ``settings.stats_age`` seconds."""
    if connection.dialect.name == "postgresql":
        statistics = _pg_statistics(connection, user_table, settings.stats_age)
        return statistics is not None and bool(statistics[0])
    common = _memory().common.get(index_name(user_table), {})
    return _is_recent(common.get(term), settings.stats_age)


def _is_recent(read_at: float | None, max_age: float) -> bool:
    return read_at is not None and time.monotonic() - read_at < max_age


def _pg_statistics(
    connection, user_table: str, max_age: float
) -> tuple[dict[str, float], float] | None:
    """``({substring: share of users}, users)`` for the most common substrings of the index
    of short terms, as ANALYZE last saw them (empty before it has run); None without that
    index (one made by an earlier version).

    The index is remembered once seen, like the trigram index: create() drops it (and its
    function) only to make them again in the same transaction."""
    grams = f"{index_name(user_table)}_grams"
    if not _pg_index(connection, grams, remember=True):
        return None
    statistics = _memory().statistics
    read_at, shares, users = statistics.get(grams, (None, {}, 0.0))
    if not _is_recent(read_at, max_age):
        row = connection.execute(
            text(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs, "
                "(SELECT reltuples FROM pg_class WHERE relname = :table) "
                "FROM pg_stats WHERE tablename = :grams"
            ),
            {"grams": grams, "table": user_table},
        ).first()
        if row is None or row[0] is None:
            return {}, 0.0  # read again next time
        shares, users = dict(zip(row[0], row[1], strict=False)), float(row[2])
        statistics[grams] = (time.monotonic(), shares, users)
    return shares, users
