"""Benchmark of Admin > Users against the targets of PERFORMANCE.md (see bench/README.md).

Builds the demo app (``wsgi.create_app``) on a seeded database, signs in as an admin on
the Flask test client and times the extension's endpoints in-process, next to a plain
Flask-Admin ``ModelView`` over the same tables in the same run.

    .venv/bin/python bench/run.py [--users N] [--database-url URL] [--quick] [--repeat 20]
                                  [--out bench/results] [--skip-plain] [--check] [--fresh]
                                  [--pick-only] [--repick] [--search-directions both|late]
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import gc
import hashlib
import html
import json
import math
import os
import platform
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from flask import Flask  # noqa: E402
from flask_admin import Admin  # noqa: E402
from flask_admin.contrib.sqla import ModelView  # noqa: E402
from sqlalchemy import (  # noqa: E402
    BigInteger,
    cast,
    column,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, column_property  # noqa: E402

from admin_users import service, sessions  # noqa: E402
from admin_users.details import tab_cursor  # noqa: E402
from admin_users.keyset import order, ranges  # noqa: E402
from admin_users.listing import ListQuery, make_cursor  # noqa: E402
from admin_users.models import utcnow  # noqa: E402
from admin_users.sorts import BY_NAME, SORT_TABLE, SORTS, sort_column  # noqa: E402
from wsgi import create_app, db  # noqa: E402

# The plain ModelView's column for each of the extension's sorts.
PLAIN_SORT = {
    "email": "email",
    "status": "status",
    "chats": "chat_total",
    "created": "created_at",
    "last_activity": "last_activity_at",
}
HEAVY, ADMIN = "bench-heavy@example.com", "bench-admin@example.com"
ROW = re.compile(r'<tr class="(?:user|audit|chat)-row"')
# (p50 ms, max ms) per case family on SQLite; PostgreSQL gets twice these.
TARGETS = {
    "batch": (5, 25),
    "search": (10, 50),
    "page": (15, None),
    "dialog": (10, None),
    "tab": (10, None),
    "counts": (10, None),
}
SEARCH_UNTIL_30 = 10  # ms, p50, terms of 3+ characters
WHOLE_SEARCH = 50  # ms, p50 of a whole search (until 30 rows or the end), every term
RATIO_TARGETS = {"search": 100, "chats": 100, "first": 5}
RSS_TARGET_MB = 200


class BenchError(RuntimeError):
    pass


@dataclass
class Case:
    family: str  # batch | search | page | dialog | tab | counts
    name: str
    url: str
    n: int
    p50: float
    max: float
    rows: str = ""  # rows per request (first run)
    more_p50: float | None = None  # the following batch requests of a search
    more_max: float | None = None
    until30_p50: float | None = None
    until30_max: float | None = None
    until30_requests: int | None = None
    term_len: int | None = None
    ratio_kind: str | None = None  # which ratio target applies
    plain_spec: dict | None = None  # sort, desc, page, search of the plain view's request
    plain_url: str | None = None
    plain_p50: float | None = None
    plain_max: float | None = None
    plain_n: int | None = None
    plain_capped: bool = False
    ratio: float | None = None
    capped: bool = False  # fewer requests: one took over 1 s
    error: str = ""  # a wrong answer (the list ended before 30 rows or every match)
    result: str = ""
    # A search's term and order, the term's band and length class, and the rows before
    # its first match in that order.
    term: str | None = None
    kind: str | None = None
    order: str | None = None
    band: str | None = None
    length: str | None = None
    first_match: int | None = None


# -- timing -------------------------------------------------------------------------------


def get(client, url: str, **query) -> tuple[float, object]:
    """One GET, body read; (ms, response). Anything but 200 aborts the benchmark."""
    started = time.perf_counter()
    response = client.get(url, query_string=query or None)
    body = response.get_data()
    ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchError(f"GET {url} {query} answered {response.status_code}: {body[:500]!r}")
    return ms, response


def samples(run: Callable[[], float], repeat: int, cap_slow: bool = False) -> tuple[list, bool]:
    """``repeat`` timings after one warm-up; with ``cap_slow``, 5 (warm-up kept) if over 1 s."""
    first = run()
    if cap_slow and first > 1000:
        return [first] + [run() for _ in range(min(repeat, 5) - 1)], True
    return [run() for _ in range(repeat)], False


def p50(values: list[float]) -> float:
    return statistics.median(values)


def measure(client, repeat: int, url: str, **query) -> tuple[list[float], object]:
    last = {}

    def run() -> float:
        ms, last["response"] = get(client, url, **query)
        return ms

    values, _ = samples(run, repeat)
    return values, last["response"]


def rows_in(response) -> int:
    return len(ROW.findall(response.get_data(as_text=True)))


# -- data ---------------------------------------------------------------------------------


def database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    path = Path(args.out).resolve() / f"bench-{args.users}.sqlite"
    if args.fresh and path.exists():
        path.unlink()
    return f"sqlite:///{path}"


def prepare(app, models, args: argparse.Namespace, heavy_audit: int) -> dict:
    """Tables, demo users, the heavy user and the admin; returns facts about the data."""
    runner = app.test_cli_runner()
    facts: dict = {"seeded_users": 0, "seeding_s": None}
    result = runner.invoke(args=["admin-users", "init-db"])
    if result.exit_code != 0:
        raise BenchError(f"init-db failed: {result.output}{result.exception!r}")
    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(models.User))
    if have < args.users:
        missing = args.users - have
        print(f"Seeding {missing:,} users (database has {have:,}) ...", flush=True)
        started = time.perf_counter()
        result = runner.invoke(args=["admin-users", "demo-data", "--users", str(missing)])
        took = time.perf_counter() - started
        if result.exit_code != 0:
            raise BenchError(f"demo-data failed: {result.output}{result.exception!r}")
        print(result.output.strip(), flush=True)
        said = re.search(r"in ([\d.]+) s", result.output)
        facts.update(
            seeded_users=missing,
            seeding_s=float(said.group(1)) if said else took,
            seeding_wall_s=round(took, 1),
            seeding_output=result.output.strip(),
        )
    with app.app_context():
        session = db.session
        M = models
        heavy = service.find_user(HEAVY) or service.register(HEAVY)
        have_audit = session.scalar(
            select(func.count()).select_from(M.AuditLog).where(M.AuditLog.user_id == heavy.id)
        )
        if have_audit < heavy_audit:
            add_audit(session, M, heavy.id, heavy_audit - have_audit)
        for n in range(heavy.chat_count, 100):  # a chats tab of several batches
            service.start_chat(heavy, title=f"Bench chat {n}")
        admin = service.find_user(ADMIN)
        if admin is None or not admin.is_admin:
            admin = service.create_admin(ADMIN)
        facts.update(
            heavy_id=heavy.id,
            admin_id=admin.id,
            users=session.scalar(select(func.count()).select_from(M.User)),
            chats=session.scalar(select(func.count()).select_from(M.Chat)),
            audit=session.scalar(select(func.count()).select_from(M.AuditLog)),
            heavy_audit=session.scalar(
                select(func.count()).select_from(M.AuditLog).where(M.AuditLog.user_id == heavy.id)
            ),
        )
    return facts


def add_audit(session, M, user_id: int, count: int, chunk: int = 10_000) -> None:
    print(f"Adding {count:,} audit entries to {HEAVY} ...", flush=True)
    now = utcnow()
    span = timedelta(days=730).total_seconds()
    for start in range(0, count, chunk):
        rows = [
            {
                "user_id": user_id,
                "actor_id": user_id,
                "action": "login",
                "entity": "session",
                "ip_address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                "origin": "web",
                "created_at": now - timedelta(seconds=span * i / count),
            }
            for i in range(start, min(count, start + chunk))
        ]
        session.execute(insert(M.AuditLog), rows)
    session.commit()


def share(session, User, term: str) -> int:
    """Users whose search text (what search looks in) holds ``term``, case-folded; on a
    table without one, whose email or customer id does."""
    if hasattr(User, "search_text"):
        escaped = term.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = User.search_text.like(f"%{escaped}%", escape="\\")
    else:
        condition = User.email.icontains(term, autoescape=True) | User.customer_id.icontains(
            term, autoescape=True
        )
    return session.scalar(select(func.count()).select_from(User).where(condition))


# -- search terms -------------------------------------------------------------------------
#
# Terms are picked from the data, by their share of users and by where their users sit in
# each order (a term whose first match is far down an order is the hardest case for a walk
# of that order's index). Shares and places are first estimated on a sample of the users'
# search texts, then measured on the whole table for the terms picked.

# Share bands: (name, centre). A term is in a band within a factor BAND_FACTOR of its
# centre; the top band holds every share over TOP_BAND_FLOOR.
BANDS = (
    ("0.001%", 1e-5),
    ("0.1%", 1e-3),
    ("1%", 1e-2),
    ("5%", 0.05),
    ("20%", 0.2),
    (">60%", 0.8),
)
TOP_BAND_FLOOR = 0.6
BAND_FACTOR = 3
LENGTHS = (("1", 1), ("2", 2), ("3", 3), ("5+", 5))  # length classes: (name, characters)
SAMPLE_USERS = 50_000  # users whose search texts the estimates read
POOL = 60  # candidates per band and length whose places are estimated
EXACT_FEW = 10  # fewer hits in the sample: the candidate's users are read exactly, at
VERIFY = {1: 3, 2: 3}  # most this many candidates per band and length (a table scan for
VERIFY_LONG = 30  # 1-2 characters; through the trigram index for 3 or more)
RARE_CAP = 5_000  # users read at most for a candidate thought rare
CELL_TERMS = 5  # terms per band and length at most
EARLY_ROWS = 300  # a first match in the first 10 batches is early in any band (at most
# a hundredth of the users)
PICK_VERSION = 1  # bump when the picking changes: cached terms are picked again
NO_MATCH = "zzqxj-no-match"
# The special terms that plain Flask-Admin is asked too (sort=created, newest first).
PLAIN_TERMS = ("rare", "common", "no match", "customer id part")
ORDERS = tuple(
    (sort.name, desc) for sort in SORT_TABLE for desc in (sort.first_desc, not sort.first_desc)
)


def order_name(sort: str, desc: bool) -> str:
    return f"{sort} {'desc' if desc else 'asc'}"


def length_class(term: str) -> str:
    return "5+" if len(term) >= 5 else ("3" if len(term) >= 3 else str(len(term)))


def band_window(centre: float) -> tuple[float, float]:
    if centre == BANDS[-1][1]:
        return TOP_BAND_FLOOR, 1.0
    return centre / BAND_FACTOR, centre * BAND_FACTOR


def closeness(fraction: float, centre: float) -> float:
    """Distance of a share from a band's centre on a log scale."""
    return abs(math.log(max(fraction, 1e-12) / centre))


