"""The chat guard: who may chat (deactivation first, then the chat permission), the
current visitor, and the refusal page."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import current_app, jsonify, render_template, request, session
from flask_login import current_user
from sqlalchemy import select

from ..errors import AccountDeactivated
from ..models import Status, status_of
from ..sessions import refused_user
from ..state import db_session, models
from .accounts import create_guest
from .config import get_chat_permission


@dataclass(frozen=True)
class Access:
    """Whether the current visitor may chat, and if not, why and what to do."""

    allowed: bool
    visitor: object | None = None  # the user or guest; None for a new visitor
    reason: str | None = None  # "deactivated", "sign_in" or "confirm"
    message: str = ""
    status: int = 200


def _guest_key() -> str:
    return current_app.config["ADMIN_USERS_GUEST_SESSION_KEY"]


def current_visitor():
    """The signed-in user (of any status), else this session's guest, else None.

    A session of a user since deactivated signs no one in (the user loader refuses
    it), but its user is still the visitor here: that is how their open sessions,
    remember-me ones too, are recognised and refused with the reason.
    """
    user = current_user._get_current_object() if current_user else None
    if user is not None and not getattr(user, "is_anonymous", True):
        return user
    refused = refused_user()  # a session of a user since deactivated: told so
    if refused is not None:
        return refused
    guest_id = session.get(_guest_key())
    if guest_id:
        User = models().User
        return db_session().scalar(select(User).where(User.guest_id == guest_id))
    return None


DEACTIVATED = (
    "This account has been deactivated. Contact the site's support if you think this is a mistake."
)


def chat_access() -> Access:
    """The one check of who may chat: deactivation first, then the chat permission."""
    visitor = current_visitor()
    if visitor is not None and status_of(visitor) is Status.DEACTIVATED:
        return Access(False, visitor, "deactivated", DEACTIVATED, 403)
    permission = get_chat_permission()
    if permission == "guest":
        return Access(True, visitor)
    if visitor is None or visitor.email is None:
        return Access(False, visitor, "sign_in", "Sign in to chat.", 401)
    if permission == "user" and visitor.confirmed_at is None:
        return Access(
            False,
            visitor,
            "confirm",
            "Confirm your email to chat: open the link we sent you, or ask for a new one.",
            403,
        )
    return Access(True, visitor)


def guest_for_session(*, ip: str | None = None):
    """This session's guest, created (and remembered in the session) on first use."""
    visitor = current_visitor()
    if visitor is None:
        visitor = create_guest(ip=ip)
        session[_guest_key()] = visitor.guest_id
    return visitor


def forget_guest() -> None:
    """Drop the session's guest (on sign-in or sign-out)."""
    session.pop(_guest_key(), None)


def chat_guard(view):
    """Decorator for chat endpoints: refuses whom :func:`chat_access` refuses.

    The refusal is a page (``admin_users/refused.html``, which a host may override)
    or, for requests that want JSON, ``{"error": ..., "reason": ...}``. A visitor
    deactivated (or erased) while the view runs is refused the same way: the write on
    their behalf raised :class:`AccountDeactivated` and nothing of it was kept.
    """

    @wraps(view)
    def guarded(*args, **kwargs):
        access = chat_access()
        if access.allowed:
            try:
                return view(*args, **kwargs)
            except AccountDeactivated:
                db_session().rollback()
                access = chat_access()
                if access.allowed:  # refused, then reactivated at once: say so anyway
                    access = Access(False, access.visitor, "deactivated", DEACTIVATED, 403)
        return refused(access)

    return guarded


def refused(access: Access):
    """The answer to a visitor ``access`` refuses: the page ``admin_users/refused.html``
    (a host may override it) or, for requests that want JSON, ``{"error", "reason"}``."""
    if request.accept_mimetypes.best == "application/json":
        return jsonify(error=access.message, reason=access.reason), access.status
    login_view = getattr(getattr(current_app, "login_manager", None), "login_view", None)
    return render_template(
        "admin_users/refused.html", access=access, login_view=login_view
    ), access.status
