"""The Python API keeps status, counters and last activity to SPEC's definitions."""

from __future__ import annotations

import re
import time

import pytest
from flask import current_app
from sqlalchemy import select

from admin_users import Status, status_of
from admin_users.models import AuditLogIsAppendOnly


def fresh(db_obj):
    """``db_obj`` as the database has it now (the app context's session expired)."""
    current_app.extensions["sqlalchemy"].session.expire_all()
    return db_obj


def test_status_follows_the_definition_through_each_api_call(ctx, api, admin):
    guest = api.create_guest()
    assert status_of(guest) is Status.GUEST and guest.status == Status.GUEST
    user = api.register("New.Person@Example.com", guest=guest)
    assert user.id == guest.id
    assert status_of(user) is Status.UNCONFIRMED and user.status == Status.UNCONFIRMED
    api.confirm_email(user)
    assert user.status == Status.ACTIVE
    assert api.deactivate(user, reason="spam", actor=admin)
    assert user.status == Status.DEACTIVATED
    assert api.deactivate(user, reason="again", actor=admin) is False
    assert user.deactivation_reason == "spam"
    assert api.reactivate(user, actor=admin)
    assert user.status == Status.ACTIVE
    assert api.reactivate(user, actor=admin) is False


def test_deactivated_guest_is_deactivated_not_guest(ctx, api, admin):
    guest = api.create_guest()
    api.deactivate(guest, reason="bot", actor=admin)
    assert guest.status == Status.DEACTIVATED


def test_chat_count_includes_deleted_chats(ctx, api):
    user = api.register("a@example.com")
    chats = [api.start_chat(user) for _ in range(3)]
    assert fresh(user).chat_count == 3
    api.delete_chat(chats[0])
    assert fresh(user).chat_count == 3


def test_message_count_and_title_from_the_first_message(ctx, api):
    user = api.create_guest()
    chat = api.start_chat(user)
    api.add_message(chat, "user", "  What   is\nthe weather?  ")
    api.add_message(chat, "assistant", "Sunny.")
    api.add_message(chat, "user", "Thanks")
    chat = fresh(chat)
    assert chat.message_count == 3
    assert chat.title == "What is the weather?"


def test_last_activity_moves_with_own_actions_only(ctx, api, admin):
    user = api.register("b@example.com")
    steps = []
    chat = api.start_chat(user)
    steps.append(fresh(user).last_activity_at)
    time.sleep(0.01)
    api.add_message(chat, "user", "hi")
    steps.append(fresh(user).last_activity_at)
    time.sleep(0.01)
    api.record_event(user, "login", entity="session", ip="10.0.0.1")
    steps.append(fresh(user).last_activity_at)
    assert steps == sorted(steps) and len(set(steps)) == 3
    time.sleep(0.01)
    api.add_message(chat, "assistant", "hello")  # the bot is not the user
    api.deactivate(user, reason="abuse", actor=admin)
    api.reactivate(user, actor=admin)
    assert fresh(user).last_activity_at == steps[-1]


def test_deleting_a_chat_leaves_no_title_or_content(ctx, api, models, db):
    user = api.register("c@example.com")
    chat = api.start_chat(user)
    api.add_message(chat, "user", "my secret plan")
    api.add_message(chat, "assistant", "You said: my secret plan")
    assert api.delete_chat(chat)
    assert api.delete_chat(chat) is False
    db.session.expire_all()
    chat = db.session.get(models.Chat, chat.id)
    assert chat.deleted_at is not None and chat.title is None
    contents = db.session.scalars(
        select(models.Message.content).where(models.Message.chat_id == chat.id)
    ).all()
    assert contents == [None, None]
    actions = db.session.scalars(
        select(models.AuditLog.action).where(models.AuditLog.user_id == user.id)
    ).all()
    assert "chat.delete" in actions
    with pytest.raises(ValueError):
        api.add_message(chat, "user", "more")


def test_guest_who_registers_keeps_their_chats(ctx, api, models, db):
    guest = api.create_guest()
    chat = api.start_chat(guest)
    api.add_message(chat, "user", "hello")
    user = api.register("d@example.com", guest=guest)
    owned = db.session.scalars(select(models.Chat).where(models.Chat.user_id == user.id)).all()
    assert [c.id for c in owned] == [chat.id]
    assert fresh(user).chat_count == 1 and user.email == "d@example.com"


def test_register_refuses_bad_and_taken_emails(ctx, api):
    api.register("e@example.com")
    with pytest.raises(api.EmailTaken):
        api.register("E@EXAMPLE.com")
    for bad in ["", "no-at-sign", "two@@example.com", "a b@example.com", "x" * 320 + "@e.com"]:
        with pytest.raises(api.InvalidEmail):
            api.register(bad)


def test_guest_ids_stay_unique_when_the_random_source_repeats(ctx, api, monkeypatch):
    from admin_users.service import accounts

    numbers = iter([42, 42, 42, 7, 123456789])
    monkeypatch.setattr(accounts, "_guest_number", lambda: next(numbers))
    first = api.create_guest()
    second = api.create_guest()  # 42 is taken twice over, then 7 is free
    third = api.create_guest()
    assert [first.guest_id, second.guest_id, third.guest_id] == [
        "g-000000042",
        "g-000000007",
        "g-123456789",
    ]


def test_guest_ids_are_well_formed(ctx, api):
    ids = {api.create_guest().guest_id for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"g-\d{9}", gid) for gid in ids)


def test_audit_entries_cannot_be_updated_or_deleted(ctx, api, models, db):
    user = api.register("f@example.com")
    entry = api.record_event(user, "login", entity="session", ip="192.0.2.1")
    entry = db.session.get(models.AuditLog, entry.id)
    entry.action = "nothing happened"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(models.AuditLog, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(models.AuditLog, entry.id).action == "login"


def test_audit_entry_records_actor_ip_and_reason(ctx, api, admin, models, db):
    user = api.register("g@example.com")
    api.deactivate(user, reason="Spam or bot account", actor=admin, ip="2001:db8::1")
    entry = db.session.scalars(
        select(models.AuditLog).where(models.AuditLog.action == "admin.deactivate")
    ).one()
    assert (entry.user_id, entry.actor_id, entry.ip_address, entry.detail) == (
        user.id,
        admin.id,
        "2001:db8::1",
        "Spam or bot account",
    )
    assert entry.by_admin


def test_deactivation_requires_a_reason(ctx, api, admin):
    user = api.register("h@example.com")
    with pytest.raises(ValueError):
        api.deactivate(user, reason="   ", actor=admin)
    assert fresh(user).deactivated_at is None


def test_profile_update(ctx, api, models):
    user = api.register("i@example.com")
    profile = api.update_profile(user, first_name=" Zoë ", last_name="Müller", city="Köln")
    assert (profile.name, profile.address) == ("Zoë Müller", "Köln")
    with pytest.raises(TypeError):
        api.update_profile(user, password="x")
    api.set_customer_id(user, " cus_123 ")
    assert fresh(user).customer_id == "cus_123"


def test_times_are_utc_aware(ctx, api):
    user = api.register("j@example.com")
    user = fresh(user)
    assert user.created_at.utcoffset().total_seconds() == 0


def test_find_user_by_id_email_or_guest_id(ctx, api):
    user = api.register("Kim@Example.com")
    guest = api.create_guest()
    assert api.find_user(str(user.id)) is user
    assert api.find_user("kim@example.COM") is user
    assert api.find_user(guest.guest_id) is guest
    assert api.find_user("nobody@example.com") is None
    assert api.find_user("") is None
