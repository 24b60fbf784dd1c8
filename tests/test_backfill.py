"""``flask admin-users backfill`` on SQLite and PostgreSQL: a host's table of existing users
(rows written with raw SQL: an email or none, a creation time, the host's own column) is
adopted by adding the mixin's columns to it with its rows, then backfilled; the result is
what the ORM computes, whether the run was clean or stopped midway and run again. Also:
the migration that gives the extension's own tables the same server defaults, and the
progress shown by ``backfill`` and ``demo-data``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from helpers import demo_app, signed_in
from sqlalchemy import Column, String, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models, migrate, search, service
from admin_users.definitions import Status, derived_columns, sort_key
from admin_users.listing import ListQuery, fetch_batch
from admin_users.models import EPOCH as EPOCH_TEXT
from admin_users.models import UserMixin

host_db = SQLAlchemy()


class Account(UserMixin, host_db.Model):
    __tablename__ = "accounts"
    plan = mapped_column(String(20), default="free")


host_models = build_models(host_db, User=Account)

USERS = 260  # three batches of 100
START = datetime(2024, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CANONICAL = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")  # as the ORM writes it


# -- the host, before and after adopting the extension ---------------------------------------


@pytest.fixture
def host(database_url):
    """The host's app, its table ``accounts`` made and filled before the extension came."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True)
    host_db.init_app(app)
    CSRFProtect(app)
    LoginManager(app)
    AdminUsers(db=host_db, models=host_models).init_app(app)
    with app.app_context():
        sqlite = host_db.engine.dialect.name == "sqlite"
        with host_db.engine.begin() as connection:
            connection.execute(
                text(
                    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email VARCHAR(320), "
                    "created_at DATETIME NOT NULL, plan VARCHAR(20))"
                    if sqlite
                    else "CREATE TABLE accounts (id SERIAL PRIMARY KEY, email VARCHAR(320), "
                    "created_at TIMESTAMPTZ NOT NULL, plan VARCHAR(20))"
                )
            )
            connection.execute(
                text("INSERT INTO accounts (email, created_at, plan) VALUES (:e, :c, 'pro')"),
                [{"e": _email(i), "c": _stored_created(i, sqlite)} for i in range(1, USERS + 1)],
            )
    yield app
    with app.app_context():
        host_db.session.remove()
        host_db.engine.dispose()


def _email(i: int) -> str | None:
    if i % 10 == 0:
        return None  # a visitor the host knew without an email
    if i % 3 == 0:
        return f"Ödön.Müller{i}@Exämple.DE"
    return f"User.{i}@Example.com"


def _created(i: int) -> datetime:
    return START + timedelta(hours=i, seconds=i % 7)


