"""A host's own migrations, written by Flask-Migrate's autogenerate beside the extension,
on SQLite and PostgreSQL.

The host is the README's: an app factory, its own ``flask_admin.Admin``, Flask-Login,
CSRFProtect and ``Migrate(app, db, **users_admin.migrate_options)``. With its own user
table, ``flask db migrate`` writes every table and the search index, the migration runs
as written, and the next ``flask db migrate`` finds nothing to do. With the default
models, it writes only the host's tables and the extension's own migrations make theirs.
"""

from __future__ import annotations

import ast
import builtins
import re
from contextlib import contextmanager
from datetime import UTC, datetime

import flask_migrate
import pytest
from flask import Flask
from flask_admin import Admin
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from helpers import logging_kept
from sqlalchemy import Integer, String, inspect, text
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models, migrate, planner, search, service
from admin_users.definitions import search_text, sort_key
from admin_users.errors import OwnModelsNeedOwnMigrations
from admin_users.listing import ListQuery
from admin_users.models import UserMixin
from admin_users.planner import PlanSettings
from admin_users.views import AdminUsersIndexView

# The env.py that ``flask db init`` writes (Flask-Migrate 4.1) tries Flask-SQLAlchemy's
# deprecated ``db.get_engine()`` first: its warning is theirs, and a host sees it too.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


class Host:
    """A chatbot with its own ``Account`` class in ``accounts`` (and a column ``plan``), or
    with the default models and a ``notes`` table of its own; ``create_app`` is its
    factory, ``directory`` its migrations'."""

    def __init__(self, database_url: str, directory, *, own_users: bool):
        self.directory = directory
        db = self.db = SQLAlchemy()
        login_manager = LoginManager()
        if own_users:

            class Account(UserMixin, db.Model):
                __tablename__ = "accounts"
                plan = mapped_column(String(20))

            models = build_models(db, User=Account)
        else:

            class Note(db.Model):
                __tablename__ = "notes"
                id = mapped_column(Integer, primary_key=True)
                text = mapped_column(String(200))

            models = None
        # The quick walk skipped: a search asks the index first, as on a large table.
        users_admin = AdminUsers(db=db, models=models, plan_settings=PlanSettings(quick_walk=0))

        def create_app():
            app = Flask(__name__)
            app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True)
            db.init_app(app)
            CSRFProtect(app)
            login_manager.init_app(app)
            admin = Admin(app, name="Chatbot admin", index_view=AdminUsersIndexView())
            users_admin.init_app(app, admin=admin)
            Migrate(app, db, directory=str(directory), **users_admin.migrate_options)
            return app

        self.create_app = create_app

    @contextmanager
    def app(self):
        """A new app, as each ``flask`` command makes (its connections closed at the end)."""
        app = self.create_app()
        try:
            yield app
        finally:
            with app.app_context():
                self.db.session.remove()
                self.db.engine.dispose()

    def flask_db(self, *commands: str) -> list[str]:
        """Flask-Migrate's commands (``"init"``, ``"migrate"``, ``"upgrade"``, ``"check"``,
        ``"downgrade"`` to base, ``"upgrade --sql"``), each in an app of its own as from a
        shell (Flask-Migrate keeps state in the app between two commands); one that fails
        exits. Returns the migration files there are afterwards, oldest first."""
        for name in commands:
            with self.app() as app, app.app_context(), logging_kept():
                if name == "init":
                    flask_migrate.init(str(self.directory))
                elif name == "downgrade":
                    flask_migrate.downgrade(str(self.directory), revision="base")
                elif name == "upgrade --sql":
                    flask_migrate.upgrade(str(self.directory), sql=True)
                else:
                    getattr(flask_migrate, name)(str(self.directory))
        versions = self.directory / "versions"
        files = sorted(versions.glob("*.py"), key=lambda p: p.stat().st_mtime_ns)
        return [path.read_text() for path in files]


@pytest.fixture
def own(database_url, tmp_path):
    """A host with its own user table."""
    return Host(database_url, tmp_path / "migrations", own_users=True)


@pytest.fixture
def default(database_url, tmp_path):
    """A host with the default models and a table of its own."""
    return Host(database_url, tmp_path / "migrations", own_users=False)


