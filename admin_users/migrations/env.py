"""Alembic environment of admin-users' own tables; runs inside a Flask app context.

It migrates through the engine of the extension's Flask-SQLAlchemy object and keeps its
revision in ``alembic_version_admin_users``, apart from the host's own migrations.
Run it with :func:`admin_users.migrate.upgrade` or with Flask-Migrate's
``flask db upgrade --directory <this directory>``.
"""

from alembic import context

from admin_users.migrate import VERSION_TABLE, include_extension_object, target_metadata
from admin_users.state import get_state

if context.is_offline_mode():
    raise RuntimeError(
        "admin-users' migrations run against a database only (no --sql): "
        "the search index is made by statements that depend on the database's features."
    )

with get_state().db.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        version_table=VERSION_TABLE,
        include_object=include_extension_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
