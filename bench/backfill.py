"""Time ``flask admin-users backfill`` on a table of existing users (see docs/adopting.md).

Empties the database at ``--database-url`` (a SQLite file, or a PostgreSQL database of
your own: its public schema is dropped), makes the extension's tables and fills the users
with a raw INSERT ... SELECT of generated rows holding only what a host would have: an
email (or, one in five, a guest id), a creation time written by hand (no microseconds),
one in three a customer id; half the users have a chat with two messages (the user's and
the assistant's). The search index is made over those rows, as a host's migration makes
it; then the backfill runs through the CLI, once from scratch and once more (nothing left
to do), and both are timed.

    .venv/bin/python bench/backfill.py --users 1000000 --database-url URL [--batch-size N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from admin_users import search  # noqa: E402
from admin_users.backfill import BATCH_SIZE  # noqa: E402
from admin_users.migrate import create_tables  # noqa: E402
from wsgi import create_app  # noqa: E402

SQLITE = [
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :users) "
    "INSERT INTO users (id, email, guest_id, customer_id, created_at) SELECT i, "
    "CASE WHEN i % 5 = 0 THEN NULL ELSE 'User.' || i || '@Example.com' END, "
    "CASE WHEN i % 5 = 0 THEN printf('g-%09d', i) END, "
    "CASE WHEN i % 3 = 0 THEN 'cus_' || i END, "
    "datetime('2024-01-01', '+' || (i * 37 % 63072000) || ' seconds') FROM n",
    "INSERT INTO chats (user_id, title, created_at) SELECT id, 'Hello', "
    "strftime('%Y-%m-%d %H:%M:%S.000000', created_at, '+1 day') FROM users WHERE id % 4 IN (1, 2)",
    "INSERT INTO messages (chat_id, role, content, created_at) SELECT id, 'user', 'Hi', "
    "strftime('%Y-%m-%d %H:%M:%S.000000', created_at, '+1 minute') FROM chats UNION ALL "
    "SELECT id, 'assistant', 'Hello!', "
    "strftime('%Y-%m-%d %H:%M:%S.000000', created_at, '+2 minutes') FROM chats",
]
POSTGRESQL = [
    "INSERT INTO users (id, email, guest_id, customer_id, created_at) SELECT i, "
    "CASE WHEN i % 5 = 0 THEN NULL ELSE 'User.' || i || '@Example.com' END, "
    "CASE WHEN i % 5 = 0 THEN 'g-' || lpad(i::text, 9, '0') END, "
    "CASE WHEN i % 3 = 0 THEN 'cus_' || i END, "
    "timestamptz '2024-01-01 00:00:00+00' + (i * 37 % 63072000) * interval '1 second' "
    "FROM generate_series(1, :users) AS i",
    "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
    "INSERT INTO chats (user_id, title, created_at) SELECT id, 'Hello', "
    "created_at + interval '1 day' FROM users WHERE id % 4 IN (1, 2)",
    "INSERT INTO messages (chat_id, role, content, created_at) SELECT id, 'user', 'Hi', "
    "created_at + interval '1 minute' FROM chats UNION ALL "
    "SELECT id, 'assistant', 'Hello!', created_at + interval '2 minutes' FROM chats",
]


def empty(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).unlink(missing_ok=True)
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def fill(app, users: int) -> float:
    """The host's rows, and the search index over them; the seconds it took."""
    started = time.perf_counter()
    with app.app_context():
        create_tables()
        engine = app.extensions["sqlalchemy"].engine
        postgresql = engine.dialect.name == "postgresql"
        with engine.begin() as connection:
            search.drop(connection, "users")  # made over the rows, as a migration makes it
            for statement in POSTGRESQL if postgresql else SQLITE:
                connection.execute(text(statement), {"users": users})
            search.create(connection, "users")
        if postgresql:
            with engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.exec_driver_sql("VACUUM (ANALYZE) users, chats, messages")
        engine.dispose()
    return time.perf_counter() - started


def timed_backfill(app, batch_size: int) -> tuple[float, str]:
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(
        args=["admin-users", "backfill", "--batch-size", str(batch_size)]
    )
    took = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return took, result.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/admin_users_backfill.sqlite")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    args = parser.parse_args()
    empty(args.database_url)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": args.database_url, "SECRET_KEY": "bench", "TESTING": False}
    )
    dialect = make_url(args.database_url).get_backend_name()
    print(f"{dialect}: {args.users:,} existing users, batches of {args.batch_size:,}")
    print(f"  made the table in {fill(app, args.users):.1f} s")
    for run in ("first run", "second run"):
        took, summary = timed_backfill(app, args.batch_size)
        print(f"  {run}: {took:.1f} s, {args.users / took:,.0f} users/s  ({summary})")
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