def section(source: str, name: str) -> str:
    """The body of ``def upgrade()`` or ``def downgrade()`` of a migration."""
    return re.search(rf"^def {name}\(\):\n(.*?)(?=^def |\Z)", source, re.M | re.S).group(1)


def lines(body: str) -> list[str]:
    """Its lines of code, comments and blank lines left out."""
    return [x.strip() for x in body.splitlines() if x.strip() and not x.strip().startswith("#")]


def unbound_names(source: str) -> set[str]:
    """The names a module reads that nothing in it binds (an import, a def, an assignment)
    and that are no builtins: each would be a NameError when read."""
    tree = ast.parse(source)
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return read - bound


def created_tables(source: str) -> set[str]:
    return set(re.findall(r"op\.create_table\('(\w+)'", section(source, "upgrade")))


def model_tables(app) -> set[str]:
    models = app.extensions["admin_users"].models
    return {getattr(models, name).__tablename__ for name in models.__dataclass_fields__}


def table_names(app) -> set[str]:
    with app.app_context():
        return set(inspect(app.extensions["sqlalchemy"].engine).get_table_names())


def test_unbound_names_finds_a_missing_import():
    source = "import a.b\nfrom c import d as e\n\ndef f(x):\n    y = 1\n    return a, e, x, y, g\n"
    assert unbound_names(source) == {"g"}


def test_own_user_table_migrates_as_generated(own):
    (first,) = own.flask_db("init", "migrate")
    upgrade = section(first, "upgrade")
    with own.app() as app:
        tables = model_tables(app)
    # Every table of the models, the host's column, the search index after the tables.
    assert created_tables(first) == tables
    assert tables >= {"accounts", "audit_logs", "user_sessions", "throttle_counts"}
    assert "sa.Column('plan', sa.String(length=20)" in upgrade
    assert "admin_users.columns.KeyText(length=600)" in upgrade
    assert "admin_users.columns.UTCDateTime(timezone=True)" in upgrade
    assert lines(upgrade)[-1] == "admin_users.autogen.create_search_index(op, 'accounts')"
    downgrade = section(first, "downgrade")
    assert lines(downgrade)[0] == "admin_users.autogen.drop_search_index(op, 'accounts')"
    assert "drop_" not in upgrade
    # Every name it reads is imported: no NameError at upgrade or downgrade.
    assert {"import admin_users.columns", "import admin_users.autogen"} <= set(first.splitlines())
    assert unbound_names(first) == set()

    # It runs unedited; then autogenerate finds no change (Flask-Migrate writes no file)
    # and neither does `flask db check`.
    assert own.flask_db("upgrade", "migrate", "check") == [first]
    with own.app() as app:
        assert table_names(app) >= tables
        with app.app_context(), app.extensions["sqlalchemy"].engine.connect() as connection:
            assert search.current(connection, "accounts")

        runner = app.test_cli_runner()
        result = runner.invoke(args=["admin-users", "create-admin", "Ana.Lopez@example.com"])
        assert result.exit_code == 0, result.output
        result = runner.invoke(args=["admin-users", "list", "--search", "lopez@"])
        assert result.exit_code == 0, result.output
        assert "Ana.Lopez@example.com" in result.output
        with app.test_request_context():
            admin_id = service.find_user("ana.lopez@example.com").id
            # The index answers (None: no index, the table is read instead).
            assert planner.candidates(ListQuery(search="lopez@")) == [admin_id]
            assert planner.candidates(ListQuery(search="nobody")) == []

    # The downgrade runs as written too: nothing of the models is left.
    own.flask_db("downgrade")
    with own.app() as app:
        assert table_names(app) == {"alembic_version"}


