"""Deactivation that really blocks: sessions, links, guests, admins; and the chat permission."""

from __future__ import annotations

import re
from functools import partial

import pytest
from helpers import (
    admin_post,
    csrf_token_for,
    link_path,
    sign_in_by_link,
    signed_in,
    writes_refused,
)
from sqlalchemy import func, select

IP = {"REMOTE_ADDR": "203.0.113.9"}
post_action = partial(admin_post, environ_base=IP)  # the admin's, as the audit records


def chat(client, text="hello"):
    return client.post("/chat", data={"message": text, "csrf_token": csrf_token_for(client)})


def user_id(app, api, ref):
    with app.app_context():
        return api.find_user(ref).id


def test_signed_in_user_is_blocked_then_restored(app, client, api, admin_client):
    with app.app_context():
        api.register("chatter@example.com")
    assert sign_in_by_link(client, link_path(app, "chatter@example.com")).status_code == 302
    assert chat(client).status_code == 302
    old_link = link_path(app, "chatter@example.com")  # issued before the deactivation
    uid = user_id(app, api, "chatter@example.com")

    response = post_action(
        admin_client,
        f"/admin/users/{uid}/deactivate",
        reason="Spam or bot account",
        detail="links in every message",
    )
    assert response.status_code == 200 and response.get_json()["changed"] is True

    refused = chat(client)  # the very next request of the open session
    assert refused.status_code == 403 and b"deactivated" in refused.data
    assert client.get("/").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token_for(client)})
    answer = sign_in_by_link(client, old_link)
    assert answer.status_code == 400 and b"deactivated" in answer.data
    with app.app_context(), pytest.raises(api.AccountDeactivated):
        api.login_link_url(api.find_user(uid))

    assert post_action(admin_client, f"/admin/users/{uid}/reactivate").get_json()["changed"]
    assert sign_in_by_link(client, link_path(app, "chatter@example.com")).status_code == 302
    assert chat(client, "back again").status_code == 302


def test_remember_me_session_is_refused_too(app, api, admin_client):
    client = app.test_client()
    with app.app_context():
        api.register("remembered@example.com")
    sign_in_by_link(client, link_path(app, "remembered@example.com"))
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")  # the browser was closed: only remember-me is left
    assert chat(client).status_code == 302  # signed in again through the cookie
    uid = user_id(app, api, "remembered@example.com")
    post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="abuse")
    client.delete_cookie("session")
    assert client.get("/").status_code == 403


def test_guest_is_blocked_by_session_then_restored(app, client, api, admin_client):
    assert chat(client).status_code == 302
    with client.session_transaction() as session:
        guest_id = session["admin_users_guest_id"]
    uid = user_id(app, api, guest_id)
    post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="Abuse or harmful behaviour")
    refused = chat(client)
    assert refused.status_code == 403 and b"deactivated" in refused.data
    post_action(admin_client, f"/admin/users/{uid}/reactivate", note="appeal accepted")
    assert chat(client).status_code == 302


def test_admin_loses_and_regains_the_panel(app, api, admin_client):
    with app.app_context():
        other_id = api.create_admin("other@example.com").id
    other = app.test_client()
    sign_in_by_link(other, link_path(app, "other@example.com"))
    assert other.get("/admin/users/").status_code == 200
    early_link = link_path(app, "other@example.com")
    post_action(admin_client, f"/admin/users/{other_id}/deactivate", reason="compromised")
    assert other.get("/admin/users/").status_code == 302  # to sign-in: no longer signed in
    assert other.get("/admin/").status_code == 302
    refused = sign_in_by_link(other, early_link)
    assert refused.status_code == 400 and b"deactivated" in refused.data
    post_action(admin_client, f"/admin/users/{other_id}/reactivate")
    assert other.get("/admin/users/").status_code == 302  # that session stays ended
    assert sign_in_by_link(other, link_path(app, "other@example.com")).status_code == 302
    assert other.get("/admin/users/").status_code == 200


def test_an_admin_cannot_deactivate_themself(app, admin_id, admin_client):
    response = post_action(admin_client, f"/admin/users/{admin_id}/deactivate", reason="oops")
    assert response.status_code == 400 and "your own account" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        ("guest", {"anonymous": 302, "guest": 302, "unconfirmed": 302, "confirmed": 302}),
        ("login", {"anonymous": 401, "guest": 401, "unconfirmed": 302, "confirmed": 302}),
        ("user", {"anonymous": 401, "guest": 401, "unconfirmed": 403, "confirmed": 302}),
    ],
)
def test_chat_permission_levels(app, api, admin_client, permission, expected):
    clients = {name: app.test_client() for name in expected}
    assert chat(clients["guest"]).status_code == 302  # a guest while anyone may chat
    with app.app_context():
        api.register("unconfirmed@example.com")
        api.confirm_email(api.register("confirmed@example.com"))
    for name in ("unconfirmed", "confirmed"):
        signed_in(clients[name], user_id(app, api, f"{name}@example.com"))
    token = csrf_token_for(admin_client)
    admin_client.post(
        "/admin/app-config/", data={"chat_permission": permission, "csrf_token": token}
    )
    for name, status in expected.items():
        response = chat(clients[name])
        assert response.status_code == status, (permission, name, response.status_code)
    if permission != "guest":
        page = clients["anonymous"].get("/").get_data(as_text=True)
        assert "Sign in to chat" in page and 'href="/login"' in page
    if permission == "user":
        assert b"Confirm your email" in chat(clients["unconfirmed"]).data


