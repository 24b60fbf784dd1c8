"""Fixtures: a fresh demo-host app per test, on SQLite and on PostgreSQL. The plain
helpers the tests share are in ``helpers.py``.

PostgreSQL runs where ``ADMIN_USERS_TEST_POSTGRES_URL`` (or the default in helpers.py)
answers; elsewhere those runs skip, unless ``ADMIN_USERS_REQUIRE_ALL=1`` (CI) makes them
fail. Each test run makes a database of its own beside that one (its role needs CREATEDB)
and drops it at the end, so that two runs on one machine never share tables.

Markers (pyproject.toml): ``postgres`` and ``browser`` are set here, from what a test
uses; ``slow`` is set by the tests themselves. ``scripts/test -m "not slow"`` is the
quick loop.
"""

from __future__ import annotations

import os
import secrets

import pytest
from helpers import (
    POSTGRES_URL,
    csrf_token_for,
    demo_app,
    reset_database,
    signed_in,
    skip_or_fail,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by these marks
def pytest_collection_modifyitems(items):
    """``postgres`` on every test that runs on PostgreSQL (the ``database_url`` param, or
    its database asked for directly); ``browser`` on every test that drives Chromium."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgres or "postgres_url" in item.fixturenames:
            item.add_marker(pytest.mark.postgres)
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)


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
    config = {
        "TESTING": True,
        "SECRET_KEY": "test secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ADMIN_USERS_BASE_URL": "http://localhost",
        "ADMIN_USERS_PLAN_SETTINGS": plan_settings,
    }
    with demo_app(config) as app:
        yield app


@pytest.fixture
def bare_app(database_url):
    """The demo host on an empty database: no ``create_tables()`` (for migrations)."""
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x", "TESTING": True}
    with demo_app(config, tables=False) as app:
        yield app


@pytest.fixture
def db(app):
    """The demo host's SQLAlchemy object (``db.session`` inside an app context)."""
    return app.extensions["sqlalchemy"]


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


@pytest.fixture
def csrf_token(client):
    return lambda: csrf_token_for(client)


@pytest.fixture
def admin(ctx, api):
    """The admin, made inside ``ctx`` (for tests that call the API directly)."""
    return api.create_admin("admin@example.com")


@pytest.fixture
def admin_id(app, api):
    """The id of the admin ``admin@example.com``, made outside any request."""
    with app.app_context():
        return api.create_admin("admin@example.com").id


@pytest.fixture
def admin_client(app, admin_id):
    """A client of its own signed in as that admin (``client`` stays signed out)."""
    return signed_in(app.test_client(), admin_id)


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
    config = {
        "SECRET_KEY": "browser test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'browser.sqlite'}",
    }
    with demo_app(config) as app:
        yield app


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