def _stored_created(i: int, sqlite: bool):
    """As a host writes times by hand: on SQLite as text of several ISO 8601 forms."""
    if not sqlite:
        return _created(i)
    forms = [
        lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        lambda t: (t + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00"),
    ]
    return forms[i % 3](_created(i))


def adopt(app) -> None:
    """The host's migration, as Flask-Migrate's batch mode writes it: the mixin's columns
    added to the table that has rows (plain ADD COLUMN: each NOT NULL one has a server
    default), then their constraints, the extension's other tables, the sort indexes and
    the search index."""
    with app.app_context(), host_db.engine.begin() as connection:
        op = Operations(MigrationContext.configure(connection))
        present = {c["name"] for c in inspect(connection).get_columns("accounts")}
        with op.batch_alter_table("accounts") as batch:
            for column in Account.__table__.columns:
                if column.name not in present:
                    default = column.server_default.arg if column.server_default else None
                    batch.add_column(
                        Column(column.name, column.type, nullable=column.nullable,
                               server_default=default)
                    )  # fmt: skip
        with op.batch_alter_table("accounts") as batch:
            batch.create_unique_constraint("uq_accounts_guest_id", ["guest_id"])
            batch.create_unique_constraint("uq_accounts_identifier_key", ["identifier_key"])
            batch.create_foreign_key(
                "fk_accounts_deactivated_by", "accounts", ["deactivated_by_id"], ["id"]
            )
        others = [t for t in host_db.metadata.sorted_tables if t.name != "accounts"]
        host_db.metadata.create_all(connection, tables=others)
        for index in Account.__table__.indexes:
            index.create(connection)
        assert search.create(connection, "accounts")


def add_chats(app) -> dict[int, datetime]:
    """Chats, messages and audit entries written with raw SQL, as a host imports them; the
    last activity each user should have: the latest of their creation, their chats, their
    own messages (not the assistant's) and the events they caused (not an admin's)."""
    expected = {i: _created(i) for i in range(1, USERS + 1)}
    with app.app_context(), host_db.engine.begin() as connection:
        sqlite = connection.dialect.name == "sqlite"

        def at(t):
            return t.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else t

        chat_id = 0
        for i in range(1, USERS + 1, 4):
            for k in range(1 + i % 3):
                chat_id += 1
                started = _created(i) + timedelta(days=k + 1)
                connection.execute(
                    text(
                        "INSERT INTO chats (id, user_id, title, created_at, deleted_at) "
                        "VALUES (:id, :user, 'Hi', :at, :gone)"
                    ),
                    {"id": chat_id, "user": i, "at": at(started),
                     "gone": at(started + timedelta(hours=1)) if k == 1 else None},
                )  # fmt: skip
                for role, m in (("user", 1), ("assistant", 2))[: 2 - (k == 2)]:
                    connection.execute(
                        text(
                            "INSERT INTO messages (chat_id, role, content, created_at) "
                            "VALUES (:chat, :role, 'text', :at)"
                        ),
                        {"chat": chat_id, "role": role, "at": at(started + timedelta(minutes=m))},
                    )  # fmt: skip
                expected[i] = max(expected[i], started + timedelta(minutes=1))
        for i in range(3, USERS + 1, 7):
            for actor, days in ((i, 30), (1, 60)):  # the user's own sign-in; then an admin's act
                connection.execute(
                    text(
                        "INSERT INTO audit_logs (user_id, actor_id, action, created_at, origin) "
                        "VALUES (:user, :actor, 'login', :at, 'web')"
                    ),
                    {"user": i, "actor": actor, "at": at(_created(i) + timedelta(days=days))},
                )
            expected[i] = max(expected[i], _created(i) + timedelta(days=30))
    return expected


def backfill(app, *args):
    return app.test_cli_runner().invoke(args=["admin-users", "backfill", *args])


def assert_backfilled(app, expected_activity: dict[int, datetime]) -> None:
    """Every row holds what the ORM computes: its derived columns, a recount of its chats and
    of each chat's messages, its last activity; on SQLite its times as the ORM's text."""
    with app.app_context():
        session = host_db.session
        users = session.scalars(select(Account).order_by(Account.id)).all()
        assert len(users) >= USERS
        chats = dict(
            session.execute(
                select(host_models.Chat.user_id, func.count()).group_by(host_models.Chat.user_id)
            ).all()
        )
        for user in users:
            wanted = derived_columns(user)
            assert {k: getattr(user, k) for k in wanted} == wanted, user.id
            assert user.chat_count == chats.get(user.id, 0), user.id
            if user.id in expected_activity:
                assert user.created_at == _created(user.id), user.id
                assert user.last_activity_at == expected_activity[user.id], user.id
        Chat, Message = host_models.Chat, host_models.Message
        recount = select(func.count()).where(Message.chat_id == Chat.id).scalar_subquery()
        assert session.scalar(select(func.count()).where(Chat.message_count != recount)) == 0
        assert session.scalar(select(func.count(Chat.id))) > 0
        if host_db.engine.dialect.name == "sqlite":
            times = session.execute(text("SELECT created_at, last_activity_at FROM accounts"))
            assert all(CANONICAL.match(t) for row in times for t in row)
        session.remove()


def derived_snapshot(app) -> list[tuple]:
    with app.app_context():
        return host_db.session.execute(
            text(
                "SELECT id, status, identifier_key, search_text, chat_count, created_at, "
                "last_activity_at, sort_key FROM accounts ORDER BY id"
            )
        ).all()


def found(client, term: str) -> list[int]:
    """The ids the Users list shows for a search, over HTTP."""
    html = client.get("/admin/users/", query_string={"q": term}).get_data(as_text=True)
    return [int(i) for i in re.findall(r'data-user-id="(\d+)"', html)]


# -- the tests --------------------------------------------------------------------------------


def test_an_adopted_table_is_backfilled_as_the_orm_would_write_it(host):
    adopt(host)
    expected = add_chats(host)
    with host.app_context():  # before: placeholders
        first = host_db.session.get(Account, 1)
        assert (first.status, first.search_text, first.last_activity_at) == (4, "", EPOCH)
        host_db.session.remove()

    result = backfill(host, "--batch-size", "100")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"Backfilled {USERS} users in \d+\.\d s: {USERS} changed, \d+ chats' message counts "
        r"fixed; search index kept\.\n",
        result.stdout,
    )
    assert_backfilled(host, expected)
    with host.app_context():
        statuses = {u.id: u.current_status for u in host_db.session.scalars(select(Account))}
        assert statuses[10] is Status.GUEST and statuses[3] is Status.UNCONFIRMED
        assert host_db.session.get(Account, 7).plan == "pro"  # the host's column is kept
        admin_id = service.create_admin("boss@host.example").id
    client = signed_in(host.test_client(), admin_id)
    assert found(client, "ÖDÖN.MÜLLER33@") == [33]  # Unicode case folded, part of an email
    assert found(client, "user.7@example") == [7]

    again = backfill(host)
    assert again.exit_code == 0, again.output
    assert (
        f"Backfilled {USERS + 1} users" in again.stdout and " 0 changed, 0 chats'" in again.stdout
    )


