"""The app's configuration: the chat permission."""

from __future__ import annotations

from sqlalchemy import select

from .. import signals
from ..errors import InvalidChoice
from ..locks import lock_config
from ..state import db_session, models
from .base import audit_entry, send_after_commit, transaction

CHAT_PERMISSIONS = {
    "guest": "Guest: anyone can chat without signing in; a visitor becomes a guest user "
    "on their first message.",
    "login": "Login: visitors must sign in to chat (an unconfirmed email is enough).",
    "user": "User: visitors must sign in with a confirmed email to chat.",
}


def _app_config(session):
    """The config row, locked (see :mod:`admin_users.locks`); made on first use."""
    AppConfig = models().AppConfig
    config = lock_config(session, AppConfig)
    if config is None:
        config = AppConfig(id=1, chat_permission="guest")
        session.add(config)
    return config


def get_chat_permission() -> str:
    """The chat permission, read afresh on every call: a change reaches every worker."""
    AppConfig = models().AppConfig
    value = db_session().scalar(select(AppConfig.chat_permission).where(AppConfig.id == 1))
    return value or "guest"


def set_chat_permission(value: str, *, actor=None, ip: str | None = None) -> bool:
    """Change who may chat (``guest``, ``login`` or ``user``); False if it already was."""
    if value not in CHAT_PERMISSIONS:
        raise InvalidChoice("Choose Guest, Login or User.")
    with transaction(actor) as session:
        config = _app_config(session)
        old = config.chat_permission
        if old == value:
            return False
        config.chat_permission = value
        audit_entry(
            None,
            "admin.config",
            entity="app_config.chat_permission",
            actor=actor,
            ip=ip,
            detail=f"{old} -> {value}",
        )
        send_after_commit(signals.chat_permission_changed, value=value, actor=actor)
    return True
