"""Alembic autogenerate for the host's own migrations (Flask-Migrate's ``flask db migrate``).

The host passes ``Migrate(app, db, **users_admin.migrate_options)``, that is the
extension's ``include_object`` and ``render_item``:

- :func:`include_object` tells which objects the host's migrations own. With the default
  models, none of the extension's: its own migrations make them, under a version table of
  their own. With the host's own model classes, every table, since the extension's
  migrations describe the default models only. Never the search index's objects, made by
  raw DDL: autogenerate would take them for drift and drop them.
- :func:`render_item` writes the extension's column types with their import (Alembic
  writes a type of a package as ``module.Type(...)`` and imports nothing), so that a
  migration runs as generated.
- :func:`compare_search_index`, a comparator registered with Alembic on import, adds the
  search index where the host's migrations own the user table and the database lacks it:
  a :class:`CreateSearchIndexOp`, written as a call of :func:`create_search_index`.
"""

from __future__ import annotations

from alembic.autogenerate import comparators, renderers
from alembic.operations import ops
from flask import current_app, has_app_context

from . import columns, search
from .migrate import VERSION_TABLE, uses_own_models

try:  # Alembic 1.18+ runs comparators by priority: the search index after the tables
    from alembic.util import DispatchPriority

    _AFTER_TABLES = {"priority": DispatchPriority.LAST}
except ImportError:  # earlier ones in order of registration, after their own
    _AFTER_TABLES = {}

__all__ = [
    "CreateSearchIndexOp",
    "DropSearchIndexOp",
    "compare_search_index",
    "create_search_index",
    "drop_search_index",
    "include_object",
    "migrate_options",
    "render_item",
]


def include_object(extension, obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object`` for the host's migrations beside ``extension`` (an
    :class:`admin_users.AdminUsers`)."""
    models = extension.models
    search_tables, search_indexes = search.object_names(models.User.__tablename__)
    if type_ == "table":
        if name in search_tables or name == VERSION_TABLE:
            return False
        if uses_own_models(extension.db, models):
            return True
        return name not in {getattr(models, f).__tablename__ for f in models.__dataclass_fields__}
    return type_ != "index" or name not in search_indexes


def render_item(type_: str, obj, autogen_context) -> str | bool:
    """Alembic's ``render_item``: the extension's column types with their import; False
    (Alembic's own rendering) for everything else."""
    if type_ != "type" or type(obj).__module__ != columns.__name__:
        return False
    autogen_context.imports.add(f"import {columns.__name__}")
    return f"{columns.__name__}.{obj!r}"


def migrate_options(extension) -> dict:
    """The keyword arguments of Flask-Migrate's ``Migrate`` (passed on to Alembic's
    ``context.configure``) for a host beside ``extension``."""
    return {"include_object": extension.include_object, "render_item": extension.render_item}


class CreateSearchIndexOp(ops.MigrateOperation):
    """Create the search index of ``user_table``; reversed, drop it."""

    def __init__(self, user_table: str):
        self.user_table = user_table

    def reverse(self) -> DropSearchIndexOp:
        return DropSearchIndexOp(self.user_table)

    def to_diff_tuple(self) -> tuple:  # what compare_metadata and `flask db check` list
        return ("add_search_index", self.user_table)


class DropSearchIndexOp(ops.MigrateOperation):
    """Drop the search index of ``user_table``: the downgrade of the migration that made it."""

    def __init__(self, user_table: str):
        self.user_table = user_table

    def reverse(self) -> CreateSearchIndexOp:
        return CreateSearchIndexOp(self.user_table)

    def to_diff_tuple(self) -> tuple:
        return ("remove_search_index", self.user_table)


@comparators.dispatch_for("schema", **_AFTER_TABLES)
def compare_search_index(autogen_context, upgrade_ops, schemas) -> None:
    """Propose the search index where the host's migrations own the user table (the app
    has its own model classes, and the table is in the compared metadata) and the
    database has none, or an earlier version's. Any other autogenerate (the default
    models, another app, plain Alembic) is left alone."""
    state = current_app.extensions.get("admin_users") if has_app_context() else None
    if state is None or None not in schemas or not uses_own_models(state.db, state.models):
        return
    user_table = state.models.User.__table__
    compared = {table.name for table in autogen_context.sorted_tables if table.schema is None}
    if user_table.schema is not None or user_table.name not in compared:
        return
    if not search.current(autogen_context.connection, user_table.name):
        upgrade_ops.ops.append(CreateSearchIndexOp(user_table.name))


def create_search_index(op, user_table: str) -> None:
    """What a generated migration calls (``op`` is Alembic's): :func:`search.create` on the
    migration's connection or, with ``--sql``, its statements written into the script."""
    context = op.get_context()
    if context.as_sql:
        create, drop = search.statements(context.dialect.name, user_table)
        for statement in drop + create:
            op.execute(statement)
    else:
        search.create(op.get_bind(), user_table)


def drop_search_index(op, user_table: str) -> None:
    """The downgrade of :func:`create_search_index`."""
    for statement in search.statements(op.get_context().dialect.name, user_table)[1]:
        op.execute(statement)


def _call(autogen_context, function, user_table: str) -> str:
    autogen_context.imports.add(f"import {__name__}")
    op = (autogen_context.opts.get("alembic_module_prefix") or "op.").rstrip(".")
    return f"{__name__}.{function.__name__}({op}, {user_table!r})"


@renderers.dispatch_for(CreateSearchIndexOp)
def _render_create(autogen_context, operation: CreateSearchIndexOp) -> str:
    return _call(autogen_context, create_search_index, operation.user_table)


@renderers.dispatch_for(DropSearchIndexOp)
def _render_drop(autogen_context, operation: DropSearchIndexOp) -> str:
    return _call(autogen_context, drop_search_index, operation.user_table)
