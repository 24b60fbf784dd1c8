"""The Python API a host chatbot calls, and the rules behind the admin's views and CLI.

Each public function is one transaction on the host's ``db.session``: it commits what
it changed together with its audit entry, or rolls back and raises an
:class:`AdminUsersError`; it refuses with :class:`PendingChanges`, before writing
anything, while the session holds pending changes of the host's own (see
:mod:`.pending`); the signals of :mod:`admin_users.signals` are sent after its commit.
Functions that record an event take ``ip`` (default: the current request's remote
address; none outside a request). By concern:

- :mod:`.accounts`: guests, registration, admins, confirmation, profiles, finding a user;
- :mod:`.links`: sign-in links, email changes, signing out everywhere, the throttle;
- :mod:`.chats`: chats and messages; :mod:`.base`: the audit entry and text rules;
- :mod:`.moderation`: deactivation and reactivation; :mod:`.config`: the chat permission;
- :mod:`.guard`: who may chat; :mod:`.privacy`: data requests, export and erasure.
"""

from __future__ import annotations

from ..errors import (
    AccountDeactivated,
    AdminUsersError,
    BackfillRefused,
    BackfillStopped,
    BadListRequest,
    CannotDeactivateSelf,
    CannotReactivateErased,
    ChatDeleted,
    ConfirmationMismatch,
    EmailTaken,
    InvalidChoice,
    InvalidEmail,
    InvalidLink,
    InvalidText,
    OwnModelsNeedOwnMigrations,
    PendingChanges,
    ReasonRequired,
    SelectionChanged,
    TooManyRequests,
)
from ..sessions import sign_out
from .accounts import (
    confirm_email,
    create_admin,
    create_guest,
    find_user,
    may_use_admin,
    may_use_admin_account,
    register,
    set_customer_id,
    sign_in,
    update_profile,
)
from .base import actor_label, check_text, record_event
from .chats import add_message, delete_chat, start_chat
from .config import CHAT_PERMISSIONS, get_chat_permission, set_chat_permission
from .guard import (
    Access,
    chat_access,
    chat_guard,
    current_visitor,
    forget_guest,
    guest_for_session,
    refused,
)
from .links import (
    change_email,
    issue_login_link,
    link_url,
    login_link_url,
    redeem_login_link,
    sign_out_everywhere,
    throttle,
)
from .moderation import (
    DEACTIVATION_REASONS,
    compose_reason,
    deactivate,
    deactivate_many,
    deactivated_by,
    outcome,
    reactivate,
)
from .privacy import (
    confirmation_text,
    confirms,
    data_requests,
    erase_user,
    export_user,
    request_deletion,
    request_export,
    truncate_ip,
)

__all__ = [
    "CHAT_PERMISSIONS",
    "DEACTIVATION_REASONS",
    "AccountDeactivated",
    "Access",
    "AdminUsersError",
    "BackfillRefused",
    "BackfillStopped",
    "BadListRequest",
    "SelectionChanged",
    "CannotDeactivateSelf",
    "CannotReactivateErased",
    "ChatDeleted",
    "ConfirmationMismatch",
    "EmailTaken",
    "InvalidChoice",
    "InvalidEmail",
    "InvalidLink",
    "InvalidText",
    "OwnModelsNeedOwnMigrations",
    "PendingChanges",
    "ReasonRequired",
    "TooManyRequests",
    "actor_label",
    "add_message",
    "change_email",
    "chat_access",
    "chat_guard",
    "check_text",
    "compose_reason",
    "confirm_email",
    "confirmation_text",
    "confirms",
    "create_admin",
    "create_guest",
    "current_visitor",
    "data_requests",
    "deactivate",
    "deactivate_many",
    "deactivated_by",
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
    "may_use_admin_account",
    "outcome",
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
    "truncate_ip",
    "update_profile",
]
