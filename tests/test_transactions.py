"""The transaction contract: each service call is its own transaction and commits it,
and refuses, before writing anything, while the host's session holds work of its own."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String, func, insert, select, update
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models, service
from admin_users.errors import AdminUsersError, PendingChanges
from admin_users.extension import create_tables

db = SQLAlchemy()
models = build_models(db)


class FaqEntry(db.Model):
    """The host's own table, written through the same ``db.session``."""

    __tablename__ = "faq_entries"
    id = mapped_column(Integer, primary_key=True)
    question = mapped_column(String(200), nullable=False)


@pytest.fixture
def host(database_url):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True)
    db.init_app(app)
    LoginManager(app)
    AdminUsers(db=db, models=models).init_app(app)
    with app.app_context():
        db.create_all()
        create_tables()
        yield app
        db.session.remove()
        db.engine.dispose()


def committed_count(model) -> int:
    """Rows of ``model`` as a connection of its own sees them: only what is committed."""
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model.__table__))


def pending_added():
    db.session.add(FaqEntry(question="How do I sign in?"))


def pending_flushed():
    db.session.add(FaqEntry(question="How do I sign in?"))
    db.session.flush()


def pending_autoflushed():
    db.session.add(FaqEntry(question="How do I sign in?"))
    service.find_user("someone@host.example")  # a query: autoflush sends the INSERT


def pending_changed():
    db.session.get(FaqEntry, 1).question = "Changed?"


def pending_deleted():
    db.session.delete(db.session.get(FaqEntry, 1))


def pending_statement():
    db.session.execute(insert(FaqEntry).values(question="Raw?"))


def pending_other_user():
    service.find_user("other@host.example").customer_id = "cus_other"


WAYS = [
    pending_added,
    pending_flushed,
    pending_autoflushed,
    pending_changed,
    pending_deleted,
    pending_statement,
    pending_other_user,
]


@pytest.mark.parametrize("pending", WAYS, ids=lambda way: way.__name__)
def test_a_call_refuses_the_hosts_pending_work_and_writes_nothing(host, pending):
    db.session.add(FaqEntry(question="Committed before"))
    db.session.commit()
    service.register("other@host.example")
    user = service.register("ana@host.example")
    audit_before = committed_count(models.AuditLog)
    faq_before = committed_count(FaqEntry)

    pending()
    with pytest.raises(PendingChanges, match="db.session.rollback") as refused:
        service.record_event(user, "logout", entity="session")
    assert isinstance(refused.value, AdminUsersError) and refused.value.status == 500
    assert committed_count(models.AuditLog) == audit_before  # nothing of the call written
    assert committed_count(FaqEntry) == faq_before  # nor the host's work
    db.session.rollback()  # the host changes its mind: its work is gone, as it should be
    assert committed_count(FaqEntry) == faq_before
    assert service.find_user("other@host.example").customer_id is None
    service.record_event(user, "logout", entity="session")  # a clean session: accepted
    assert committed_count(models.AuditLog) == audit_before + 1


def test_the_refusal_names_the_hosts_classes(host):
    user = service.register("ana@host.example")
    pending_added()
    with pytest.raises(PendingChanges, match=r"\(FaqEntry\)"):
        service.deactivate(user, reason="Spam")
    db.session.rollback()


def test_every_kind_of_call_refuses_before_writing(host):
    admin = service.create_admin("boss@host.example")
    user = service.register("ana@host.example")
    chat = service.start_chat(user)
    calls = [
        lambda: service.create_guest(),
        lambda: service.register("new@host.example"),
        lambda: service.update_profile(user, first_name="Ana"),
        lambda: service.set_customer_id(user, "cus_1"),
        lambda: service.start_chat(user),
        lambda: service.add_message(chat, "user", "Hello"),
        lambda: service.delete_chat(chat),
        lambda: service.confirm_email(user),
        lambda: service.sign_out_everywhere(user),
        lambda: service.request_export(user),
        lambda: service.deactivate(user, reason="Spam", actor=admin),
        lambda: service.set_chat_permission("user", actor=admin),
        lambda: service.export_user(user, actor=admin),
        lambda: service.erase_user(user, actor=admin),
    ]
    audit_before = committed_count(models.AuditLog)
    for call in calls:
        pending_added()
        with pytest.raises(PendingChanges):
            call()
        db.session.rollback()
    assert committed_count(models.AuditLog) == audit_before
    assert committed_count(FaqEntry) == 0
    assert service.find_user("ana@host.example").deactivated_at is None


def test_changes_to_the_user_passed_in_and_to_the_extensions_models_go_with_the_call(host):
    user = service.register("ana@host.example")
    chat = service.start_chat(user)
    user.customer_id = "cus_set_by_the_host"  # the user the call is about
    chat.title = "Renamed by the host"  # one of the extension's own models
    service.record_event(user, "logout", entity="session")
    with db.engine.connect() as connection:
        users, chats = models.User.__table__, models.Chat.__table__
        assert connection.scalar(select(users.c.customer_id)) == "cus_set_by_the_host"
        assert connection.scalar(select(chats.c.title)) == "Renamed by the host"


def test_each_call_commits_its_own_transaction(host):
    user = service.register("ana@host.example")
    assert not db.session().in_transaction()  # committed, nothing left open
    service.record_event(user, "logout", entity="session")
    assert not db.session().in_transaction()
    with db.engine.connect() as connection:
        actions = connection.scalars(
            select(models.AuditLog.__table__.c.action).order_by(models.AuditLog.__table__.c.id)
        ).all()
    assert actions == ["register", "logout"]


def test_a_failed_call_rolls_back_its_own_work_only(host):
    user = service.register("ana@host.example")
    with pytest.raises(service.InvalidText):
        service.update_profile(user, first_name="Ana\x00")
    assert not db.session().in_transaction()
    db.session.add(FaqEntry(question="After"))
    db.session.commit()
    service.update_profile(user, first_name="Ana")
    assert committed_count(FaqEntry) == 1 and committed_count(models.Profile) == 1


def test_the_hosts_work_committed_first_is_no_obstacle(host):
    user = service.register("ana@host.example")
    db.session.add(FaqEntry(question="Kept"))
    db.session.execute(update(models.User).values(customer_id="cus_sql"))  # our table
    db.session.commit()
    assert service.start_chat(user).id is not None
    assert committed_count(FaqEntry) == 1