def test_a_table_adopted_before_the_sort_key_gets_it_from_autogenerate(own):
    """A host that adopted the mixin before ``sort_key`` (its table has the earlier
    ``ix_accounts_identifier``): the next ``flask db migrate`` adds the column and swaps
    the index, runs as written, and ``backfill`` fills the keys and the guests' search text."""
    own.flask_db("init", "migrate", "upgrade")
    with own.app() as app, app.app_context():
        with app.extensions["sqlalchemy"].engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_accounts_sort_key"))
            connection.execute(text("ALTER TABLE accounts DROP COLUMN sort_key"))
            connection.execute(
                text(
                    "CREATE INDEX ix_accounts_identifier ON accounts "
                    "(identifier_key, id, status, search_text)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO accounts (email, guest_id, identifier_key, created_at) VALUES "
                    "('Ödön@example.com', NULL, 'ödön@example.com', :t), "
                    "(NULL, 'g-149018363', 'g-149018363', :t)"
                ),
                {"t": datetime(2025, 1, 2, tzinfo=UTC)},
            )
    *_, second = own.flask_db("migrate")
    upgrade = lines(section(second, "upgrade"))
    assert "batch_op.add_column(sa.Column('sort_key', sa.LargeBinary(), nullable=True))" in upgrade
    assert "batch_op.drop_index(batch_op.f('ix_accounts_identifier'))" in upgrade
    assert any(line.startswith("batch_op.create_index('ix_accounts_sort_key'") for line in upgrade)
    assert unbound_names(second) == set()
    assert own.flask_db("upgrade", "migrate", "check")[-1] == second

    with own.app() as app:
        result = app.test_cli_runner().invoke(args=["admin-users", "backfill"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            for ref in ("ödön@example.com", "g-149018363"):
                user = service.find_user(ref)
                assert user.sort_key == sort_key(user) and user.search_text == search_text(user)
            assert planner.candidates(ListQuery(search="49018")) == [
                service.find_user("g-149018363").id
            ]


def test_the_sql_script_makes_the_search_index(own, capsys):
    """``flask db upgrade --sql`` (offline: no database) writes the index's statements."""
    own.flask_db("init", "migrate")
    capsys.readouterr()
    own.flask_db("upgrade --sql")
    script = capsys.readouterr().out
    with own.app() as app, app.app_context():
        dialect = app.extensions["sqlalchemy"].engine.dialect.name
    create, _ = search.statements(dialect, "accounts")
    assert script.index("CREATE TABLE accounts") < script.index(create[0])
    assert all(f"{statement};" in script for statement in create)


def test_flask_db_check_lists_a_missing_search_index(own):
    """With the search index gone (dropped by hand), `flask db check` finds a change (it
    exits 1), and the next migration makes the index again."""
    own.flask_db("init", "migrate", "upgrade")
    with own.app() as app, app.app_context():
        with app.extensions["sqlalchemy"].engine.begin() as connection:
            search.drop(connection, "accounts")
    with pytest.raises(SystemExit) as exited:
        own.flask_db("check")
    assert exited.value.code == 1
    _, second = own.flask_db("migrate")
    assert lines(section(second, "upgrade")) == [
        "admin_users.autogen.create_search_index(op, 'accounts')"
    ]
    own.flask_db("upgrade", "check")


def test_default_models_are_left_to_the_extensions_migrations(default):
    (first,) = default.flask_db("init", "migrate")
    assert created_tables(first) == {"notes"}
    assert "drop_" not in section(first, "upgrade")
    assert "admin_users" not in first
    default.flask_db("upgrade")

    with default.app() as app:
        result = app.test_cli_runner().invoke(args=["admin-users", "upgrade"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert migrate.at_head()
        extensions = model_tables(app) | {migrate.VERSION_TABLE}
        assert table_names(app) >= extensions | {"notes", "alembic_version"}
    # Neither the extension's tables, nor its version table, nor its search index.
    assert default.flask_db("migrate", "check") == [first]


def test_the_extensions_migrations_refuse_own_models_in_one_line(own):
    with own.app() as app:
        result = app.test_cli_runner().invoke(args=["admin-users", "upgrade"])
        assert result.exit_code == 1
        assert result.output.count("\n") == 1, result.output
        assert result.output.startswith("Error: admin-users' migrations make its default models")
        assert "run 'flask db migrate' and 'flask db upgrade' instead" in result.output
        with app.app_context():
            for refused in (migrate.upgrade, migrate.stamp, lambda: migrate.downgrade("base")):
                with pytest.raises(OwnModelsNeedOwnMigrations):
                    refused()
        assert table_names(app) == set()
