"""The extension's state for one app, and the accessors every module uses.

A leaf: it imports nothing else of the package, so any module may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from flask_admin import Admin

    from .models import Models
    from .planner import PlanSettings


@dataclass(frozen=True)
class State:
    """What ``app.extensions["admin_users"]`` holds for one app."""

    extension: Any  # the AdminUsers that set this app up
    db: Any  # the host's Flask-SQLAlchemy object
    models: Models
    admin: Admin
    limiter: Any  # limits' rate limiter of sign-in emails (service.throttle)
    plan_settings: PlanSettings  # the figures that choose how the list reads (planner)
    # Per app, facts that cost more to look up than a request takes: the search index's
    # memory (search.Memory) and the list's statements built once (walks).
    caches: dict = field(default_factory=dict)


def get_state() -> State:
    """The extension's state for the current app, or a clear error."""
    try:
        return current_app.extensions["admin_users"]
    except KeyError:
        raise RuntimeError(
            "admin-users is not set up on this app: call AdminUsers(app, db=db) "
            "or admin_users.init_app(app) in your app factory."
        ) from None


def models() -> Models:
    """The current app's model classes (``models().User``)."""
    return get_state().models


def db_session():
    """The current app's database session (the host's ``db.session``)."""
    return get_state().db.session
