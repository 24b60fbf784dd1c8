"""The extension's Alembic migrations, on SQLite and PostgreSQL.

An empty database upgraded to head has the models' tables and working search objects;
downgrading to base removes them; ``init-db`` (``create_tables()``) and the migrations
make the same schema; Flask-Migrate hosts run the same environment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from helpers import reset_database
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
    text,
)

from admin_users import AdminUsers, build_models, migrate, planner, search, service
from admin_users.errors import OwnModelsNeedOwnMigrations
from admin_users.extension import create_tables, get_state
from admin_users.listing import ListQuery, fetch_batch
from admin_users.models import UserMixin


def _engine(app):
    with app.app_context():
        return get_state().db.engine


def _models(app):
    return app.extensions["admin_users"].models


def _model_tables(app):
    models = _models(app)
    return [getattr(models, name).__table__ for name in models.__dataclass_fields__]


def _wipe(app, url: str) -> None:
    """Back to an empty database."""
    engine = _engine(app)
    engine.dispose()
    if engine.dialect.name == "sqlite":
        Path(engine.url.database).unlink()
    else:
        reset_database(url)


# -- what the schema is ---------------------------------------------------------------------


def _type(type_, dialect) -> tuple:
    """A column type as far as both databases keep it: its kind, a string's length, and on
    PostgreSQL a string's collation and a timestamp's time zone."""
    if isinstance(type_, TypeDecorator):
        type_ = type_.load_dialect_impl(dialect)
    postgres = dialect.name == "postgresql"
    # Text before String, SmallInteger before Integer: subclasses first.
    kinds = (
        ("boolean", Boolean),
        ("datetime", DateTime),
        ("float", Float),
        ("smallint", SmallInteger),
        ("integer", Integer),
        ("binary", LargeBinary),
        ("text", Text),
        ("string", String),
    )
    kind = next((kind for kind, cls in kinds if isinstance(type_, cls)), None)
    if kind is None:
        return (repr(type_),)
    if kind == "string":
        return (kind, type_.length, type_.collation if postgres else None)
    if kind == "datetime" and postgres:
        return (kind, type_.timezone)
    return (kind,)


def _fk(columns, table, referred, ondelete) -> tuple:
    return (list(columns), table, list(referred), (ondelete or "").upper())


def _expected(table, dialect) -> dict:
    """What the model's table says."""
    return {
        # In any order: a migration adds columns at the end.
        "columns": sorted((c.name, c.nullable, _type(c.type, dialect)) for c in table.columns),
        "primary_key": [c.name for c in table.primary_key.columns],
        "indexes": sorted(
            (ix.name, [c.name for c in ix.columns], bool(ix.unique)) for ix in table.indexes
        ),
        "unique": sorted(
            [c.name for c in uc.columns]
            for uc in table.constraints
            if isinstance(uc, UniqueConstraint)
        ),
        "foreign_keys": sorted(
            _fk(
                fk.column_keys,
                fk.referred_table.name,
                [e.column.name for e in fk.elements],
                fk.ondelete,
            )
            for fk in table.foreign_key_constraints
        ),
    }


def _reflected(inspector, name) -> dict:
    """What the database has, in the terms of ``_expected``."""
    dialect = inspector.dialect
    return {
        "columns": sorted(
            (c["name"], c["nullable"], _type(c["type"], dialect))
            for c in inspector.get_columns(name)
        ),
        "primary_key": inspector.get_pk_constraint(name)["constrained_columns"],
        "indexes": sorted(
            (ix["name"], ix["column_names"], bool(ix["unique"]))
            for ix in inspector.get_indexes(name)
            # The search indexes are checked by _search_objects; PostgreSQL lists the
            # index behind each unique constraint too.
            if ix["name"] not in migrate.SEARCH_INDEXES and not ix.get("duplicates_constraint")
        ),
        "unique": sorted(uc["column_names"] for uc in inspector.get_unique_constraints(name)),
        "foreign_keys": sorted(
            _fk(
                fk["constrained_columns"],
                fk["referred_table"],
                fk["referred_columns"],
                fk["options"].get("ondelete"),
            )
            for fk in inspector.get_foreign_keys(name)
        ),
    }


def _extension_tables(engine) -> list[str]:
    """The tables in the database but the host's and the migrations' version table."""
    names = set(inspect(engine).get_table_names())
    return sorted(names & (migrate.TABLES | migrate.SEARCH_TABLES))


def _search_objects(engine) -> list[tuple]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master "
                    "WHERE name LIKE 'users_search%' ORDER BY name"
                )
            )
        else:
            rows = connection.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE indexname LIKE 'users_search%' "
                    "UNION ALL SELECT proname, prosrc FROM pg_proc "
                    "WHERE proname LIKE 'users_search%' "
                    "UNION ALL SELECT extname, '' FROM pg_extension WHERE extname = 'pg_trgm' "
                    "ORDER BY 1 DESC"
                )
            )
        return [tuple(row) for row in rows]


