"""The Python API a host chatbot calls, and the rules behind the admin's views and CLI.

Each public function is one transaction: it commits what it changed together with
its audit entry, or rolls back and raises. Functions that record an event take
``ip`` (default: the current request's remote address; none outside a request).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_request_context, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from .extension import get_state
from .models import Status, status_of, utcnow

__all__ = [
    "AccountDeactivated",
    "AdminUsersError",
    "EmailTaken",
    "InvalidEmail",
    "InvalidLink",
    "add_message",
    "confirm_email",
    "create_admin",
    "create_guest",
    "deactivate",
    "delete_chat",
    "find_user",
    "issue_login_link",
    "login_link_url",
    "may_use_admin",
    "reactivate",
    "record_event",
    "redeem_login_link",
    "register",
    "set_customer_id",
    "start_chat",
    "update_profile",
]

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TITLE_LENGTH = 200


class AdminUsersError(Exception):
    """Base of the errors the API raises for a request it refuses."""


class InvalidEmail(AdminUsersError, ValueError):
    pass


class EmailTaken(AdminUsersError):
    pass


class InvalidLink(AdminUsersError):
    pass


class AccountDeactivated(AdminUsersError):
    pass


def _models():
    return get_state().models


def _session():
    return get_state().db.session


@contextmanager
def _transaction() -> Iterator[object]:
    session = _session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _client_ip(ip: str | None) -> str | None:
    if ip is None and has_request_context():
        return request.remote_addr
    return ip


def _origin() -> str:
    return "web" if has_request_context() else "cli"


SELF = object()  # the actor of an event the user caused themself


def _audit(user, action, *, entity=None, actor=SELF, ip=None, detail=None):
    """Add an audit entry about ``user`` to the current transaction.

    ``actor`` is who acted: ``SELF`` (the user; their last activity moves with it),
    an admin (their action does not move the user's last activity), or None (the CLI).
    """
    session = _session()
    now = utcnow()
    if user is not None and user.id is None:
        session.flush()
    if actor is SELF:
        actor_id = user.id
        user.last_activity_at = now
    else:
        actor_id = getattr(actor, "id", None)
    entry = _models().AuditLog(
        user_id=getattr(user, "id", None),
        actor_id=actor_id,
        action=action,
        entity=entity,
        ip_address=_client_ip(ip),
        detail=detail,
        origin=_origin(),
        created_at=now,
    )
    session.add(entry)
    return entry


# -- users ---------------------------------------------------------------------------


def _guest_number() -> int:
    return secrets.randbelow(10**9)


def new_guest_id() -> str:
    """A fresh guest id, ``g-`` and 9 digits; random, so retried until unused."""
    User = _models().User
    session = _session()
    for _ in range(100):
        candidate = f"g-{_guest_number():09d}"
        if session.scalar(select(User.id).where(User.guest_id == candidate)) is None:
            return candidate
    raise RuntimeError("no free guest id after 100 tries")


def create_guest(*, ip: str | None = None):
    """A new anonymous user, as the chatbot makes on a visitor's first chat."""
    with _transaction() as session:
        user = _models().User(guest_id=new_guest_id())
        session.add(user)
        _audit(user, "guest.create", entity="user", ip=ip)
    return user


def normalize_email(email: str) -> str:
    email = (email or "").strip()
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise InvalidEmail("That does not look like an email address.")
    return email


def register(email: str, *, guest=None, ip: str | None = None):
    """An Unconfirmed account for ``email``; a guest who registers keeps their chats."""
    email = normalize_email(email)
    User = _models().User
    with _transaction() as session:
        if session.scalar(select(User.id).where(User.identifier_key == email.casefold())):
            raise EmailTaken("An account with that email already exists.")
        if guest is not None and guest.email is None:
            user = guest
            user.email = email
        else:
            user = User(email=email)
            session.add(user)
        _audit(user, "register", entity="user", ip=ip)
    return user


def create_admin(email: str):
    """Make ``email`` an active admin, creating the account if needed."""
    email = normalize_email(email)
    user = find_user(email)
    with _transaction() as session:
        if user is None:
            user = _models().User(email=email)
            session.add(user)
        user.is_admin = True
        user.confirmed_at = user.confirmed_at or utcnow()
        _audit(user, "admin.grant", entity="user", actor=None)
    return user


def confirm_email(user, *, ip: str | None = None) -> bool:
    """Mark the email confirmed; False if it already was."""
    if user.confirmed_at is not None:
        return False
    with _transaction():
        user.confirmed_at = utcnow()
        _audit(user, "email.confirm", entity="user", ip=ip)
    return True


def update_profile(user, *, ip: str | None = None, **fields):
    """Set profile fields (see ``ProfileMixin.FIELDS``); empty strings clear a field."""
    Profile = _models().Profile
    unknown = set(fields) - set(Profile.FIELDS)
    if unknown:
        raise TypeError(f"unknown profile fields: {', '.join(sorted(unknown))}")
    with _transaction() as session:
        profile = session.get(Profile, user.id)
        if profile is None:
            profile = Profile(user_id=user.id)
            session.add(profile)
        for name, value in fields.items():
            value = (value or "").strip() or None
            limit = Profile.__table__.c[name].type.length
            if value and len(value) > limit:
                raise ValueError(f"{name} is longer than {limit} characters")
            setattr(profile, name, value)
        profile.updated_at = utcnow()
        _audit(user, "profile.update", entity="profile", ip=ip)
    return profile


def set_customer_id(user, customer_id: str | None):
    """Link the user to an external customer id (from an integration), or unlink."""
    customer_id = (customer_id or "").strip() or None
    if customer_id and len(customer_id) > 255:
        raise ValueError("customer id is longer than 255 characters")
    with _transaction():
        user.customer_id = customer_id
    return user


def find_user(ref):
    """The user named by an id, an email or a guest id, or None."""
    User = _models().User
    session = _session()
    ref = str(ref).strip()
    if ref.isdigit():
        return session.get(User, int(ref))
    if not ref:
        return None
    return session.scalar(select(User).where(User.identifier_key == ref.casefold()))


def may_use_admin(user) -> bool:
    """Only a signed-in, active admin reaches the admin panel."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_admin", False)
        and status_of(user) is Status.ACTIVE
    )


# -- sign-in links ---------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="admin-users.login-link")


def issue_login_link(user) -> str:
    """A signed, expiring, single-use token that signs ``user`` in."""
    if status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    if user.email is None:
        raise InvalidLink("Guests have no sign-in link.")
    if user.login_nonce is None:
        with _transaction():
            user.login_nonce = secrets.token_hex(16)
    return _serializer().dumps({"u": user.id, "n": user.login_nonce})


def login_link_url(user) -> str:
    """The full URL of the host's sign-in link page for a new token."""
    from flask import url_for

    endpoint = current_app.config["ADMIN_USERS_LOGIN_LINK_ENDPOINT"]
    if not endpoint:
        raise RuntimeError("set ADMIN_USERS_LOGIN_LINK_ENDPOINT to the host's link page")
    token = issue_login_link(user)
    if has_request_context():
        return url_for(endpoint, token=token, _external=True)
    with current_app.test_request_context(base_url=current_app.config["ADMIN_USERS_BASE_URL"]):
        return url_for(endpoint, token=token, _external=True)


def redeem_login_link(token: str, *, ip: str | None = None):
    """The user a link signs in; uses the link up, confirms the email, logs the sign-in.

    Raises :class:`InvalidLink` (bad, expired or used) or :class:`AccountDeactivated`.
    The host then calls ``flask_login.login_user`` with the user.
    """
    max_age = current_app.config["ADMIN_USERS_MAGIC_LINK_MAX_AGE"]
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink("This sign-in link has expired. Ask for a new one.") from None
    except BadSignature:
        raise InvalidLink("This sign-in link is not valid.") from None
    user = _session().get(_models().User, data.get("u")) if isinstance(data, dict) else None
    if user is None or user.login_nonce is None or data.get("n") != user.login_nonce:
        raise InvalidLink("This sign-in link has already been used. Ask for a new one.")
    if status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    with _transaction():
        user.login_nonce = secrets.token_hex(16)
        if user.confirmed_at is None:
            user.confirmed_at = utcnow()
            _audit(user, "email.confirm", entity="user", ip=ip)
        _audit(user, "login", entity="session", ip=ip)
    return user


# -- chats -------------------------------------------------------------------------------


def start_chat(user, *, title: str | None = None, ip: str | None = None):
    """A new conversation of ``user``; counted in their chat count at once."""
    User, Chat = _models().User, _models().Chat
    with _transaction() as session:
        if user.id is None:
            session.flush()
        chat = Chat(user_id=user.id, title=_title(title))
        session.add(chat)
        session.execute(
            update(User).where(User.id == user.id).values(chat_count=User.chat_count + 1)
        )
        session.flush()
        _audit(user, "chat.create", entity=f"chat:{chat.id}", ip=ip)
    return chat


def _title(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text[:TITLE_LENGTH] or None


def add_message(chat, role: str, content: str):
    """Append a message; the user's first message titles an untitled chat."""
    if role not in ("user", "assistant"):
        raise ValueError("role must be 'user' or 'assistant'")
    if chat.deleted_at is not None:
        raise ValueError("this chat was deleted")
    M = _models()
    with _transaction() as session:
        message = M.Message(chat_id=chat.id, role=role, content=content)
        session.add(message)
        session.execute(
            update(M.Chat)
            .where(M.Chat.id == chat.id)
            .values(message_count=M.Chat.message_count + 1)
        )
        if role == "user":
            if chat.title is None:
                chat.title = _title(content)
            session.execute(
                update(M.User).where(M.User.id == chat.user_id).values(last_activity_at=utcnow())
            )
    return message


def delete_chat(chat, *, ip: str | None = None) -> bool:
    """Delete a chat as its user does: title and every message's text go, the row stays."""
    if chat.deleted_at is not None:
        return False
    M = _models()
    with _transaction() as session:
        chat.deleted_at = utcnow()
        chat.title = None
        session.execute(update(M.Message).where(M.Message.chat_id == chat.id).values(content=None))
        user = session.get(M.User, chat.user_id)
        _audit(user, "chat.delete", entity=f"chat:{chat.id}", ip=ip)
    return True


def record_event(
    user,
    action: str,
    *,
    entity: str | None = None,
    ip: str | None = None,
    detail: str | None = None,
):
    """Record something the user did (login, logout, ...) in their audit log."""
    with _transaction():
        entry = _audit(user, action, entity=entity, ip=ip, detail=detail)
    return entry


# -- admin actions ------------------------------------------------------------------------


def deactivate(user, *, reason: str, actor=None, ip: str | None = None) -> bool:
    """Block the user; False (and no change) if already deactivated.

    ``actor`` is the admin (None from the CLI without ``--actor``).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required to deactivate a user.")
    if user.deactivated_at is not None:
        return False
    with _transaction():
        user.deactivated_at = utcnow()
        user.deactivated_by_id = getattr(actor, "id", None)
        user.deactivation_reason = reason
        _audit(user, "admin.deactivate", entity="user", actor=actor, ip=ip, detail=reason)
    return True


def reactivate(user, *, actor=None, note: str | None = None, ip: str | None = None) -> bool:
    """Restore access; False (and no change) if not deactivated. Erased users stay erased."""
    if user.deactivated_at is None or user.erased_at is not None:
        return False
    with _transaction():
        user.deactivated_at = None
        user.deactivated_by_id = None
        user.deactivation_reason = None
        _audit(
            user,
            "admin.reactivate",
            entity="user",
            actor=actor,
            ip=ip,
            detail=(note or "").strip() or None,
        )
    return True
