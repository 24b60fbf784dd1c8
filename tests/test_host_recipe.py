"""The README's host recipe, followed as a newcomer would, on SQLite and PostgreSQL: a
chatbot with its own ``Account`` table (and a column of its own), its own
``flask_admin.Admin`` with a view of its own, Flask-Login, CSRFProtect and Flask-Migrate,
the ready sign-in pages of ``admin_users.auth`` and a chat endpoint behind ``chat_guard``.

Its migrations are generated and applied as they are, then it is used through HTTP alone:
an admin made on the command line signs in through a mailed link, searches, and
deactivates a user, whose next chat message is refused."""

from __future__ import annotations

import re

import pytest
from flask import Flask, request
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from helpers import logging_kept
from sqlalchemy import Integer, String
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models, service
from admin_users.auth import blueprint as sign_in_pages
from admin_users.models import UserMixin

pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

# -- the host, as the README writes it ---------------------------------------------------

db = SQLAlchemy()
login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"
    plan = mapped_column(String(20), default="free")


class Invoice(db.Model):
    __tablename__ = "invoices"
    id = mapped_column(Integer, primary_key=True)
    number = mapped_column(String(20))


class InvoiceView(ModelView):
    column_list = ["number"]


users_admin = AdminUsers(db=db, models=build_models(db, User=Account))
MAILED: list[tuple[str, str]] = []  # (address, link): the host's mailer


def create_app(database_url: str, migrations: str) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="host secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        ADMIN_USERS_SEND_LINK=lambda user, url: MAILED.append((user.email, url)),
    )
    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    admin = Admin(app, name="Chatbot admin")
    admin.add_view(InvoiceView(Invoice, db, name="Invoices"))
    users_admin.init_app(app, admin=admin)
    migrate.init_app(app, db, directory=migrations, **users_admin.migrate_options)
    app.register_blueprint(sign_in_pages, url_prefix="/account")

    @app.post("/chat")
    @service.chat_guard
    def chat():
        visitor = service.guest_for_session()
        service.add_message(service.start_chat(visitor), "user", request.form["message"])
        return "sent"

    return app


# -- using it ------------------------------------------------------------------------------


def flask(database_url, migrations, *args) -> str:
    """One ``flask ...`` command in an app of its own, as from a shell; it must succeed."""
    app = create_app(database_url, migrations)
    with logging_kept():
        result = app.test_cli_runner().invoke(args=list(args))
    with app.app_context():
        db.engine.dispose()
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def csrf_token(client, path="/account/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, email):
    """Ask for a link on the sign-in page, open the mailed link, press its button."""
    MAILED.clear()
    token = csrf_token(client)
    assert (
        client.post("/account/login", data={"email": email, "csrf_token": token}).status_code == 302
    )
    ((address, url),) = MAILED
    assert address == email
    path = re.sub(r"^https?://[^/]+", "", url)
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_the_readme_host_migrates_signs_in_searches_and_blocks(database_url, tmp_path):
    migrations = str(tmp_path / "migrations")
    flask(database_url, migrations, "db", "init")
    flask(database_url, migrations, "db", "migrate", "-m", "chatbot")
    flask(database_url, migrations, "db", "upgrade")
    again = flask(database_url, migrations, "db", "migrate", "-m", "nothing")
    assert "No changes in schema detected" in again
    flask(database_url, migrations, "admin-users", "create-admin", "boss@chatbot.example")

    app = create_app(database_url, migrations)
    app.config["TESTING"] = True
    try:
        visitor = app.test_client()
        assert visitor.get("/admin/invoice/").status_code == 302  # to the sign-in page
        token = csrf_token(visitor, "/account/register")
        form = {"email": "maria.lopez@chatbot.example", "csrf_token": token}
        assert visitor.post("/account/register", data=form).status_code == 302
        token = csrf_token(visitor)
        assert visitor.post("/chat", data={"message": "hi", "csrf_token": token}).status_code == 200
        assert visitor.get("/admin/invoice/").status_code == 403  # a user, not an admin

        admin = app.test_client()
        sign_in(admin, "boss@chatbot.example")
        assert admin.get("/admin/invoice/").status_code == 200
        found = admin.get("/admin/users/batch", query_string={"q": "lopez@chat"})
        assert "maria.lopez@chatbot.example" in found.get_data(as_text=True)
        with app.app_context():
            user = service.find_user("maria.lopez@chatbot.example")
            assert isinstance(user, Account) and user.plan == "free" and user.chat_count == 1
            user_id = user.id
        token = admin.get("/admin/users/csrf-token").get_json()["token"]
        response = admin.post(
            f"/admin/users/{user_id}/deactivate",
            data={"reason": "Spam or bot account"},
            headers={"X-CSRFToken": token, "Accept": "application/json"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)

        token = csrf_token(visitor)
        refused = visitor.post("/chat", data={"message": "again", "csrf_token": token})
        assert refused.status_code == 403  # the session ended: a guest of a blocked browser
        assert "deactivated" in refused.get_data(as_text=True).lower()
        MAILED.clear()
        login = app.test_client()
        token = csrf_token(login)
        login.post(
            "/account/login", data={"email": "maria.lopez@chatbot.example", "csrf_token": token}
        )
        assert MAILED == []  # a deactivated user is mailed no link
    finally:
        with app.app_context():
            db.engine.dispose()
