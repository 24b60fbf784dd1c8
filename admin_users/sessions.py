"""Server-side sessions: what signs a user in, what the Flask-Login user loader accepts.

Every sign-in makes a session record; the session cookie and the remember cookie carry
its token (Flask-Login keeps ``user.get_id()``, which is that token) and the database
keeps only the token's hash. The loader accepts a token while its record is

- not revoked (signing out revokes the record of that browser only),
- at the user's session version (one write ends every session of a user: see
  :func:`end_sessions` and where :mod:`admin_users.service` calls it),
- within its lifetime: an admin's session ends after ``ADMIN_USERS_ADMIN_IDLE_TIMEOUT``
  seconds without a request and ``ADMIN_USERS_ADMIN_SESSION_LIFETIME`` after sign-in;
  anyone else's after ``ADMIN_USERS_REMEMBER_LIFETIME``,
- and the user is not deactivated.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app, g, has_request_context, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, update

from .models import Status, status_of, utcnow
from .state import get_state

__all__ = [
    "end_sessions",
    "load_user",
    "open_session",
    "refused_user",
    "sign_in",
    "sign_out",
]

# A session's last sign of life is written at most this often.
LAST_SEEN_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user, *, remember: bool = False, ip: str | None = None, user_agent: str = ""):
    """A new session record for ``user``, added to the current transaction; returns the
    token that the cookies carry. :func:`sign_in` calls it; tests and tools that need a
    signed-in cookie may too (``{"_user_id": token}`` in Flask's session)."""
    M = get_state().models
    token = secrets.token_urlsafe(32)
    browser, os_ = summarise(user_agent)
    now = utcnow()
    get_state().db.session.add(
        M.UserSession(
            user_id=user.id,
            token_sha256=_hash(token),
            version=user.session_version,
            created_at=now,
            last_seen_at=now,
            ip_address=ip,
            browser=browser,
            os=os_,
            remember=remember,
        )
    )
    return token


def sign_in(user, *, remember: bool = False, ip: str | None = None) -> str:
    """Sign ``user`` in for this browser, in place of ``flask_login.login_user``.

    Commits a new session record, then starts Flask's session afresh: nothing kept in it
    before sign-in survives (a guest's id, the CSRF token, which is made anew). Admins
    are never remembered unless ``ADMIN_USERS_ADMIN_REMEMBER`` is set.
    """
    if user.is_admin and not current_app.config["ADMIN_USERS_ADMIN_REMEMBER"]:
        remember = False
    db = get_state().db
    try:
        token = open_session(
            user,
            remember=remember,
            ip=ip or request.remote_addr,
            user_agent=request.user_agent.string,
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's token of this request, made from the old session
    user.session_token = token
    login_user(user, remember=remember, fresh=True)
    return token


def sign_out() -> None:
    """End this browser's session: its record is revoked, so that a cookie saved before
    opens nothing after; the user's other sessions go on."""
    state = get_state()
    current_user._get_current_object()  # a remember cookie alone names the session too
    token = session.get("_user_id")
    if isinstance(token, str):
        Session = state.models.UserSession
        with state.db.engine.begin() as connection:
            connection.execute(
                update(Session)
                .where(Session.token_sha256 == _hash(token), Session.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
    logout_user()


def end_sessions(user) -> None:
    """Move the user's session version in the current transaction: once committed, every
    session they have, and every sign-in link issued to them, is void."""
    user.session_version = get_state().models.User.session_version + 1


def load_user(token: str):
    """Flask-Login's user loader: the user of a live session record, or None.

    ``init_app`` registers it on the host's ``LoginManager``; a host that sets up
    Flask-Login after the extension registers it itself:
    ``login_manager.user_loader(admin_users.sessions.load_user)``.
    """
    state = get_state()
    M = state.models
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = state.db.session.execute(
        select(M.UserSession, M.User)
        .join(M.User, M.User.id == M.UserSession.user_id)
        .where(M.UserSession.token_sha256 == _hash(token))
    ).first()
    if row is None:
        return None
    record, user = row
    now = utcnow()
    if record.revoked_at is not None:
        return None
    if status_of(user) is Status.DEACTIVATED:
        g.admin_users_refused = user  # told why on the pages that check (chat_access)
        return None
    if record.version != user.session_version or _expired(record, user, now):
        return None
    if now - record.last_seen_at >= LAST_SEEN_EVERY:
        # On a connection of its own, so that the request's transaction stays its own.
        with state.db.engine.begin() as connection:
            connection.execute(
                update(M.UserSession).where(M.UserSession.id == record.id).values(last_seen_at=now)
            )
    user.session_token = token
    return user


def refused_user():
    """The deactivated user whose session this request carried, if any (for the chat
    guard's message); None otherwise, and outside a request."""
    return g.get("admin_users_refused") if has_request_context() else None


def _expired(record, user, now) -> bool:
    config = current_app.config
    if user.is_admin:
        idle = timedelta(seconds=config["ADMIN_USERS_ADMIN_IDLE_TIMEOUT"])
        lifetime = timedelta(seconds=config["ADMIN_USERS_ADMIN_SESSION_LIFETIME"])
        return now - record.last_seen_at > idle or now - record.created_at > lifetime
    return now - record.created_at > timedelta(seconds=config["ADMIN_USERS_REMEMBER_LIFETIME"])


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def summarise(user_agent: str | None) -> tuple[str | None, str | None]:
    """The browser and the operating system a user agent names, e.g. ("Firefox 128",
    "Windows"); None for what it does not tell."""
    if not user_agent:
        return None, None
    from ua_parser import parse  # 50 ms to import: paid at the first sign-in, not at start

    parsed = parse(user_agent[:1000])
    browser = os_ = None
    if parsed.user_agent is not None and parsed.user_agent.family != "Other":
        browser = " ".join(p for p in (parsed.user_agent.family, parsed.user_agent.major) if p)
    if parsed.os is not None and parsed.os.family != "Other":
        os_ = parsed.os.family
    return tuple(_CONTROL.sub("", v)[:64] or None if v else None for v in (browser, os_))
