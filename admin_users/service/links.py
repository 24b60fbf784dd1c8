"""Sign-in links (single use, bound to the session version), email changes, signing
out everywhere, and the throttle on sign-in emails."""

from __future__ import annotations

import hmac
import secrets
import time

from flask import current_app, has_request_context, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from limits import parse_many
from sqlalchemy import select, update

from ..errors import AccountDeactivated, EmailTaken, InvalidLink, TooManyRequests
from ..locks import lock_user
from ..models import Status, status_of, utcnow, valid_id
from ..sessions import end_sessions
from ..state import db_session, get_state, models
from .accounts import normalize_email
from .base import acting_for, audit_entry, transaction


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
        with transaction(user):
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
    User = models().User
    user = db_session().get(User, data["u"])
    if user is None or user.login_nonce is None:
        raise InvalidLink(USED)
    if status_of(user) is Status.DEACTIVATED:
        raise AccountDeactivated("This account has been deactivated.")
    new_email = data.get("e")
    if new_email is not None and new_email != user.pending_email:
        raise InvalidLink("This link is for an email change that was replaced. Ask again.")
    proving = user.confirmed_at is None or new_email is not None
    with transaction(user) as session:
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
            audit_entry(user, "email.change", entity="user", ip=ip)
        elif user.confirmed_at is None:
            user.confirmed_at = utcnow()
            audit_entry(user, "email.confirm", entity="user", ip=ip)
        audit_entry(user, "login", entity="session", ip=ip)
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
    User = models().User
    with transaction(user) as session:
        acting_for(session, user)
        if session.scalar(select(User.id).where(User.identifier_key == email.casefold())):
            raise EmailTaken("An account with that email already exists.")
        user.pending_email = email
        audit_entry(user, "email.change_request", entity="user")
    return _link_token(user, e=email)


def sign_out_everywhere(user, *, ip: str | None = None) -> None:
    """End every session of ``user``, this browser's included, and void their links."""
    with transaction(user) as session:
        lock_user(session, user)
        end_sessions(user)
        audit_entry(user, "logout.everywhere", entity="session", ip=ip)


def throttle(email: str | None = None) -> None:
    """Count one sign-in email about to be sent (a link, or a registration) against the
    limits for ``email`` and for the client's IP address; raise :class:`TooManyRequests`
    past either (``ADMIN_USERS_THROTTLE_PER_ADDRESS``, ``ADMIN_USERS_THROTTLE_PER_IP``).
    Call it in the request, before sending. The counts are kept under a keyed hash of
    the address and the IP address, never the addresses themselves."""
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
