"""One user's detail dialog: their information, profile, and the Chats and Audit Logs tabs.

Each tab is read newest first in batches, walking the ``(user_id, created_at, id)``
index from a cursor, so a user with 100,000 audit entries opens as fast as one with 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from .listing import BadListRequest, keyset_rows
from .models import valid_id
from .state import get_state

TABS = ("chats", "audit")


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


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="admin-users.tab-cursor")


def _read_cursor(user, tab: str, token: str):
    try:
        user_id, cursor_tab, created, row_id = _serializer().loads(token)
        after = (datetime.fromisoformat(created), valid_id(row_id))
        if after[1] is None:
            raise ValueError("not an id")
    except (BadSignature, ValueError, TypeError):
        raise BadListRequest("This tab position is not valid; reopen the user.") from None
    if user_id != user.id or cursor_tab != tab:
        raise BadListRequest("This tab position belongs to another user or tab.")
    return after


def tab_batch(user, tab: str, cursor: str | None = None, limit: int | None = None) -> TabBatch:
    """The next rows of a tab of ``user``'s dialog, newest first."""
    state = get_state()
    M = state.models
    limit = limit or current_app.config["ADMIN_USERS_PAGE_SIZE"]
    model = {"chats": M.Chat, "audit": M.AuditLog}[tab]
    after = None if cursor is None else _read_cursor(user, tab, cursor)
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
        last = rows[-1]
        next_cursor = _serializer().dumps([user.id, tab, last.created_at.isoformat(), last.id])
    actors = identifiers(r.actor_id for r in rows if r.by_admin) if tab == "audit" else {}
    return TabBatch(rows, next_cursor, actors)