def test_rows_inserted_without_the_orm_after_adoption_are_fixed_by_a_new_run(host):
    adopt(host)
    expected = add_chats(host)
    assert backfill(host).exit_code == 0
    with host.app_context(), host_db.engine.begin() as connection:
        sqlite = connection.dialect.name == "sqlite"
        late = datetime(2025, 6, 1, 12, tzinfo=UTC)
        when = late.strftime("%Y-%m-%d %H:%M:%S") if sqlite else late
        connection.execute(
            text("INSERT INTO accounts (email, created_at) VALUES ('Late.Comer@Example.com', :t)"),
            {"t": when},
        )
        connection.execute(
            text("INSERT INTO accounts (guest_id, created_at) VALUES ('g-000000042', :t)"),
            {"t": when},
        )
    with host.app_context():
        admin_id = service.create_admin("boss@host.example").id
    client = signed_in(host.test_client(), admin_id)
    assert found(client, "late.comer") == found(client, "00000004") == []  # no search text yet

    result = backfill(host)
    assert result.exit_code == 0, result.output
    assert " 2 changed, 0 chats'" in result.stdout  # only the rows that needed it
    assert_backfilled(host, expected)
    with host.app_context():
        late_user = service.find_user("late.comer@example.com")
        guest = service.find_user("g-000000042")
        assert late_user.current_status is Status.UNCONFIRMED and late_user.status == 2
        assert guest.status == int(Status.GUEST) and guest.identifier_key == "g-000000042"
        assert guest.search_text == "g-000000042" and guest.sort_key == sort_key(guest)
        assert late_user.sort_key == sort_key(late_user) is not None
        assert late_user.last_activity_at == late_user.created_at == late
        ids = late_user.id, guest.id
    assert found(client, "LATE.COMER@") == [ids[0]]
    assert found(client, "00000004") == found(client, "G-000000042") == [ids[1]]
    assert ids[1] in found(client, "")


def _refuse_updates_of(app, user_id: int):
    """A trigger on ``accounts`` that makes the database refuse to update one row."""
    with app.app_context(), host_db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_write BEFORE UPDATE ON accounts "
                    f"WHEN NEW.id = {user_id} BEGIN SELECT RAISE(ABORT, 'write refused'); END"
                )
            )
            return ["DROP TRIGGER refuse_write"]
        connection.execute(
            text(
                "CREATE FUNCTION refuse_write() RETURNS trigger AS "
                "$$ BEGIN RAISE EXCEPTION 'write refused'; END $$ LANGUAGE plpgsql"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse_write BEFORE UPDATE ON accounts FOR EACH ROW "
                f"WHEN (NEW.id = {user_id}) EXECUTE FUNCTION refuse_write()"
            )
        )
        return ["DROP TRIGGER refuse_write ON accounts", "DROP FUNCTION refuse_write()"]


