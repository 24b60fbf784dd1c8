"""Fixtures: a fresh demo-host app per test, on SQLite and on PostgreSQL.

PostgreSQL runs where ``ADMIN_USERS_TEST_POSTGRES_URL`` (or the default below) answers;
elsewhere those runs skip, unless ``ADMIN_USERS_REQUIRE_ALL=1`` (CI) makes them fail.
Each test run makes a database of its own beside that one (its role needs CREATEDB) and
drops it at the end, so that two runs on one machine never share tables.
"""

from __future__ import annotations

import os
import re
import secrets
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from admin_users.extension import create_tables

POSTGRES_URL = os.environ.get(
    "ADMIN_USERS_TEST_POSTGRES_URL",
    "postgresql+psycopg://admin_users:admin_users@127.0.0.1:5432/admin_users_test",
)
REQUIRE_ALL = os.environ.get("ADMIN_USERS_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str):
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (ADMIN_USERS_REQUIRE_ALL=1 turns this skip into a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url():
    """This run's own database, made beside ``POSTGRES_URL``'s and dropped at the end."""
    base = make_url(POSTGRES_URL)
    name = f"{base.database}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        server = create_engine(base, isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # no driver, no server, no database, no CREATEDB
        skip_or_fail(
            f"PostgreSQL at {base.render_as_string()} cannot make this run's database: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )
    yield base.set(database=name).render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


def reset_database(url: str) -> None:
    """An empty database: PostgreSQL's public schema (of this run's own database) is
    dropped and made again."""
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    reset_database(url)
    return url


@pytest.fixture
def plan_settings():
    """The search planner's figures for ``app``: the measured defaults, unless a test
    parametrizes this name (``PlanSettings(quick_walk=0)``: straight to the index)."""
    return None


@pytest.fixture
def app(database_url, tmp_path, plan_settings):
    from wsgi import create_app, db

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "ADMIN_USERS_BASE_URL": "http://localhost",
            "ADMIN_USERS_PLAN_SETTINGS": plan_settings,
        }
    )
    with app.app_context():
        create_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context for calling the API directly.

    Not for tests that send requests: a request inside a pushed app context shares its
    session (and its identity map) instead of starting afresh as a real request does.
    """
    with app.app_context():
        yield


@pytest.fixture
def api():
    from admin_users import service

    return service


@pytest.fixture
def models(app):
    return app.extensions["admin_users"].models


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


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user):
        """Sign ``user`` (a user or an id) in as Flask-Login would after a redeemed link."""
        signed_in(self.client, user)

    def logout(self):
        with self.client.session_transaction() as session:
            session.clear()


@pytest.fixture
def auth(client):
    return Auth(client)


def csrf_token_for(client) -> str:
    """A valid CSRF token for ``client``'s session, read off a real page."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def csrf_token(client):
    return lambda: csrf_token_for(client)


@pytest.fixture
def admin(ctx, api):
    return api.create_admin("admin@example.com")


@pytest.fixture
def client(app):
    """Replaces pytest-flask's ``client``, which is opened with ``with``: that keeps each
    request's context pushed after it, and any other client's next request would run
    inside it, sharing its database session and signed-in user."""
    return app.test_client()


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replaces pytest-flask's fixture of this name, which keeps one request context
    pushed for the whole test: every client request would then share one database
    session and see stale users, as no real request does."""
    yield


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- the browser ---------------------------------------------------------------------------

CHROMIUM = os.environ.get("ADMIN_USERS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (the system's own build) driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_app(tmp_path):
    """The demo host on SQLite, for tests driven through a browser."""
    from wsgi import create_app, db

    app = create_app(
        {
            "SECRET_KEY": "browser test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'browser.sqlite'}",
        }
    )
    with app.app_context():
        create_tables()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def server(browser_app):
    """``browser_app`` served over HTTP on a free loopback port, in a thread."""
    import threading

    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, browser_app, threaded=True)
    base_url = f"http://127.0.0.1:{httpd.server_port}"
    browser_app.config["ADMIN_USERS_BASE_URL"] = base_url
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base_url
    httpd.shutdown()
    thread.join()


@pytest.fixture
def page(browser, server):
    """A fresh browser tab on ``server``; the test fails on any JavaScript error and on
    any request to another host (the admin must work without the internet)."""
    context = browser.new_context(base_url=server, timezone_id="Europe/Berlin")
    page = context.new_page()
    errors, foreign = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def only_local(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    # Any Content-Security-Policy violation the browser reports fails the test.
    violations = []
    context.expose_binding("__cspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', "
        "e => window.__cspViolation(e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.expected_console_errors = []  # a test that provokes e.g. a 404 says so here
    yield page
    context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"
    errors = [e for e in errors if not any(x in e for x in page.expected_console_errors)]
    assert errors == [], f"JavaScript errors: {errors}"
    assert foreign == [], f"requests to other hosts: {foreign}"


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


# -- SQL --------------------------------------------------------------------------------------


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


def offsets_or_counts(statements) -> list[str]:
    """The statements that count rows or skip rows with OFFSET.

    SQLite's dialect writes ``OFFSET ?`` bound to 0 after every LIMIT: that skips nothing.
    """

    def skips(s, p) -> bool:
        offsets = [p[s[: m.end()].count("?") - 1] for m in re.finditer(r"OFFSET \?", s)]
        return "OFFSET" in s.replace("OFFSET ?", "") or any(offsets)

    return [s for s, p in statements if "COUNT(" in s or skips(s, p)]


@contextmanager
def writes_refused(app, table="audit_logs", operation="INSERT"):
    """The database itself refuses every ``operation`` on ``table`` meanwhile (a trigger)."""
    from wsgi import db

    with app.app_context():
        engine = db.engine
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
