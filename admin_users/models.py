"""What admin-users stores.

The columns live on mixins so that a host with its own tables (say an ``Account``
class for its users) can map them onto its own classes; :func:`build_models` maps
the rest and returns the set the extension works with.

Counters (``chat_count``, ``message_count``) and ``last_activity_at`` are stored
columns, moved by :mod:`admin_users.service` in the same transaction as the change
that moves them. ``status``, the keys and the search text are stored too, so that an
index can sort, filter and count by them; :func:`derived_columns` computes them again
on every flush of a user, so they cannot drift from their definitions.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from flask_login import UserMixin as LoginUserMixin
from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    event,
)
from sqlalchemy.orm import declared_attr, mapped_column

from . import counters
from .columns import KeyText, UTCDateTime
from .counters import StatusCountMixin
from .definitions import (
    MAX_ID,
    Status,
    derived_columns,
    identifier_key,
    search_text,
    sort_key,
    status_of,
    utcnow,
    valid_id,
)

# Server defaults: what rows written without the ORM hold until backfill (docs/adopting.md).
EPOCH, GUEST = "1970-01-01 00:00:00.000000", int(Status.GUEST)  # EPOCH: no activity known
__all__ = [
    "AppConfigMixin", "AuditLogMixin", "ChatMixin", "DataRequestMixin", "MessageMixin", "Models",
    "ProfileMixin", "SessionMixin", "Status", "StatusCountMixin", "ThrottleCountMixin",
    "UTCDateTime", "UserMixin", "MAX_ID", "build_models", "derived_columns", "identifier_key",
    "search_text", "sort_key", "status_of", "utcnow", "valid_id"
]  # fmt: skip


class UserMixin(LoginUserMixin):
    """A chatbot user: a guest (no email) or an email account."""

    id = mapped_column(Integer, primary_key=True)
    email = mapped_column(String(320))
    guest_id = mapped_column(String(11), unique=True)
    identifier_key = mapped_column(KeyText, unique=True)
    sort_key = mapped_column(LargeBinary)  # the User column's order (definitions.sort_key)
    customer_id = mapped_column(String(255))
    search_text = mapped_column(KeyText(600), nullable=False, default="", server_default="")
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    confirmed_at = mapped_column(UTCDateTime)
    last_activity_at = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, server_default=EPOCH
    )
    deactivated_at = mapped_column(UTCDateTime)
    deactivation_reason = mapped_column(Text)
    erased_at = mapped_column(UTCDateTime)
    is_admin = mapped_column(Boolean, nullable=False, default=False, server_default="0")
    chat_count = mapped_column(Integer, nullable=False, default=0, server_default="0")
    status = mapped_column(SmallInteger, nullable=False, default=GUEST, server_default=str(GUEST))
    # Rotated when a magic link is redeemed, so each link works once; None: no sign-in.
    login_nonce = mapped_column(String(32))
    # Moved by one write to end every session of the user (and void their sign-in links).
    session_version = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # An email change waiting for its link to be redeemed (see service.change_email).
    pending_email = mapped_column(String(320))

    @declared_attr
    def deactivated_by_id(cls):
        return mapped_column(Integer, ForeignKey(f"{cls.__tablename__}.id"))

    # The token of the session this object was loaded for (see admin_users.sessions).
    session_token = None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users at sign-in
        return status_of(self) is not Status.DEACTIVATED

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember cookie: the token of a
        session record, never the user's id (see :func:`admin_users.sessions.sign_in`)."""
        if not self.session_token:
            raise RuntimeError(
                "sign users in with admin_users.service.sign_in(user), not login_user(user)"
            )
        return self.session_token

    # Flask-Login's mixin compares users by get_id(); an ORM object is one row per session.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    @property
    def identifier(self) -> str:
        """What the User column shows: the email, or the guest id."""
        return self.email or self.guest_id or f"#{self.id}"

    @property
    def current_status(self) -> Status:
        return status_of(self)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.identifier}>"


class ProfileMixin:
    """The profile a user may complete; absent until they do."""

    first_name = mapped_column(String(100))
    last_name = mapped_column(String(100))
    phone = mapped_column(String(40))
    address_line1 = mapped_column(String(200))
    address_line2 = mapped_column(String(200))
    postal_code = mapped_column(String(20))
    city = mapped_column(String(100))
    region = mapped_column(String(100))
    country = mapped_column(String(100))
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    ADDRESS_FIELDS = (
        "address_line1",
        "address_line2",
        "postal_code",
        "city",
        "region",
        "country",
    )
    FIELDS = ("first_name", "last_name", "phone", *ADDRESS_FIELDS)

    @declared_attr
    def user_id(cls):
        return mapped_column(
            Integer, ForeignKey(f"{cls.__user_table__}.id", ondelete="CASCADE"), primary_key=True
        )

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def address(self) -> str:
        return ", ".join(getattr(self, f) for f in self.ADDRESS_FIELDS if getattr(self, f))