def band_of(fraction: float) -> str:
    """The band a share is in; else the nearest one (``none`` for no match)."""
    if fraction <= 0:
        return "none"
    for name, centre in BANDS:
        low, high = band_window(centre)
        if low <= fraction <= high:
            return name
    return min(BANDS, key=lambda band: closeness(fraction, band[1]))[0]


def search_condition(session, User, term: str):
    """The users ``term`` finds, as the list's search tests them (a case-folded substring
    of ``search_text``): ``instr`` on SQLite, LIKE (which the trigram index answers) else."""
    term = term.casefold()
    if session.get_bind().dialect.name == "sqlite":
        return func.instr(User.search_text, term) > 0
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return User.search_text.like(f"%{escaped}%", escape="\\")


class Sample:
    """About 1 in ``step`` users (by a hash of the id), their search texts and sort values
    (the bench's own users left out), in each order: shares and where a term's first
    match sits are estimated from it."""

    def __init__(self, session, User, total: int):
        self.step = max(1, total // SAMPLE_USERS)
        self.total = total
        columns = {sort.name: sort.column(User) for sort in SORT_TABLE}
        statement = select(
            User.id, User.search_text, User.email, User.customer_id, User.guest_id,
            *columns.values(),
        )  # fmt: skip
        if self.step > 1:
            # Spread by a hash of the id: ``id % step`` alone would keep ids of the same
            # last digits, and bias every term made of them (``0@`` in every email).
            mixed = cast(User.id, BigInteger) * 2654435761 % 4294967296 // 65536
            statement = statement.where(mixed % self.step == 0)
        rows = [
            row
            for row in session.execute(statement.order_by(User.id))
            if not (row.email or "").startswith("bench-")
        ]
        self.size = max(1, len(rows))
        self.texts = [row.search_text or "" for row in rows]
        self.emails = [row.email for row in rows if row.email]
        self.customers = [row.customer_id for row in rows if row.customer_id]
        self.guests = [row.guest_id for row in rows if row.guest_id]
        # Per sort, the sample's keys in ascending order; per order, the texts in that
        # order joined by newlines (which no term holds), with where each one starts.
        self.keys, self.joined = {}, {}
        for n, sort in enumerate(SORT_TABLE):
            keyed = sorted((sort_key_of(row[5 + n], row.id), i) for i, row in enumerate(rows))
            self.keys[sort.name] = [key for key, _ in keyed]
            for desc in (False, True):
                indexes = [i for _, i in (reversed(keyed) if desc else keyed)]
                starts, position = [], 0
                for i in indexes:
                    starts.append(position)
                    position += len(self.texts[i]) + 1
                self.joined[(sort.name, desc)] = (
                    "\n".join(self.texts[i] for i in indexes),
                    starts,
                )

    def rows_per_user(self) -> float:
        return self.total / self.size

    def first_place(self, term: str, sort: str, desc: bool) -> int | None:
        """Estimated rows before the first user holding ``term`` in the order (None: no
        user of the sample holds it)."""
        joined, starts = self.joined[(sort, desc)]
        found = joined.find(term)
        if found < 0:
            return None
        return round((bisect.bisect_right(starts, found) - 1) * self.rows_per_user())

    def place_of(self, key: tuple, sort: str, desc: bool) -> int:
        """Estimated rows before the row of ``key`` in the order."""
        keys = self.keys[sort]
        before = (
            len(keys) - bisect.bisect_right(keys, key) if desc else bisect.bisect_left(keys, key)
        )
        return round(before * self.rows_per_user())

    def grams(self, n: int) -> Counter:
        """Users of the sample holding each substring of ``n`` characters (within a line)."""
        counts = Counter()
        for lines in self.texts:
            counts.update(
                {line[i : i + n] for line in lines.split("\n") for i in range(len(line) - n + 1)}
            )
        return counts


def sort_key_of(value, user_id: int) -> tuple:
    """A row's place in a sort: its value (NULL first, as SQLite sorts), then its id."""
    return (value is not None, value if value is not None else 0, user_id)


def special_terms(sample: Sample) -> list[tuple[str, str]]:
    """The named terms: a user's local part, ``example``, no match, a guest id and a part of
    its digits, 6 characters of a customer id and a 5-character customer-id prefix."""
    rng = random.Random(7)
    terms = [("common", "example"), ("no match", NO_MATCH)]
    if sample.emails:
        terms.insert(0, ("rare", rng.choice(sample.emails).split("@")[0].casefold()))
    if sample.customers:
        customer = rng.choice(sample.customers).casefold()
        terms += [("customer id part", customer[7:13]), ("customer id prefix", customer[:5])]
    if sample.guests:
        guest = rng.choice(sample.guests).casefold()
        terms += [("guest id", guest), ("guest id digits", guest[-7:-1])]
    return terms


def exact_users(session, User, term: str, columns: list) -> list | None:
    """``(id, *columns)`` of every user holding ``term``, read through the trigram index
    where it can answer (3+ characters); None if more than RARE_CAP users hold it."""
    statement = select(User.id, *columns)
    bind = session.get_bind()
    index = f"{User.__tablename__}_search"  # admin_users.search's FTS5 table
    if len(term) >= 3 and bind.dialect.name == "sqlite" and has_table(session, index):
        phrase = '"' + term.replace('"', '""') + '"'
        ids = text(f"SELECT rowid FROM {index} WHERE {index} MATCH :phrase")
        ids = ids.bindparams(phrase=phrase).columns(column("rowid"))
        statement = statement.where(User.id.in_(ids))
    statement = statement.where(search_condition(session, User, term)).limit(RARE_CAP + 1)
    rows = session.execute(statement).all()
    return None if len(rows) > RARE_CAP else rows


def has_table(session, name: str) -> bool:
    return session.get_bind().dialect.name == "sqlite" and bool(
        session.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = :name"), {"name": name}
        ).first()
    )


