"""The Python API a host chatbot calls, and the rules behind the admin's views and CLI.

Each public function is one transaction: it commits what it changed together with
its audit entry, or rolls back and raises. Functions that record an event take
``ip`` (default: the current request's remote address; none outside a request).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from flask import current_app, has_request_context, jsonify, render_template, request, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from . import search
from .locks import lock_config, lock_user
from .models import Status, status_of, utcnow, valid_id
from .sessions import end_sessions, refused_user, sign_in, sign_out
from .state import get_state

__all__ = [
    "AccountDeactivated",
    "Access",
    "AdminUsersError",
    "CannotDeactivateSelf",
    "ConfirmationMismatch",
    "EmailTaken",
    "InvalidEmail",
    "InvalidLink",
    "InvalidText",
    "TooManyRequests",
    "add_message",
    "change_email",
    "chat_access",
    "chat_guard",
    "check_text",
    "confirm_email",
    "create_admin",
    "create_guest",
    "current_visitor",
    "data_requests",
    "deactivate",
    "delete_chat",
    "erase_user",
    "export_user",
    "find_user",
    "forget_guest",
    "get_chat_permission",
    "guest_for_session",
    "issue_login_link",
    "link_url",
    "login_link_url",
    "may_use_admin",
    "reactivate",
    "record_event",
    "redeem_login_link",
    "refused",
    "register",
    "request_deletion",
    "request_export",
    "set_chat_permission",
    "set_customer_id",
    "sign_in",
    "sign_out",
    "sign_out_everywhere",
    "start_chat",
    "throttle",
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


class InvalidText(AdminUsersError, ValueError):
    """A text field with a character SPEC's text fields refuse."""


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_text(value: str | None, field: str, *, single_line: bool = True) -> str | None:
    """``value`` unchanged if it is a valid text field; else :class:`InvalidText`.

    Control characters (C0 but tab, newline and carriage return; DEL; C1) are refused
    in every field; single-line fields (email, customer id, names, phone, address lines)
    refuse newlines too; free text (chat titles and messages, reasons, notes) keeps them.
    """
    if value is None:
        return None
    if _CONTROL.search(value):
        raise InvalidText(f"{field} cannot contain control characters.")
    if single_line and ("\n" in value or "\r" in value):
        raise InvalidText(f"{field} must be on one line.")
    return value


class TooManyRequests(AdminUsersError):
    """Raised by :func:`throttle`; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many sign-in requests. Try again in {minutes} minute{'s' * (minutes > 1)}."
        )
        self.retry_after = retry_after


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


def _acting_for(session, user):
    """Lock ``user`` (see :mod:`admin_users.locks`) for a write on their behalf; refuse
    if they are deactivated or erased, whatever happened since they were read."""
    lock_user(session, user)
    if user is not None and status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    return user


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
    email = check_text((email or "").strip(), "An email address")
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise InvalidEmail("That does not look like an email address.")
    return email


def register(email: str, *, guest=None, ip: str | None = None):
    """An Unconfirmed account for ``email``; a guest who registers keeps their chats."""
    email = normalize_email(email)
    User = _models().User
    with _transaction() as session:
        if guest is not None:
            _acting_for(session, guest)
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
        elif not user.is_admin:
            end_sessions(user)  # the new admin signs in afresh: no session from before
        user.is_admin = True
        user.confirmed_at = user.confirmed_at or utcnow()
        _audit(user, "admin.grant", entity="user", actor=None)
    return user


def confirm_email(user, *, ip: str | None = None) -> bool:
    """Mark the email confirmed; False if it already was. Every session opened before
    ends: whoever registered the address first does not share the owner's account."""
    with _transaction() as session:
        _acting_for(session, user)
        if user.confirmed_at is not None:
            return False
        user.confirmed_at = utcnow()
        end_sessions(user)
        _audit(user, "email.confirm", entity="user", ip=ip)
    return True