def _snapshot(engine) -> dict:
    """Everything the inspector tells of the extension's tables, names included, and the
    search objects' definitions."""
    inspector = inspect(engine)

    def by_name(items):
        return sorted(items, key=lambda item: (item.get("name") or "", repr(item)))

    tables = {
        name: {
            "columns": by_name({**c, "type": repr(c["type"])} for c in inspector.get_columns(name)),
            "primary_key": inspector.get_pk_constraint(name),
            "indexes": by_name(inspector.get_indexes(name)),
            "unique": by_name(inspector.get_unique_constraints(name)),
            "foreign_keys": by_name(inspector.get_foreign_keys(name)),
        }
        for name in _extension_tables(engine)
    }
    return {"tables": tables, "search": _search_objects(engine)}


# -- the checks -----------------------------------------------------------------------------


def _assert_matches_models(app) -> None:
    engine = _engine(app)
    inspector = inspect(engine)
    for table in _model_tables(app):
        assert _reflected(inspector, table.name) == _expected(table, engine.dialect), table.name
    with app.app_context(), engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": migrate.include_extension_object,
                "version_table": migrate.VERSION_TABLE,
            },
        )
        # No filtering of "dialect noise" is needed: the search objects (and any table
        # that is not the extension's) are left out by include_extension_object.
        assert compare_metadata(context, migrate.target_metadata()) == []


def _assert_search_works(app) -> None:
    engine = _engine(app)
    sqlite = engine.dialect.name == "sqlite"
    objects = _search_objects(engine)
    if sqlite:
        assert [(kind, name) for kind, name, _, _ in objects] == [
            ("table", "users_search"),
            ("table", "users_search_config"),
            ("table", "users_search_data"),
            ("trigger", "users_search_delete"),
            ("table", "users_search_docsize"),
            ("table", "users_search_idx"),
            ("trigger", "users_search_insert"),
            ("trigger", "users_search_update"),
            ("table", "users_search_vocab"),
        ]
        assert "fts5" in objects[0][3] and "trigram" in objects[0][3]
    else:
        assert [name for name, _ in objects] == [
            "users_search_grams",  # the index
            "users_search_grams",  # its function
            "users_search",
            "pg_trgm",
        ]
        assert "gin (search_text gin_trgm_ops)" in objects[2][1]

    with app.app_context():
        user = service.register("Findme.Person@Example.com")
        other = service.register("someone.else@example.com")
        user_id, other_id = user.id, other.id
        service.set_customer_id(other, "cus_Zebra42")  # the update trigger
        with engine.connect() as connection:
            assert search.available(connection, "users")
    with app.test_request_context():
        assert [u.id for u in fetch_batch(ListQuery(search="findme")).users] == [user_id]
        assert [u.id for u in fetch_batch(ListQuery(search="zebra4")).users] == [other_id]
        assert fetch_batch(ListQuery(search="nobody")).users == []
    with engine.connect() as connection:
        if sqlite:
            found = connection.execute(
                text("""SELECT rowid FROM users_search WHERE users_search MATCH '"findme"'""")
            ).scalars()
            assert list(found) == [user_id]
            return
        # With two rows the planner rather reads a whole covering index (they all hold
        # search_text) than the GIN index: give it a table of some size, in a transaction
        # that is rolled back, with the GIN pending list merged as autovacuum would.
        with connection.begin() as transaction:
            connection.execute(
                text(
                    "INSERT INTO users (search_text, created_at, last_activity_at, is_admin, "
                    "chat_count, status) SELECT 'filler' || n || '@example.com', now(), now(), "
                    "false, 0, 4 FROM generate_series(1, 2000) AS n"
                )
            )
            connection.execute(text("SELECT gin_clean_pending_list('users_search')"))
            connection.execute(text("ANALYZE users"))
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(
                connection.execute(
                    text("EXPLAIN SELECT id FROM users WHERE search_text LIKE '%findme%'")
                ).scalars()
            )
            transaction.rollback()
        assert "Bitmap Index Scan on users_search" in plan, plan
        assert "Index Cond: ((search_text)::text ~~ '%findme%'::text)" in plan, plan


def test_upgrade_an_empty_database(bare_app):
    engine = _engine(bare_app)
    with bare_app.app_context():
        assert migrate.current() is None
        assert not migrate.at_head()
        migrate.upgrade()
        assert migrate.current() == migrate.head() == "admin_users_0007"
        assert migrate.at_head()
    assert {t.name for t in _model_tables(bare_app)} == migrate.TABLES
    assert migrate.VERSION_TABLE in inspect(engine).get_table_names()
    _assert_matches_models(bare_app)
    _assert_search_works(bare_app)


