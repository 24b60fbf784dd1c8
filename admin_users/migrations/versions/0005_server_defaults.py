"""Server defaults for the columns the ORM fills, so that rows written without it fit.

Revision ID: admin_users_0005
Revises: admin_users_0004
Create Date: 2026-12-02 10:00:00

A row written by a raw INSERT (of just an email and a creation time, say) gets
placeholders that ``flask admin-users backfill`` replaces: an empty search text, status
Guest, no chats, not an admin, last activity at the epoch; a chat, no messages. Nothing
else changes: the data stays as it is.

PostgreSQL alters the columns' defaults. SQLite cannot (its ALTER TABLE changes no
default), and making the table again would drop its rows' search triggers and, with
foreign keys on, refuse to drop a table other rows point to: it takes the procedure
SQLite documents for changing a default alone, a new definition of the table written
into its schema, which leaves the rows and the file's format as they are.
"""

import re

from alembic import op

# revision identifiers, used by Alembic.
revision = "admin_users_0005"
down_revision = "admin_users_0004"
branch_labels = None
depends_on = None

# The literals as the models' server defaults write them (models.EPOCH, models.GUEST).
DEFAULTS = {
    "users": {
        "search_text": "''",
        "last_activity_at": "'1970-01-01 00:00:00.000000'",
        "is_admin": "'0'",
        "chat_count": "'0'",
        "status": "'4'",
    },
    "chats": {"message_count": "'0'"},
}


def upgrade():
    _set_defaults(op.get_bind(), upgrading=True)


def downgrade():
    _set_defaults(op.get_bind(), upgrading=False)


def _set_defaults(bind, *, upgrading: bool) -> None:
    for table, defaults in DEFAULTS.items():
        if bind.dialect.name == "sqlite":
            _sqlite_defaults(bind, table, defaults if upgrading else dict.fromkeys(defaults))
            continue
        for column, literal in defaults.items():
            op.alter_column(table, column, server_default=literal[1:-1] if upgrading else None)


def _sqlite_defaults(bind, table: str, defaults: dict) -> None:
    """Write ``table``'s definition again with these defaults (None: no default), by the
    procedure of SQLite's documentation ("ALTER TABLE", making other kinds of table schema
    changes): the new definition is tried on a temporary table first, then written into
    the schema, whose version moves so that every connection reads it again."""
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    for column, literal in defaults.items():
        # A column as SQLAlchemy's CREATE TABLE writes it: "\n\tname TYPE[ DEFAULT x] NOT NULL, "
        definition = re.compile(
            rf"(\n\t{column} [A-Z]+(?:\(\d+\))?)(?: DEFAULT (?:'[^']*'|[^ ,]+))?( NOT NULL,)"
        )
        sql, found = definition.subn(
            lambda m, literal=literal: m[1] + (f" DEFAULT {literal}" if literal else "") + m[2],
            sql,
        )
        if found != 1:
            raise RuntimeError(f"admin-users: no definition of {table}.{column} to change in {sql}")
    check = re.sub(rf"^CREATE TABLE \"?{table}\"? ", "CREATE TEMP TABLE admin_users_check ", sql)
    bind.exec_driver_sql(check)  # a syntax error stops here, with the schema untouched
    bind.exec_driver_sql("DROP TABLE temp.admin_users_check")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
