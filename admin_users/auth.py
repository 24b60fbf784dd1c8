"""Ready sign-in pages, for a host that has none of its own: ``admin_users.auth.blueprint``.

Register, ask for a sign-in link, the link's page and its POST, sign out, sign out
everywhere. Every rule is the service's (registration, links, the throttle, sessions);
these views only turn its answers into pages and status codes, so a host that writes
its own pages calls the same functions and gets the same behaviour::

    from admin_users.auth import blueprint as sign_in_pages

    app.config["ADMIN_USERS_SEND_LINK"] = mail_link  # mail_link(user, url)
    app.register_blueprint(sign_in_pages, url_prefix="/account")

Configuration, read when the blueprint is registered (set it before):

``ADMIN_USERS_SEND_LINK`` (required)
    ``callable(user, url)``: mails the sign-in link ``url`` to ``user.email``. It runs
    in the request; if it raises, the page answers 503 and says the email was not sent.
``ADMIN_USERS_AUTH_BASE_TEMPLATE`` ("admin_users/auth/base.html")
    The layout the pages extend: it must show flashed messages and have the blocks
    ``title`` and ``content``. A host may point it at its own layout instead.
``ADMIN_USERS_AUTH_HOME`` (None: the site's root)
    The endpoint a visitor is sent to once signed in, registered or signed out.

On registration the blueprint also fills in, when the host set neither,
``ADMIN_USERS_LOGIN_LINK_ENDPOINT`` (its link page: ``flask admin-users login-link``
then needs no setting) and the ``LoginManager``'s ``login_view`` (its sign-in page).

The pages are the one part of the extension open to visitors who are not admins. They
are CSRF-checked here when the host has no ``CSRFProtect``, and answer with headers
that keep them out of frames and caches and keep the link's token out of the
``Referer`` sent to other sites; no script policy, since they render the host's layout.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from wtforms import ValidationError

from . import service
from .state import get_state

__all__ = ["PAGES", "blueprint"]

blueprint = Blueprint("admin_users_auth", __name__, template_folder="templates")

# The endpoints of the blueprint, by their view names (the host's name goes before them).
PAGES = ("register", "login", "login_link", "logout", "logout_everywhere")

SENT = "If that address has an account, a sign-in link is on its way."
KNOWN = "That address already has an account: we sent it a sign-in link."
WELCOME = "Welcome! Confirm your email with the link we sent you."
NOT_SENT = "The sign-in email could not be sent just now. Try again in a moment."


@blueprint.record_once
def _defaults(state) -> None:
    """The settings the pages need, checked once, when the blueprint is registered."""
    app = state.app
    if not callable(app.config.get("ADMIN_USERS_SEND_LINK")):
        raise RuntimeError(
            "admin_users.auth mails sign-in links through ADMIN_USERS_SEND_LINK: set it to "
            "a callable(user, url) that sends url to user.email, before registering the "
            "blueprint."
        )
    app.config.setdefault("ADMIN_USERS_AUTH_BASE_TEMPLATE", "admin_users/auth/base.html")
    app.config.setdefault("ADMIN_USERS_AUTH_HOME", None)
    name = f"{state.name_prefix}.{state.name}".lstrip(".")
    if not app.config.get("ADMIN_USERS_LOGIN_LINK_ENDPOINT"):
        app.config["ADMIN_USERS_LOGIN_LINK_ENDPOINT"] = f"{name}.login_link"
    login_manager = getattr(app, "login_manager", None)
    if login_manager is not None and not login_manager.login_view:
        login_manager.login_view = f"{name}.login"


@blueprint.before_request
def _check_csrf():
    """Every POST of these pages is CSRF-checked: by the host's ``CSRFProtect`` when it
    has one (it runs first), here otherwise."""
    if request.method == "POST" and "csrf" not in current_app.extensions:
        try:
            validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken"))
        except ValidationError as error:
            abort(400, str(error))


@blueprint.after_request
def _headers(response):
    """No framing (the link page's button must not be clicked through another site), no
    caching, and no ``Referer`` carrying a link's token to other sites."""
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.errorhandler(SQLAlchemyError)
def _database_unavailable(error):
    """A database down or locked: a 503 without a traceback, nothing half-written."""
    get_state().db.session.rollback()
    current_app.logger.exception("admin-users: database error on a sign-in page")
    return "Signing in is unavailable for a moment. Try again shortly.", 503


def _page(name: str, status: int = 200, headers: dict | None = None, **context):
    """One of the pages, ``admin_users/auth/<name>.html``, in the configured layout."""
    html = render_template(
        f"admin_users/auth/{name}.html",
        auth_base_template=current_app.config["ADMIN_USERS_AUTH_BASE_TEMPLATE"],
        **context,
    )
    return html, status, headers or {}


def _home() -> str:
    endpoint = current_app.config["ADMIN_USERS_AUTH_HOME"]
    return url_for(endpoint) if endpoint else f"{request.script_root}/"


def _throttled(name: str, error: service.TooManyRequests, **context):
    flash(str(error))
    return _page(name, 429, {"Retry-After": str(error.retry_after)}, **context)


def _send_link(user) -> None:
    """Mail ``user`` a sign-in link if they may have one; nothing, and no hint, if not."""
    if user is None:
        return
    try:
        url = service.login_link_url(user)
    except service.AdminUsersError:  # a guest, or deactivated: no link for them
        return
    try:
        current_app.config["ADMIN_USERS_SEND_LINK"](user, url)
    except Exception:  # the host's mailer failed: say so, keep the traceback in the log
        current_app.logger.exception("admin-users: ADMIN_USERS_SEND_LINK failed")
        abort(503, NOT_SENT)


@blueprint.route("/register", methods=["GET", "POST"])
def register():
    """A new address is signed in at once, Unconfirmed, and sent the link that confirms
    it; an address that has an account is sent a sign-in link, and no one is signed in.
    A guest who registers keeps their chats."""
    if request.method == "GET":
        return _page("register")
    email = request.form.get("email", "")
    visitor = service.current_visitor()
    guest = visitor if visitor is not None and visitor.email is None else None
    try:
        service.throttle(email)
        user = service.register(email, guest=guest)
    except service.TooManyRequests as error:
        return _throttled("register", error, email=email)
    except service.AccountDeactivated:  # a deactivated guest: nothing was written
        return service.refused(service.chat_access())
    except service.EmailTaken:
        _send_link(service.find_user(email.strip()))
        flash(KNOWN)
        return redirect(url_for(".login"))
    except service.AdminUsersError as error:  # not an address, or control characters
        flash(str(error))
        return _page("register", 400, email=email)
    service.sign_in(user)
    _send_link(user)
    flash(WELCOME)
    return redirect(_home())


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    """Ask for a sign-in link: the same answer whether the address has an account or not."""
    if request.method == "GET":
        return _page("login")
    email = request.form.get("email", "").strip()
    try:
        service.throttle(email)
    except service.TooManyRequests as error:
        return _throttled("login", error, email=email)
    if "@" in email:  # an address: an id or a guest id names no one to mail here
        _send_link(service.find_user(email))
    flash(SENT)
    return redirect(url_for(".login"))


@blueprint.route("/login/link/<token>", methods=["GET", "POST"])
def login_link(token):
    """The link's page. Only its button, a POST, uses the link up, so a mail scanner
    fetching the link signs no one in. Sign-in links and email-change links alike."""
    if request.method == "GET":
        return _page("login_link", token=token)
    try:
        user = service.redeem_login_link(token)
    except service.AdminUsersError as error:  # used, expired, tampered, deactivated
        flash(str(error))
        return _page("login_link", 400, token=None)
    service.sign_in(user, remember=True)
    flash("You are signed in.")
    return redirect(_home())


@blueprint.post("/logout")
def logout():
    """Sign this browser out: its session record is revoked, the guest forgotten."""
    if current_user.is_authenticated:
        service.record_event(current_user, "logout", entity="session")
    service.sign_out()
    service.forget_guest()
    return redirect(_home())


@blueprint.post("/logout/everywhere")
def logout_everywhere():
    """End every session of the signed-in user, this one too, and void their links."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    service.sign_out_everywhere(current_user)
    service.sign_out()
    flash("You are signed out on every device.")
    return redirect(url_for(".login"))
