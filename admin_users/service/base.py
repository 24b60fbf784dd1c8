"""What the service's modules share: the transaction, the user's lock for a write on
their behalf, the audit entry and its actor, and SPEC's rules for text fields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_request_context, request

from ..errors import AccountDeactivated, InvalidText
from ..locks import lock_user
from ..models import Status, status_of, utcnow
from ..state import db_session, models
from .pending import refuse_pending

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_text(value: str | None, field: str, *, single_line: bool = True) -> str | None:
    """``value`` unchanged if it is a valid text field; else :class:`InvalidText`.

    Control characters (C0 but tab, newline and carriage return; DEL; C1) are refused
    in every field; single-line fields (email, customer id, names, phone, address lines)
    refuse newlines too; free text (chat titles and messages, reasons, notes) keeps them.
    """
    if value is None:
        return None
    if CONTROL.search(value):
        raise InvalidText(f"{field} cannot contain control characters.")
    if single_line and ("\n" in value or "\r" in value):
        raise InvalidText(f"{field} must be on one line.")
    return value


SIGNALS = "admin_users.signals"  # the session.info key of the signals to send at commit


@contextmanager
def transaction(*own) -> Iterator[object]:
    """One service call's transaction, on the host's ``db.session``: committed at the end,
    rolled back on any error; the signals queued in it are sent after the commit.

    ``own`` are the users (and admins) the call is about. It refuses, before anything
    is written, a session that holds other pending changes of the host's, which its
    commit would otherwise make the host's without their say (see :mod:`.pending`).
    """
    session = db_session()
    refuse_pending(session, own)
    session.info[SIGNALS] = []
    try:
        yield session
        session.commit()
    except BaseException:
        session.info.pop(SIGNALS, None)
        session.rollback()
        raise
    app = current_app._get_current_object()
    for signal, kwargs in session.info.pop(SIGNALS, []):
        signal.send(app, **kwargs)


def send_after_commit(signal, **kwargs) -> None:
    """Queue ``signal`` (of :mod:`admin_users.signals`) in the current transaction: sent
    with the app as sender once it commits, never if it rolls back."""
    db_session().info[SIGNALS].append((signal, kwargs))


def acting_for(session, user):
    """Lock ``user`` (see :mod:`admin_users.locks`) for a write on their behalf; refuse
    if they are deactivated or erased, whatever happened since they were read."""
    lock_user(session, user)
    if user is not None and status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    return user


def client_ip(ip: str | None) -> str | None:
    if ip is None and has_request_context():
        return request.remote_addr
    return ip


def origin() -> str:
    return "web" if has_request_context() else "cli"


SELF = object()  # the actor of an event the user caused themself


def audit_entry(user, action, *, entity=None, actor=SELF, ip=None, detail=None):
    """Add an audit entry about ``user`` to the current transaction.

    ``actor`` is who acted: ``SELF`` (the user; their last activity moves with it),
    an admin (their action does not move the user's last activity), or None (the CLI).
    """
    session = db_session()
    now = utcnow()
    if user is not None and user.id is None:
        session.flush()
    if actor is SELF:
        actor_id = user.id
        user.last_activity_at = now
    else:
        actor_id = getattr(actor, "id", None)
    entry = models().AuditLog(
        user_id=getattr(user, "id", None),
        actor_id=actor_id,
        action=action,
        entity=entity,
        ip_address=client_ip(ip),
        detail=detail,
        origin=origin(),
        created_at=now,
    )
    session.add(entry)
    return entry


def actor_label(actor_id, *, by_admin: bool, origin: str, names: dict) -> str:
    """Who made an audit entry (or a deactivation), as the admin's pages and the CLI
    show it: the admin's identifier, ``cli`` for the command line without ``--actor``,
    nothing for the user themself. ``names`` maps admins' ids to identifiers."""
    if by_admin:
        return names.get(actor_id, f"#{actor_id}")
    return "cli" if actor_id is None and origin == "cli" else ""


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
    with transaction(user) as session:
        acting_for(session, user)
        entry = audit_entry(user, action, entity=entity, ip=ip, detail=detail)
    return entry
