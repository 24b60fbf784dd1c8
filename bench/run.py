"""Benchmark of Admin > Users against the targets of PERFORMANCE.md (see bench/README.md).

Builds the demo app (``wsgi.create_app``) on a seeded database, signs in as an admin on
the Flask test client and times the extension's endpoints in-process, next to a plain
Flask-Admin ``ModelView`` over the same tables in the same run.

    .venv/bin/python bench/run.py [--users N] [--database-url URL] [--quick] [--repeat 20]
                                  [--out bench/results] [--skip-plain] [--check] [--fresh]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import html
import json
import os
import platform
import random
import re
import resource
import sqlite3
import statistics
import sys
import time
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
from sqlalchemy import func, insert, inspect, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, column_property  # noqa: E402

from admin_users import service, sessions  # noqa: E402
from admin_users.details import tab_cursor  # noqa: E402
from admin_users.keyset import order  # noqa: E402
from admin_users.listing import ListQuery, make_cursor  # noqa: E402
from admin_users.models import utcnow  # noqa: E402
from admin_users.sorts import SORTS, sort_column  # noqa: E402
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
    """Users whose email or customer id contains ``term`` (case-insensitive)."""
    if hasattr(User, "search_text"):
        escaped = term.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = User.search_text.like(f"%{escaped}%", escape="\\")
    else:
        condition = User.email.icontains(term, autoescape=True) | User.customer_id.icontains(
            term, autoescape=True
        )
    return session.scalar(select(func.count()).select_from(User).where(condition))


def pick_terms(app, models, total: int) -> list[dict]:
    """Search terms from the data: rare, common, none, 1 and 2 characters, a customer id part."""
    rng = random.Random(7)
    User = models.User
    with app.app_context():
        session = db.session

        def some(column):
            """The ``column`` of a random user who has one."""
            value = None
            while value is None:
                offset = rng.randrange(max(1, total - 10))
                value = session.scalar(select(column).order_by(User.id).offset(offset).limit(1))
            return value

        email, customer = some(User.email), some(User.customer_id)
        texts = [
            "\n".join(v.casefold() for v in row if v)
            for row in session.execute(  # the demo data's own users, not the bench's
                select(User.email, User.customer_id)
                .where(~func.coalesce(User.email, "").startswith("bench-"))
                .order_by(User.id)
                .limit(20_000)
            )
        ]
        chars, pairs = Counter(), Counter()
        for t in texts:
            chars.update(set(t) - {"\n"})
            pairs.update(
                {t[i : i + 2] for i in range(len(t) - 1) if t[i].isalpha() and t[i + 1].isalpha()}
            )
        terms = [
            ("rare", email.split("@")[0].casefold()),
            ("common", "example"),
            ("no match", "zzqxj-no-match"),
            ("1 char rare", min(chars, key=lambda c: (chars[c], c))),
            ("1 char very rare", "-"),
            ("1 char common", "a"),
            ("2 chars rare", min(pairs, key=lambda p: (pairs[p], p))),
            ("2 chars very rare", "-h"),
            ("2 chars common", max(pairs, key=lambda p: (pairs[p], p))),
            ("customer id part", customer[7:13]),
        ]
        out = []
        for kind, term in terms:
            hits = share(session, User, term)
            out.append({"kind": kind, "term": term, "matches": hits, "share": hits / total})
    return out


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


def search_sequence(client, term: str, sort: str) -> tuple[list[float], list[int]]:
    """A search as the search box makes it (the first batch, which replaces the rows in
    place), then the next batches until 30 rows or the end: (ms each, rows each)."""
    times, rows, cursor = [], [], None
    while cursor is None or (sum(rows) < 30 and cursor):
        if len(times) > 100_000:
            raise BenchError(f"search {term!r} sort={sort}: no end after 100,000 batches")
        ms, response = get(client, "/admin/users/batch", q=term, sort=sort, cursor=cursor or "")
        times.append(ms)
        rows.append(rows_in(response))
        cursor = response.headers.get("X-Next-Cursor", "")
    return times, rows


def bench_searches(client, repeat: int, terms: list[dict]) -> list[Case]:
    """Each term with each sort: the first batch, the next ones, the time until 30 rows.

    A sequence over 1 s (a rare short term streamed by bounded scans) runs 5 times in all.
    The rows shown must reach 30 or every match: else the case is marked WRONG.
    """
    cases = []
    for t in terms:
        for sort in SORTS:
            first = search_sequence(client, t["term"], sort)
            capped = sum(first[0]) > 1000
            runs = [first] if capped else []  # else the first was the warm-up
            wanted = min(repeat, 5) if capped else repeat
            runs += [search_sequence(client, t["term"], sort) for _ in range(wanted - len(runs))]
            firsts = [times[0] for times, _ in runs]
            more = [ms for times, _ in runs for ms in times[1:]]
            totals = [sum(times) for times, _ in runs]
            shown = runs[0][1]
            case = Case(
                "search",
                f"search {t['kind']} {t['term']!r} ({t['share']:.2%}), sort={sort}",
                f"/admin/users/batch?q={t['term']}&sort={sort}",
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
            )
            fewest = min(sum(rows) for _, rows in runs)
            if fewest < min(30, t["matches"]):
                case.error = f"WRONG: the list ended after {fewest} rows; {t['matches']:,} match"
                print(f"  {case.name}: {case.error}", flush=True)
            if sort == "created":
                case.ratio_kind = "search"
                case.plain_spec = plain_spec("created", True, search=t["term"])
            cases.append(case)
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
    for t in terms:  # a search opened from its address (a link, a reload): the whole page
        if t["kind"] in ("rare", "common", "1 char common"):
            add("page", f"full list page, search {t['kind']} {t['term']!r}", "/admin/users/",
                q=t["term"])  # fmt: skip
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
    by_kind = {t["kind"]: t["term"] for t in terms}
    add("counts", "status counts, no search", "/admin/users/counts")
    for kind in ("common", "rare", "1 char common", "1 char rare", "2 chars rare"):
        add(
            "counts",
            f"status counts, search {kind} {by_kind[kind]!r}",
            "/admin/users/counts",
            q=by_kind[kind],
        )
    return cases


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


def markdown(meta: dict, terms: list[dict], cases: list[Case]) -> str:
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
        "quick",
        "peak_rss_setup_mb",
        "peak_rss_bench_mb",
        "rss_result",
        "rss_note",
        "url",
        "tables",
        "user_indexes",
        "timing_s",
        "summary",
    ):
        value = meta.get(key)
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        lines.append(f"- {key}: {shown}")
    lines += ["", "| search term kind | term | matches | share |", "|---|---|---|---|"]
    lines += [
        f"| {t['kind']} | `{t['term']}` | {t['matches']:,} | {t['share']:.3%} |" for t in terms
    ]
    lines += [
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
    args = parser.parse_args()
    if args.fresh and args.database_url:
        parser.error("--fresh only deletes the default SQLite file; recreate that database")
    args.users = args.users or (3_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (5 if args.quick else 20)
    heavy_audit = 5_000 if args.quick else 100_000
    Path(args.out).mkdir(parents=True, exist_ok=True)
    url = database_url(args)
    dialect = make_url(url).get_backend_name()
    factor = 2 if dialect == "postgresql" else 1

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    models = app.extensions["admin_users"].models
    facts = prepare(app, models, args, heavy_audit)
    terms = pick_terms(app, models, facts["users"])
    setup_rss = peak_rss_mb()
    rss_reset = reset_peak_rss()
    gc.freeze()  # the loaded app's objects, set apart as gunicorn.conf.py does
    for t in terms:
        print(f"term {t['kind']:>16}: {t['term']!r:>24} {t['matches']:>9,} users {t['share']:.3%}")

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
    cases += bench_searches(client, args.repeat, terms)
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
        "quick": args.quick,
        "peak_rss_setup_mb": round(setup_rss, 1),
        "peak_rss_bench_mb": round(bench_rss, 1),
        "rss_note": ("peak since the end of the setup" if rss_reset else "peak including the setup")
        + ("; seeded in this process: rerun for a clean figure" if facts["seeding_s"] else ""),
        "rss_result": "pass" if rss_ok else f"FAIL > {RSS_TARGET_MB} MB",
        "timing_s": round(ours_s, 1),
        **schema(app, models),
        "summary": f"{len(cases) - len(failed)} of {len(cases)} cases pass, "
        f"{len(failed)} miss a target; RSS {'pass' if rss_ok else 'FAIL'}",
    }
    report = markdown(meta, terms, cases)
    print("\n" + report)
    stem = Path(args.out) / f"bench-{args.users}-{dialect}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "terms": terms, "cases": [asdict(c) for c in cases]}, indent=2)
    )
    print(f"Wrote {stem}.md and {stem}.json")
    return 1 if args.check and (failed or not rss_ok) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"\nBENCHMARK ABORTED: {error}", file=sys.stderr)
        sys.exit(2)
