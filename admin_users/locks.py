"""Row locks: how state changes happen once, and how nothing undoes an erasure.

Every change of a user's state (deactivate, reactivate, erase, a data request and its
fulfilment) and every write on a user's behalf (a message, a chat, a title, the
profile, an event, a guest's registration) first takes that user's lock, in its own
transaction, then re-reads the user and decides on what it read: of two racing
requests, the second sees what the first did. The lock order is: the user's row first,
then anything of theirs (chats, messages, profile, audit entries, data requests,
sessions); the app config row is taken alone. One order, so no deadlock.

PostgreSQL: ``SELECT ... FOR UPDATE`` on the user's row. SQLite: a write to the row
(of a column no index, trigger or foreign key reads), which takes the database's write
lock for the rest of the transaction; the Python driver begins the transaction then,
so nothing read before it is relied on.
"""

from __future__ import annotations

from sqlalchemy import select, update

from .state import get_state


def lock_user(session, user):
    """Take ``user``'s lock in the session's transaction and re-read its row; call it
    before changing anything of theirs. A user not yet in the database needs none."""
    if user is None or user.id is None:
        return user
    User = get_state().models.User
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(User)
            .where(User.id == user.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()  # fetched, so that the object holds the row as locked
    else:
        table = User.__table__
        session.execute(
            update(table)
            .where(table.c.id == user.id)
            .values(session_version=table.c.session_version)
        )
        session.refresh(user)
    return user


def lock_config(session, AppConfig):
    """Take the app config row's lock (made if missing) and return it, re-read."""
    statement = select(AppConfig).where(AppConfig.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(statement.with_for_update().execution_options(populate_existing=True))
    table = AppConfig.__table__
    session.execute(update(table).where(table.c.id == 1).values(id=table.c.id))
    return session.scalar(statement.execution_options(populate_existing=True))
