"""The transaction contract's guard: a service call commits its own work, never the host's.

Each service call commits the host's ``db.session``. Anything else of the host's waiting
in that session would be committed with it: an object added, changed or deleted
(``session.new``, ``dirty``, ``deleted``), one already flushed in the open transaction
(a query's autoflush does that), or an INSERT, UPDATE or DELETE run through the session
on one of the host's tables. :func:`refuse_pending` finds those and refuses the call
with :class:`PendingChanges` before it writes anything, leaving them as they were.

What the extension itself has pending is no one else's: objects of its models (chats,
profiles, ...) and the users the call is about pass. SQL text (``text("UPDATE ...")``)
cannot be told apart and is not seen.

Flushed objects and statements are noted by session events on Flask-SQLAlchemy's
``Session`` class (any other class is listened to from its first service call); they
only keep a note in ``session.info`` until the session's transaction ends.
"""

from __future__ import annotations

from itertools import chain

from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event

from ..errors import PendingChanges
from ..state import models

FLUSHED = "admin_users.flushed"  # session.info: objects flushed in the open transaction
STATEMENTS = "admin_users.statements"  # session.info: tables written to by statements


def _after_flush(session, _flush_context) -> None:
    flushed = session.info.setdefault(FLUSHED, {})
    for obj in chain(session.new, session.deleted, session.dirty):
        if obj in session.deleted or obj in session.new or session.is_modified(obj):
            flushed[id(obj)] = obj


def _do_orm_execute(execute_state) -> None:
    if execute_state.is_insert or execute_state.is_update or execute_state.is_delete:
        table = getattr(execute_state.statement, "table", None)
        name = getattr(table, "name", None) or "a table"
        execute_state.session.info.setdefault(STATEMENTS, set()).add(name)


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(FLUSHED, None)
        session.info.pop(STATEMENTS, None)


def watch(session_class) -> None:
    """Note flushes and statements of sessions of ``session_class`` (once per class)."""
    if event.contains(session_class, "after_flush", _after_flush):
        return
    event.listen(session_class, "after_flush", _after_flush)
    event.listen(session_class, "do_orm_execute", _do_orm_execute)
    event.listen(session_class, "after_transaction_end", _after_transaction_end)


watch(FlaskSession)


def _unproxied(obj):
    """``current_user`` and its kind stand for the object they proxy."""
    get = getattr(obj, "_get_current_object", None)
    return get() if callable(get) else obj


def refuse_pending(session, own=()) -> None:
    """Raise :class:`PendingChanges` if ``session`` holds pending changes of the host's:
    anything but objects of the extension's models and the users in ``own``."""
    watch(type(session))
    M = models()
    ours = (M.Profile, M.Chat, M.Message, M.AuditLog, M.AppConfig, M.DataRequest)
    ours += (M.UserSession, M.ThrottleCount)
    tables = {model.__table__.name for model in (M.User, *ours)}
    allowed = {id(_unproxied(obj)) for obj in own if obj is not None}
    dirty = (obj for obj in session.dirty if session.is_modified(obj))
    flushed = session.info.get(FLUSHED, {}).values()
    found = set()
    for obj in chain(session.new, session.deleted, dirty, flushed):
        if id(obj) not in allowed and not isinstance(obj, ours):
            found.add(type(obj).__name__)
    found |= {f"SQL on {name}" for name in session.info.get(STATEMENTS, ()) if name not in tables}
    if found:
        raise PendingChanges(
            f"The database session holds changes that are not admin-users' "
            f"({', '.join(sorted(found))}): this call would commit them. Commit or roll "
            "them back first (db.session.commit() or db.session.rollback())."
        )