class ChatMixin:
    """A conversation; deleting it removes its text and keeps the row (Deleted)."""

    id = mapped_column(Integer, primary_key=True)
    title = mapped_column(String(200))
    message_count = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    deleted_at = mapped_column(UTCDateTime)

    @declared_attr
    def user_id(cls):
        return mapped_column(Integer, ForeignKey(f"{cls.__user_table__}.id"), nullable=False)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class MessageMixin:
    id = mapped_column(Integer, primary_key=True)
    role = mapped_column(String(16), nullable=False)  # "user" or "assistant"
    content = mapped_column(Text)  # None once the chat is deleted or the user erased
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    @declared_attr
    def chat_id(cls):
        return mapped_column(Integer, ForeignKey(f"{cls.__chat_table__}.id"), nullable=False)


class AuditLogMixin:
    """One security-relevant event. Append-only: the mapper refuses updates and deletes."""

    id = mapped_column(Integer, primary_key=True)
    action = mapped_column(String(64), nullable=False)
    entity = mapped_column(String(128))
    ip_address = mapped_column(String(45))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    detail = mapped_column(Text)
    # "web" for requests, "cli" for commands; with no actor_id a CLI entry shows as "cli".
    origin = mapped_column(String(8), nullable=False, default="web")

    @declared_attr
    def user_id(cls):  # the subject: whom the entry concerns
        return mapped_column(Integer, ForeignKey(f"{cls.__user_table__}.id"))

    @declared_attr
    def actor_id(cls):  # who acted: the user themself or an admin
        return mapped_column(Integer, ForeignKey(f"{cls.__user_table__}.id"))

    @property
    def by_admin(self) -> bool:
        return self.actor_id is not None and self.actor_id != self.user_id


class AppConfigMixin:
    """Settings of the chatbot, one row (id 1)."""

    CHAT_PERMISSIONS = ("guest", "login", "user")

    id = mapped_column(Integer, primary_key=True)
    chat_permission = mapped_column(String(8), nullable=False, default="guest")


