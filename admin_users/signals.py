"""Signals that tell the host what happened to its users, in Flask's manner.

Each is sent with the app as the sender, after the change's transaction has committed
(never for a change that was rolled back), with the user and the actor as keyword
arguments: the actor is the user themself for what they did (registered, signed in),
and the admin (None from the command line without ``--actor``) for the rest. The chat
permission's signal carries the new ``value`` and the ``actor``. Connect a receiver
as with Flask's own signals::

    from admin_users import signals

    @signals.user_deactivated.connect_via(app)
    def revoke_api_keys(app, user, actor, **extra):
        ...

A receiver runs in the caller's app context and database session, with the change
already committed; what it writes is its own to commit. An exception it raises reaches
the caller, but the change stays done. A leaf module: it imports nothing of the package.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

user_registered = _signals.signal("admin-users.user-registered")
user_signed_in = _signals.signal("admin-users.user-signed-in")
user_deactivated = _signals.signal("admin-users.user-deactivated")
user_reactivated = _signals.signal("admin-users.user-reactivated")
user_erased = _signals.signal("admin-users.user-erased")
chat_permission_changed = _signals.signal("admin-users.chat-permission-changed")

__all__ = [
    "chat_permission_changed",
    "user_deactivated",
    "user_erased",
    "user_reactivated",
    "user_registered",
    "user_signed_in",
]