def first_match_rank(session, User, term: str, sort: str, desc: bool) -> int | None:
    """Rows before the first user holding ``term`` in the order ``(sort, desc)``, counted
    through the sort's index (None: nobody holds it)."""
    col = BY_NAME[sort].column(User)
    first = session.execute(
        select(col, User.id)
        .where(search_condition(session, User, term))
        .order_by(*order(col, User.id, desc))
        .limit(1)
    ).first()
    if first is None:
        return None
    before = 0
    for part in ranges(col, User.id, not desc, tuple(first)):  # the rows after, reversed
        before += session.scalar(select(func.count()).select_from(User).where(*part))
    return before


def pick_cell(
    candidates: list[dict], centre: float, late_min: int, early_rows: int
) -> tuple[dict[str, list[str]], list[str]]:
    """Terms of one band and length: the one closest to the centre, then as few as cover,
    for each order, the earliest first match (within twice its rows plus 30, or
    ``early_rows``) and the latest (within four fifths of its rows; where it is past
    ``late_min`` rows).
    At most CELL_TERMS terms. ``({term: roles}, what is missing)``."""
    ranked = sorted(candidates, key=lambda c: (closeness(c["share"], centre), c["term"]))
    covers = {c["term"]: set() for c in ranked}
    needed, no_late = set(), []
    for sort, desc in ORDERS:
        name = order_name(sort, desc)
        placed = [c for c in ranked if c["ranks"].get(name) is not None]
        if not placed:
            continue
        lowest = min(c["ranks"][name] for c in placed)
        highest = max(c["ranks"][name] for c in placed)
        needed.add(f"early in {name}")
        if highest < late_min:
            no_late.append(name)
        else:
            needed.add(f"late in {name}")
        for c in placed:
            if c["ranks"][name] <= max(2 * lowest + 30, early_rows):
                covers[c["term"]].add(f"early in {name}")
            if highest >= late_min and c["ranks"][name] >= 0.8 * highest:
                covers[c["term"]].add(f"late in {name}")
    order_of = {
        f"{k} in {order_name(s, d)}": n
        for n, (s, d) in enumerate(ORDERS)
        for k in ("early", "late")
    }
    first = ranked[0]["term"]
    picked = {first: ["centre", *sorted(covers[first] & needed, key=order_of.get)]}
    needed -= covers[first]
    while needed and len(picked) < CELL_TERMS:
        # Greedy: the term that covers most of what is left, a late place counting three
        # times an early one (ties: the nearest the centre).
        best = max(ranked, key=lambda c: weight(covers[c["term"]] & needed))
        roles = covers[best["term"]] & needed
        picked[best["term"]] = sorted(roles, key=order_of.get)
        needed -= roles
    missing = [f"no first match past row {late_min:,} in " + ", ".join(no_late)] if no_late else []
    if needed:
        roles = ", ".join(sorted(needed, key=order_of.get))
        missing.append(f"not covered within {CELL_TERMS} terms: {roles}")
    return picked, missing


def weight(roles: set[str]) -> int:
    return sum(3 if role.startswith("late") else 1 for role in roles)


def cell_candidates(session, User, sample: Sample, counts: Counter, n: int, centre: float):
    """The candidates of one band and length: ``[{"term", "share", "ranks"}]``, shares and
    places estimated from the sample; a candidate found in fewer than EXACT_FEW users of
    it is read exactly (a few of them), and kept only if its exact share is in the band."""
    low, high = band_window(centre)
    pool = [
        (term, hits / sample.size)
        for term, hits in counts.items()
        if low <= hits / sample.size <= high
    ]
    pool.sort(key=lambda c: (closeness(c[1], centre), zlib.crc32(c[0].encode())))
    columns = [sort.column(User) for sort in SORT_TABLE]
    candidates, verified = [], 0
    for term, estimate in pool[:POOL]:
        if sample.step == 1 or counts[term] >= EXACT_FEW:
            ranks = {order_name(s, d): sample.first_place(term, s, d) for s, d in ORDERS}
            candidates.append({"term": term, "share": estimate, "ranks": ranks})
            continue
        if verified >= VERIFY.get(n, VERIFY_LONG):
            continue
        verified += 1
        users = exact_users(session, User, term, columns)
        if users is None or not low <= len(users) / sample.total <= high:
            continue
        ranks = {}
        for index, sort in enumerate(SORT_TABLE, 1):
            keys = [sort_key_of(row[index], row.id) for row in users]
            for desc in (False, True):
                first = max(keys) if desc else min(keys)
                ranks[order_name(sort.name, desc)] = sample.place_of(first, sort.name, desc)
        candidates.append({"term": term, "share": len(users) / sample.total, "ranks": ranks})
    return candidates