def update_profile(user, *, ip: str | None = None, **fields):
    """Set profile fields (see ``ProfileMixin.FIELDS``); empty strings clear a field."""
    Profile = _models().Profile
    unknown = set(fields) - set(Profile.FIELDS)
    if unknown:
        raise TypeError(f"unknown profile fields: {', '.join(sorted(unknown))}")
    with _transaction() as session:
        _acting_for(session, user)
        profile = session.get(Profile, user.id)
        if profile is None:
            profile = Profile(user_id=user.id)
            session.add(profile)
        for name, value in fields.items():
            value = check_text((value or "").strip(), name.replace("_", " ").capitalize()) or None
            limit = Profile.__table__.c[name].type.length
            if value and len(value) > limit:
                raise ValueError(f"{name} is longer than {limit} characters")
            setattr(profile, name, value)
        profile.updated_at = utcnow()
        _audit(user, "profile.update", entity="profile", ip=ip)
    return profile


def set_customer_id(user, customer_id: str | None):
    """Link the user to an external customer id (from an integration), or unlink."""
    customer_id = check_text((customer_id or "").strip(), "A customer id") or None
    if customer_id and len(customer_id) > 255:
        raise ValueError("customer id is longer than 255 characters")
    with _transaction() as session:
        lock_user(session, user)
        if user.erased_at is not None:
            raise AccountDeactivated("This account was erased.")
        user.customer_id = customer_id
    return user


def find_user(ref):
    """The user named by an id, an email or a guest id, or None."""
    User = _models().User
    session = _session()
    ref = str(ref).strip()
    if _CONTROL.search(ref):  # no identifier holds one (and PostgreSQL refuses NUL)
        return None
    if ref.isdigit():
        user_id = valid_id(ref)
        return None if user_id is None else session.get(User, user_id)
    if not ref:
        return None
    return session.scalar(select(User).where(User.identifier_key == ref.casefold()))


def may_use_admin_account(user) -> bool:
    """An admin account in good standing: marked admin, confirmed, not deactivated."""
    return bool(getattr(user, "is_admin", False) and status_of(user) is Status.ACTIVE)


def may_use_admin(user) -> bool:
    """Only a signed-in, active admin reaches the admin panel."""
    return bool(getattr(user, "is_authenticated", False) and may_use_admin_account(user))


# -- sign-in links ---------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="admin-users.login-link")


def issue_login_link(user) -> str:
    """A signed, expiring, single-use token that signs ``user`` in.

    It carries the user's session version, so that anything that ends their sessions
    (a deactivation, say) voids it too, for good.
    """
    if status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    if user.email is None:
        raise InvalidLink("Guests have no sign-in link.")
    return _link_token(user)


def _link_token(user, **extra) -> str:
    if user.login_nonce is None:
        with _transaction():
            user.login_nonce = secrets.token_hex(16)
    return _serializer().dumps(
        {"u": user.id, "n": user.login_nonce, "v": user.session_version, **extra}
    )


def login_link_url(user) -> str:
    """The full URL of the host's sign-in link page for a new token."""
    return link_url(issue_login_link(user))


def link_url(token: str) -> str:
    """The full URL of the host's sign-in link page (``ADMIN_USERS_LOGIN_LINK_ENDPOINT``)
    for ``token``, in a request or outside one (then at ``ADMIN_USERS_BASE_URL``)."""
    from flask import url_for

    endpoint = current_app.config["ADMIN_USERS_LOGIN_LINK_ENDPOINT"]
    if not endpoint:
        raise RuntimeError("set ADMIN_USERS_LOGIN_LINK_ENDPOINT to the host's link page")
    if has_request_context():
        return url_for(endpoint, token=token, _external=True)
    with current_app.test_request_context(base_url=current_app.config["ADMIN_USERS_BASE_URL"]):
        return url_for(endpoint, token=token, _external=True)


USED = "This sign-in link has already been used. Ask for a new one."


