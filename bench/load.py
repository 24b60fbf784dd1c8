"""Load test of Admin > Users over real HTTP (see bench/README.md).

Serves the demo app with gunicorn (several workers) on loopback, then lets concurrent
admin clients mix the list, searches, scrolling, the dialog and its tabs, and
deactivations and reactivations, for a while. Then it checks what QUALITY.md promises:
no 5xx at all, one audit entry for each change the server reported (none lost, none
doubled), every stored status equal to its definition, and chat counters equal to a
recount.

    .venv/bin/python bench/load.py [--database-url URL] [--users N] [--workers 4]
                                   [--clients 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from admin_users import service, sessions, status_of  # noqa: E402
from admin_users.service import DEACTIVATION_REASONS  # noqa: E402
from wsgi import create_app, db  # noqa: E402

ADMIN = "load-admin@example.com"
SECRET = "admin-users-load-test"
TERMS = ["example", "a", "ë", "zzq-none", "ana.", "-", "cus", "pl"]
SORTS = ["email", "status", "chats", "created", "last_activity"]


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:create_app()",
        ],  # fmt: skip
        env={**os.environ, "DATABASE_URL": url, "FLASK_SECRET_KEY": SECRET},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer within 20 s")
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
    finally:
        server.terminate()
        server.wait(timeout=30)

    with app.app_context():
        logged = Counter(
            db.session.execute(
                select(M.AuditLog.action, M.AuditLog.user_id).where(
                    M.AuditLog.id > audit_start,
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
    }
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"{args.clients} clients, {args.workers} workers, {took:.0f} s, {shown}")
    answers = dict(sorted(statuses.items()))
    print(f"{requests:,} requests ({requests / took:.0f}/s), answers by status: {answers}")
    print(f"{len(changes)} changes reported, {sum(logged.values())} audit entries written")
    for name, ok in checks.items():
        print(f"{'pass' if ok else 'FAIL'}  {name}")
    for crash in crashes[:5]:
        print(f"client error: {crash}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
