"""One user's detail dialog: their information, profile, and the Chats and Audit Logs tabs.

Each tab is read newest first in batches, walking the ``(user_id, created_at, id)``
index from a cursor, so a user with 100,000 audit entries opens as fast as one with 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from .errors import BadListRequest
from .keyset import CursorFormat, keyset_rows, row_id
from .models import valid_id
from .state import get_state

TABS = ("chats", "audit")
CURSOR = CursorFormat("admin-users.tab-cursor", "This tab position is not valid; reopen the user.")


@dataclass
class TabBatch:
    rows: list
    next_cursor: str | None
    actors: dict  # audit tab: actor id -> the identifier shown for admins


def get_user(user_id):
    """The user with this id, or None (for a malformed or out-of-range id too)."""
    user_id = valid_id(user_id)
    if user_id is None:
        return None
    state = get_state()
    return state.db.session.get(state.models.User, user_id)


def identifiers(ids) -> dict:
    """``{id: identifier}`` for these users, in one query."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    User = get_state().models.User
    users = get_state().db.session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user.identifier for user in users}


def profile_of(user):
    state = get_state()
    return state.db.session.get(state.models.Profile, user.id)


def tab_cursor(user_id: int, tab: str, created_at: datetime, row: int) -> str:
    """An opaque position in a tab of a user's dialog: just after the row
    ``(created_at, row)``."""
    return CURSOR.dumps(user_id, tab, created_at.isoformat(), row)


def read_tab_cursor(user, tab: str, token: str) -> tuple:
    """``(created_at, id)`` from a cursor made for this user's tab; else BadListRequest."""

    def read(user_id, cursor_tab, created, row):
        return user_id, cursor_tab, (datetime.fromisoformat(created), row_id(row))

    user_id, cursor_tab, after = CURSOR.loads(token, read)
    if user_id != user.id or cursor_tab != tab:
        raise BadListRequest("This tab position belongs to another user or tab.")
    return after


def tab_batch(user, tab: str, cursor: str | None = None, limit: int | None = None) -> TabBatch:
    """The next rows of a tab of ``user``'s dialog, newest first."""
    state = get_state()
    M = state.models
    limit = limit or current_app.config["ADMIN_USERS_PAGE_SIZE"]
    model = {"chats": M.Chat, "audit": M.AuditLog}[tab]
    after = None if cursor is None else read_tab_cursor(user, tab, cursor)
    rows = keyset_rows(
        state.db.session,
        select(model).where(model.user_id == user.id),
        model.created_at,
        model.id,
        True,
        after,
        limit,
    )
    next_cursor = None
    if len(rows) == limit:
        next_cursor = tab_cursor(user.id, tab, rows[-1].created_at, rows[-1].id)
    actors = identifiers(r.actor_id for r in rows if r.by_admin) if tab == "audit" else {}
    return TabBatch(rows, next_cursor, actors)
