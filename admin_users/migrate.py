"""The extension's own Alembic migrations, run inside the current Flask app context.

``admin_users/migrations`` is a complete Alembic environment: it takes the engine of
the extension's Flask-SQLAlchemy object and keeps its revision in a table of its own,
``alembic_version_admin_users``, so that it lives beside the host's own migrations in
the same database. Run it from Python (``upgrade()``), or with Flask-Migrate::

    flask db upgrade --directory "$(python -m admin_users.migrate)"

(``python -m admin_users.migrate`` prints the directory.) The migrations create the
default models (``build_models(db)``); a host with its own model classes makes every table
with its own migrations, which :mod:`admin_users.autogen` lets ``flask db migrate`` write.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect

from . import counters, search
from .errors import OwnModelsNeedOwnMigrations
from .models import _defaults
from .state import get_state

__all__ = [
    "DIRECTORY",
    "TABLES",
    "VERSION_TABLE",
    "at_head",
    "config",
    "create_tables",
    "current",
    "downgrade",
    "head",
    "include_extension_object",
    "stamp",
    "target_metadata",
    "upgrade",
    "uses_own_models",
]

DIRECTORY = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version_admin_users"
USER_TABLE = "users"
# The default models' tables, which the migrations create.
TABLES = frozenset(
    {
        USER_TABLE,
        *("user_profiles", "chats", "messages", "audit_logs", "app_config", "data_requests"),
        *("user_sessions", "throttle_counts", "user_status_counts"),
    }
)
# SQLite's FTS5 tables; PostgreSQL's GIN indexes (trigrams, substrings of one or two).
SEARCH_TABLES, SEARCH_INDEXES = search.object_names(USER_TABLE)


def config() -> Config:
    """The Alembic configuration of the extension's migrations (no ``alembic.ini`` needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(DIRECTORY))
    cfg.set_main_option("path_separator", "os")
    return cfg


def upgrade(revision: str = "head") -> None:
    """Bring the extension's tables and search index up to ``revision``."""
    _refuse_own_models()
    command.upgrade(config(), revision)


def downgrade(revision: str) -> None:
    """Take them back to ``revision`` (``"base"``: no table of the extension left)."""
    _refuse_own_models()
    command.downgrade(config(), revision)


def stamp(revision: str = "head") -> None:
    """Record ``revision`` without running anything: for a database made by ``init-db``
    (``create_tables()``), which has the tables of the current head."""
    _refuse_own_models()
    command.stamp(config(), revision)


def current() -> str | None:
    """The database's revision of the extension's tables; None before the first upgrade."""
    with get_state().db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head() -> str:
    """The newest revision shipped with this version of admin-users."""
    return ScriptDirectory.from_config(config()).get_current_head()


def at_head() -> bool:
    """Whether the database has every migration of this version of admin-users."""
    return current() == head()


def target_metadata() -> MetaData:
    """The extension's tables alone (with the host's naming convention), for comparisons
    and autogenerate; refuses models other than the default ones, which the migrations
    do not describe."""
    _refuse_own_models()
    state = get_state()
    models = state.models
    metadata = MetaData(naming_convention=state.db.metadata.naming_convention)
    for name in models.__dataclass_fields__:
        getattr(models, name).__table__.to_metadata(metadata)
    return metadata


def uses_own_models(db, models) -> bool:
    """Whether ``models`` are not the default ones of ``db``: the host's migrations then
    make every table, the extension's migrations none."""
    return _defaults.get(db) is not models


def _refuse_own_models() -> None:
    state = get_state()
    if uses_own_models(state.db, state.models):
        raise OwnModelsNeedOwnMigrations(
            "admin-users' migrations make its default models only; with your own model "
            "classes your own migrations make every table: run 'flask db migrate' and "
            "'flask db upgrade' instead (docs/production.md, Migrations)."
        )


def include_extension_object(obj, name, type_, reflected, compare_to) -> bool:
    """What the extension's own migrations compare: its own tables, not the search objects
    (made by raw DDL) nor any table of the host's in the same database. (The host's
    migrations take :meth:`admin_users.AdminUsers.include_object`.)"""
    if type_ == "table":
        return name in TABLES
    return type_ != "index" or name not in SEARCH_INDEXES


def create_tables() -> None:
    """Create the extension's tables that do not exist yet, and the search index (or
    rebuild one that an earlier version made); status counts made now count the users
    already there."""
    state = get_state()
    M = state.models
    tables = [getattr(M, name).__table__ for name in M.__dataclass_fields__]
    with state.db.engine.begin() as connection:
        counted = inspect(connection).has_table(M.StatusCount.__tablename__)
        state.db.metadata.create_all(connection, tables=tables)
        if not counted:
            counters.recount(connection, M.User, M.StatusCount)
        search.update(connection, M.User.__tablename__)


if __name__ == "__main__":
    print(DIRECTORY)