def test_anonymous_first_chat_creates_a_guest_kept_in_the_session(app, client, models, db):
    assert chat(client).status_code == 302
    assert chat(client).status_code == 302
    with client.session_transaction() as session:
        guest_id = session["admin_users_guest_id"]
    assert re.fullmatch(r"g-\d{9}", guest_id)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(models.User)) == 1


def test_chat_permission_change_is_audited(app, api, admin_client, models, db):
    token = csrf_token_for(admin_client)
    admin_client.post(
        "/admin/app-config/",
        data={"chat_permission": "login", "csrf_token": token},
        environ_base=IP,
    )
    again = admin_client.post(
        "/admin/app-config/",
        data={"chat_permission": "login", "csrf_token": token},
        follow_redirects=True,
    )
    assert b"already" in again.data
    bad = admin_client.post(
        "/admin/app-config/", data={"chat_permission": "root", "csrf_token": token}
    )
    assert bad.status_code == 303
    with app.app_context():
        assert api.get_chat_permission() == "login"
        entry = db.session.scalars(
            select(models.AuditLog).where(models.AuditLog.action == "admin.config")
        ).one()
        assert entry.detail == "guest -> login" and entry.ip_address == "203.0.113.9"
        assert entry.actor_id == api.find_user("admin@example.com").id
    page = admin_client.get("/admin/app-config/").get_data(as_text=True)
    assert 'value="login" checked' in page and "guest -&gt; login" in page


def test_audit_entry_has_admin_reason_and_ip(app, api, admin_id, admin_client, models, db):
    with app.app_context():
        uid = api.register("target@example.com").id
    post_action(
        admin_client,
        f"/admin/users/{uid}/deactivate",
        reason="Compliance or legal requirement",
        detail="court order 12",
    )
    post_action(admin_client, f"/admin/users/{uid}/reactivate", note="order lifted")
    with app.app_context():
        entries = db.session.scalars(
            select(models.AuditLog)
            .where(models.AuditLog.user_id == uid, models.AuditLog.action.like("admin.%"))
            .order_by(models.AuditLog.id)
        ).all()
        assert [(e.action, e.actor_id, e.detail, e.ip_address) for e in entries] == [
            (
                "admin.deactivate",
                admin_id,
                "Compliance or legal requirement: court order 12",
                "203.0.113.9",
            ),
            ("admin.reactivate", admin_id, "order lifted", "203.0.113.9"),
        ]


def test_when_the_audit_write_fails_nothing_changes(app, api, admin_client, models, db):
    with app.app_context():
        uid = api.register("safe@example.com").id
        blocked_id = api.register("blocked@example.com").id
        api.deactivate(api.find_user(blocked_id), reason="spam")
        before = db.session.scalar(select(func.count()).select_from(models.AuditLog))
    with writes_refused(app):
        assert (
            post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="abuse").status_code
            == 503
        )
        assert post_action(admin_client, f"/admin/users/{blocked_id}/reactivate").status_code == 503
        token = csrf_token_for(admin_client)
        assert (
            admin_client.post(
                "/admin/app-config/", data={"chat_permission": "user", "csrf_token": token}
            ).status_code
            == 503
        )
        with app.app_context():
            with pytest.raises(Exception, match="write refused"):
                api.deactivate(api.find_user(uid), reason="abuse")
            with pytest.raises(Exception, match="write refused"):
                api.set_chat_permission("login")
    with app.app_context():
        assert api.find_user(uid).deactivated_at is None
        assert api.find_user(blocked_id).deactivated_at is not None
        assert api.get_chat_permission() == "guest"
        assert db.session.scalar(select(func.count()).select_from(models.AuditLog)) == before


def test_deactivation_deletes_nothing(app, api, admin_client, models, db):
    def counts():
        with app.app_context():
            return {
                m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                for m in (models.User, models.Chat, models.Message, models.Profile)
            }

    with app.app_context():
        user = api.register("keeper@example.com")
        api.update_profile(user, first_name="Kee")
        c = api.start_chat(user)
        api.add_message(c, "user", "keep me")
        uid = user.id
    before = counts()
    post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="abuse")
    assert counts() == before
    with app.app_context():
        assert db.session.scalar(select(models.Message.content)) == "keep me"


