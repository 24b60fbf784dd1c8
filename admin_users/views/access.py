"""Who may see the admin panel, checked on every request of every view of ours."""

from __future__ import annotations

from contextlib import contextmanager

from flask import abort, current_app, jsonify, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from wtforms import ValidationError

from ..errors import AdminUsersError
from ..service import may_use_admin
from ..state import get_state


class AdminOnlyMixin:
    """Flask-Admin view mixin: only a signed-in, active admin gets through.

    The user is loaded afresh on every request (Flask-Login's user loader), so a
    deactivated admin loses the panel on their next request. POSTs are CSRF-checked
    here when the host has no ``CSRFProtect`` doing it for the whole app.
    """

    def is_accessible(self) -> bool:
        return may_use_admin(current_user)

    def inaccessible_callback(self, name, **kwargs):
        return turn_away()

    def _handle_view(self, name, **kwargs):
        with _database_errors():  # loading the admin needs the database too
            refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        if request.method == "POST" and "csrf" not in current_app.extensions:
            try:
                validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken"))
            except ValidationError as error:
                abort(400, str(error))
        return None

    def _run_view(self, fn, *args, **kwargs):
        with _database_errors():
            try:
                return super()._run_view(fn, *args, **kwargs)
            except AdminUsersError as error:  # the service refused: say why
                if request.method == "POST":
                    return refusal(error)
                abort(error.status, str(error))


def turn_away():
    """The answer to anyone but an active admin: to the sign-in page (or 401), or 403."""
    if not current_user.is_authenticated:
        login_view = getattr(current_app.login_manager, "login_view", None)
        if login_view:
            return redirect(url_for(login_view, next=request.full_path))
        abort(401)
    abort(403)


def guard_every_view(app, admin) -> None:
    """Every view of ``admin``, the host's own among them and those added later, only for
    an active admin; its static files stay open. A view's own ``is_accessible`` still
    applies after this."""
    static = f"{admin.endpoint}.static"

    @app.before_request
    def admins_only():
        blueprint = request.blueprint
        if blueprint is None or request.endpoint == static:
            return None
        if not any(view.endpoint == blueprint for view in admin._views):
            return None
        with _database_errors():
            allowed = may_use_admin(current_user)
        return None if allowed else turn_away()


def refusal(error: AdminUsersError):
    """The JSON answer to a request the service refused: its message, its status."""
    return jsonify(error=str(error)), error.status


@contextmanager
def _database_errors():
    """A database that is down, locked or refusing a write gets a 503, not a traceback;
    the transaction is rolled back, so nothing is half-written."""
    try:
        yield
    except SQLAlchemyError:
        get_state().db.session.rollback()
        current_app.logger.exception("admin-users: database error")
        abort(
            503,
            "The database could not complete this request; nothing was changed. "
            "Try again in a moment.",
        )
