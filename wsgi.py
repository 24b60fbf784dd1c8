"""The demo chatbot host: a small chatbot with passwordless sign-in and the admin panel.

``flask --app wsgi run`` serves it (Flask finds ``create_app`` itself), gunicorn runs
``'wsgi:create_app()'`` (``gunicorn.conf.py`` beside it); ``create_app(test_config)``
builds one for tests. Importing this module builds no app and writes nothing.
It is also the example of mounting admin-users into an app of your own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, current_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from admin_users import AdminUsers, service
from admin_users.auth import blueprint as sign_in_pages
from admin_users.models import valid_id

db = SQLAlchemy()
csrf = CSRFProtect()
login_manager = LoginManager()
users_admin = AdminUsers(db=db)
bp = Blueprint("chat", __name__)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'admin_users.sqlite'}",
        ADMIN_USERS_SEND_LINK=_print_link,  # no mail server: the link goes to the console
        ADMIN_USERS_AUTH_BASE_TEMPLATE="base.html",  # the sign-in pages in the chatbot's layout
        REMEMBER_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config is None:
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    users_admin.init_app(app)  # also the user loader of login_manager
    app.register_blueprint(bp)
    # /register, /login, /login/link/<token>, /logout, /logout/everywhere; also the
    # login_view and the link page of `flask admin-users login-link`.
    app.register_blueprint(sign_in_pages, url_prefix="")
    app.register_error_handler(SQLAlchemyError, _database_unavailable)
    return app


def _print_link(user, url: str) -> None:
    """The demo's ADMIN_USERS_SEND_LINK: it has no mail server, so it prints the link."""
    print(f"Sign-in link for {user.email}: {url}", flush=True)


def _database_unavailable(error):
    """The chatbot's pages while the database is down or locked: a 503, no traceback
    (the admin panel answers the same way on its own)."""
    db.session.rollback()
    current_app.logger.exception("database error")
    return "The chatbot is unavailable for a moment. Try again shortly.", 503


def _instance_secret(path: Path) -> str:
    """The demo's secret key: made once, kept in ``instance/``, never in the code.

    Written whole under another name, then linked into place, so that two processes
    starting at once read one key, never a half-written file."""
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _own_chat(visitor, chat_id):
    chat_id = valid_id(chat_id)
    chat = None if chat_id is None else db.session.get(users_admin.models.Chat, chat_id)
    if chat is None or visitor is None or chat.user_id != visitor.id:
        abort(404)
    return chat


@bp.get("/")
@service.chat_guard
def index():
    visitor = service.current_visitor()
    M = users_admin.models
    chats, chat, messages = [], None, []
    if visitor is not None:
        chats = db.session.scalars(
            select(M.Chat)
            .where(M.Chat.user_id == visitor.id, M.Chat.deleted_at.is_(None))
            .order_by(M.Chat.id.desc())
            .limit(50)
        ).all()
    chat_id = request.args.get("chat", type=int)
    if chat_id:
        chat = _own_chat(visitor, chat_id)
        messages = db.session.scalars(
            select(M.Message).where(M.Message.chat_id == chat.id).order_by(M.Message.id)
        ).all()
    return render_template("chat.html", visitor=visitor, chats=chats, chat=chat, messages=messages)


@bp.post("/chat")
@service.chat_guard
def send():
    text = request.form.get("message", "").strip()
    if not text:
        flash("Type a message first.")
        return redirect(url_for("chat.index"))
    try:
        service.check_text(text, "A message", single_line=False)
    except service.InvalidText as error:
        abort(400, str(error))
    visitor = service.guest_for_session()  # the signed-in user, or a guest on first chat
    chat_id = request.form.get("chat_id", type=int)
    chat = _own_chat(visitor, chat_id) if chat_id else service.start_chat(visitor)
    service.add_message(chat, "user", text[:4000])
    service.add_message(chat, "assistant", f"You said: {text[:4000]}")
    return redirect(url_for("chat.index", chat=chat.id))


@bp.post("/chat/<int:chat_id>/delete")
@service.chat_guard
def delete(chat_id):
    chat = _own_chat(service.current_visitor(), chat_id)
    service.delete_chat(chat)
    flash("Chat deleted.")
    return redirect(url_for("chat.index"))


@bp.post("/profile/email")
def change_email():
    """A new email takes effect once its link, sent to the new address, is redeemed."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    email = request.form.get("email", "")
    try:
        service.throttle(email)
        token = service.change_email(current_user, email)
    except service.AdminUsersError as error:  # throttled, taken, not an address
        flash(str(error))
        return redirect(url_for("chat.profile"))
    print(f"Email change link for {email.strip()}: {service.link_url(token)}", flush=True)
    flash("Open the link we sent to the new address to change your email (the demo prints it).")
    return redirect(url_for("chat.profile"))


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    Profile = users_admin.models.Profile
    if request.method == "POST":
        fields = {name: request.form.get(name, "") for name in Profile.FIELDS}
        try:
            service.update_profile(current_user, **fields)
        except ValueError as error:
            flash(str(error))
            return render_template("profile.html", profile=fields), 400
        flash("Profile saved.")
        return redirect(url_for("chat.profile"))
    return render_template(
        "profile.html",
        profile=db.session.get(Profile, current_user.id),
        data_requests=service.data_requests(current_user),
    )


@bp.post("/profile/request/<any(export, deletion):kind>")
def request_data(kind):
    """ "Request my data" and "Delete my account": an admin fulfils them."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if kind == "export":
        service.request_export(current_user)
        flash("We have your request: an admin will send you a copy of your data.")
    else:
        service.request_deletion(current_user)
        flash("We have your request: an admin will delete your account.")
    return redirect(url_for("chat.profile"))