def test_bad_action_requests(app, api, admin_client):
    with app.app_context():
        uid = api.register("bad@example.com").id
    no_reason = post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="  ")
    assert no_reason.status_code == 400 and "reason" in no_reason.get_json()["error"]
    with app.app_context():
        assert api.find_user(uid).deactivated_at is None
    again = post_action(admin_client, f"/admin/users/{uid}/reactivate")
    assert again.status_code == 200 and again.get_json()["changed"] is False
    assert "nothing changed" in again.get_json()["message"]
    post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="spam")
    twice = post_action(admin_client, f"/admin/users/{uid}/deactivate", reason="spam")
    assert twice.get_json()["changed"] is False and "already" in twice.get_json()["message"]
    assert admin_client.get(f"/admin/users/{uid}/deactivate").status_code == 405
    assert admin_client.get(f"/admin/users/{uid}/reactivate").status_code == 405
    assert admin_client.post(f"/admin/users/{uid}/reactivate").status_code == 400  # no CSRF
    assert (
        post_action(admin_client, "/admin/users/987654/deactivate", reason="x").status_code == 404
    )


def test_bulk_deactivation_skips_and_counts(app, api, admin_id, admin_client, models, db):
    with app.app_context():
        ids = [api.register(f"bulk{n}@example.com").id for n in range(3)]
        api.deactivate(api.find_user(ids[2]), reason="earlier")
        guest = api.create_guest().id
    response = post_action(
        admin_client,
        "/admin/users/action/",
        action="deactivate",
        rowid=[*ids, guest, admin_id],
        reason="Spam or bot account",
    )
    assert response.status_code == 200
    data = response.get_json()
    assert (data["deactivated"], data["skipped"]) == (3, 2)
    assert "Deactivated 3 users; 2 skipped" in data["message"]
    assert set(data["rows"]) == {str(i) for i in (*ids, guest, admin_id)}
    assert "Deactivated" in data["rows"][str(ids[0])]
    with app.app_context():
        actions = db.session.execute(
            select(models.AuditLog.user_id, models.AuditLog.detail).where(
                models.AuditLog.action == "admin.deactivate", models.AuditLog.actor_id == admin_id
            )
        ).all()
        assert sorted(actions) == sorted(
            (i, "Spam or bot account") for i in (ids[0], ids[1], guest)
        )
    no_reason = post_action(
        admin_client, "/admin/users/action/", action="deactivate", rowid=ids, reason=""
    )
    assert no_reason.status_code == 400


def test_cli_show_deactivate_reactivate(app, api, runner, admin_id):
    with app.app_context():
        user = api.register("cli@example.com")
        api.set_customer_id(user, "cus_CLI")
        guest_id = api.create_guest().guest_id
    result = runner.invoke(
        args=[
            "admin-users",
            "deactivate",
            "cli@example.com",
            "--reason",
            "spam wave",
            "--actor",
            "admin@example.com",
        ]
    )
    assert result.exit_code == 0 and "is deactivated" in result.output
    again = runner.invoke(args=["admin-users", "deactivate", "cli@example.com", "--reason", "x"])
    assert "already deactivated" in again.output
    shown = runner.invoke(args=["admin-users", "show", "cli@example.com"])
    assert shown.exit_code == 0
    assert "Deactivated" in shown.output and "cus_CLI" in shown.output
    assert "spam wave" in shown.output and "by admin@example.com" in shown.output
    assert runner.invoke(args=["admin-users", "reactivate", "cli@example.com"]).exit_code == 0
    shown = runner.invoke(args=["admin-users", "show", "cli@example.com"]).output
    assert "admin.reactivate" in shown and "by cli" in shown
    by_guest = runner.invoke(args=["admin-users", "deactivate", guest_id, "--reason", "bot"])
    assert by_guest.exit_code == 0
    by_id = runner.invoke(args=["admin-users", "show", str(admin_id)])
    assert "admin@example.com" in by_id.output
    unknown = runner.invoke(args=["admin-users", "show", "ghost@example.com"])
    assert unknown.exit_code != 0 and "No user 'ghost@example.com'" in unknown.output
    not_admin = runner.invoke(
        args=["admin-users", "deactivate", guest_id, "--reason", "x", "--actor", "cli@example.com"]
    )
    assert not_admin.exit_code != 0 and "not an active admin" in not_admin.output
    missing = runner.invoke(args=["admin-users", "deactivate", "cli@example.com"])
    assert missing.exit_code != 0 and "--reason" in missing.output


def test_bulk_deactivation_from_a_plain_form(app, api, admin_client):
    with app.app_context():
        uid = api.register("plain@example.com").id
    token = admin_client.get("/admin/users/csrf-token").get_json()["token"]
    response = admin_client.post(
        "/admin/users/action/",
        data={"action": "deactivate", "rowid": [uid], "reason": "spam", "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200 and b"Deactivated 1 user." in response.data
    with app.app_context():
        assert api.find_user(uid).deactivated_at is not None
