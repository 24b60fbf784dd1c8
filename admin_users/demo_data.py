"""Realistic demo data, written in bulk (``flask admin-users demo-data``).

Rows are made as plain tuples and written through the database driver directly
(``executemany`` on SQLite, ``COPY`` on PostgreSQL), so a million users seed in about
two minutes; the stored status and keys are computed by the same function the
ORM path uses (:func:`admin_users.models.derived_columns`), and the counters are the
counts of the rows written, so the data is as consistent as the API would make it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, func, select, text

from . import counters, search
from .models import derived_columns
from .service import DEACTIVATION_REASONS
from .state import get_state

CHUNK = 10_000
SPAN_SECONDS = 730 * 24 * 3600
FIRST = "Ana Ben Chloé Dmitri Émile Fatima Günter Hana Ívar Jun Kofi Lena Mateo Nadia Ödön".split()
FIRST += "Priya Quinn Rosa Søren Zoë".split()
LAST = "Abara Brandt Castillo Dąbrowski Eriksen Fontaine García Hoffmann Ito Jensen".split()
LAST += "Kowalski López Müller Nakamura O'Brien Petrov".split()
DOMAINS = ["example.com", "mail.example.org", "Example.NET", "chat.example.io", "exämple.de"]
CITIES = [("Berlin", "DE"), ("Lisbon", "PT"), ("Austin", "US"), ("Osaka", "JP"), ("Lyon", "FR")]
PROMPTS = [
    "How do I reset my router?",
    "Write a haiku about autumn",
    "Summarise this article",
    "What is the capital of Peru?",
    "Help me plan a trip to Lyon",
    "Translate 'thank you'",
    "Explain keyset pagination",
    "Suggest a name for my cat",
    "Is 97 a prime number?",
]
# Multiplying by a number prime to 10**9 permutes 0..10**9-1: unique guest ids, no retries.
GUEST_STEP = 387_420_489

USER_COLUMNS = (
    "id", "email", "guest_id", "identifier_key", "sort_key", "search_text", "customer_id",
    "created_at", "confirmed_at", "last_activity_at", "deactivated_at", "deactivation_reason",
    "is_admin", "chat_count", "status",
)  # fmt: skip
PROFILE_COLUMNS = ("user_id", "first_name", "last_name", "phone", "address_line1",
                   "postal_code", "city", "country", "updated_at")  # fmt: skip
CHAT_COLUMNS = ("id", "user_id", "title", "message_count", "created_at", "deleted_at")
MESSAGE_COLUMNS = ("chat_id", "role", "content", "created_at")
AUDIT_COLUMNS = ("user_id", "actor_id", "action", "entity", "ip_address", "created_at",
                 "detail", "origin")  # fmt: skip


def seed_demo_data(
    count: int, *, seed: int = 1, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """Add ``count`` users with chats, messages, profiles and audit entries.

    ``progress(phase, done, total)`` is told how far it is, since a million users take
    minutes: "users" as they are written, then "indexes" as each index (the search
    index, and on PostgreSQL the foreign keys and the statistics) is built."""
    report = progress or (lambda phase, done, total: None)
    state = get_state()
    M = state.models
    session = state.db.session
    first_user = (session.scalar(select(func.max(M.User.id))) or 0) + 1
    first_chat = (session.scalar(select(func.max(M.Chat.id))) or 0) + 1
    connection = session.connection()
    write = _writer(connection)
    maker = _Maker(random.Random(seed), datetime.now(UTC), first_chat)
    tables = [
        (M.User, USER_COLUMNS, "users"),
        (M.Profile, PROFILE_COLUMNS, "profiles"),
        (M.Chat, CHAT_COLUMNS, "chats"),
        (M.Message, MESSAGE_COLUMNS, "messages"),
        (M.AuditLog, AUDIT_COLUMNS, "audit"),
    ]
    totals = dict.fromkeys(("users", "profiles", "chats", "messages", "audit"), 0)
    # Building an index once at the end is much faster than growing it row by row.
    indexes = [i for model, *_ in tables for i in model.__table__.indexes if not i.unique]
    for index in indexes:
        index.drop(connection)
    search.drop(connection, M.User.__tablename__)
    foreign_keys = _drop_foreign_keys(connection, [model.__tablename__ for model, *_ in tables])
    report("users", 0, count)
    for chunk_start in range(0, count, CHUNK):
        rows = maker.chunk(first_user + chunk_start, min(CHUNK, count - chunk_start))
        for model, columns, name in tables:
            if rows[name]:
                write(model.__tablename__, columns, rows[name])
                totals[name] += len(rows[name])
        report("users", totals["users"], count)
    steps = len(indexes) + len(foreign_keys) + 1 + (connection.dialect.name == "postgresql")
    report("indexes", 0, steps)
    # The search index first: with no index yet that holds the search text, SQLite fills
    # it reading the table in id order, which FTS5 takes in several times faster than the
    # order of a sort's index.
    search.create(connection, M.User.__tablename__)
    report("indexes", 1, steps)
    for done, index in enumerate(indexes, 2):
        index.create(connection)
        report("indexes", done, steps)
    for done, (table, name, definition) in enumerate(foreign_keys, len(indexes) + 2):
        # checked once for all rows
        connection.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        report("indexes", done, steps)
    counters.recount(connection, M.User, M.StatusCount)  # the rows were written without the ORM
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA cache_size = -2000")  # back to the default
    if connection.dialect.name == "postgresql":
        for model in (M.User, M.Chat, M.Message, M.AuditLog):
            table = model.__tablename__
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 1))"
                )
            )
    session.commit()
    if connection.dialect.name == "postgresql":
        # Fresh statistics for the planner, and the visibility map that lets the sort
        # indexes answer on their own (index-only scans).
        names = ", ".join(model.__tablename__ for model, *_ in tables)
        with state.db.engine.connect() as autocommit:
            autocommit = autocommit.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.exec_driver_sql(f"VACUUM (ANALYZE) {names}")
        report("indexes", steps, steps)
    return totals


def _drop_foreign_keys(connection, tables: list[str]) -> list[tuple[str, str, str]]:
    """On PostgreSQL, drop the foreign keys of ``tables`` for the time of the writing (a
    check per row costs more than the row itself); ``(table, name, definition)`` of each,
    to add them back. The transaction restores them if seeding fails."""
    if connection.dialect.name != "postgresql":
        return []
    found = connection.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text IN :tables"
        ).bindparams(bindparam("tables", expanding=True)),
        {"tables": tables},
    ).all()
    for table, name, _ in found:
        connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [tuple(row) for row in found]


def _writer(connection):
    """A function writing tuples into a table through the driver, in this transaction."""
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL TimeZone = 'UTC'")  # naive times below are UTC
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")  # faster index builds

        def write(table, columns, rows):
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

        return write
    if connection.dialect.name == "sqlite":
        raw.execute("PRAGMA cache_size = -262144")  # 256 MB while seeding, this connection only

        def write(table, columns, rows):
            marks = ", ".join("?" * len(columns))
            raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

        return write

    def write(table, columns, rows):  # any other database: through SQLAlchemy
        connection.execute(
            text(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                f"({', '.join(':' + c for c in columns)})"
            ),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )

    return write


class _Maker:
    """Makes the rows of one chunk of users at a time."""

    def __init__(self, rng: random.Random, now: datetime, first_chat: int):
        self.rng = rng
        self.now = now.replace(tzinfo=None)
        self.start = self.now - timedelta(seconds=SPAN_SECONDS)
        self.next_chat = first_chat
        self.ips = [self._ip() for _ in range(20_000)]

    def _ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.7:
            return ".".join(str(rng.randint(1, 223 if n == 0 else 254)) for n in range(4))
        return "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(2)) + "::1"

    def _time(self, seconds: float) -> str:
        """Stored text of a UTC time, as the ORM writes it (always with microseconds)."""
        return (self.start + timedelta(seconds=seconds)).isoformat(" ", "microseconds")

    def _later(self, after: float) -> float:
        """A moment between ``after`` and now, most often soon after."""
        return after + (SPAN_SECONDS - after) * self.rng.random() ** 4

    def chunk(self, first_id: int, size: int) -> dict[str, list]:
        rows = {"users": [], "profiles": [], "chats": [], "messages": [], "audit": []}
        for user_id in range(first_id, first_id + size):
            self._user(user_id, rows)
        return rows

    def _user(self, user_id: int, rows: dict) -> None:
        rng = self.rng
        created = SPAN_SECONDS * rng.random()
        last = created
        ip = self.ips[rng.randrange(len(self.ips))]
        audit = rows["audit"]
        t = self._time

        def event(action, when, entity="user"):
            nonlocal last
            audit.append((user_id, user_id, action, entity, ip, t(when), None, "web"))
            last = max(last, when)

        user = SimpleNamespace(email=None, guest_id=None, customer_id=None, confirmed_at=None,
                               deactivated_at=None, erased_at=None, id=user_id)  # fmt: skip
        if rng.random() < 0.2:
            user.guest_id = f"g-{(user_id * GUEST_STEP + 123_456_789) % 10**9:09d}"
            event("guest.create", created)
        else:
            first, surname = rng.choice(FIRST), rng.choice(LAST)
            local = f"{first}.{surname}".replace("'", "")
            local = local if rng.random() < 0.3 else local.lower()
            user.email = f"{local}{user_id}@{rng.choice(DOMAINS)}"
            event("register", created)
            if rng.random() < 0.8:
                confirmed = self._later(created)
                user.confirmed_at = t(confirmed)
                event("email.confirm", confirmed)
                event("login", confirmed, entity="session")
            if rng.random() < 0.4:
                user.customer_id = f"cus_{rng.getrandbits(56):014x}"
            if rng.random() < 0.3:
                city, country = rng.choice(CITIES)
                rows["profiles"].append((
                    user_id, first, surname, f"+{rng.randint(1, 99)} {rng.randint(10**5, 10**9)}",
                    f"{rng.randint(1, 200)} Example Street", f"{rng.randint(10000, 99999)}",
                    city, country, t(created),
                ))  # fmt: skip
        chats = min(int(rng.expovariate(1 / 3.4)), 40)
        for _ in range(chats):
            self._chat(user_id, self._later(created), rows, event)
        reason = None
        if rng.random() < (0.03 if user.guest_id else 0.12):
            deactivated = self._later(last)
            user.deactivated_at = t(deactivated)
            reason = rng.choice(DEACTIVATION_REASONS)
            audit.append((user_id, None, "admin.deactivate", "user", None, t(deactivated),
                          reason, "cli"))  # fmt: skip
        derived = derived_columns(user)
        rows["users"].append((
            user_id, user.email, user.guest_id, derived["identifier_key"], derived["sort_key"],
            derived["search_text"], user.customer_id, t(created), user.confirmed_at, t(last),
            user.deactivated_at, reason, False, chats, derived["status"],
        ))  # fmt: skip

    def _chat(self, user_id, when, rows, event) -> None:
        rng = self.rng
        chat_id = self.next_chat
        self.next_chat += 1
        deleted = rng.random() < 0.1
        prompt = PROMPTS[rng.randrange(len(PROMPTS))]
        stamp = self._time(when)
        gone = self._later(when) if deleted else None
        rows["chats"].append((chat_id, user_id, None if deleted else prompt, 1, stamp,
                              gone and self._time(gone)))  # fmt: skip
        rows["messages"].append((chat_id, "user", None if deleted else prompt, stamp))
        event("chat.create", when, f"chat:{chat_id}")
        if deleted:
            event("chat.delete", gone, f"chat:{chat_id}")
