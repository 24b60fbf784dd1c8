"""Plain helpers shared by the tests (the fixtures are in ``conftest.py``):
``from helpers import signed_in``."""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text

from admin_users.extension import create_tables
from wsgi import create_app

POSTGRES_URL = os.environ.get(
    "ADMIN_USERS_TEST_POSTGRES_URL",
    "postgresql+psycopg://admin_users:admin_users@127.0.0.1:5432/admin_users_test",
)
REQUIRE_ALL = os.environ.get("ADMIN_USERS_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str):
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (ADMIN_USERS_REQUIRE_ALL=1 turns this skip into a failure)")
    pytest.skip(reason)


def reset_database(url: str) -> None:
    """An empty database: PostgreSQL's public schema (of this run's own database) is
    dropped and made again."""
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


# -- the demo host ---------------------------------------------------------------------------


@contextmanager
def demo_app(config: dict, *, tables: bool = True):
    """The demo host built by ``create_app(config)``, with the extension's tables unless
    ``tables=False``; its database session and connections are closed at the end."""
    app = create_app(config)
    db = app.extensions["sqlalchemy"]
    try:
        if tables:
            with app.app_context():
                create_tables()
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# -- Flask-Migrate ----------------------------------------------------------------------------


@contextmanager
def logging_kept():
    """Flask-Migrate's env.py sets logging up from its alembic.ini (``fileConfig``), which
    disables every logger it does not name: put them back for the tests that follow."""

    def loggers():
        every = logging.Logger.manager.loggerDict.values()
        return [logging.root, *(x for x in every if isinstance(x, logging.Logger))]

    saved = {x: (x.disabled, x.level, x.propagate, list(x.handlers)) for x in loggers()}
    try:
        yield
    finally:
        for x in loggers():
            x.disabled, level, x.propagate, x.handlers[:] = saved.get(
                x, (False, logging.NOTSET, True, [])
            )
            x.setLevel(level)


# -- signing in ------------------------------------------------------------------------------


def session_token(app, user) -> str:
    """The token of a new session record of ``user`` (a user or an id), as a sign-in
    makes; Flask-Login keeps it as ``_user_id``."""
    from admin_users import sessions

    with app.app_context():
        state = app.extensions["admin_users"]
        user = state.db.session.get(state.models.User, getattr(user, "id", user))
        token = sessions.open_session(user)
        state.db.session.commit()
    return token


def signed_in(client, user):
    """``client`` signed in as ``user`` (a user or an id), as after a redeemed link."""
    token = session_token(client.application, user)
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    return client


def csrf_token_for(client) -> str:
    """A valid CSRF token for ``client``'s session, read off a real page."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def link_path(app, email) -> str:
    """The path of a new sign-in link for the user ``email`` (an email, id or guest id)."""
    from admin_users import service

    with app.app_context():
        return re.sub(r"^https?://[^/]+", "", service.login_link_url(service.find_user(email)))


def sign_in_by_link(client, path):
    """The link page's Sign-in button pressed (a POST with the session's CSRF token)."""
    return client.post(path, data={"csrf_token": csrf_token_for(client)})


def admin_post(client, url, environ_base=None, **form):
    """A POST as the Users page's script sends it: the CSRF token in the ``X-CSRFToken``
    header, a JSON answer asked for; ``environ_base`` sets e.g. the admin's address."""
    token = client.get("/admin/users/csrf-token").get_json()["token"]
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    return client.post(url, data=form, headers=headers, environ_base=environ_base or {})


# -- the browser -----------------------------------------------------------------------------


def sign_in(page, app, email):
    """Sign in through the real flow: the link's page, then its button."""
    from admin_users import service

    with app.app_context():
        url = service.login_link_url(service.find_user(email))
    page.goto(url)
    page.click("#sign-in")
    page.wait_for_url("**/")


def open_as_admin(page, app, *, users: int, path: str):
    """``users`` demo users and an admin, signed in through the real flow, at ``path``."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["admin-users", "demo-data", "--users", str(users)]).exit_code == 0
    assert runner.invoke(args=["admin-users", "create-admin", "admin@example.com"]).exit_code == 0
    sign_in(page, app, "admin@example.com")
    page.goto(path)
    return page


# -- SQL -------------------------------------------------------------------------------------


@contextmanager
def recorded_sql(engine):
    """Every statement ``engine`` runs meanwhile, upper-cased, with its parameters."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement.upper(), parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def offsets_or_counts(statements, scan_limit: int = 0) -> list[str]:
    """The statements that count rows or skip rows with OFFSET, but for the two bounded
    ones: a bounded scan's stop (the ``scan_limit``-th row of a range: ``LIMIT 1 OFFSET``
    below ``scan_limit``), and a collecting step's count of the term's users in its window.

    SQLite's dialect writes ``OFFSET ?`` bound to 0 after every LIMIT: that skips nothing.
    """

    def skips(s, p) -> bool:
        bound = {}  # LIMIT and OFFSET: their values, from "?" by position or by name
        for m in re.finditer(r"(LIMIT|OFFSET) (\?|%\((\w+)\)S)", s):
            name = m.group(3)
            bound[m.group(1)] = p[name.lower()] if name else p[s[: m.end()].count("?") - 1]
        if "OFFSET" in bound:
            if bound.get("LIMIT") == 1 and bound["OFFSET"] < scan_limit:
                return False  # a bounded scan's stop
            return bool(bound["OFFSET"])
        return "OFFSET" in s

    def counts(s) -> bool:
        return "COUNT(" in re.sub(r"COUNT\(\*\) AS \w+\s+FROM COLLECT_WINDOW", "", s)

    return [s for s, p in statements if counts(s) or skips(s, p)]


@contextmanager
def writes_refused(app, table="audit_logs", operation="INSERT"):
    """The database itself refuses every ``operation`` on ``table`` meanwhile (a trigger)."""
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    if engine.dialect.name == "sqlite":
        create = [
            f"CREATE TRIGGER refuse_write BEFORE {operation} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'write refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_write"]
    else:
        create = [
            "CREATE FUNCTION refuse_write() RETURNS trigger AS "
            "$$ BEGIN RAISE EXCEPTION 'write refused'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER refuse_write BEFORE {operation} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_write()",
        ]
        drop = [f"DROP TRIGGER refuse_write ON {table}", "DROP FUNCTION refuse_write()"]
    with engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
    try:
        yield
    finally:
        with engine.begin() as connection:
            for statement in drop:
                connection.execute(text(statement))