def redeem_login_link(token: str, *, ip: str | None = None):
    """The user a link signs in; uses the link up, confirms the email, logs the sign-in.

    Raises :class:`InvalidLink` (bad, expired, used, or void since the user's sessions
    were ended) or :class:`AccountDeactivated`. Using the link up is a compare-and-set
    in the database: of any number of concurrent requests with one link, one wins.
    Confirming the email (or the new email of :func:`change_email`) ends every session
    opened before. The host then calls :func:`sign_in` with the user.
    """
    max_age = current_app.config["ADMIN_USERS_MAGIC_LINK_MAX_AGE"]
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink("This sign-in link has expired. Ask for a new one.") from None
    except BadSignature:
        raise InvalidLink("This sign-in link is not valid.") from None
    if not isinstance(data, dict) or valid_id(data.get("u")) is None:
        raise InvalidLink("This sign-in link is not valid.")
    User = _models().User
    user = _session().get(User, data["u"])
    if user is None or user.login_nonce is None:
        raise InvalidLink(USED)
    if status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    new_email = data.get("e")
    if new_email is not None and new_email != user.pending_email:
        raise InvalidLink("This link is for an email change that was replaced. Ask again.")
    proving = user.confirmed_at is None or new_email is not None
    with _transaction() as session:
        used = session.execute(
            update(User)
            .where(
                User.id == user.id,
                User.login_nonce == data.get("n"),
                User.session_version == data.get("v"),
                User.deactivated_at.is_(None),
                User.erased_at.is_(None),
            )
            .values(
                login_nonce=secrets.token_hex(16),
                session_version=User.session_version + int(proving),
            )
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:
            raise InvalidLink(USED)
        session.expire(user, ["login_nonce", "session_version"])
        if new_email is not None:
            if session.scalar(select(User.id).where(User.identifier_key == new_email.casefold())):
                raise EmailTaken("An account with that email already exists.")
            user.email, user.pending_email = new_email, None
            user.confirmed_at = utcnow()
            _audit(user, "email.change", entity="user", ip=ip)
        elif user.confirmed_at is None:
            user.confirmed_at = utcnow()
            _audit(user, "email.confirm", entity="user", ip=ip)
        _audit(user, "login", entity="session", ip=ip)
    return user


def change_email(user, new_email: str) -> str:
    """Ask to change ``user``'s email to ``new_email``: returns the token of a sign-in
    link to send to the new address (:func:`link_url` makes its URL). The change takes
    effect when that link is redeemed, which proves the address and ends every session
    of the user; until then the email is unchanged. A later request replaces this one.
    """
    email = normalize_email(new_email)
    if status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    if user.email is None:
        raise InvalidLink("Guests register instead.")
    User = _models().User
    with _transaction() as session:
        _acting_for(session, user)
        if session.scalar(select(User.id).where(User.identifier_key == email.casefold())):
            raise EmailTaken("An account with that email already exists.")
        user.pending_email = email
        _audit(user, "email.change_request", entity="user")
    return _link_token(user, e=email)


def sign_out_everywhere(user, *, ip: str | None = None) -> None:
    """End every session of ``user``, this browser's included, and void their links."""
    with _transaction() as session:
        lock_user(session, user)
        end_sessions(user)
        _audit(user, "logout.everywhere", entity="session", ip=ip)


def throttle(email: str | None = None) -> None:
    """Count one sign-in email about to be sent (a link, or a registration) against the
    limits for ``email`` and for the client's IP address; raise :class:`TooManyRequests`
    past either (``ADMIN_USERS_THROTTLE_PER_ADDRESS``, ``ADMIN_USERS_THROTTLE_PER_IP``).
    Call it in the request, before sending. The counts are kept under a keyed hash of
    the address and the IP address, never the addresses themselves."""
    from limits import parse_many

    limiter = get_state().limiter
    config = current_app.config
    checks = [("ip", request.remote_addr or "-", config["ADMIN_USERS_THROTTLE_PER_IP"])]
    if email:
        address = email.strip().casefold()
        checks.append(("address", address, config["ADMIN_USERS_THROTTLE_PER_ADDRESS"]))
    secret = current_app.secret_key
    secret = secret if isinstance(secret, bytes) else secret.encode()
    for scope, value, limits in checks:
        key = hmac.new(secret, value.encode(), "sha256").hexdigest()[:32]
        for limit in parse_many(limits):
            if not limiter.hit(limit, "admin-users", scope, key):
                reset = limiter.get_window_stats(limit, "admin-users", scope, key).reset_time
                raise TooManyRequests(max(1, int(reset - time.time())))


# -- chats -------------------------------------------------------------------------------


def start_chat(user, *, title: str | None = None, ip: str | None = None):
    """A new conversation of ``user``; counted in their chat count at once."""
    User, Chat = _models().User, _models().Chat
    check_text(title, "A chat title", single_line=False)
    with _transaction() as session:
        _acting_for(session, user)
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
    check_text(content, "A message", single_line=False)
    M = _models()
    with _transaction() as session:
        _acting_for(session, session.get(M.User, chat.user_id))
        session.refresh(chat)  # as of the lock: not deleted, its title not erased since
        if chat.deleted_at is not None:
            raise ValueError("this chat was deleted")
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
    M = _models()
    with _transaction() as session:
        user = _acting_for(session, session.get(M.User, chat.user_id))
        session.refresh(chat)
        if chat.deleted_at is not None:
            return False
        chat.deleted_at = utcnow()
        chat.title = None
        session.execute(update(M.Message).where(M.Message.chat_id == chat.id).values(content=None))
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
    check_text(action, "An action")
    check_text(entity, "An entity")
    check_text(detail, "A detail", single_line=False)
    with _transaction() as session:
        _acting_for(session, user)
        entry = _audit(user, action, entity=entity, ip=ip, detail=detail)
    return entry


# -- admin actions ------------------------------------------------------------------------


class CannotDeactivateSelf(AdminUsersError):
    pass


# The seed's common reasons, offered in the admin's confirmation step.
DEACTIVATION_REASONS = (
    "Abuse or harmful behaviour",
    "Spam or bot account",
    "Compliance or legal requirement",
    "User requested account closure",
)


def compose_reason(reason: str | None, detail: str | None = None) -> str:
    """One reason from a chosen reason and free text (either may be empty)."""
    parts = [p.strip() for p in (reason, detail) if p and p.strip()]
    return ": ".join(parts)[:1000]


def deactivate(user, *, reason: str, actor=None, ip: str | None = None) -> bool:
    """Block the user; False (and no change) if already deactivated.

    ``actor`` is the admin (None from the CLI without ``--actor``). Every session of
    the user ends: it is refused from its next request on (see :func:`chat_access`),
    and stays void after a reactivation; nothing of theirs is deleted.
    """
    reason = check_text((reason or "").strip(), "A reason", single_line=False)
    if not reason:
        raise ValueError("A reason is required to deactivate a user.")
    if actor is not None and actor.id == user.id:
        raise CannotDeactivateSelf("You cannot deactivate your own account.")
    with _transaction() as session:
        lock_user(session, user)  # of two admins at once, the second sees the first's
        if user.deactivated_at is not None:
            return False
        user.deactivated_at = utcnow()
        user.deactivated_by_id = getattr(actor, "id", None)
        user.deactivation_reason = reason
        end_sessions(user)
        _audit(user, "admin.deactivate", entity="user", actor=actor, ip=ip, detail=reason)
    return True


_OUTCOMES = {
    ("deactivate", True): "{} is deactivated.",
    ("deactivate", False): "{} was already deactivated: nothing changed.",
    ("reactivate", True): "{} is active again.",
    ("reactivate", False): "{} was not deactivated: nothing changed.",
}


def outcome(user, action: str, changed: bool) -> str:
    """What the admin is told after ``action`` ("deactivate" or "reactivate") on ``user``,
    in the panel and on the command line alike."""
    return _OUTCOMES[action, changed].format(user.identifier)


def reactivate(user, *, actor=None, note: str | None = None, ip: str | None = None) -> bool:
    """Restore access; False (and no change) if not deactivated. Erased users stay erased."""
    check_text(note, "A note", single_line=False)
    with _transaction() as session:
        lock_user(session, user)
        if user.deactivated_at is None or user.erased_at is not None:
            return False
        user.deactivated_at = None
        user.deactivated_by_id = None
        user.deactivation_reason = None
        end_sessions(user)  # a session from before the deactivation stays ended
        _audit(
            user,
            "admin.reactivate",
            entity="user",
            actor=actor,
            ip=ip,
            detail=(note or "").strip() or None,
        )
    return True


# -- app config ----------------------------------------------------------------------------

CHAT_PERMISSIONS = {
    "guest": "Guest: anyone can chat without signing in; a visitor becomes a guest user "
    "on their first message.",
    "login": "Login: visitors must sign in to chat (an unconfirmed email is enough).",
    "user": "User: visitors must sign in with a confirmed email to chat.",
}


def _app_config(session):
    """The config row, locked (see :mod:`admin_users.locks`); made on first use."""
    AppConfig = _models().AppConfig
    config = lock_config(session, AppConfig)
    if config is None:
        config = AppConfig(id=1, chat_permission="guest")
        session.add(config)
    return config


def get_chat_permission() -> str:
    """The chat permission, read afresh on every call: a change reaches every worker."""
    AppConfig = _models().AppConfig
    value = _session().scalar(select(AppConfig.chat_permission).where(AppConfig.id == 1))
    return value or "guest"


def set_chat_permission(value: str, *, actor=None, ip: str | None = None) -> bool:
    """Change who may chat (``guest``, ``login`` or ``user``); False if it already was."""
    if value not in CHAT_PERMISSIONS:
        raise ValueError(f"The chat permission is one of: {', '.join(CHAT_PERMISSIONS)}.")
    with _transaction() as session:
        config = _app_config(session)
        old = config.chat_permission
        if old == value:
            return False
        config.chat_permission = value
        _audit(
            None,
            "admin.config",
            entity="app_config.chat_permission",
            actor=actor,
            ip=ip,
            detail=f"{old} -> {value}",
        )
    return True


# -- the guard -----------------------------------------------------------------------------


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
    from flask_login import current_user

    user = current_user._get_current_object() if current_user else None
    if user is not None and not getattr(user, "is_anonymous", True):
        return user
    refused = refused_user()  # a session of a user since deactivated: told so
    if refused is not None:
        return refused
    guest_id = session.get(_guest_key())
    if guest_id:
        User = _models().User
        return _session().scalar(select(User).where(User.guest_id == guest_id))
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
                _session().rollback()
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


# -- data privacy --------------------------------------------------------------------------

EXPORT_SCHEMA = "admin-users.export/1"


def _request_data(user, kind: str, ip: str | None):
    DataRequest = _models().DataRequest
    with _transaction() as session:
        _acting_for(session, user)
        pending = session.scalar(
            select(DataRequest).where(
                DataRequest.user_id == user.id,
                DataRequest.kind == kind,
                DataRequest.fulfilled_at.is_(None),
            )
        )
        if pending is not None:
            return pending
        request_ = DataRequest(user_id=user.id, kind=kind)
        session.add(request_)
        _audit(user, f"data.request_{kind}", entity="data_request", ip=ip)
    return request_


def request_export(user, *, ip: str | None = None):
    """The user asks for a copy of their data; shows in the admin until an admin exports."""
    return _request_data(user, "export", ip)


def request_deletion(user, *, ip: str | None = None):
    """The user asks for their account to be deleted; shows in the admin until erased."""
    return _request_data(user, "deletion", ip)


def data_requests(user) -> list:
    """The user's data requests, newest first."""
    DataRequest = _models().DataRequest
    return (
        _session()
        .scalars(
            select(DataRequest)
            .where(DataRequest.user_id == user.id)
            .order_by(DataRequest.created_at.desc(), DataRequest.id.desc())
        )
        .all()
    )


def _fulfil(user, kinds) -> list[int]:
    """Close the user's pending requests of these kinds (in the current transaction)."""
    DataRequest = _models().DataRequest
    pending = (
        _session()
        .scalars(
            select(DataRequest).where(
                DataRequest.user_id == user.id,
                DataRequest.kind.in_(kinds),
                DataRequest.fulfilled_at.is_(None),
            )
        )
        .all()
    )
    for request_ in pending:
        request_.fulfilled_at = utcnow()
    return [r.id for r in pending]


def export_user(user, *, actor=None, ip: str | None = None) -> Iterator[str]:
    """The user's data as one JSON document, in pieces (never all in memory).

    The export is audit-logged (``admin.export``) and closes the user's pending export
    requests before the first piece is made.
    """
    with _transaction() as session:
        lock_user(session, user)
        closed = _fulfil(user, ["export"])
        detail = f"fulfils request {', '.join(map(str, closed))}" if closed else None
        _audit(user, "admin.export", entity="user", actor=actor, ip=ip, detail=detail)
    return _export_pieces(user.id)


def _rows_by_id(statement, id_column, size: int = 1000) -> Iterator[dict]:
    """Rows of ``statement`` in id order, fetched ``size`` at a time."""
    last = None
    while True:
        page = statement if last is None else statement.where(id_column > last)
        rows = _session().execute(page.order_by(id_column).limit(size)).mappings().all()
        yield from rows
        if len(rows) < size:
            return
        last = rows[-1][id_column.key]


def _json(value) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


def _columns(model, row, skip=()) -> dict:
    return {c.key: row[c.key] for c in model.__table__.columns if c.key not in skip}


def _export_pieces(user_id: int) -> Iterator[str]:
    M = _models()
    session = _session()
    user = session.get(M.User, user_id)
    hidden = {"login_nonce", "session_version", "identifier_key", "search_text", "status"}
    fields = {c.key: getattr(user, c.key) for c in M.User.__table__.columns if c.key not in hidden}
    fields["status"] = status_of(user).key
    profile = session.get(M.Profile, user_id)
    profile = None if profile is None else {f: getattr(profile, f) for f in M.Profile.FIELDS}
    yield (
        f'{{"schema": {_json(EXPORT_SCHEMA)}, "exported_at": {_json(utcnow())}, '
        f'"user": {_json(fields)}, "profile": {_json(profile)}, "chats": ['
    )
    chats = select(*M.Chat.__table__.columns).where(M.Chat.user_id == user_id)
    for n, chat in enumerate(_rows_by_id(chats, M.Chat.__table__.c.id)):
        yield ("," if n else "") + _json(_columns(M.Chat, chat))[:-1] + ', "messages": ['
        messages = select(*M.Message.__table__.columns).where(M.Message.chat_id == chat["id"])
        for m, message in enumerate(_rows_by_id(messages, M.Message.__table__.c.id)):
            yield ("," if m else "") + _json(_columns(M.Message, message, skip={"chat_id"}))
        yield "]}"
    for key, model in (("audit_log", M.AuditLog), ("data_requests", M.DataRequest)):
        yield f'], "{key}": ['
        rows = select(*model.__table__.columns).where(model.user_id == user_id)
        for n, row in enumerate(_rows_by_id(rows, model.__table__.c.id)):
            yield ("," if n else "") + _json(_columns(model, row))
    yield "]}"


def erase_user(user, *, actor=None, ip: str | None = None, confirm: str | None = None) -> bool:
    """Erase the person: irreversible, in one transaction; False if already erased.

    Removes the email, guest id, customer id, profile, every chat title and message
    text, and the user's strings in audit details; truncates the IP addresses of the
    user's own audit entries (IPv4 to /24, IPv6 to /48), and the addresses and devices
    of their session records; ends every session. Keeps the user row (Deactivated,
    Erased), the chats' rows and every audit entry. ``confirm``, when given, must be the
    user's email or guest id, as typed by the admin.
    """
    if actor is not None and actor.id == user.id:
        raise CannotDeactivateSelf("You cannot erase your own account.")
    if confirm is not None and not confirms(user, confirm):
        raise ConfirmationMismatch(
            f"Type {user.email or user.guest_id} exactly to confirm the erasure."
        )
    M = _models()
    now = utcnow()
    with _transaction() as session:
        lock_user(session, user)  # nothing on the user's behalf is written meanwhile or after
        if user.erased_at is not None:
            return False
        secrets_ = _personal_strings(user)
        profile = session.get(M.Profile, user.id)
        if profile is not None:
            session.delete(profile)
        user.email = None
        user.guest_id = None
        user.customer_id = None
        user.pending_email = None
        user.login_nonce = None
        end_sessions(user)
        user.erased_at = now
        if user.deactivated_at is None:
            user.deactivated_at = now
            user.deactivated_by_id = getattr(actor, "id", None)
        user.deactivation_reason = "Account erased"
        chat_ids = select(M.Chat.id).where(M.Chat.user_id == user.id).scalar_subquery()
        session.execute(
            update(M.Message).where(M.Message.chat_id.in_(chat_ids)).values(content=None)
        )
        session.execute(update(M.Chat).where(M.Chat.user_id == user.id).values(title=None))
        # Session records keep no address or device (they stay, so that a browser still
        # holding one is told the account is gone).
        session.execute(
            update(M.UserSession)
            .where(M.UserSession.user_id == user.id)
            .values(ip_address=None, browser=None, os=None)
        )
        _scrub_audit(user, secrets_)
        _fulfil(user, ["export", "deletion"])
        _audit(user, "admin.erase", entity="user", actor=actor, ip=ip)
        session.flush()
        search.purge(session.connection(), M.User.__tablename__)
    return True


class ConfirmationMismatch(AdminUsersError):
    pass


def confirms(user, typed: str | None) -> bool:
    """Whether ``typed`` is the user's email or guest id (case aside)."""
    typed = (typed or "").strip().casefold()
    return bool(typed) and typed in {v.casefold() for v in (user.email, user.guest_id) if v}


def _personal_strings(user) -> list[str]:
    profile = _session().get(_models().Profile, user.id)
    values = [user.email, user.pending_email, user.guest_id, user.customer_id]
    if profile is not None:
        values += [getattr(profile, f) for f in profile.FIELDS]
    return sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True)


