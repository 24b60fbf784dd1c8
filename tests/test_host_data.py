"""The host's own data in export and erasure: its columns on the user row (``plan``) and
its own tables (``api_keys``) are exported only through ADMIN_USERS_EXPORT_HOST_DATA and
erased only through ADMIN_USERS_ERASE_HOST_DATA, in the erasure's transaction."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from helpers import admin_post, signed_in
from sqlalchemy import ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models, service
from admin_users.extension import create_tables
from admin_users.models import UserMixin

db = SQLAlchemy()


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"
    plan = mapped_column(String(20), default="free")


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    id = mapped_column(Integer, primary_key=True)
    user_id = mapped_column(Integer, ForeignKey("accounts.id"), nullable=False)
    key = mapped_column(String(40), nullable=False)


models = build_models(db, User=Account)
EMAIL = "ana@host.example"


def export_host_data(user) -> dict:
    keys = db.session.scalars(select(ApiKey.key).where(ApiKey.user_id == user.id)).all()
    return {"plan": user.plan, "api_keys": sorted(keys)}


seen_by_erase_hook = []


def erase_host_data(user) -> None:
    seen_by_erase_hook.append(user.email)
    db.session.execute(delete(ApiKey).where(ApiKey.user_id == user.id))
    user.plan = None


def create_host(database_url, **config) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True, **config
    )
    db.init_app(app)
    CSRFProtect(app)
    LoginManager(app)
    AdminUsers(db=db, models=models).init_app(app)
    with app.app_context():
        db.create_all()
        create_tables()
    return app


@pytest.fixture
def make_host(database_url):
    apps = []

    def make(**config):
        apps.append(create_host(database_url, **config))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def customer(app) -> tuple[int, int]:
    """An admin's id, and the id of a customer on the pro plan with two API keys."""
    with app.app_context():
        admin_id = service.create_admin("boss@host.example").id
        user = service.register(EMAIL)
        user.plan = "pro"
        db.session.add_all([ApiKey(user_id=user.id, key="k-1"), ApiKey(user_id=user.id, key="k-2")])
        db.session.commit()
        return admin_id, user.id


def export(app, admin_id, user_id) -> dict:
    client = signed_in(app.test_client(), admin_id)
    response = admin_post(client, f"/admin/users/{user_id}/export")
    assert response.status_code == 200
    return json.loads(b"".join(response.response).decode())


def row(app, user_id):
    with app.app_context(), db.engine.connect() as connection:
        table = models.User.__table__
        user = connection.execute(select(table).where(table.c.id == user_id)).one()
        keys = connection.scalar(select(func.count()).where(ApiKey.user_id == user_id))
    return user, keys


def test_export_holds_only_the_extensions_own_fields_by_default(make_host):
    app = make_host()
    admin_id, user_id = customer(app)
    document = export(app, admin_id, user_id)
    assert "plan" not in document["user"] and "host" not in document
    assert document["user"]["email"] == EMAIL and document["user"]["status"] == "unconfirmed"
    own = {c.key for c in models.User.__table__.columns} - {"plan"}
    hidden = {"login_nonce", "session_version", "identifier_key", "sort_key", "search_text"}
    assert set(document["user"]) == own - hidden


def test_export_holds_the_hosts_data_from_its_hook_under_host(make_host):
    app = make_host(ADMIN_USERS_EXPORT_HOST_DATA=export_host_data)
    admin_id, user_id = customer(app)
    document = export(app, admin_id, user_id)
    assert document["host"] == {"plan": "pro", "api_keys": ["k-1", "k-2"]}
    assert "plan" not in document["user"]


def test_a_host_export_hook_that_returns_no_dict_fails_before_the_audit_entry(make_host):
    app = make_host(ADMIN_USERS_EXPORT_HOST_DATA=lambda user: ["not", "a", "dict"])
    _, user_id = customer(app)
    with app.app_context():
        entries = db.session.scalar(select(func.count()).select_from(models.AuditLog))
        with pytest.raises(TypeError, match="must return a dict"):
            service.export_user(service.find_user(user_id))
        assert db.session.scalar(select(func.count()).select_from(models.AuditLog)) == entries


def test_erasure_erases_the_hosts_data_through_its_hook_in_one_transaction(make_host):
    seen_by_erase_hook.clear()
    app = make_host(ADMIN_USERS_ERASE_HOST_DATA=erase_host_data)
    admin_id, user_id = customer(app)
    client = signed_in(app.test_client(), admin_id)
    response = admin_post(client, f"/admin/users/{user_id}/erase", confirm=EMAIL)
    assert response.status_code == 200 and response.get_json()["changed"] is True
    assert seen_by_erase_hook == [EMAIL]  # called before the email went
    user, keys = row(app, user_id)
    assert user.erased_at is not None and user.email is None
    assert keys == 0 and user.plan is None  # the hook cleared them, with the erasure


def test_without_a_hook_erasure_leaves_the_hosts_columns_and_tables_as_they_are(make_host):
    app = make_host()
    admin_id, user_id = customer(app)
    with app.app_context():
        assert service.erase_user(service.find_user(user_id), confirm=EMAIL) is True
    user, keys = row(app, user_id)
    assert user.erased_at is not None and user.email is None
    assert user.plan == "pro" and keys == 2


def test_a_failing_erase_hook_leaves_nothing_erased(make_host):
    def failing(user):
        db.session.execute(delete(ApiKey).where(ApiKey.user_id == user.id))
        raise RuntimeError("billing is down")

    app = make_host(ADMIN_USERS_ERASE_HOST_DATA=failing)
    _, user_id = customer(app)
    with app.app_context():
        with pytest.raises(RuntimeError, match="billing is down"):
            service.erase_user(service.find_user(user_id))
    user, keys = row(app, user_id)
    assert user.erased_at is None and user.email == EMAIL
    assert user.plan == "pro" and keys == 2