def test_a_run_stopped_midway_is_finished_by_the_next(host):
    adopt(host)
    expected = add_chats(host)
    drop = _refuse_updates_of(host, 150)

    stopped = backfill(host, "--batch-size", "100")
    assert stopped.exit_code == 1
    assert stopped.stdout == ""
    assert stopped.stderr.splitlines()[-1] == (
        "Error: Backfill stopped at the users after id 100: write refused. "
        "Those up to id 100 are done: run backfill again to go on."
    )
    assert "Traceback" not in stopped.output
    rows = {row[0]: row for row in derived_snapshot(host)}
    assert all(rows[i][3] != "" for i in range(1, 101) if _email(i))  # the first batch: done
    # None after it: each keeps its placeholders.
    assert all(rows[i][1:4] + rows[i][7:] == (4, None, "", None) for i in range(101, USERS + 1))

    with host.app_context(), host_db.engine.begin() as connection:
        for statement in drop:
            connection.execute(text(statement))
    resumed = backfill(host, "--batch-size", "100")
    assert resumed.exit_code == 0, resumed.output
    assert f" {USERS - 100} changed," in resumed.stdout  # the rows still needing it
    assert_backfilled(host, expected)

    # The same as one clean run: every placeholder back, and a run from the start.
    after_resume = derived_snapshot(host)
    with host.app_context(), host_db.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE accounts SET status = 4, identifier_key = NULL, search_text = '', "
                "chat_count = 0, last_activity_at = :epoch, sort_key = NULL"
            ),
            {"epoch": EPOCH_TEXT if connection.dialect.name == "sqlite" else EPOCH},
        )
    clean = backfill(host, "--batch-size", "100")
    assert clean.exit_code == 0 and f" {USERS} changed," in clean.stdout
    assert derived_snapshot(host) == after_resume


def test_emails_that_differ_only_in_case_are_refused_in_one_line(host):
    adopt(host)
    with host.app_context(), host_db.engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET email = 'user.1@EXAMPLE.com' WHERE id = 150"))
    result = backfill(host, "--batch-size", "100")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: Users 1 and 150 have the same identifier ('user.1@example.com'): emails are "
        "unique regardless of case. Merge them or change one, then run backfill again."
    )
    rows = {row[0]: row for row in derived_snapshot(host)}
    assert rows[1][2] == "user.1@example.com" and rows[150][2] is None  # its batch undone


def test_a_key_left_by_a_changed_email_moves_to_its_new_owner(host):
    """Emails swapped by raw UPDATEs after a backfill: each key goes to its new owner,
    within a batch and across batches alike."""
    adopt(host)
    expected = add_chats(host)
    assert backfill(host).exit_code == 0
    with host.app_context(), host_db.engine.begin() as connection:
        for a, b in ((1, 2), (4, 251)):
            connection.execute(
                text(
                    "UPDATE accounts SET email = CASE id WHEN :a THEN :eb ELSE :ea END "
                    "WHERE id IN (:a, :b)"
                ),
                {"a": a, "b": b, "ea": _email(a), "eb": _email(b)},
            )
    result = backfill(host, "--batch-size", "100")
    assert result.exit_code == 0, result.output
    assert " 4 changed," in result.stdout
    assert_backfilled(host, expected)