class DataRequestMixin:
    """A user's request for an export of their data or for the deletion of their account."""

    KINDS = ("export", "deletion")

    id = mapped_column(Integer, primary_key=True)
    kind = mapped_column(String(16), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    fulfilled_at = mapped_column(UTCDateTime)

    @declared_attr
    def user_id(cls):
        return mapped_column(
            Integer, ForeignKey(f"{cls.__user_table__}.id"), nullable=False, index=True
        )


class SessionMixin:
    """One sign-in: the session and remember cookies carry its token, and only the token's
    hash is stored. It ends when revoked, when it outlives its lifetime (or, for an admin,
    its idle timeout) and when the user's session version moves past ``version``."""

    id = mapped_column(Integer, primary_key=True)
    token_sha256 = mapped_column(String(64), nullable=False, unique=True)
    version = mapped_column(Integer, nullable=False)  # the user's session version at sign-in
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    ip_address = mapped_column(String(45))
    browser = mapped_column(String(64))
    os = mapped_column(String(64))
    remember = mapped_column(Boolean, nullable=False, default=False)
    revoked_at = mapped_column(UTCDateTime)

    @declared_attr
    def user_id(cls):
        return mapped_column(Integer, ForeignKey(f"{cls.__user_table__}.id"), nullable=False)


class ThrottleCountMixin:
    """How many sign-in emails one address or IP address asked for in the current window
    (see :mod:`admin_users.throttle`)."""

    key = mapped_column(String(400), primary_key=True)
    hits = mapped_column(Integer, nullable=False)
    expires_at = mapped_column(Float, nullable=False, index=True)  # seconds since the epoch


class AuditLogIsAppendOnly(Exception):
    """Raised when something tries to update or delete an audit entry."""


def _refuse_audit_change(mapper, connection, target):
    raise AuditLogIsAppendOnly("audit entries are append-only")


def _write_user(mapper, connection, target, new=False):
    """The derived columns, and the status counts' change, in the flush that writes it."""
    was = None if new else target.status  # loaded first if it had expired
    for name, value in derived_columns(target).items():
        setattr(target, name, value)
    counters.moved(connection, mapper.class_, was, target.status)


def _delete_user(mapper, connection, target):
    counters.moved(connection, mapper.class_, target.status, None)


event.listen(AuditLogMixin, "before_update", _refuse_audit_change, propagate=True)
event.listen(AuditLogMixin, "before_delete", _refuse_audit_change, propagate=True)
event.listen(UserMixin, "before_insert", lambda *args: _write_user(*args, new=True), propagate=True)
event.listen(UserMixin, "before_update", _write_user, propagate=True)
event.listen(UserMixin, "before_delete", _delete_user, propagate=True)


@dataclass(frozen=True)
class Models:
    """The classes one app's extension works with."""

    User: type
    Profile: type
    Chat: type
    Message: type
    AuditLog: type
    AppConfig: type
    DataRequest: type
    UserSession: type
    ThrottleCount: type
    StatusCount: type


_defaults: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

_MIXINS = {
    "User": (UserMixin, "users"),
    "Profile": (ProfileMixin, "user_profiles"),
    "Chat": (ChatMixin, "chats"),
    "Message": (MessageMixin, "messages"),
    "AuditLog": (AuditLogMixin, "audit_logs"),
    "AppConfig": (AppConfigMixin, "app_config"),
    "DataRequest": (DataRequestMixin, "data_requests"),
    "UserSession": (SessionMixin, "user_sessions"),
    "ThrottleCount": (ThrottleCountMixin, "throttle_counts"),
    "StatusCount": (StatusCountMixin, "user_status_counts"),
}


def build_models(db, **own) -> Models:
    """The models on ``db``: the host's own classes where given, the default set otherwise.

    ``build_models(db)`` returns the same classes every time for one ``db`` (a model
    defined twice on one metadata is an error). A host with its own user table passes
    its class, which must inherit :class:`UserMixin`::

        class Account(UserMixin, db.Model):
            __tablename__ = "accounts"

        models = build_models(db, User=Account)
    """
    if not own and db in _defaults:
        return _defaults[db]
    unknown = set(own) - set(_MIXINS)
    if unknown:
        raise TypeError(f"unknown model names: {', '.join(sorted(unknown))}")
    User = own.get("User")
    if User is None:
        User = _define(db, "User", {})
    refs = {"__user_table__": User.__tablename__}
    made = {"User": User}
    others = ("Profile", "Chat", "AppConfig", "DataRequest", "AuditLog", "UserSession")
    for name in (*others, "ThrottleCount", "StatusCount"):
        made[name] = own.get(name) or _define(db, name, refs)
    made["Message"] = own.get("Message") or _define(
        db, "Message", {**refs, "__chat_table__": made["Chat"].__tablename__}
    )
    _add_indexes(made)
    counters.register(User, made["StatusCount"])
    models = Models(**made)
    if not own:
        _defaults[db] = models
    return models


def _define(db, name, attrs):
    mixin, table = _MIXINS[name]
    return type(name, (mixin, db.Model), {"__tablename__": table, **attrs})


def _add_indexes(made):
    """The indexes behind the list's sorts and the detail dialog's tabs.

    Each sort walks ``(value, id)``; the detail dialog's tabs walk a user's rows by
    ``(created_at, id)``.
    """
    U, C, A, M = made["User"], made["Chat"], made["AuditLog"], made["Message"]
    S = made["UserSession"]
    t = U.__tablename__
    # Each sort's index also holds the status and the search text, so that a filtered
    # walk of the list reads the index alone.
    wanted = [
        Index(f"ix_{t}_created", U.created_at, U.id, U.status, U.search_text),
        Index(f"ix_{t}_last_activity", U.last_activity_at, U.id, U.status, U.search_text),
        Index(f"ix_{t}_chat_count", U.chat_count, U.id, U.status, U.search_text),
        Index(f"ix_{t}_status", U.status, U.id, U.search_text),
        Index(f"ix_{t}_sort_key", U.sort_key, U.id, U.status, U.search_text),
        Index(f"ix_{C.__tablename__}_user", C.user_id, C.created_at, C.id),
        Index(f"ix_{A.__tablename__}_user", A.user_id, A.created_at, A.id),
        Index(f"ix_{M.__tablename__}_chat_id_id", M.chat_id, M.id),
        Index(f"ix_{S.__tablename__}_user", S.user_id, S.created_at, S.id),
    ]
    for index in wanted:
        table = index.table
        if any(existing.name == index.name for existing in table.indexes if existing is not index):
            table.indexes.discard(index)
