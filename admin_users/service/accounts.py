"""Accounts: guests, registration, admins, confirmation, profiles, and finding a user."""

from __future__ import annotations

import re
import secrets

from flask import current_app
from sqlalchemy import select

from .. import sessions, signals
from ..errors import AccountDeactivated, EmailTaken, InvalidEmail, InvalidText
from ..locks import lock_user
from ..models import Status, status_of, utcnow, valid_id
from ..sessions import end_sessions
from ..state import db_session, models
from .base import CONTROL, acting_for, audit_entry, check_text, send_after_commit, transaction
from .pending import refuse_pending

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _guest_number() -> int:
    return secrets.randbelow(10**9)


def new_guest_id() -> str:
    """A fresh guest id, ``g-`` and 9 digits; random, so retried until unused."""
    User = models().User
    session = db_session()
    for _ in range(100):
        candidate = f"g-{_guest_number():09d}"
        if session.scalar(select(User.id).where(User.guest_id == candidate)) is None:
            return candidate
    raise RuntimeError("no free guest id after 100 tries")


def create_guest(*, ip: str | None = None):
    """A new anonymous user, as the chatbot makes on a visitor's first chat."""
    with transaction() as session:
        user = models().User(guest_id=new_guest_id())
        session.add(user)
        audit_entry(user, "guest.create", entity="user", ip=ip)
    return user


def normalize_email(email: str) -> str:
    email = check_text((email or "").strip(), "An email address")
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise InvalidEmail("That does not look like an email address.")
    return email


def register(email: str, *, guest=None, ip: str | None = None):
    """An Unconfirmed account for ``email``; a guest who registers keeps their chats."""
    email = normalize_email(email)
    User = models().User
    with transaction(guest) as session:
        if guest is not None:
            acting_for(session, guest)
        if session.scalar(select(User.id).where(User.identifier_key == email.casefold())):
            raise EmailTaken("An account with that email already exists.")
        if guest is not None and guest.email is None:
            user = guest
            user.email = email
        else:
            user = User(email=email)
            session.add(user)
        audit_entry(user, "register", entity="user", ip=ip)
        send_after_commit(signals.user_registered, user=user, actor=user)
    return user


def create_admin(email: str):
    """Make ``email`` an active admin, creating the account if needed."""
    email = normalize_email(email)
    user = find_user(email)
    with transaction(user) as session:
        if user is None:
            user = models().User(email=email)
            session.add(user)
        elif not user.is_admin:
            end_sessions(user)  # the new admin signs in afresh: no session from before
        user.is_admin = True
        user.confirmed_at = user.confirmed_at or utcnow()
        audit_entry(user, "admin.grant", entity="user", actor=None)
    return user


def confirm_email(user, *, ip: str | None = None) -> bool:
    """Mark the email confirmed; False if it already was. Every session opened before
    ends: whoever registered the address first does not share the owner's account."""
    with transaction(user) as session:
        acting_for(session, user)
        if user.confirmed_at is not None:
            return False
        user.confirmed_at = utcnow()
        end_sessions(user)
        audit_entry(user, "email.confirm", entity="user", ip=ip)
    return True


def update_profile(user, *, ip: str | None = None, **fields):
    """Set profile fields (see ``ProfileMixin.FIELDS``); empty strings clear a field."""
    Profile = models().Profile
    unknown = set(fields) - set(Profile.FIELDS)
    if unknown:
        raise TypeError(f"unknown profile fields: {', '.join(sorted(unknown))}")
    with transaction(user) as session:
        acting_for(session, user)
        profile = session.get(Profile, user.id)
        if profile is None:
            profile = Profile(user_id=user.id)
            session.add(profile)
        for name, value in fields.items():
            value = check_text((value or "").strip(), name.replace("_", " ").capitalize()) or None
            limit = Profile.__table__.c[name].type.length
            if value and len(value) > limit:
                raise InvalidText(f"{name} is longer than {limit} characters")
            setattr(profile, name, value)
        profile.updated_at = utcnow()
        audit_entry(user, "profile.update", entity="profile", ip=ip)
    return profile


def set_customer_id(user, customer_id: str | None):
    """Link the user to an external customer id (from an integration), or unlink."""
    customer_id = check_text((customer_id or "").strip(), "A customer id") or None
    if customer_id and len(customer_id) > 255:
        raise InvalidText("customer id is longer than 255 characters")
    with transaction(user) as session:
        lock_user(session, user)
        if user.erased_at is not None:
            raise AccountDeactivated("This account was erased.")
        user.customer_id = customer_id
    return user


def sign_in(user, *, remember: bool = False, ip: str | None = None) -> str:
    """Sign ``user`` in for this browser, in place of ``flask_login.login_user``: see
    :func:`admin_users.sessions.sign_in`, which commits the new session record. Refused
    (:class:`PendingChanges`) while the session holds the host's own pending changes,
    like every service call; ``user_signed_in`` is sent after the commit."""
    refuse_pending(db_session(), (user,))
    token = sessions.sign_in(user, remember=remember, ip=ip)
    signals.user_signed_in.send(current_app._get_current_object(), user=user, actor=user)
    return token


def find_user(ref):
    """The user named by an id, an email or a guest id, or None."""
    User = models().User
    session = db_session()
    ref = str(ref).strip()
    if CONTROL.search(ref):  # no identifier holds one (and PostgreSQL refuses NUL)
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