def test_a_time_that_is_no_time_is_refused_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'bad.sqlite'}"
    with demo_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url, "TESTING": True}) as app:
        with app.app_context(), app.extensions["sqlalchemy"].engine.begin() as connection:
            connection.execute(
                text("INSERT INTO users (email, created_at) VALUES ('a@example.com', 'yesterday')")
            )
        result = app.test_cli_runner().invoke(args=["admin-users", "backfill"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: User 1: created_at is 'yesterday', not a time. Write it as ISO 8601 "
        "(2024-01-05 10:00:00, UTC unless it says otherwise), then run backfill again."
    )


# -- the extension's own tables ---------------------------------------------------------------


def test_demo_data_needs_no_backfill_and_both_show_progress(app, runner):
    seeded = runner.invoke(args=["admin-users", "demo-data", "--users", "250"])
    assert seeded.exit_code == 0, seeded.output
    assert re.fullmatch(r"Added 250 users, [\d,]+ chats, .* in \d+\.\d s\.\n", seeded.stdout)
    assert "Writing 250 users\n" in seeded.stderr
    assert "Writing 250 users: 250 (100%)\n" in seeded.stderr
    assert re.search(r"^Building indexes: \d+ \(100%\)$", seeded.stderr, re.M)

    result = runner.invoke(args=["admin-users", "backfill", "--batch-size", "50"])
    assert result.exit_code == 0, result.output
    # demo-data writes what the ORM computes: nothing for the backfill to change.
    assert re.fullmatch(
        r"Backfilled 250 users in \d+\.\d s: 0 changed, 0 chats' message counts fixed; "
        r"search index kept\.\n",
        result.stdout,
    )
    lines = result.stderr.splitlines()
    assert lines[0] == "Backfilling 250 users"
    assert lines[1:6] == [
        f"Backfilling 250 users: {n} ({n * 100 // 250}%)" for n in (50, 100, 150, 200, 250)
    ]
    assert lines[6:] == ["Search index", "Search index: 1 (100%)"]


def test_the_extensions_tables_take_rows_written_without_the_orm(app, runner, db):
    """Made by init-db (``app``), the users table takes a raw INSERT of an email and a
    creation time, and the backfill makes that row what the ORM would have."""
    with app.app_context():
        service.register("first@example.com")
        with db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO users (email, created_at) VALUES ('Raw@Example.com', :t)"),
                {"t": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)},
            )
            connection.execute(
                text("INSERT INTO chats (user_id, created_at) VALUES (2, :t)"),
                {"t": datetime(2025, 1, 3, tzinfo=UTC)},
            )
    result = runner.invoke(args=["admin-users", "backfill"])
    assert result.exit_code == 0, result.output
    assert " 1 changed, 0 chats'" in result.stdout
    with app.app_context():
        raw = service.find_user("raw@example.com")
        assert raw.current_status is Status.UNCONFIRMED and raw.status == 2
        assert (raw.search_text, raw.chat_count) == ("raw@example.com", 1)
        assert raw.sort_key == sort_key(raw) is not None
        assert raw.last_activity_at == datetime(2025, 1, 3, tzinfo=UTC)


def test_the_migration_gives_existing_tables_the_server_defaults(bare_app):
    """A database at the revision before, with users, chats and a search index: upgraded,
    it takes raw INSERTs that leave the ORM's columns out, keeps its rows and its search;
    downgraded, it refuses them again."""
    with bare_app.app_context():
        engine = bare_app.extensions["sqlalchemy"].engine
    raw_user = text("INSERT INTO users (email, created_at) VALUES ('raw@example.com', :t)")
    raw_chat = text("INSERT INTO chats (user_id, created_at) VALUES (:user, :t)")
    t = {"t": datetime(2025, 1, 2, tzinfo=UTC)}
    with bare_app.app_context():
        migrate.upgrade("admin_users_0004")
        with engine.begin() as connection:  # a user and a chat as the version of 0004 wrote them
            user_id = connection.execute(
                text(
                    "INSERT INTO users (email, identifier_key, search_text, status, created_at, "
                    "last_activity_at, is_admin, chat_count) VALUES ('Kept.User@example.com', "
                    "'kept.user@example.com', 'kept.user@example.com', 2, :t, :t, :no, 1) "
                    "RETURNING id"
                ),
                {**t, "no": False},
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO chats (user_id, message_count, created_at) VALUES (:user, 0, :t)"
                ),
                {**t, "user": user_id},
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(raw_user, t)

        migrate.upgrade()
        assert migrate.current() == migrate.head()
        with engine.begin() as connection:
            connection.execute(raw_user, t)
            connection.execute(raw_chat, {**t, "user": user_id})
            row = connection.execute(
                text(
                    "SELECT status, search_text, is_admin, chat_count, last_activity_at FROM "
                    "users WHERE email = 'raw@example.com'"
                )
            ).one()
            assert tuple(row[:4]) == (4, "", False, 0)
            assert str(row[4]).startswith("1970-01-01 00:00:00")
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert search.current(connection, "users")
    with bare_app.test_request_context():
        assert [u.id for u in fetch_batch(ListQuery(search="kept.user")).users] == [user_id]
        bare_app.extensions["sqlalchemy"].session.remove()
    with bare_app.app_context():
        assert bare_app.test_cli_runner().invoke(args=["admin-users", "backfill"]).exit_code == 0
    with bare_app.test_request_context():
        assert [u.identifier for u in fetch_batch(ListQuery(search="raw@")).users] == [
            "raw@example.com"
        ]
        bare_app.extensions["sqlalchemy"].session.remove()

    with bare_app.app_context():
        migrate.downgrade("admin_users_0004")
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(raw_user, t)