def test_an_earlier_search_index_is_rebuilt(bare_app):
    """Search objects made before short terms were indexed (SQLite: no vocabulary table;
    PostgreSQL: no index of short terms) are made again by the migrations and by init-db;
    then they answer a one-character term."""
    from admin_users import service
    from wsgi import create_app

    url = bare_app.config["SQLALCHEMY_DATABASE_URI"]
    engine = _engine(bare_app)
    sqlite = engine.dialect.name == "sqlite"
    earlier = (
        ["DROP TABLE users_search_vocab"]
        if sqlite
        else ["DROP INDEX users_search_grams", "DROP FUNCTION users_search_grams(text)"]
    )
    with bare_app.app_context():
        migrate.upgrade()
        user = service.register("end@example.com")
        service.set_customer_id(user, "cus-Q")
        user_id = user.id
        get_state().db.session.close()
        migrate.downgrade("admin_users_0001")  # keeps the user, without later columns
        for rebuild in (migrate.upgrade, create_tables):
            get_state().db.session.close()  # its reads would hold up the DROP on PostgreSQL
            with engine.begin() as connection:
                for statement in earlier:
                    connection.exec_driver_sql(statement)
            # An app meeting that database anew (another process) finds no index to use.
            fresh = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})
            with fresh.test_request_context():
                assert planner.candidates(ListQuery(search="q")) is None
                get_state().db.session.remove()
                get_state().db.engine.dispose()
            rebuild()
            with bare_app.test_request_context():
                assert planner.candidates(ListQuery(search="q")) == [user_id]
    _assert_search_works(bare_app)


def test_downgrade_to_base_and_up_again(bare_app):
    engine = _engine(bare_app)
    with bare_app.app_context():
        migrate.upgrade()
        first = _snapshot(engine)
        migrate.downgrade("base")
        assert migrate.current() is None
    assert _extension_tables(engine) == []
    assert _search_objects(engine) in ([], [("pg_trgm", "")])  # the extension may stay
    with bare_app.app_context():
        migrate.upgrade()
        assert migrate.at_head()
    assert _snapshot(engine) == first
    _assert_search_works(bare_app)


def test_init_db_and_migrations_make_the_same_schema(bare_app, database_url):
    engine = _engine(bare_app)
    with bare_app.app_context():
        create_tables()
    by_init_db = _snapshot(engine)
    _assert_matches_models(bare_app)
    with bare_app.app_context():  # such a database joins the migrations by a stamp
        assert migrate.current() is None
        migrate.stamp()
        assert migrate.at_head()
        migrate.upgrade()  # nothing to do
    assert _snapshot(engine) == by_init_db
    _wipe(bare_app, database_url)
    with bare_app.app_context():
        migrate.upgrade()
    by_migrations = _snapshot(engine)
    assert set(by_migrations["tables"]) >= migrate.TABLES
    assert by_migrations == by_init_db


def test_flask_migrate_runs_the_same_environment(bare_app):
    """A host with Flask-Migrate: ``flask db upgrade --directory <admin_users/migrations>``,
    and its own autogenerate leaves the extension's objects alone."""
    from flask_migrate import Migrate

    db = bare_app.extensions["sqlalchemy"]
    users_admin = bare_app.extensions["admin_users"].extension
    Migrate(bare_app, db, **users_admin.migrate_options)
    runner = bare_app.test_cli_runner()
    directory = str(migrate.DIRECTORY)

    result = runner.invoke(args=["db", "upgrade", "--directory", directory])
    assert result.exit_code == 0, result.output
    with bare_app.app_context():
        assert migrate.at_head()
    _assert_matches_models(bare_app)
    result = runner.invoke(args=["db", "check", "--directory", directory])
    assert result.exit_code == 0, result.output

    # The host's own metadata: the extension's tables (on db.metadata) and one of its own.
    host = MetaData()
    for table in db.metadata.tables.values():
        table.to_metadata(host)
    Table("host_notes", host, Column("id", Integer, primary_key=True))
    with bare_app.app_context(), _engine(bare_app).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": users_admin.include_object},
        )
        diff = compare_metadata(context, host)
    assert [(op, table.name) for op, table in diff] == [("add_table", "host_notes")]

    result = runner.invoke(args=["db", "downgrade", "base", "--directory", directory])
    assert result.exit_code == 0, result.output
    assert _extension_tables(_engine(bare_app)) == []


