"""The Flask extension: configuration, models and views for one app at a time."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask
from flask_admin import Admin
from flask_wtf.csrf import generate_csrf
from limits import storage, strategies
from sqlalchemy import event

from . import autogen, headers, sessions
from .cli import admin_users_group
from .migrate import create_tables
from .models import Models, build_models
from .planner import PlanSettings
from .state import State, get_state
from .throttle import DatabaseStorage
from .views import AdminUsersIndexView, AppConfigView, UsersView
from .views.access import guard_every_view

__all__ = ["DEFAULTS", "AdminUsers", "create_tables", "get_state"]

DEFAULTS = {
    "ADMIN_USERS_ADMIN_NAME": "Admin",
    "ADMIN_USERS_ADMIN_URL": "/admin",
    "ADMIN_USERS_PAGE_SIZE": 30,
    "ADMIN_USERS_MAGIC_LINK_MAX_AGE": 15 * 60,
    "ADMIN_USERS_LOGIN_LINK_ENDPOINT": None,
    "ADMIN_USERS_BASE_URL": "http://127.0.0.1:5000",
    "ADMIN_USERS_GUEST_SESSION_KEY": "admin_users_guest_id",
    "ADMIN_USERS_ADMIN_IDLE_TIMEOUT": 30 * 60,
    "ADMIN_USERS_ADMIN_SESSION_LIFETIME": 12 * 3600,
    "ADMIN_USERS_ADMIN_REMEMBER": False,
    "ADMIN_USERS_REMEMBER_LIFETIME": 30 * 24 * 3600,
    "ADMIN_USERS_THROTTLE_PER_ADDRESS": "5 per hour",
    "ADMIN_USERS_THROTTLE_PER_IP": "30 per hour",
    "ADMIN_USERS_THROTTLE_STORAGE": "database",
    "ADMIN_USERS_PLAN_SETTINGS": None,
    "ADMIN_USERS_EXPORT_HOST_DATA": None,
    "ADMIN_USERS_ERASE_HOST_DATA": None,
}


class AdminUsers:
    """The Users page of a chatbot's admin panel, as a Flask extension.

    ``AdminUsers(app, db=db)`` or, with an app factory, ``ext = AdminUsers(db=db)``
    and later ``ext.init_app(app)``. ``db`` is the host's Flask-SQLAlchemy object.
    ``admin`` is the host's :class:`flask_admin.Admin`, if it has one (for an app
    factory, pass it to :meth:`init_app` instead, one ``Admin`` per app); otherwise
    the extension makes one at ``ADMIN_USERS_ADMIN_URL``. ``models`` is the result
    of :func:`admin_users.models.build_models` for hosts that bring their own classes.
    ``plan_settings`` is an :class:`admin_users.planner.PlanSettings`: the figures that
    choose how a search reads (rows of the quick walk, the probe limit of an index, the
    budget of a bounded scan, how long statistics and common terms are remembered, the
    status counts' cap). The defaults are the measured ones; tests pass others
    (``PlanSettings(quick_walk=0)``: straight to the index).

    Configuration keys, each with its default:

    ``ADMIN_USERS_ADMIN_NAME`` ("Admin")
        Title of the admin panel the extension makes when the host has none.
    ``ADMIN_USERS_ADMIN_URL`` ("/admin")
        Where that panel lives.
    ``ADMIN_USERS_PAGE_SIZE`` (30)
        Users per batch of the list.
    ``ADMIN_USERS_MAGIC_LINK_MAX_AGE`` (900)
        Seconds a sign-in link stays valid.
    ``ADMIN_USERS_LOGIN_LINK_ENDPOINT`` (None)
        The host's endpoint that shows a sign-in link's page; it takes ``token``.
        Needed by ``flask admin-users login-link``.
    ``ADMIN_USERS_BASE_URL`` ("http://127.0.0.1:5000")
        Scheme and host of links made outside a request (the CLI).
    ``ADMIN_USERS_GUEST_SESSION_KEY`` ("admin_users_guest_id")
        The session key that holds a guest's id.
    ``ADMIN_USERS_ADMIN_IDLE_TIMEOUT`` (1800)
        Seconds without a request after which an admin's session ends.
    ``ADMIN_USERS_ADMIN_SESSION_LIFETIME`` (43200)
        Seconds after sign-in at which an admin's session ends, however busy.
    ``ADMIN_USERS_ADMIN_REMEMBER`` (False)
        Whether an admin may be remembered (a remember-me cookie) at all.
    ``ADMIN_USERS_REMEMBER_LIFETIME`` (2592000, 30 days)
        Seconds after sign-in at which anyone else's session ends, remembered or not;
        also the remember cookie's lifetime unless ``REMEMBER_COOKIE_DURATION`` is set.
    ``ADMIN_USERS_THROTTLE_PER_ADDRESS`` ("5 per hour"), ``ADMIN_USERS_THROTTLE_PER_IP``
    ("30 per hour")
        How many sign-in emails (links, registrations) an address, and a client IP
        address, may ask for; the notation of the ``limits`` library.
    ``ADMIN_USERS_THROTTLE_STORAGE`` ("database")
        Where those counts are kept: the extension's ``throttle_counts`` table, or a
        storage URI of ``limits`` (``redis://...``; ``memory://`` counts per process).
    ``ADMIN_USERS_PLAN_SETTINGS`` (None)
        A :class:`~admin_users.planner.PlanSettings` for this app, over ``plan_settings``:
        for a host whose factory makes the extension once for many apps.
    ``ADMIN_USERS_EXPORT_HOST_DATA`` (None)
        A callable ``(user) -> dict``: the host's own data about a user, added to the
        export under ``"host"``.
    ``ADMIN_USERS_ERASE_HOST_DATA`` (None)
        A callable ``(user) -> None`` that erases the host's own data about a user,
        inside the erasure's transaction.

    The sign-in pages of :mod:`admin_users.auth` read ``ADMIN_USERS_SEND_LINK``,
    ``ADMIN_USERS_AUTH_BASE_TEMPLATE`` and ``ADMIN_USERS_AUTH_HOME``; see there.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        db,
        admin: Admin | None = None,
        models: Models | None = None,
        plan_settings: PlanSettings | None = None,
    ) -> None:
        self.db = db
        self.admin = admin
        self._models = models
        self.plan_settings = plan_settings or PlanSettings()
        if app is not None:
            self.init_app(app)

    @property
    def models(self) -> Models:
        if self._models is None:
            self._models = build_models(self.db)
        return self._models

    def init_app(
        self, app: Flask, *, admin: Admin | None = None, guard_all_views: bool = True
    ) -> None:
        """Mount the extension on ``app``, after ``db.init_app(app)`` and Flask-Login's
        ``login_manager.init_app(app)``. ``admin`` is the host's own ``Admin``, if it has
        one; every view of the panel, the host's own too, is then for active admins only
        unless ``guard_all_views=False`` (each of the host's views decides for itself,
        e.g. with :class:`admin_users.AdminOnlyMixin`)."""
        _check_setup(app, self.db, admin or self.admin)
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        app.config.setdefault(
            "REMEMBER_COOKIE_DURATION",
            timedelta(seconds=app.config["ADMIN_USERS_REMEMBER_LIFETIME"]),
        )
        # Flask-Login's remember cookie as the session cookie: never sent by another
        # site's request that changes something, Secure where the session cookie is.
        app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
        app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
        admin = admin or self.admin
        if admin is None:
            url = app.config["ADMIN_USERS_ADMIN_URL"]
            admin = Admin(
                app,
                name=app.config["ADMIN_USERS_ADMIN_NAME"],
                url=url,
                index_view=AdminUsersIndexView(url=url),
            )
        elif admin.app is None:
            admin.init_app(app)
        where = app.config["ADMIN_USERS_THROTTLE_STORAGE"]
        limiter = strategies.FixedWindowRateLimiter(
            DatabaseStorage() if where == "database" else storage.storage_from_string(where)
        )
        plan_settings = app.config["ADMIN_USERS_PLAN_SETTINGS"] or self.plan_settings
        app.extensions["admin_users"] = State(
            self, self.db, self.models, admin, limiter, plan_settings
        )
        app.login_manager.user_loader(sessions.load_user)

        app.register_blueprint(
            Blueprint(
                "admin_users",
                __name__,
                template_folder="templates",
                static_folder="static/admin_users",
                static_url_path="/admin_users/static",
            )
        )
        admin.add_view(UsersView(self.models.User, self.db, name="Users", endpoint="users"))
        admin.add_view(AppConfigView(name="App Config", endpoint="app_config", url="app-config"))
        if admin.csp_nonce_generator is None:
            admin.csp_nonce_generator = headers.nonce
        ours = {"users", "app_config", "admin_users"}
        if isinstance(admin.index_view, AdminUsersIndexView):
            ours.add(admin.index_view.endpoint)
        headers.protect(
            app, {f"{admin.endpoint}.static"}, tuple(f"{name}." for name in sorted(ours))
        )

        if guard_all_views:
            guard_every_view(app, admin)
        app.jinja_env.globals.setdefault("csrf_token", generate_csrf)

        app.cli.add_command(admin_users_group)

        with app.app_context():
            engine = self.db.engine
        if engine.dialect.name == "sqlite" and not getattr(engine, "_admin_users_pragmas", False):
            event.listen(engine, "connect", _sqlite_pragmas)
            engine._admin_users_pragmas = True

    def include_object(self, obj, name, type_, reflected, compare_to) -> bool:
        """Flask-Migrate's (Alembic's) ``include_object`` for your own migrations: with the
        default models it leaves out the extension's tables, which its own migrations make;
        with your own model classes it leaves out nothing but the search index's objects,
        which only :func:`admin_users.search.create` makes (see :mod:`admin_users.autogen`)."""
        return autogen.include_object(self, obj, name, type_, reflected, compare_to)

    def render_item(self, type_, obj, autogen_context):
        """Flask-Migrate's (Alembic's) ``render_item``: writes the extension's column types
        with their import, so that a generated migration runs as it is."""
        return autogen.render_item(type_, obj, autogen_context)

    @property
    def migrate_options(self) -> dict:
        """Both of the above, for ``Migrate(app, db, **users_admin.migrate_options)``."""
        return autogen.migrate_options(self)


def _check_setup(app: Flask, db, admin: Admin | None) -> None:
    """A clear error now for each piece of the host's setup that would fail later."""
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "admin-users signs sessions and sign-in links with SECRET_KEY: set it in the "
            "app's configuration (from your secrets, never in the code) before init_app."
        )
    if app.extensions.get("sqlalchemy") is not db:
        raise RuntimeError(
            "admin-users uses the app's Flask-SQLAlchemy object: call db.init_app(app) with "
            "the db given to AdminUsers(db=db) before admin_users.init_app(app)."
        )
    if getattr(app, "login_manager", None) is None:
        raise RuntimeError(
            "admin-users signs users in with Flask-Login: make a LoginManager and call "
            "login_manager.init_app(app) before admin_users.init_app(app)."
        )
    if admin is None and app.extensions.get("admin"):
        raise RuntimeError(
            "This app already has a flask_admin.Admin: pass it, "
            "admin_users.init_app(app, admin=admin), and the Users page joins it."
        )


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # Freed pages are zeroed, so erased text leaves no copy in the file.
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()