def truncate_ip(ip: str | None) -> str | None:
    """IPv4 to its /24, IPv6 to its /48; anything else is dropped."""
    if not ip:
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def _scrub_audit(user, strings) -> None:
    """The user's audit entries stay, without what names the person.

    Written with Core UPDATEs: the ORM refuses to change audit entries, and erasure is
    the one change the append-only rule allows.
    """
    AuditLog = _models().AuditLog
    table = AuditLog.__table__
    session = _session()
    concerned = (AuditLog.user_id == user.id) | (AuditLog.actor_id == user.id)
    rows = session.execute(
        select(
            table.c.id, table.c.ip_address, table.c.detail, table.c.entity, table.c.actor_id
        ).where(concerned)
    ).all()
    for row in rows:
        changes = {}
        if row.actor_id == user.id and row.ip_address:
            changes["ip_address"] = truncate_ip(row.ip_address)
        for column in ("detail", "entity"):
            value = getattr(row, column)
            scrubbed = _without(value, strings)
            if scrubbed != value:
                changes[column] = scrubbed
        if changes:
            session.execute(update(table).where(table.c.id == row.id).values(**changes))


def _without(text: str | None, strings) -> str | None:
    if not text:
        return text
    for value in strings:
        text = re.sub(re.escape(value), "[erased]", text, flags=re.IGNORECASE)
    return text
