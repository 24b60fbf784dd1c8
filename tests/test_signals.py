"""Signals: a host that revokes its own API keys when a user is deactivated, and every
signal sent after its change commits, never for a change rolled back."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from helpers import admin_post, signed_in, writes_refused
from sqlalchemy import ForeignKey, Integer, String, delete, func, select
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models, service, signals
from admin_users.extension import create_tables
from admin_users.models import UserMixin

db = SQLAlchemy()


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"
    plan = mapped_column(String(20), default="free")


class ApiKey(db.Model):
    """The host's own table: keys its users call its API with."""

    __tablename__ = "api_keys"
    id = mapped_column(Integer, primary_key=True)
    user_id = mapped_column(Integer, ForeignKey("accounts.id"), nullable=False)
    key = mapped_column(String(40), nullable=False)


models = build_models(db, User=Account)


def revoke_api_keys(app, user, actor, **extra):
    """The host's receiver: a deactivated user's keys stop working at once."""
    db.session.execute(delete(ApiKey).where(ApiKey.user_id == user.id))
    db.session.commit()


@pytest.fixture
def host(database_url):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True)
    db.init_app(app)
    CSRFProtect(app)
    LoginManager(app)
    AdminUsers(db=db, models=models).init_app(app)
    signals.user_deactivated.connect(revoke_api_keys, app)
    with app.app_context():
        db.create_all()
        create_tables()
    yield app
    signals.user_deactivated.disconnect(revoke_api_keys, app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def with_keys(app, email, *keys) -> int:
    with app.app_context():
        user = service.register(email)
        db.session.add_all(ApiKey(user_id=user.id, key=key) for key in keys)
        db.session.commit()
        return user.id


def keys_of(app, user_id) -> list[str]:
    with app.app_context():
        return db.session.scalars(
            select(ApiKey.key).where(ApiKey.user_id == user_id).order_by(ApiKey.key)
        ).all()


def test_deactivation_on_the_users_page_revokes_the_hosts_api_keys(host):
    with host.app_context():
        admin_id = service.create_admin("boss@host.example").id
    abuser = with_keys(host, "abuser@host.example", "k-1", "k-2")
    bystander = with_keys(host, "bystander@host.example", "k-3")
    client = signed_in(host.test_client(), admin_id)

    response = admin_post(client, f"/admin/users/{abuser}/deactivate", reason="Spam")
    assert response.status_code == 200 and response.get_json()["changed"] is True
    assert keys_of(host, abuser) == []
    assert keys_of(host, bystander) == ["k-3"]


def test_deactivation_from_the_cli_revokes_the_hosts_api_keys(host):
    abuser = with_keys(host, "abuser@host.example", "k-1")
    result = host.test_cli_runner().invoke(
        args=["admin-users", "deactivate", "abuser@host.example", "--reason", "Spam"]
    )
    assert result.exit_code == 0, result.output
    assert keys_of(host, abuser) == []


def test_no_signal_for_a_change_rolled_back_or_for_no_change(host):
    abuser = with_keys(host, "abuser@host.example", "k-1")
    with writes_refused(host, "audit_logs"), host.app_context():
        with pytest.raises(Exception, match="write refused"):
            service.deactivate(service.find_user(abuser), reason="Spam")
    assert keys_of(host, abuser) == ["k-1"]
    with host.app_context():
        user = service.find_user(abuser)
        assert user.deactivated_at is None
        assert service.deactivate(user, reason="Spam") is True
        db.session.add(ApiKey(user_id=abuser, key="k-new"))
        db.session.commit()
        assert service.deactivate(user, reason="Again") is False  # nothing changed
    assert keys_of(host, abuser) == ["k-new"]


SIGNALS = {
    name: getattr(signals, name)
    for name in (
        "user_registered",
        "user_signed_in",
        "user_deactivated",
        "user_reactivated",
        "user_erased",
        "chat_permission_changed",
    )
}


def committed(app, user_id):
    """The user's row and their latest audit action, read on a connection of its own:
    only what has been committed."""
    table, audit = models.User.__table__, models.AuditLog.__table__
    with db.engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.id == user_id)).one()
        action = connection.scalar(
            select(audit.c.action)
            .where(audit.c.user_id == user_id)
            .order_by(audit.c.id.desc())
            .limit(1)
        )
        permission = connection.scalar(select(models.AppConfig.__table__.c.chat_permission))
        sessions = connection.scalar(
            select(func.count())
            .select_from(models.UserSession)
            .where(models.UserSession.user_id == user_id)
        )
    return row, action, permission, sessions


def test_each_signal_is_sent_after_its_commit_with_the_app_user_and_actor(host):
    received = []

    def receiver(name):
        def receive(sender, **kwargs):
            user = kwargs.get("user")
            state = committed(host, user.id) if user is not None else None
            if state is None:
                state = (None, None, committed(host, kwargs["actor"].id)[2], None)
            received.append((name, sender, kwargs, state))

        return receive

    receivers = {name: receiver(name) for name in SIGNALS}
    for name, signal in SIGNALS.items():
        signal.connect(receivers[name], host)
    try:
        with host.app_context():
            admin = service.create_admin("boss@host.example")
            user = service.register("ana@host.example")
            with host.test_request_context("/"):
                service.sign_in(user)
            service.deactivate(user, reason="Spam", actor=admin)
            service.reactivate(user, actor=admin)
            service.set_chat_permission("login", actor=admin)
            service.erase_user(user, actor=admin)
    finally:
        for name, signal in SIGNALS.items():
            signal.disconnect(receivers[name], host)

    names = [name for name, *_ in received]
    assert names == [
        "user_registered",
        "user_signed_in",
        "user_deactivated",
        "user_reactivated",
        "chat_permission_changed",
        "user_erased",
    ]
    assert all(sender is host for _, sender, _, _ in received)
    by_name = {name: (kwargs, state) for name, _, kwargs, state in received}
    for name in ("user_registered", "user_signed_in"):
        kwargs, _ = by_name[name]
        assert kwargs["user"] is kwargs["actor"] and kwargs["user"].id == user.id
    for name in ("user_deactivated", "user_reactivated", "user_erased"):
        kwargs, _ = by_name[name]
        assert kwargs["user"].id == user.id and kwargs["actor"] is admin
    assert set(by_name["chat_permission_changed"][0]) == {"value", "actor"}
    assert by_name["chat_permission_changed"][0]["value"] == "login"
    # What each receiver read on a connection of its own was already committed.
    assert by_name["user_registered"][1][1] == "register"
    assert by_name["user_signed_in"][1][3] == 1  # the session record
    assert by_name["user_deactivated"][1][0].deactivated_at is not None
    assert by_name["user_deactivated"][1][1] == "admin.deactivate"
    assert by_name["user_reactivated"][1][0].deactivated_at is None
    assert by_name["chat_permission_changed"][1][2] == "login"
    assert by_name["user_erased"][1][0].erased_at is not None
    assert by_name["user_erased"][1][0].email is None
