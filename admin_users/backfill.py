"""``flask admin-users backfill``: what the ORM computes on every write, filled in for a
user table that already has rows (a host adopting its own table) and for rows written
without the ORM (a raw INSERT gets the models' server defaults, which are placeholders).

Per user: the derived columns (:func:`admin_users.definitions.derived_columns`: status,
identifier key, sort key, search text); the chat count, a recount of the user's chats (deleted
ones included); the last activity, never moved back: the latest of the stored value
(what the host copied in, or the epoch placeholder) and the user's own chats, messages
and audit events (those the user caused, as ``audit_entry`` moves it), or the creation
time where none is known; the message count of each of the user's chats. Then the
users of each status are counted again (:mod:`admin_users.counters`). On
SQLite, a creation or activity time stored as other text than the ORM's (no
microseconds, a ``T``, an offset) is rewritten as the ORM writes it, because the list's
keyset compares the stored text. Then the search index is made if it is missing (or, with
``reindex``, made again); it follows every change by itself (triggers on SQLite, the GIN
index on PostgreSQL).

In batches: keyset by id, one transaction each, which first locks its users (``FOR
UPDATE`` on PostgreSQL, the write lock on SQLite), so the app may keep running meanwhile.
Resumable because every batch is idempotent and touches only the rows still needing it:
it computes what each row should hold and writes only the rows that differ. A run stopped
anywhere (killed, or a batch the database refused) leaves the batches before it done;
the next run reads those again, writes nothing there, and finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError

from . import counters, search
from .definitions import derived_columns, identifier_key
from .errors import BackfillRefused, BackfillStopped
from .models import EPOCH
from .state import get_state

BATCH_SIZE = 1000
# progress(phase, done, total): "users" as the batches go, then "search index".
Progress = Callable[[str, int, int], None]
DERIVED = ("status", "identifier_key", "sort_key", "search_text", "chat_count")
NO_ACTIVITY = datetime.fromisoformat(EPOCH).replace(tzinfo=UTC)  # last activity's placeholder


@dataclass
class Totals:
    users: int = 0  # read
    changed: int = 0  # rewritten
    chats: int = 0  # chats whose message count was wrong
    indexed: bool = False  # whether the search index was made


def backfill(
    *, batch_size: int = BATCH_SIZE, reindex: bool = False, progress: Progress | None = None
) -> Totals:
    """Backfill every user of the current app's user table (see the module's docstring)."""
    state = get_state()
    tables = _Tables(state.models)
    engine = state.db.engine
    report = progress or (lambda phase, done, total: None)
    state.db.session.close()  # its reads would hold up the batches' locks on SQLite
    with engine.connect() as connection:
        total = connection.execute(text(f"SELECT count(*) FROM {tables.users}")).scalar_one()
    totals, after = Totals(), 0
    report("users", 0, total)
    while True:
        try:
            with engine.begin() as connection:
                done = _Batch(connection, tables, after, batch_size).run()
        except DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else ""
            raise BackfillStopped(
                f"Backfill stopped at the users after id {after}: {reason or type(error).__name__}."
                f" Those up to id {after} are done: run backfill again to go on."
            ) from None
        if done is None:
            break
        after, read, changed, chats = done
        totals.users += read
        totals.changed += changed
        totals.chats += chats
        report("users", totals.users, max(total, totals.users))
    report("search index", 0, 1)
    with engine.begin() as connection:
        counters.recount(connection, state.models.User, state.models.StatusCount)
        if reindex or not search.current(connection, tables.users):
            totals.indexed = search.create(connection, tables.users)
    if engine.dialect.name == "postgresql" and (totals.changed or totals.chats or totals.indexed):
        # Fresh statistics for the planner (search's common terms among them), and the
        # visibility map that lets the sort indexes answer on their own.
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {tables.users}, {tables.chats}")
    report("search index", 1, 1)
    return totals


class _Tables:
    def __init__(self, models):
        self.users = models.User.__tablename__
        self.chats = models.Chat.__tablename__
        self.messages = models.Message.__tablename__
        self.audit = models.AuditLog.__tablename__


class _Batch:
    """The users with ids after ``after``, ``size`` of them at most, in one transaction."""

    def __init__(self, connection, tables: _Tables, after: int, size: int):
        self.connection, self.t, self.after, self.size = connection, tables, after, size
        self.sqlite = connection.dialect.name == "sqlite"

    def run(self) -> tuple[int, int, int, int] | None:
        """``(last id, users read, users changed, chats fixed)``; None past the last user."""
        t, c = self.t, self.connection
        if self.sqlite:
            c.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before reading
        lock = "" if self.sqlite else " FOR UPDATE"
        flag = "CASE WHEN {} IS NULL THEN NULL ELSE 1 END"
        rows = c.execute(
            text(
                f"SELECT id, email, guest_id, customer_id, {flag.format('confirmed_at')}, "
                f"{flag.format('deactivated_at')}, {flag.format('erased_at')}, status, "
                "identifier_key, sort_key, search_text, chat_count, created_at, last_activity_at "
                f"FROM {t.users} WHERE id > :after ORDER BY id LIMIT :size{lock}"
            ),
            {"after": self.after, "size": self.size},
        ).all()
        if not rows:
            return None
        self.last = rows[-1][0]
        chats = self._per_user(
            f"SELECT user_id, count(*), max(created_at) FROM {t.chats} "
            "WHERE user_id > :after AND user_id <= :last GROUP BY user_id"
        )
        own_events = self._per_user(
            f"SELECT user_id, max(created_at) FROM {t.audit} WHERE user_id > :after AND "
            "user_id <= :last AND actor_id = user_id AND action NOT LIKE 'admin.%' "
            "GROUP BY user_id"
        )
        messages = self._per_user(
            f"SELECT c.user_id, max(m.created_at) FROM {t.chats} c JOIN {t.messages} m "
            "ON m.chat_id = c.id WHERE c.user_id > :after AND c.user_id <= :last "
            "AND m.role = 'user' GROUP BY c.user_id"
        )
        changes = {}
        for row in rows:
            chat_count, last_chat = chats.get(row[0], (0, None))
            latest = [last_chat, own_events.get(row[0], (None,))[0]]
            latest.append(messages.get(row[0], (None,))[0])
            if change := self._change(row, chat_count, latest):
                changes[row[0]] = change
        self._make_room(rows, changes)
        self._write(changes)
        return self.last, len(rows), len(changes), self._fix_message_counts()

    def _per_user(self, sql: str) -> dict[int, tuple]:
        found = self.connection.execute(text(sql), {"after": self.after, "last": self.last})
        return {row[0]: tuple(row[1:]) for row in found}

    def _change(self, row, chat_count: int, latest: list) -> dict:
        """The columns of ``row`` that differ from what they should hold, with those values."""
        user_id, email, guest_id, customer_id, confirmed, deactivated, erased = row[:7]
        user = SimpleNamespace(
            id=user_id, email=email, guest_id=guest_id, customer_id=customer_id,
            confirmed_at=confirmed, deactivated_at=deactivated, erased_at=erased,
        )  # fmt: skip
        wanted = {**derived_columns(user), "chat_count": chat_count}
        stored = dict(zip(DERIVED, row[7:12], strict=True))
        change = {name: value for name, value in wanted.items() if stored[name] != value}
        created_at, last_activity_at = row[12], row[13]
        created = _instant(created_at, user_id, "created_at")
        times = [_instant(value, user_id, "an event's time") for value in latest if value]
        last = max([_instant(last_activity_at, user_id, "last_activity_at"), *times])
        if last <= NO_ACTIVITY:  # the placeholder, and no event known: the creation is one
            last = created
        for name, stored_value, value in (
            ("created_at", created_at, created),
            ("last_activity_at", last_activity_at, last),
        ):
            value = _text(value) if self.sqlite else value
            if stored_value != value:
                change[name] = value
        return change

    def _make_room(self, rows, changes: dict) -> None:
        """Free the identifier keys this batch gives: a key stays with its user (two users
        of one key are refused), but one left on a row whose email has changed since (a
        write without the ORM) goes, and that row gets its own when its batch comes."""
        given = {}
        for user_id, change in changes.items():
            key = change.get("identifier_key")
            if key is not None:
                if key in given:
                    raise _duplicate(key, given[key], user_id)
                given[key] = user_id
        if not given:
            return
        for row in rows:  # keys kept in this batch
            if row[8] in given and "identifier_key" not in changes.get(row[0], {}):
                raise _duplicate(row[8], row[0], given[row[8]])
        t = self.t
        holders = self.connection.execute(
            text(
                f"SELECT id, email, guest_id, identifier_key FROM {t.users} WHERE "
                "identifier_key IN :keys AND (id <= :after OR id > :last)"
            ).bindparams(bindparam("keys", expanding=True)),
            {"keys": list(given), "after": self.after, "last": self.last},
        ).all()
        freed = [row[0] for row in rows if row[0] in changes and row[8] is not None]
        freed = [i for i in freed if "identifier_key" in changes[i]]
        for holder_id, email, guest_id, key in holders:
            holder = SimpleNamespace(id=holder_id, email=email, guest_id=guest_id)
            if identifier_key(holder) == key:
                raise _duplicate(key, holder_id, given[key])
            freed.append(holder_id)
        if freed:  # first, so that two users of this batch may swap keys
            self.connection.execute(
                text(f"UPDATE {t.users} SET identifier_key = NULL WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": freed},
            )

    def _write(self, changes: dict) -> None:
        """One UPDATE per set of changed columns, for all the rows that share it."""
        groups: dict[tuple, list[dict]] = {}
        for user_id, change in changes.items():
            groups.setdefault(tuple(sorted(change)), []).append({**change, "id": user_id})
        for names, params in groups.items():
            assignments = ", ".join(f"{name} = :{name}" for name in names)
            self.connection.execute(
                text(f"UPDATE {self.t.users} SET {assignments} WHERE id = :id"), params
            )

    def _fix_message_counts(self) -> int:
        t = self.t
        count = f"(SELECT count(*) FROM {t.messages} WHERE {t.messages}.chat_id = {t.chats}.id)"
        fixed = self.connection.execute(
            text(
                f"UPDATE {t.chats} SET message_count = {count} WHERE user_id > :after "
                f"AND user_id <= :last AND message_count <> {count}"
            ),
            {"after": self.after, "last": self.last},
        )
        return fixed.rowcount


def _instant(value, user_id: int, what: str) -> datetime:
    """A stored time as an aware UTC datetime: PostgreSQL's as it is (a naive one taken
    as UTC), SQLite's text in any ISO 8601 form (without an offset: UTC)."""
    stored = value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    if not isinstance(value, datetime):
        raise BackfillRefused(
            f"User {user_id}: {what} is {stored!r}, not a time. Write it as ISO 8601 "
            "(2024-01-05 10:00:00, UTC unless it says otherwise), then run backfill again."
        )
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: datetime) -> str:
    """A time as the ORM stores it on SQLite (naive UTC, always with microseconds)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _duplicate(key: str, first: int, second: int) -> BackfillRefused:
    return BackfillRefused(
        f"Users {first} and {second} have the same identifier ({key!r}): emails are unique "
        "regardless of case. Merge them or change one, then run backfill again."
    )