def pick_terms(app, models, total: int, log=print) -> dict:
    """The benchmark's search terms (see the notes above): ``{"terms": [...], "notes":
    [...]}``, each term with its exact share and the rows before its first match in every
    order."""
    started = time.perf_counter()
    User = models.User
    with app.app_context():
        session = db.session
        sample = Sample(session, User, total)
        log(f"  sample of {sample.size:,} users (1 in {sample.step}, by a hash of the id) "
            f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        late_min, early_rows = min(1_000, total // 10), min(EARLY_ROWS, total // 100)
        chosen: dict[str, dict] = {}  # term -> {"kind", "roles", "special"}
        notes = []
        for kind, term in special_terms(sample):
            chosen[term] = {"kind": kind, "roles": [kind], "special": True}
        for length, n in LENGTHS:
            counts = sample.grams(n)
            for band, centre in BANDS:
                cell = f"{length} character{'s' if n > 1 else ''}, band {band}"
                candidates = cell_candidates(session, User, sample, counts, n, centre)
                if not candidates:
                    nearest = min(
                        counts,
                        key=lambda t: closeness(counts[t] / sample.size, centre),
                        default=None,
                    )
                    notes.append(
                        f"{cell}: no term within a factor {BAND_FACTOR} of the band"
                        + (
                            f" (nearest: {nearest!r}, about {counts[nearest] / sample.size:.3%})"
                            if nearest
                            else ""
                        )
                    )
                    continue
                picked, missing = pick_cell(candidates, centre, late_min, early_rows)
                if missing:
                    notes.append(f"{cell}: " + "; ".join(missing))
                for term, roles in picked.items():
                    entry = chosen.setdefault(
                        term, {"kind": f"{length} char{'s' if n > 1 else ''} {band}", "roles": []}
                    )
                    entry["roles"] += [f"{band}: {role}" for role in roles]
        log(f"  {len(chosen)} terms chosen in {time.perf_counter() - started:.1f} s; "
            "measuring them ...")  # fmt: skip
        terms = []
        for term, entry in chosen.items():
            matches = share(session, User, term)
            ranks = {
                order_name(s, d): first_match_rank(session, User, term, s, d) if matches else None
                for s, d in ORDERS
            }
            terms.append(
                {
                    "kind": entry["kind"],
                    "term": term,
                    "length": length_class(term),
                    "band": band_of(matches / total),
                    "roles": entry["roles"],
                    "special": entry.get("special", False),
                    "matches": matches,
                    "share": matches / total,
                    "ranks": ranks,
                }
            )
    return {
        "terms": terms,
        "notes": notes,
        "picking_s": round(time.perf_counter() - started, 1),
    }


def data_fingerprint(app, models, total: int) -> str:
    """What the cached terms were picked on: the users, their first search texts, the
    columns the sorts read and the picking's version (a reseed or a new search text
    changes it)."""
    User = models.User
    with app.app_context():
        first = db.session.execute(
            select(User.id, User.search_text).order_by(User.id).limit(200)
        ).all()
        last = db.session.scalar(select(func.max(User.id)))
    seen = [PICK_VERSION, total, last, [(s.name, s.attribute) for s in SORT_TABLE]]
    seen.append([list(row) for row in first])
    return hashlib.sha256(json.dumps(seen, default=str).encode()).hexdigest()[:16]


def terms_for(app, models, total: int, path: Path, repick: bool, child: list | None = None):
    """The picked terms: from ``path`` when they were picked on the same data, else picked
    now and written there; with ``child`` (a ``--pick-only`` command line), picked by that
    process, so that the sample's memory is not counted in this one's peak RSS."""
    fingerprint = data_fingerprint(app, models, total)

    def cached() -> dict | None:
        if not path.exists():
            return None
        found = json.loads(path.read_text())
        if found.get("users") != total or found.get("fingerprint") != fingerprint:
            return None
        return found

    found = None if repick else cached()
    if found is not None:
        print(f"search terms from {path} (picked in {found['picking_s']} s)", flush=True)
        return {**found, "cached": True}
    if child is not None:
        print("picking search terms in a child process ...", flush=True)
        if subprocess.run(child).returncode != 0 or (found := cached()) is None:
            raise BenchError(f"picking the search terms failed: {' '.join(child)}")
        return {**found, "cached": False}
    print(f"picking search terms at {total:,} users ...", flush=True)
    picked = pick_terms(app, models, total)
    picked.update(users=total, fingerprint=fingerprint)
    path.write_text(json.dumps(picked, indent=1, ensure_ascii=False))
    print(f"picked {len(picked['terms'])} terms in {picked['picking_s']} s: {path}", flush=True)
    return {**picked, "cached": False}


def print_terms(picked: dict) -> None:
    names = [order_name(s, d) for s, d in ORDERS]
    print(f"{'term':>22} {'length':>6} {'band':>6} {'users':>9} {'share':>9}  first match in "
          + ", ".join(names))  # fmt: skip
    for t in picked["terms"]:
        places = " ".join(
            f"{'-' if t['ranks'].get(n) is None else t['ranks'][n]:>7}" for n in names
        )
        print(
            f"{t['term']!r:>22} {t['length']:>6} {t['band']:>6} {t['matches']:>9,} "
            f"{t['share']:>9.4%}  {places}  [{roles_text(t['roles'])}]"
        )
    for note in picked["notes"]:
        print(f"  note: {note}")


# -- the extension ------------------------------------------------------------------------


def depth_cursor(app, models, sort: str, desc: bool, depth: int) -> str:
    """The list cursor after the first ``depth`` rows (found with OFFSET: the bench may)."""
    User = models.User
    column = sort_column(User, sort)
    with app.test_request_context():
        rows = select(User).order_by(*order(column, User.id, desc))
        user = db.session.scalars(rows.offset(depth - 1).limit(1)).one()
        return make_cursor(
            ListQuery(sort=sort, desc=desc), getattr(user, column.key), user.id, utcnow()
        )


def bench_batches(client, app, models, repeat: int, depths: list[int]) -> list[Case]:
    cases = []
    for sort in SORTS:
        for desc in (False, True):
            for depth in depths:
                query = {"sort": sort, "desc": "1" if desc else "0"}
                if depth:
                    query["cursor"] = depth_cursor(app, models, sort, desc, depth)
                values, response = measure(client, repeat, "/admin/users/batch", **query)
                if rows_in(response) != 30:
                    raise BenchError(f"batch {query} gave {rows_in(response)} rows, not 30")
                cases.append(
                    Case(
                        "batch",
                        f"next batch, sort={sort} desc={int(desc)} depth={depth:,}",
                        "/admin/users/batch",
                        len(values),
                        p50(values),
                        max(values),
                        "30",
                    )
                )
                cases[-1].plain_spec = plain_spec(sort, desc, page=depth // 30)
    return cases


def search_sequence(client, term: str, sort: str, desc: bool) -> tuple[list[float], list[int]]:
    """A search as the search box makes it (the first batch, which replaces the rows in
    place), then the next batches until 30 rows or the end: (ms each, rows each)."""
    times, rows, cursor = [], [], None
    while cursor is None or (sum(rows) < 30 and cursor):
        if len(times) > 100_000:
            raise BenchError(f"search {term!r} sort={sort}: no end after 100,000 batches")
        ms, response = get(
            client,
            "/admin/users/batch",
            q=term,
            sort=sort,
            desc="1" if desc else "0",
            cursor=cursor or "",
        )
        times.append(ms)
        rows.append(rows_in(response))
        cursor = response.headers.get("X-Next-Cursor", "")
    return times, rows


def search_orders(term: dict, directions: str) -> list[tuple[str, bool]]:
    """The orders a term is searched in: every sort in both directions (``both``), or
    (``late``) every sort in its first-click direction, and the other direction of a sort
    where the term was picked as late."""
    if directions == "both":
        return list(ORDERS)
    late = {role.split(" in ", 1)[1] for role in term["roles"] if ": late in " in role}
    return [
        (sort, desc)
        for sort, desc in ORDERS
        if desc == BY_NAME[sort].first_desc or order_name(sort, desc) in late
    ]


def bench_searches(client, repeat: int, terms: list[dict], directions: str) -> list[Case]:
    """Each term with each sort (in both directions, or as :func:`search_orders` says):
    the first batch, the following ones, and the whole search until 30 rows (or the end).

    A sequence over 1 s (a rare short term streamed by bounded scans) runs 5 times in all.
    The rows shown must reach 30 or every match: else the case is marked WRONG.
    """
    cases = []
    for number, t in enumerate(terms, 1):
        started = time.perf_counter()
        orders = search_orders(t, directions)
        for sort, desc in orders:
            first = search_sequence(client, t["term"], sort, desc)
            capped = sum(first[0]) > 1000
            runs = [first] if capped else []  # else the first was the warm-up
            wanted = min(repeat, 5) if capped else repeat
            runs += [
                search_sequence(client, t["term"], sort, desc) for _ in range(wanted - len(runs))
            ]
            firsts = [times[0] for times, _ in runs]
            more = [ms for times, _ in runs for ms in times[1:]]
            totals = [sum(times) for times, _ in runs]
            shown = runs[0][1]
            name = order_name(sort, desc)
            case = Case(
                "search",
                f"search {t['kind']} {t['term']!r} ({t['share']:.3%}), sort={name}",
                f"/admin/users/batch?q={t['term']}&sort={sort}&desc={int(desc)}",
                len(firsts),
                p50(firsts),
                max(firsts),
                ",".join(map(str, shown))
                if len(shown) <= 8
                else f"{','.join(map(str, shown[:6]))},... ({len(shown)} requests)",
                p50(more) if more else None,
                max(more) if more else None,
                p50(totals),
                max(totals),
                len(runs[0][0]),
                len(t["term"]),
                capped=capped,
                term=t["term"],
                kind=t["kind"],
                order=name,
                band=t["band"],
                length=t["length"],
                first_match=t["ranks"].get(name),
            )
            fewest = min(sum(rows) for _, rows in runs)
            if fewest < min(30, t["matches"]):
                case.error = f"WRONG: the list ended after {fewest} rows; {t['matches']:,} match"
                print(f"  {case.name}: {case.error}", flush=True)
            if t.get("special") and t["kind"] in PLAIN_TERMS and sort == "created" and desc:
                case.ratio_kind = "search"
                case.plain_spec = plain_spec("created", True, search=t["term"])
            cases.append(case)
        worst = max(cases[-len(orders) :], key=lambda c: c.until30_p50)
        print(
            f"  {number}/{len(terms)} {t['term']!r}: {time.perf_counter() - started:.1f} s, "
            f"worst whole search {worst.until30_p50:.1f} ms ({worst.order}, "
            f"{worst.until30_requests} request{'s' if worst.until30_requests != 1 else ''})",
            flush=True,
        )
    return cases


def bench_pages(client, app, models, repeat: int, facts: dict, terms: list[dict]) -> list[Case]:
    cases = []

    def add(family: str, name: str, url: str, **query) -> Case:
        values, response = measure(client, repeat, url, **query)
        shown = query and "?" + "&".join(f"{k}={v}" for k, v in query.items() if k != "cursor")
        cases.append(
            Case(
                family,
                name,
                url + (shown or ""),
                len(values),
                p50(values),
                max(values),
                "" if family in ("dialog", "counts") else str(rows_in(response)),
            )
        )
        return cases[-1]

    first = add("page", "full list page, default sort (created desc)", "/admin/users/")
    first.ratio_kind, first.plain_spec = "first", plain_spec("created", True)
    chats = add("page", "full list page, sort=chats desc", "/admin/users/", sort="chats", desc="1")
    chats.ratio_kind, chats.plain_spec = "chats", plain_spec("chats", True)
    add("page", "full list page, status=deactivated", "/admin/users/", status="deactivated")
    named = representatives(terms)
    for kind in ("rare", "common", "1 char common"):  # opened from its address: the whole page
        if kind in named:
            add("page", f"full list page, search {kind} {named[kind]!r}", "/admin/users/",
                q=named[kind])  # fmt: skip
    heavy = facts["heavy_id"]
    add(
        "dialog",
        f"detail dialog, user with {facts['heavy_audit']:,} audit entries",
        f"/admin/users/{heavy}",
    )
    for tab, skip in (("audit", 0), ("audit", 3), ("chats", 0), ("chats", 2)):
        cursor = ""
        for _ in range(skip):
            cursor = get(client, f"/admin/users/{heavy}/{tab}", cursor=cursor)[1].headers[
                "X-Next-Cursor"
            ]
        add(
            "tab",
            f"{tab} tab batch after {skip} batches",
            f"/admin/users/{heavy}/{tab}",
            cursor=cursor,
        )
    deep = audit_cursor(app, models, heavy, facts["heavy_audit"] // 2)
    if deep:
        add(
            "tab",
            f"audit tab batch at depth {facts['heavy_audit'] // 2:,}",
            f"/admin/users/{heavy}/audit",
            cursor=deep,
        )
    add("counts", "status counts, no search", "/admin/users/counts")
    kinds = ("common", "rare", "1 char common", "1 char few %", "2 chars few %", "1 char rare",
             "2 chars rare")  # fmt: skip
    for kind in dict.fromkeys(k for k in kinds if k in named):
        add(
            "counts",
            f"status counts, search {kind} {named[kind]!r}",
            "/admin/users/counts",
            q=named[kind],
        )
    return cases


def representatives(terms: list[dict]) -> dict[str, str]:
    """Terms by name for the full page and the status counts: the special ones, and of the
    1- and 2-character terms found, the commonest, the one nearest a few percent (the
    slowest to count) and the rarest."""
    named = {t["kind"]: t["term"] for t in terms if t.get("special")}
    for length, label in (("1", "1 char"), ("2", "2 chars")):
        found = [t for t in terms if t["length"] == length and t["matches"]]
        if found:
            named[f"{label} common"] = max(found, key=lambda t: t["matches"])["term"]
            named[f"{label} few %"] = min(found, key=lambda t: closeness(t["share"], 0.05))["term"]
            named[f"{label} rare"] = min(found, key=lambda t: t["matches"])["term"]
    return named


def audit_cursor(app, models, user_id: int, depth: int) -> str | None:
    """A tab cursor deep in the heavy user's audit log (None where it cannot be made)."""
    try:
        A = models.AuditLog
        with app.test_request_context():
            row = db.session.execute(
                select(A.created_at, A.id)
                .where(A.user_id == user_id)
                .order_by(A.created_at.desc(), A.id.desc())
                .offset(depth - 1)
                .limit(1)
            ).one()
            return tab_cursor(user_id, "audit", row.created_at, row.id)
    except Exception as error:  # noqa: BLE001 - a bonus case; the rest must still run
        print(f"(no deep audit-tab case: {error!r})")
        return None


# -- plain Flask-Admin --------------------------------------------------------------------


def plain_spec(sort: str, desc: bool, page: int = 0, search: str | None = None) -> dict:
    """The plain request as arguments; the column index is resolved once the view exists."""
    return {"sort": PLAIN_SORT[sort], "desc": desc, "page": page, "search": search}


def plain_app(url: str, models):
    """A separate app with a plain ModelView over the same tables, as a developer writes it."""

    class PlainBase(DeclarativeBase):
        pass

    users = models.User.__table__.to_metadata(PlainBase.metadata)
    chats = models.Chat.__table__

    class PlainUser(PlainBase):
        __table__ = users
        chat_total = column_property(
            select(func.count(chats.c.id))
            .where(chats.c.user_id == users.c.id)
            .correlate_except(chats)
            .scalar_subquery()
        )

    class PlainUserView(ModelView):
        column_list = [
            "email",
            "guest_id",
            "customer_id",
            "status",
            "chat_total",
            "created_at",
            "last_activity_at",
        ]
        column_searchable_list = ["email", "customer_id"]
        column_sortable_list = ["email", "status", "chat_total", "created_at", "last_activity_at"]
        page_size = 30
        can_create = can_edit = can_delete = False

    app = Flask("bench_plain", root_path=str(ROOT / "bench"))
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="bench", TESTING=False)
    db.init_app(app)
    admin = Admin(app, name="Plain", url="/plain-admin")
    view = PlainUserView(PlainUser, db, name="Users", endpoint="plain", url="/plain")
    admin.add_view(view)
    return app, view, PlainUser


def plain_query(view, spec: dict) -> dict:
    index = [name for name, _ in view._list_columns].index(spec["sort"])
    query = {"sort": index}
    if spec["desc"]:
        query["desc"] = 1
    if spec["page"]:
        query["page"] = spec["page"]
    if spec["search"] is not None:
        query["search"] = spec["search"]
    return query


def check_plain_order(app, client, view, PlainUser) -> None:
    """The sort index means what we think: newest first, most chats first."""
    with app.app_context():
        newest = db.session.scalars(
            select(PlainUser.email).order_by(PlainUser.created_at.desc()).limit(30)
        ).all()
        most = (
            db.session.scalars(select(PlainUser).order_by(PlainUser.chat_total.desc()).limit(1))
            .one()
            .chat_total
        )
    _, response = get(client, "/plain/", **plain_query(view, plain_spec("created", True)))
    page = response.get_data(as_text=True)
    shown = [
        html.unescape(c).strip()
        for c in re.findall(r'<td class="col-email">(.*?)</td>', page, re.S)
    ]
    if shown != [e or "" for e in newest]:
        raise BenchError(f"plain sort by created desc shows {shown[:3]}, expected {newest[:3]}")
    _, response = get(client, "/plain/", **plain_query(view, plain_spec("chats", True)))
    cell = re.search(r'<td class="col-chat_total">\s*(\d+)', response.get_data(as_text=True))
    if not cell or int(cell.group(1)) != most:
        raise BenchError(
            f"plain sort by chats desc starts with {cell and cell.group(1)}, not {most}"
        )


def bench_plain(client, view, cases: list[Case], repeat: int) -> None:
    for case in cases:
        if case.plain_spec is None:
            continue
        query = plain_query(view, case.plain_spec)

        def run(query: dict = query) -> float:
            ms, response = get(client, "/plain/", **query)
            return ms

        values, capped = samples(run, repeat, cap_slow=True)
        case.plain_url = "/plain/?" + "&".join(f"{k}={v}" for k, v in query.items())
        case.plain_p50, case.plain_max, case.plain_n = p50(values), max(values), len(values)
        case.plain_capped = capped
        ours = case.until30_p50 if case.family == "search" else case.p50
        case.ratio = case.plain_p50 / ours


# -- report -------------------------------------------------------------------------------


def judge(case: Case, factor: float) -> None:
    p50_target, max_target = TARGETS[case.family]
    misses = []
    if case.p50 > p50_target * factor:
        misses.append(f"p50>{p50_target * factor:g}")
    if max_target and case.max > max_target * factor:
        misses.append(f"max>{max_target * factor:g}")
    if case.family == "search":
        if case.more_p50 is not None and case.more_p50 > p50_target * factor:
            misses.append(f"next p50>{p50_target * factor:g}")
        if case.more_max is not None and case.more_max > max_target * factor:
            misses.append(f"next max>{max_target * factor:g}")
        if case.term_len >= 3 and case.until30_p50 > SEARCH_UNTIL_30 * factor:
            misses.append(f"until-30 p50>{SEARCH_UNTIL_30 * factor:g}")
        if case.until30_p50 > WHOLE_SEARCH * factor:
            misses.append(f"whole search p50>{WHOLE_SEARCH * factor:g}")
    # PostgreSQL: within 2x of each SQLite target, ratios included.
    ratio_target = case.ratio_kind and RATIO_TARGETS[case.ratio_kind] / factor
    if ratio_target and case.ratio is not None and case.ratio < ratio_target:
        misses.append(f"ratio<{ratio_target:g}")
    if case.error:
        misses.insert(0, case.error)
    case.result = "FAIL " + ", ".join(misses) if misses else "pass"


def fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def pair(a: float | None, b: float | None) -> str:
    return "" if a is None else f"{fmt(a)} / {fmt(b)}"


def term_table(picked: dict) -> list[str]:
    """The search terms, their share and the rows before their first match in each order."""
    names = [order_name(s, d) for s, d in ORDERS]
    lines = [
        "| term | kind | length | band | matches | share | " + " | ".join(names) + " | picked as |",
        "|---|---|---|---|---|---|" + "---|" * len(names) + "---|",
    ]
    for t in picked["terms"]:
        places = " | ".join(
            "–" if t["ranks"].get(n) is None else f"{t['ranks'][n]:,}" for n in names
        )
        lines.append(
            f"| `{t['term']}` | {t['kind']} | {t['length']} | {t['band']} | {t['matches']:,} "
            f"| {t['share']:.4%} | {places} | {roles_text(t['roles'])} |"
        )
    return lines


def roles_text(roles: list[str]) -> str:
    """What a term was picked as, per band: ``5%: centre; early in email asc, status asc;
    late in status desc``."""
    bands: dict[str, dict[str, list[str]]] = {}
    for role in roles:
        band, sep, what = role.partition(": ")
        if not sep:  # a named term
            bands.setdefault("", {}).setdefault(role, [])
            continue
        kind, _, place = what.partition(" in ")
        places = bands.setdefault(band, {}).setdefault(kind, [])
        if place:
            places.append(place)
    parts = []
    for band, kinds in bands.items():
        said = "; ".join(
            f"{kind} in {', '.join(places)}" if places else kind for kind, places in kinds.items()
        )
        parts.append(f"{band}: {said}" if band else said)
    return " / ".join(parts)


def search_summary(cases: list[Case]) -> list[str]:
    """Per band and length the slowest whole search, the slowest of all, and every miss."""
    searches = [c for c in cases if c.family == "search"]
    lines = []
    if searches:
        bands = [name for name, _ in BANDS] + ["none"]
        lengths = [name for name, _ in LENGTHS]
        cells: dict[tuple, list[Case]] = {}
        for c in searches:
            cells.setdefault((c.band, c.length), []).append(c)
        lines += [
            "## Searches: the worst case per band and length",
            "",
            "The slowest whole search (until 30 rows or the end, p50) of each share band and "
            "term length, over every term of the cell and every order it was searched in.",
            "",
            "| band | length | terms | worst term | sort, direction | whole search p50 / max "
            "| requests | rows before its first match | result |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key in sorted(
            cells,
            key=lambda k: (
                bands.index(k[0]) if k[0] in bands else 99,
                lengths.index(k[1]) if k[1] in lengths else 99,
            ),
        ):
            group = cells[key]
            worst = max(group, key=lambda c: c.until30_p50)
            lines.append(
                f"| {key[0]} | {key[1]} | {len({c.term for c in group})} | `{worst.term}` "
                f"| {worst.order} | {pair(worst.until30_p50, worst.until30_max)} "
                f"| {worst.until30_requests} "
                f"| {'–' if worst.first_match is None else f'{worst.first_match:,}'} "
                f"| {worst.result} |"
            )
        worst = max(searches, key=lambda c: c.until30_p50)
        lines += [
            "",
            f"**Worst search overall:** `{worst.term}` ({worst.kind}, band {worst.band}, "
            f"length {worst.length}), sort={worst.order}: whole search p50 "
            f"{fmt(worst.until30_p50)} ms, max {fmt(worst.until30_max)} ms, "
            f"{worst.until30_requests} request{'s' if worst.until30_requests != 1 else ''}, "
            f"first request p50 {fmt(worst.p50)} ms; "
            f"{worst.result}.",
            "",
        ]
    missed = [c for c in cases if c.result != "pass"]
    lines += [f"## Cases that miss a target ({len(missed)})", ""]
    if missed:
        lines += [
            "| case | p50 / max | next batches p50 / max | until 30 p50 / max (requests) "
            "| result |",
            "|---|---|---|---|---|",
        ]
        for c in missed:
            until = "" if c.until30_p50 is None else (
                f"{pair(c.until30_p50, c.until30_max)} ({c.until30_requests})"
            )  # fmt: skip
            lines.append(
                f"| {c.name} | {pair(c.p50, c.max)} | {pair(c.more_p50, c.more_max)} "
                f"| {until} | {c.result} |"
            )
    else:
        lines.append("None.")
    return lines + [""]


def markdown(meta: dict, picked: dict, cases: list[Case]) -> str:
    lines = [f"# Admin > Users benchmark: {meta['users']:,} users, {meta['dialect']}", ""]
    for key in (
        "date",
        "machine",
        "cpus",
        "python",
        "database",
        "users",
        "chats",
        "audit",
        "heavy_audit",
        "seeding",
        "repeat",
        "search_directions",
        "quick",
        "peak_rss_setup_mb",
        "peak_rss_bench_mb",
        "rss_result",
        "rss_note",
        "url",
        "tables",
        "user_indexes",
        "terms_picked",
        "timing_s",
        "summary",
    ):
        value = meta.get(key)
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        lines.append(f"- {key}: {shown}")
    lines += [
        "",
        "## Search terms",
        "",
        "Picked from the data for each length (1, 2, 3, 5+ characters) and share band "
        "(about 0.001%, 0.1%, 1%, 5%, 20%, over 60%): the term nearest the band's centre, "
        "and for each sort and direction the one whose first match comes earliest and the "
        "one whose first match comes latest ('centre', 'early in', 'late in'); then the "
        "named terms. Under each order: the rows before the term's first user in it.",
        "",
        *term_table(picked),
        "",
    ]
    if picked["notes"]:
        lines += ["Bands and places not found:", ""]
        lines += [f"- {note}" for note in picked["notes"]]
        lines.append("")
    lines += search_summary(cases)
    lines += [
        "## Every case",
        "",
        "Times in ms (p50 / max over n requests). Searches, as the search box makes them: "
        "the first batch (it replaces the rows in place), then the following batch "
        "requests, and the whole sequence until 30 rows (or the end). "
        "Ratio: plain p50 / ours p50 (searches: / ours until-30 p50). Plain cases over "
        "1 s, and search sequences over 1 s, are cut to 5 runs (marked *).",
        "",
        "| case | n | p50 / max | rows per request | next batches p50 / max "
        "| until 30 p50 / max (requests) | plain p50 / max | plain/ours | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        until = (
            ""
            if c.until30_p50 is None
            else (f"{pair(c.until30_p50, c.until30_max)} ({c.until30_requests})")
        )
        plain = (
            "n/a"
            if c.plain_p50 is None
            else (pair(c.plain_p50, c.plain_max) + ("*" if c.plain_capped else ""))
        )
        lines.append(
            f"| {c.name} | {c.n}{'*' if c.capped else ''} | {pair(c.p50, c.max)} | {c.rows} "
            f"| {pair(c.more_p50, c.more_max)} | {until} | {plain} "
            f"| {fmt(c.ratio) if c.ratio is not None else 'n/a'} | {c.result} |"
        )
    return "\n".join(lines) + "\n"


def machine(app, url: str) -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    models = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
    cpu = models[0].split(":", 1)[1].strip() if models else platform.processor()
    if url.startswith("sqlite"):
        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        with app.app_context():
            database = db.session.scalar(text("select version()"))
    return {
        "machine": f"{platform.platform()}, {cpu}",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "database": database,
    }


def schema(app, models) -> dict:
    """The database's tables and the user table's indexes (a reused file may predate a change)."""
    with app.app_context():
        inspector = inspect(db.engine)
        table = models.User.__tablename__
        return {
            "tables": sorted(inspector.get_table_names()),
            "user_indexes": sorted(i["name"] for i in inspector.get_indexes(table)),
        }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Forget the setup's peak: hand freed memory back, then (Linux) reset VmHWM, and with it
    ru_maxrss, through ``clear_refs``. Memory the setup still holds stays counted."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, help="users in the database (default 1,000,000)")
    parser.add_argument("--database-url", help="default: SQLite file bench/results/bench-N.sqlite")
    parser.add_argument(
        "--quick", action="store_true", help="3,000 users, repeat 5: proves it runs"
    )
    parser.add_argument("--repeat", type=int, help="requests per case (default 20)")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--skip-plain", action="store_true", help="no plain Flask-Admin baseline")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--fresh", action="store_true", help="delete the SQLite file and reseed")
    parser.add_argument(
        "--pick-only",
        action="store_true",
        help="only pick the search terms (no seeding, no timing): print them and exit",
    )
    parser.add_argument(
        "--repick", action="store_true", help="pick the search terms again (not from the cache)"
    )
    parser.add_argument(
        "--search-directions",
        choices=("both", "late"),
        help="search each term with every sort in both directions (default), or in the "
        "first-click direction and where it is late (default with --quick)",
    )
    args = parser.parse_args()
    if args.fresh and args.database_url:
        parser.error("--fresh only deletes the default SQLite file; recreate that database")
    args.users = args.users or (3_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (5 if args.quick else 20)
    args.search_directions = args.search_directions or ("late" if args.quick else "both")
    heavy_audit = 5_000 if args.quick else 100_000
    Path(args.out).mkdir(parents=True, exist_ok=True)
    url = database_url(args)
    dialect = make_url(url).get_backend_name()
    factor = 2 if dialect == "postgresql" else 1

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    models = app.extensions["admin_users"].models
    terms_path = Path(args.out) / f"bench-{args.users}-{dialect}-terms.json"
    if args.pick_only:  # the database as it is: nothing is written to it
        with app.app_context():
            if not inspect(db.engine).has_table(models.User.__tablename__):
                raise BenchError(f"--pick-only needs a seeded database; {url} has no users")
            users = db.session.scalar(select(func.count()).select_from(models.User))
        print_terms(terms_for(app, models, users, terms_path, args.repick))
        return 0
    facts = prepare(app, models, args, heavy_audit)
    child = [sys.executable, str(Path(__file__).resolve()), "--pick-only", "--users",
             str(args.users), "--database-url", url, "--out", args.out]  # fmt: skip
    child += ["--repick"] if args.repick else []
    picked = terms_for(app, models, facts["users"], terms_path, args.repick, child)
    terms = picked["terms"]
    setup_rss = peak_rss_mb()
    rss_reset = reset_peak_rss()
    gc.freeze()  # the loaded app's objects, set apart as gunicorn.conf.py does
    if picked["cached"]:  # else the child printed them
        print_terms(picked)

    client = app.test_client()
    with app.app_context():
        token = sessions.open_session(db.session.get(models.User, facts["admin_id"]))
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
    deepest = max(0, (facts["users"] - 100) // 500 * 500)
    depths = sorted({min(d, deepest) for d in (0, 3_000, 300_000)})
    started = time.perf_counter()
    print("timing next batches ...", flush=True)
    cases = bench_batches(client, app, models, args.repeat, depths)
    print("timing searches ...", flush=True)
    cases += bench_searches(client, args.repeat, terms, args.search_directions)
    print("timing pages, dialog, tabs, counts ...", flush=True)
    cases += bench_pages(client, app, models, args.repeat, facts, terms)
    ours_s = time.perf_counter() - started
    if not args.skip_plain:
        print("timing plain Flask-Admin ...", flush=True)
        papp, view, PlainUser = plain_app(url, models)
        gc.freeze()
        pclient = papp.test_client()
        check_plain_order(papp, pclient, view, PlainUser)
        bench_plain(pclient, view, cases, args.repeat)
    for case in cases:
        judge(case, factor)
    bench_rss = peak_rss_mb()
    rss_ok = bench_rss <= RSS_TARGET_MB
    failed = [c for c in cases if c.result != "pass"]
    seeding = (
        f"{facts['seeding_s']:.1f} s for {facts['seeded_users']:,} users (this run)"
        if facts["seeding_s"] is not None
        else "reused an existing database"
    )
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dialect": dialect,
        **machine(app, url),
        "url": make_url(url).render_as_string(hide_password=True),
        **{k: facts[k] for k in ("users", "chats", "audit", "heavy_audit")},
        "seeding": seeding,
        "seeding_s": facts["seeding_s"],
        "repeat": args.repeat,
        "search_directions": args.search_directions,
        "quick": args.quick,
        "peak_rss_setup_mb": round(setup_rss, 1),
        "peak_rss_bench_mb": round(bench_rss, 1),
        "rss_note": ("peak since the end of the setup" if rss_reset else "peak including the setup")
        + ("; seeded in this process: rerun for a clean figure" if facts["seeding_s"] else ""),
        "rss_result": "pass" if rss_ok else f"FAIL > {RSS_TARGET_MB} MB",
        "timing_s": round(ours_s, 1),
        "terms_picked": f"{len(terms)} terms, "
        + (f"from {terms_path}" if picked["cached"] else f"in {picked['picking_s']} s"),
        **schema(app, models),
        "summary": f"{len(cases) - len(failed)} of {len(cases)} cases pass, "
        f"{len(failed)} miss a target; RSS {'pass' if rss_ok else 'FAIL'}",
    }
    report = markdown(meta, picked, cases)
    print("\n" + report)
    stem = Path(args.out) / f"bench-{args.users}-{dialect}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "meta": meta,
                "terms": terms,
                "term_notes": picked["notes"],
                "cases": [asdict(c) for c in cases],
            },
            indent=2,
        )
    )
    print(f"Wrote {stem}.md and {stem}.json")
    return 1 if args.check and (failed or not rss_ok) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"\nBENCHMARK ABORTED: {error}", file=sys.stderr)
        sys.exit(2)
