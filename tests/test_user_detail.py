"""The detail dialog: information, profile, and the Chats and Audit Logs tabs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import offsets_or_counts, recorded_sql
from sqlalchemy import insert

from admin_users.models import utcnow


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def field(html: str, name: str) -> str:
    found = re.search(rf'<dd class="[^"]*field-{name}">(.*?)</dd>', html, re.S)
    return found and text(found.group(1))


@pytest.fixture
def cast(app, api, admin_id):
    """The admin and one user of each status; a profile on the active one."""
    with app.app_context():
        admin = api.find_user(admin_id)
        active = api.register("active@example.com")
        api.confirm_email(active)
        api.set_customer_id(active, "cus_77")
        api.update_profile(
            active,
            first_name="Zoë",
            last_name="Ösz",
            phone="+49 30 1234",
            address_line1="Hauptstraße 1",
            postal_code="10115",
            city="Berlin",
            country="DE",
        )
        unconfirmed = api.register("pending@example.com")
        deactivated = api.register("blocked@example.com")
        api.confirm_email(deactivated)
        api.deactivate(deactivated, reason="Spam or bot account", actor=admin, ip="10.1.2.3")
        guest = api.create_guest()
        chat = api.start_chat(guest)
        api.add_message(chat, "user", "hello from a guest")
        return {
            "admin": admin.id,
            "active": active.id,
            "unconfirmed": unconfirmed.id,
            "deactivated": deactivated.id,
            "guest": guest.id,
            "guest_id": guest.guest_id,
        }


def detail(client, user_id) -> str:
    response = client.get(f"/admin/users/{user_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_active_user_with_profile(admin_client, cast):
    html = detail(admin_client, cast["active"])
    assert field(html, "email") == "active@example.com"
    assert field(html, "customer-id") == "cus_77"
    assert field(html, "status") == "Active"
    assert 'datetime="' in re.search(r'field-created">(.*?)</dd>', html, re.S).group(1)
    assert 'datetime="' in re.search(r'field-confirmed">(.*?)</dd>', html, re.S).group(1)
    assert field(html, "name") == "Zoë Ösz"
    assert field(html, "phone") == "+49 30 1234"
    assert field(html, "address") == "Hauptstraße 1 10115 Berlin DE"
    assert "field-deactivated" not in html and "no-profile" not in html


def test_unconfirmed_user_without_profile(admin_client, cast):
    html = detail(admin_client, cast["unconfirmed"])
    assert field(html, "status") == "Unconfirmed"
    assert field(html, "confirmed") == "Not confirmed"
    assert field(html, "customer-id") == "—"
    assert "No profile" in html


def test_deactivated_user_shows_when_by_whom_and_why(admin_client, cast):
    html = detail(admin_client, cast["deactivated"])
    assert field(html, "status") == "Deactivated"
    assert 'datetime="' in re.search(r'field-deactivated">(.*?)</dd>', html, re.S).group(1)
    assert field(html, "deactivated-by") == "admin@example.com"
    assert field(html, "reason") == "Spam or bot account"


def test_guest_has_guest_id_chats_and_no_profile_section(admin_client, cast):
    html = detail(admin_client, cast["guest"])
    assert field(html, "guest-id") == cast["guest_id"]
    assert field(html, "status") == "Guest"
    assert "field-email" not in html and "user-profile" not in html
    chats = admin_client.get(f"/admin/users/{cast['guest']}/chats").get_data(as_text=True)
    assert "hello from a guest" in chats and ">Active<" in chats


def test_audit_tab_names_the_admin_and_the_reason(admin_client, cast):
    html = admin_client.get(f"/admin/users/{cast['deactivated']}/audit").get_data(as_text=True)
    rows = re.findall(r'<tr class="audit-row".*?</tr>', html, re.S)
    newest = text(rows[0])
    assert "admin.deactivate" in newest and "Spam or bot account" in newest
    assert "10.1.2.3" in newest and "admin@example.com" in newest
    own = [text(r) for r in rows if "register" in r][0]
    assert "admin@example.com" not in own  # the user's own entry shows no admin


def test_chats_tab_shows_deleted_chats_without_their_title(app, admin_client, api, cast):
    with app.app_context():
        user = api.find_user(cast["active"])
        kept, gone = api.start_chat(user), api.start_chat(user)
        api.add_message(kept, "user", "Kept title")
        api.add_message(gone, "user", "Secret title")
        api.delete_chat(gone)
    html = admin_client.get(f"/admin/users/{cast['active']}/chats").get_data(as_text=True)
    assert "Secret title" not in html and "Deleted chat" in html and ">Deleted<" in html
    assert "Kept title" in html
    assert html.index("Deleted chat") < html.index("Kept title")  # newest first


def test_the_dialog_holds_the_chats_tabs_first_rows_and_where_they_end(
    app, admin_client, api, cast
):
    app.config["ADMIN_USERS_PAGE_SIZE"] = 2
    with app.app_context():
        user = api.find_user(cast["active"])
        for n in range(3):
            api.add_message(api.start_chat(user), "user", f"chat number {n}")
    html = detail(admin_client, cast["active"])
    first = re.search(r'class="tab-first" data-cursor="([^"]+)">(.*?)</template>', html, re.S)
    ids = re.findall(r'data-chat-id="(\d+)"', first.group(2))
    tab = admin_client.get(f"/admin/users/{cast['active']}/chats")
    assert ids == re.findall(r'data-chat-id="(\d+)"', tab.text) and len(ids) == 2
    rest = admin_client.get(
        f"/admin/users/{cast['active']}/chats", query_string={"cursor": first.group(1)}
    )
    assert "chat number 0" in rest.text and not rest.headers["X-Next-Cursor"]
    assert "chat number 2" in first.group(2)  # newest first
    unconfirmed = detail(admin_client, cast["unconfirmed"])  # no chats: no rows, no cursor
    assert re.search(r'class="tab-first" data-cursor="">\s*<table><tbody>\s*</tbody>', unconfirmed)


def test_empty_tabs_return_no_rows(admin_client, cast):
    html = admin_client.get(f"/admin/users/{cast['unconfirmed']}/chats").get_data(as_text=True)
    assert "chat-row" not in html


def test_unknown_or_malformed_user_is_404(admin_client, cast):
    for url in [
        "/admin/users/999999",
        "/admin/users/999999/chats",
        "/admin/users/abc",
        "/admin/users/-1",
        f"/admin/users/{2**70}",
        f"/admin/users/{cast['active']}/x",
        "/admin/users/999999/audit?cursor=x",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 404, url
        assert len(response.data) < 2000
    for bad in ["999999", "abc", "", "1e9"]:
        response = admin_client.get("/admin/users/", query_string={"user": bad})
        assert response.status_code == 404, bad
        assert 'data-open-user="' in response.get_data(as_text=True)  # the dialog says so
    assert (
        admin_client.get("/admin/users/", query_string={"user": cast["active"]}).status_code == 200
    )


def test_tab_cursors_are_checked(app, admin_client, cast):
    app.config["ADMIN_USERS_PAGE_SIZE"] = 2
    first = admin_client.get(f"/admin/users/{cast['active']}/audit")
    cursor = first.headers["X-Next-Cursor"]
    assert cursor
    for url, bad in [
        (f"/admin/users/{cast['active']}/audit", cursor[:-2] + "zz"),
        (f"/admin/users/{cast['active']}/audit", "not-a-cursor"),
        (f"/admin/users/{cast['deactivated']}/audit", cursor),  # another user's position
        (f"/admin/users/{cast['active']}/chats", cursor),  # another tab's position
    ]:
        response = admin_client.get(url, query_string={"cursor": bad})
        assert response.status_code == 400, (url, bad)
        assert b"tab position" in response.data


def scroll_tab(client, url) -> list[int]:
    ids, cursor = [], None
    while True:
        response = client.get(url, query_string={"cursor": cursor} if cursor else {})
        assert response.status_code == 200
        ids += [int(i) for i in re.findall(r'data-(?:entry|chat)-id="(\d+)"', response.text)]
        cursor = response.headers["X-Next-Cursor"]
        if not cursor:
            return ids


@pytest.mark.slow  # 100,000 audit entries
def test_big_user_tabs_scroll_in_order_without_offset_or_count(app, admin_client, models, cast, db):
    user_id = cast["active"]
    base = utcnow()
    with app.app_context():
        engine = db.engine
        with engine.begin() as connection:
            connection.execute(
                insert(models.AuditLog),
                [
                    {
                        "user_id": user_id,
                        "actor_id": user_id,
                        "action": "login",
                        "entity": "session",
                        "ip_address": "192.0.2.9",
                        "origin": "web",
                        "created_at": base - timedelta(seconds=n // 4),
                    }  # ties of four
                    for n in range(100_000)
                ],
            )
            connection.execute(
                insert(models.Chat),
                [
                    {
                        "user_id": user_id,
                        "title": f"chat {n}",
                        "message_count": 1,
                        "created_at": base - timedelta(minutes=n // 3),
                    }
                    for n in range(1_000)
                ],
            )
        rows = db.session.execute(
            models.AuditLog.__table__.select().where(models.AuditLog.user_id == user_id)
        ).all()
        expected_audit = [
            r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
        ]
        chats = db.session.execute(
            models.Chat.__table__.select().where(models.Chat.user_id == user_id)
        ).all()
        expected_chats = [
            r.id for r in sorted(chats, key=lambda r: (r.created_at, r.id), reverse=True)
        ]
    # The first batches at the real size, then the rest in bigger steps to keep this quick.
    with recorded_sql(engine) as statements:
        first = admin_client.get(f"/admin/users/{user_id}/audit")
        assert [int(i) for i in re.findall(r'data-entry-id="(\d+)"', first.text)] == (
            expected_audit[:30]
        )
        app.config["ADMIN_USERS_PAGE_SIZE"] = 997
        assert scroll_tab(admin_client, f"/admin/users/{user_id}/audit") == expected_audit
        app.config["ADMIN_USERS_PAGE_SIZE"] = 30
        assert scroll_tab(admin_client, f"/admin/users/{user_id}/chats") == expected_chats
    tab_sql = [(s, p) for s, p in statements if "FROM AUDIT_LOGS" in s or "FROM CHATS" in s]
    assert len(tab_sql) > 100
    assert offsets_or_counts(tab_sql) == []
