"""Load test of Admin > Users over real HTTP (see bench/README.md).

Serves the demo app with gunicorn (several workers) on loopback, then lets concurrent
admin clients mix the list, searches, scrolling, the dialog and its tabs, and
deactivations and reactivations, for a while; then races many browsers redeeming one
sign-in link at once, for several links. Then it checks what QUALITY.md promises:
no 5xx at all, one audit entry for each change the server reported (none lost, none
doubled), every stored status equal to its definition, chat counters equal to a
recount, the status counts equal to a recount, and one sign-in (one session, one
``login`` entry) from each link.

    .venv/bin/python bench/load.py [--database-url URL] [--users N] [--workers 4]
                                   [--clients 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from admin_users import counters, service, sessions, status_of  # noqa: E402
from admin_users.service import DEACTIVATION_REASONS  # noqa: E402
from admin_users.sorts import SORTS  # noqa: E402
from wsgi import create_app, db  # noqa: E402

ADMIN = "load-admin@example.com"
RACE_ADMINS = ("race-admin-1@example.com", "race-admin-2@example.com")
SECRET = "admin-users-load-test"
TERMS = ["example", "a", "ë", "zzq-none", "ana.", "-", "cus", "pl"]


class Client:
    """One admin's browser: a session cookie kept across requests, every answer counted."""

    def __init__(self, base: str, cookie: str, statuses: Counter, lock: threading.Lock):
        self.base, self.cookie, self.statuses, self.lock = base, cookie, statuses, lock

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)
        request.add_header("Cookie", f"session={self.cookie}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, headers, text = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, text = error.code, error.headers, error.read()
        except OSError:  # no answer at all: counted as status 0
            status, headers, text = 0, {}, b""
        for value in (headers.get_all("Set-Cookie") if headers else None) or []:
            found = re.match(r"session=([^;]*)", value)
            if found:
                self.cookie = found.group(1)
        with self.lock:
            self.statuses[status] += 1
        return status, headers, text.decode(errors="replace")

    def post(self, path: str, data: dict):
        status, headers, token = self.request("/admin/users/csrf-token")
        if status != 200:
            return status, headers, token
        return self.request(path, {**data, "csrf_token": json.loads(token)["token"]})


def run_client(client: Client, rng: random.Random, targets: list[int], deadline: float, changes):
    cursor_args = None
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.2:
            args = {"sort": rng.choice(SORTS), "desc": rng.choice("01")}
            _, _, page = client.request("/admin/users/?" + urllib.parse.urlencode(args))
            found = re.search(r'data-cursor="([^"]+)"', page)
            cursor_args = {**args, "cursor": found.group(1)} if found else None
        elif roll < 0.4:
            client.request("/admin/users/?" + urllib.parse.urlencode({"q": rng.choice(TERMS)}))
        elif roll < 0.55 and cursor_args:
            _, headers, _ = client.request(
                "/admin/users/batch?" + urllib.parse.urlencode(cursor_args)
            )
            nxt = headers.get("X-Next-Cursor")
            cursor_args = {**cursor_args, "cursor": nxt} if nxt else None
        elif roll < 0.65:
            client.request(f"/admin/users/{rng.choice(targets)}")
        elif roll < 0.75:
            client.request(f"/admin/users/{rng.choice(targets)}/{rng.choice(['chats', 'audit'])}")
        elif roll < 0.8:
            client.request(
                "/admin/users/counts?" + urllib.parse.urlencode({"q": rng.choice(TERMS)})
            )
        else:
            user_id = rng.choice(targets)
            if rng.random() < 0.5:
                data = {"reason": rng.choice(DEACTIVATION_REASONS), "detail": "load test"}
                action, path = "admin.deactivate", f"/admin/users/{user_id}/deactivate"
            else:
                data = {"note": "load test"}
                action, path = "admin.reactivate", f"/admin/users/{user_id}/reactivate"
            status, _, body = client.post(path, data)
            if status == 200 and json.loads(body).get("changed"):
                changes.append((action, user_id))


@contextmanager
def serve(url: str, secret: str, workers: int = 4):
    """The demo app on ``url``'s database, served by gunicorn with ``workers`` workers on
    a loopback socket bound here first: requests sent before the workers are up wait in
    its queue, so nothing needs to poll for them. Yields the base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"fd://{listener.fileno()}",
            "--log-level",
            "warning",
            "-c",
            str(ROOT / "gunicorn.conf.py"),  # each worker sets its loaded app apart from gc
            "wsgi:create_app()",
        ],  # fmt: skip
        env={**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": secret},
        pass_fds=[listener.fileno()],
        cwd=ROOT,
    )
    listener.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _http(base: str, method: str, path: str, body: str | None = None, cookie: str = ""):
    """One request on a connection of its own: (status, session cookie, text)."""
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=60)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        found = re.match(r"(session=[^;]*)", response.getheader("Set-Cookie") or "")
        return response.status, found.group(1) if found else cookie, text
    finally:
        connection.close()


def redeem_at_once(base: str, path: str, racers: int) -> list[tuple[int, str]]:
    """``racers`` browsers, each with its own session and CSRF token from the link's page,
    press its Sign-in button at the same moment; their (status, text) answers."""
    barrier = threading.Barrier(racers)
    answers = []

    def browser():
        try:
            _, cookie, page = _http(base, "GET", path)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        finally:
            barrier.wait(timeout=60)
        status, _, text = _http(
            base, "POST", path, urllib.parse.urlencode({"csrf_token": token}), cookie
        )
        answers.append((status, text))

    threads = [threading.Thread(target=browser) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def link_race(app, base: str, links: int = 5, racers: int = 12) -> dict:
    """Each of ``links`` new users' sign-in link, redeemed by ``racers`` browsers at once:
    how many answers signed in, were told the link was used, or were anything else, and
    how many sessions and ``login`` entries each link made (1 each is right)."""
    M = app.extensions["admin_users"].models
    outcome = Counter()
    made = []
    for n in range(links):
        with app.app_context():
            email = f"race-{n}-{random.randrange(10**9)}@example.com"
            user = service.register(email)
            path = urllib.parse.urlsplit(service.login_link_url(user)).path
            user_id = user.id
        for status, text in redeem_at_once(base, path, racers):
            if status == 302:
                outcome["signed in"] += 1
            elif status == 400 and "already been used" in text:
                outcome["told the link was used"] += 1
            else:
                outcome[f"answered {status}"] += 1
        with app.app_context():
            sessions_ = db.session.scalar(
                select(func.count())
                .select_from(M.UserSession)
                .where(M.UserSession.user_id == user_id)
            )
            logins = db.session.scalar(
                select(func.count())
                .select_from(M.AuditLog)
                .where(M.AuditLog.user_id == user_id, M.AuditLog.action == "login")
            )
        made.append((sessions_, logins))
    return {"answers": dict(outcome), "sessions and logins per link": made}


def _signed_in_cookie(app, user_id: int) -> tuple[str, str]:
    """A session cookie of a new session record of the user, with a CSRF token in it:
    (the Cookie header's value, the form's token)."""
    with app.app_context():
        User = app.extensions["admin_users"].models.User
        token = sessions.open_session(db.session.get(User, user_id))
        db.session.commit()
        csrf = secrets.token_hex(20)
        cookie = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": token, "_fresh": True, "csrf_token": csrf}
        )
    with app.test_request_context():
        from flask import session
        from flask_wtf.csrf import generate_csrf

        session["csrf_token"] = csrf
        form_token = generate_csrf()
    return f"session={cookie}", form_token


def _at_once(calls) -> list:
    """Run the ``calls`` in threads released at the same moment; their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(n, call):
        barrier.wait(timeout=60)
        results[n] = call()

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def admin_races(app, base: str, rounds: int = 10) -> dict:
    """Races of state changes against gunicorn, ``rounds`` users each:
    two admins deactivating one user at once; erasure against a deactivation; erasure
    while the user keeps chatting. Returns what was left wrong (all zero is right)."""
    M = app.extensions["admin_users"].models
    with app.app_context():
        admins = [(service.find_user(e) or service.create_admin(e)).id for e in RACE_ADMINS]
    (one, one_csrf), (two, two_csrf) = (_signed_in_cookie(app, a) for a in admins)

    def post(cookie, csrf, path, **form):
        body = urllib.parse.urlencode({**form, "csrf_token": csrf})
        return lambda: _http(base, "POST", path, body, cookie)[0]

    def new_user(kind):
        with app.app_context():
            user = service.register(f"{kind}-{secrets.token_hex(6)}@example.com")
            chat = service.start_chat(user)
            service.add_message(chat, "user", "hello")
            return user.id, user.email, chat.id

    statuses, doubled, erased_wrong, written_after = Counter(), 0, 0, 0
    for _ in range(rounds):
        user_id, _, _ = new_user("twice")
        path = f"/admin/users/{user_id}/deactivate"
        for status in _at_once(
            [
                post(c, t, path, reason="Spam or bot account")
                for c, t in ((one, one_csrf), (two, two_csrf))
            ]
        ):
            statuses[status] += 1
        with app.app_context():
            doubled += _count(M, user_id, "admin.deactivate") != 1

        user_id, email, _ = new_user("erase-deactivate")
        calls = [
            post(one, one_csrf, f"/admin/users/{user_id}/erase", confirm=email),
            post(two, two_csrf, f"/admin/users/{user_id}/deactivate", reason="Abuse"),
        ]
        for status in _at_once(calls):
            statuses[status] += 1
        with app.app_context():
            erased = db.session.get(M.User, user_id)
            last = db.session.scalars(
                select(M.AuditLog.action)
                .where(M.AuditLog.user_id == user_id)
                .order_by(M.AuditLog.id.desc())
                .limit(1)
            ).one()
            erased_wrong += erased.deactivation_reason != "Account erased" or last != "admin.erase"

        user_id, email, chat_id = new_user("chatter")
        cookie, csrf = _signed_in_cookie(app, user_id)
        chatting = [
            post(cookie, csrf, "/chat", message=f"still here {n}", chat_id=str(chat_id))
            for n in range(6)
        ]
        for status in _at_once(
            [*chatting, post(one, one_csrf, f"/admin/users/{user_id}/erase", confirm=email)]
        ):
            statuses[status] += 1
        with app.app_context():
            written_after += db.session.scalar(
                select(func.count())
                .select_from(M.Message)
                .join(M.Chat, M.Chat.id == M.Message.chat_id)
                .where(M.Chat.user_id == user_id, M.Message.content.is_not(None))
            ) + db.session.scalar(
                select(func.count())
                .select_from(M.Chat)
                .where(M.Chat.user_id == user_id, M.Chat.title.is_not(None))
            )
    with app.app_context():
        kept = counters.totals(db.session, M.StatusCount)
        counted = dict(
            db.session.execute(select(M.User.status, func.count()).group_by(M.User.status)).all()
        )
        counts_off = sum(abs(n - counted.get(int(status), 0)) for status, n in kept.items())
    return {
        "answers": dict(sorted(statuses.items())),
        "users with doubled or missing admin.deactivate": doubled,
        "erasures overwritten or followed by a deactivation": erased_wrong,
        "texts kept after an erasure": written_after,
        "status counts off a recount": counts_off,
    }


def _count(M, user_id: int, action: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(M.AuditLog)
        .where(M.AuditLog.user_id == user_id, M.AuditLog.action == action)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: bench/results/bench-N.sqlite")
    parser.add_argument("--users", type=int, default=1_000_000, help="seed up to this many")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    url = args.database_url
    if not url:
        (ROOT / "bench/results").mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{ROOT / 'bench/results' / f'bench-{args.users}.sqlite'}"

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    M = app.extensions["admin_users"].models
    runner = app.test_cli_runner()

    def command(*words):
        result = runner.invoke(args=["admin-users", *words])
        if result.exit_code != 0:
            raise SystemExit(f"flask admin-users {' '.join(words)} failed: {result.output}")

    command("init-db")
    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(M.User))
        if have < args.users:
            print(f"Seeding {args.users - have:,} users ...", flush=True)
            command("demo-data", "--users", str(args.users - have))
        admin = service.find_user(ADMIN) or service.create_admin(ADMIN)
        top = db.session.scalar(select(func.max(M.User.id)))
        rng = random.Random(3)
        targets = [i for i in {rng.randint(1, top) for _ in range(300)} if i != admin.id]
        targets = db.session.scalars(
            select(M.User.id).where(M.User.id.in_(targets), M.User.erased_at.is_(None))
        ).all()
        audit_start = db.session.scalar(select(func.max(M.AuditLog.id))) or 0
        token = sessions.open_session(admin)
        db.session.commit()
        cookie = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": token, "_fresh": True}
        )

    with serve(url, SECRET, args.workers) as base:
        statuses, lock, changes = Counter(), threading.Lock(), []
        deadline = time.monotonic() + args.seconds
        crashes = []

        def client_thread(*arguments):
            try:
                run_client(*arguments)
            except Exception as error:  # a client that stops early would hide failures
                crashes.append(repr(error))

        threads = [
            threading.Thread(
                target=client_thread,
                args=(
                    Client(base, cookie, statuses, lock),
                    random.Random(n),
                    targets,
                    deadline,
                    changes,
                ),  # fmt: skip
            )
            for n in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
        race = link_race(app, base)
        admin_race = admin_races(app, base)

    with app.app_context():
        logged = Counter(
            db.session.execute(
                select(M.AuditLog.action, M.AuditLog.user_id).where(
                    M.AuditLog.id > audit_start,
                    M.AuditLog.user_id.in_(targets),
                    M.AuditLog.action.in_(["admin.deactivate", "admin.reactivate"]),
                )
            ).all()
        )
        wrong_status = [
            u.id
            for u in db.session.scalars(select(M.User).where(M.User.id.in_(targets)))
            if u.status != int(status_of(u))
        ]
        chats = select(M.Chat.user_id, func.count().label("n")).group_by(M.Chat.user_id).subquery()
        wrong_counts = db.session.scalar(
            select(func.count())
            .select_from(M.User)
            .outerjoin(chats, chats.c.user_id == M.User.id)
            .where(M.User.chat_count != func.coalesce(chats.c.n, 0))
        )
    requests = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    checks = {
        "every request answered, none with a 5xx": requests > 0 and server_errors == 0,
        "no client stopped on an error": not crashes,
        "one audit entry per reported change": logged == Counter(changes),
        "stored status equals its definition": not wrong_status,
        "chat counters equal a recount": wrong_counts == 0,
        "each raced link signed in once, with one session and one login entry": (
            race["answers"].get("signed in") == len(race["sessions and logins per link"])
            and set(race["sessions and logins per link"]) == {(1, 1)}
        ),
        "state changes raced happened once, erasures held, no 5xx": (
            not any(n for k, n in admin_race.items() if k != "answers")
            and all(200 <= status < 500 for status in admin_race["answers"])
        ),
    }
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"{args.clients} clients, {args.workers} workers, {took:.0f} s, {shown}")
    answers = dict(sorted(statuses.items()))
    print(f"{requests:,} requests ({requests / took:.0f}/s), answers by status: {answers}")
    print(f"{len(changes)} changes reported, {sum(logged.values())} audit entries written")
    print(f"link race: {race}")
    print(f"admin races: {admin_race}")
    for name, ok in checks.items():
        print(f"{'pass' if ok else 'FAIL'}  {name}")
    for crash in crashes[:5]:
        print(f"client error: {crash}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
