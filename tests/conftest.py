"""Fixtures: a fresh demo-host app per test, on SQLite and on PostgreSQL.

PostgreSQL runs where ``ADMIN_USERS_TEST_POSTGRES_URL`` (or the default below) answers;
elsewhere those runs skip, unless ``ADMIN_USERS_REQUIRE_ALL=1`` (CI) makes them fail.
"""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import create_engine, text

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
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # no driver, no server, no database
        skip_or_fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {type(error).__name__}")
    return POSTGRES_URL


def reset_database(url: str) -> None:
    """An empty database: PostgreSQL's public schema is dropped and made again."""
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
def app(database_url, tmp_path):
    from wsgi import create_app, db

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "ADMIN_USERS_BASE_URL": "http://localhost",
        }
    )
    with app.app_context():
        db.create_all()
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


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, user):
        """Sign ``user`` (a user or an id) in as Flask-Login would after a redeemed link."""
        with self.client.session_transaction() as session:
            session["_user_id"] = str(getattr(user, "id", user))
            session["_fresh"] = True

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


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replaces pytest-flask's fixture of this name, which keeps one request context
    pushed for the whole test: every client request would then share one database
    session and see stale users, as no real request does."""
    yield
