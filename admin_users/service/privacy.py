"""Data privacy: users' data requests, the export, and erasure.

The host's own data about a user (its columns on its user class, its own tables) is its
own: the export carries it only from ``ADMIN_USERS_EXPORT_HOST_DATA`` (a callable
``(user) -> dict``, under the export's ``"host"`` key), and erasure erases it only
through ``ADMIN_USERS_ERASE_HOST_DATA`` (a callable ``(user) -> None`` run inside the
erasure's transaction). Without them, the host's columns are neither exported nor
changed by an erasure.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import MappedColumn, declared_attr

from .. import search, signals
from ..errors import CannotDeactivateSelf, ConfirmationMismatch
from ..locks import lock_user
from ..models import UserMixin, status_of, utcnow
from ..sessions import end_sessions
from ..state import db_session, models
from .base import acting_for, audit_entry, send_after_commit, transaction

EXPORT_SCHEMA = "admin-users.export/1"


def _request_data(user, kind: str, ip: str | None):
    DataRequest = models().DataRequest
    with transaction(user) as session:
        acting_for(session, user)
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
        audit_entry(user, f"data.request_{kind}", entity="data_request", ip=ip)
    return request_


def request_export(user, *, ip: str | None = None):
    """The user asks for a copy of their data; shows in the admin until an admin exports."""
    return _request_data(user, "export", ip)


def request_deletion(user, *, ip: str | None = None):
    """The user asks for their account to be deleted; shows in the admin until erased."""
    return _request_data(user, "deletion", ip)


def data_requests(user) -> list:
    """The user's data requests, newest first."""
    DataRequest = models().DataRequest
    return (
        db_session()
        .scalars(
            select(DataRequest)
            .where(DataRequest.user_id == user.id)
            .order_by(DataRequest.created_at.desc(), DataRequest.id.desc())
        )
        .all()
    )


def fulfil(user, kinds) -> list[int]:
    """Close the user's pending requests of these kinds (in the current transaction)."""
    DataRequest = models().DataRequest
    pending = (
        db_session()
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
    requests before the first piece is made. It holds the extension's own fields of the
    user (never the host's columns) and, when ``ADMIN_USERS_EXPORT_HOST_DATA`` is set,
    what that callable returns for the user, under ``"host"``: called first, so that a
    hook that fails leaves no audit entry.
    """
    host = _host_export(user)
    with transaction(user, actor) as session:
        lock_user(session, user)
        closed = fulfil(user, ["export"])
        detail = f"fulfils request {', '.join(map(str, closed))}" if closed else None
        audit_entry(user, "admin.export", entity="user", actor=actor, ip=ip, detail=detail)
    return _export_pieces(user.id, host)


def _host_export(user) -> str | None:
    """The host's data about ``user``, as JSON text, from its configured hook."""
    hook = current_app.config.get("ADMIN_USERS_EXPORT_HOST_DATA")
    if hook is None:
        return None
    data = hook(user)
    if not isinstance(data, dict):
        raise TypeError(
            f"ADMIN_USERS_EXPORT_HOST_DATA must return a dict, not {type(data).__name__}"
        )
    return _json(data)


def _own_user_fields() -> list[str]:
    """The columns :class:`UserMixin` defines, in its order: what a user's export holds
    (a host's class adds columns of its own, which are not the extension's to export)."""
    hidden = {"login_nonce", "session_version", "status"}
    hidden |= {"identifier_key", "sort_key", "search_text"}  # derived from the fields shown
    return [
        name
        for klass in reversed(UserMixin.__mro__)
        for name, value in vars(klass).items()
        if isinstance(value, (MappedColumn, declared_attr)) and name not in hidden
    ]


def _rows_by_id(statement, id_column, size: int = 1000) -> Iterator[dict]:
    """Rows of ``statement`` in id order, fetched ``size`` at a time."""
    last = None
    while True:
        page = statement if last is None else statement.where(id_column > last)
        rows = db_session().execute(page.order_by(id_column).limit(size)).mappings().all()
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


def _export_pieces(user_id: int, host: str | None = None) -> Iterator[str]:
    M = models()
    session = db_session()
    user = session.get(M.User, user_id)
    fields = {name: getattr(user, name) for name in _own_user_fields()}
    fields["status"] = status_of(user).key
    profile = session.get(M.Profile, user_id)
    profile = None if profile is None else {f: getattr(profile, f) for f in M.Profile.FIELDS}
    host = "" if host is None else f'"host": {host}, '
    yield (
        f'{{"schema": {_json(EXPORT_SCHEMA)}, "exported_at": {_json(utcnow())}, '
        f'"user": {_json(fields)}, "profile": {_json(profile)}, {host}"chats": ['
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

    The host's own data is erased by ``ADMIN_USERS_ERASE_HOST_DATA``, a callable given
    the user in this transaction, after the lock and before the extension's own erasure
    (the email is still there to find the host's rows by): what it writes through
    ``db.session`` commits with the erasure, and if it raises nothing is erased. The
    host's columns on the user row are left as they are unless it clears them.
    ``user_erased`` is sent after the commit.
    """
    if actor is not None and actor.id == user.id:
        raise CannotDeactivateSelf("You cannot erase your own account.")
    if confirm is not None and user.erased_at is None and not confirms(user, confirm):
        raise ConfirmationMismatch(
            f"Type {confirmation_text(user)} exactly to confirm. Nothing was erased."
        )
    M = models()
    now = utcnow()
    hook = current_app.config.get("ADMIN_USERS_ERASE_HOST_DATA")
    with transaction(user, actor) as session:
        lock_user(session, user)  # nothing on the user's behalf is written meanwhile or after
        if user.erased_at is not None:
            return False
        if hook is not None:
            hook(user)
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
        fulfil(user, ["export", "deletion"])
        audit_entry(user, "admin.erase", entity="user", actor=actor, ip=ip)
        session.flush()
        search.purge(session.connection(), M.User.__tablename__)
        send_after_commit(signals.user_erased, user=user, actor=actor)
    return True


def confirmation_text(user) -> str | None:
    """What an admin types to confirm the erasure of ``user``: their email or guest id."""
    return user.email or user.guest_id


def confirms(user, typed: str | None) -> bool:
    """Whether ``typed`` is the user's email or guest id (case aside)."""
    typed = (typed or "").strip().casefold()
    return bool(typed) and typed in {v.casefold() for v in (user.email, user.guest_id) if v}


def _personal_strings(user) -> list[str]:
    profile = db_session().get(models().Profile, user.id)
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
    AuditLog = models().AuditLog
    table = AuditLog.__table__
    session = db_session()
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