def test_own_models_are_refused(tmp_path):
    """The shipped migrations describe the default models only."""
    own_db = SQLAlchemy()

    class Account(UserMixin, own_db.Model):
        __tablename__ = "accounts"

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'own.sqlite'}"
    )
    own_db.init_app(app)
    LoginManager(app)
    AdminUsers(db=own_db, models=build_models(own_db, User=Account)).init_app(app)
    with app.app_context():
        with pytest.raises(OwnModelsNeedOwnMigrations, match="default models"):
            migrate.upgrade()
        assert inspect(own_db.engine).get_table_names() == []
        own_db.engine.dispose()


def test_the_hosts_naming_convention_is_followed(database_url):
    """With a naming convention on the host's metadata, the migrations name the
    constraints as ``create_tables()`` does."""
    convention = {
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
    host_db = SQLAlchemy(metadata=MetaData(naming_convention=convention))
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=database_url)
    host_db.init_app(app)
    LoginManager(app)
    AdminUsers(app, db=host_db)
    with app.app_context():
        migrate.upgrade()
    by_migrations = _snapshot(_engine(app))
    _wipe(app, database_url)
    with app.app_context():
        create_tables()
    assert _snapshot(_engine(app)) == by_migrations
    users = by_migrations["tables"]["users"]
    assert users["primary_key"]["name"] == "pk_users"
    assert [uc["name"] for uc in users["unique"]] == [
        "uq_users_guest_id",
        "uq_users_identifier_key",
    ]
    _engine(app).dispose()


def test_0007_fills_the_sort_key_and_the_guest_ids_in_the_search_text(bare_app):
    """Over a database at 0006 with users: each gets the sort key and search text the
    definitions compute, the User sort reads them through its new index (the old one
    gone), and the search index follows; the downgrade gives 0006's schema and search
    text back, and the upgrade runs again."""
    from admin_users.definitions import search_text, sort_key

    engine = _engine(bare_app)
    # As the version of 0006 wrote them: identifier key and search text, no guest id there.
    rows = [
        ("Zed@example.com", None, "cus-Z9"),
        ("Ödön@example.com", None, None),
        ("oscar@example.com", None, None),
        ("Émile@example.com", None, None),
        (None, "g-149018363", None),
        (None, None, None),  # erased: shown as #id
    ]
    with bare_app.app_context():
        migrate.upgrade("admin_users_0006")
        with engine.begin() as connection:
            for email, guest_id, customer_id in rows:
                connection.execute(
                    text(
                        "INSERT INTO users (email, guest_id, customer_id, identifier_key, "
                        "search_text, created_at) VALUES (:e, :g, :c, :k, :s, :t)"
                    ),
                    {"e": email, "g": guest_id, "c": customer_id,
                     "k": email.casefold() if email else guest_id,
                     "s": "\n".join(v.casefold() for v in (email, customer_id) if v),
                     "t": datetime(2025, 1, 2, tzinfo=UTC)},
                )  # fmt: skip
        migrate.upgrade()
        assert migrate.current() == "admin_users_0007"
    indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("users")}
    assert indexes["ix_users_sort_key"] == ["sort_key", "id", "status", "search_text"]
    assert "ix_users_identifier" not in indexes
    _assert_matches_models(bare_app)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT id, email, guest_id, customer_id, sort_key, search_text FROM users")
        ).all()
    for row in stored:
        assert bytes(row.sort_key) == sort_key(row) and row.search_text == search_text(row), row
    by_email = {row.email or row.guest_id or f"#{row.id}": row.id for row in stored}
    with bare_app.test_request_context():
        listed = [u.identifier for u in fetch_batch(ListQuery(sort="email", desc=False)).users]
        assert listed[1:] == ["Émile@example.com", "g-149018363", "Ödön@example.com",
                              "oscar@example.com", "Zed@example.com"]  # fmt: skip
        assert listed[0].startswith("#")
        for term in ("49018", "g-149018363"):
            found = [u.id for u in fetch_batch(ListQuery(search=term)).users]
            assert found == [by_email["g-149018363"]]
            # The search index (SQLite's is a table of its own) answers it too.
            assert planner.candidates(ListQuery(search=term)) == found
        get_state().db.session.remove()

    with bare_app.app_context():
        migrate.downgrade("admin_users_0006")
    columns = {c["name"] for c in inspect(engine).get_columns("users")}
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("users")}
    assert "sort_key" not in columns
    assert "ix_users_identifier" in indexes and "ix_users_sort_key" not in indexes
    with engine.connect() as connection:
        texts = dict(connection.execute(text("SELECT id, search_text FROM users")).all())
    assert texts[by_email["g-149018363"]] == ""
    assert texts[by_email["Zed@example.com"]] == "zed@example.com\ncus-z9"
    with bare_app.app_context():
        migrate.upgrade()
        assert migrate.at_head()
    _assert_matches_models(bare_app)
