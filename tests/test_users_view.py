"""Admin > Users shows the seed's six columns for users of every status."""

from __future__ import annotations

import re
from datetime import timedelta

from admin_users.models import utcnow


def rows(html: str) -> dict[str, dict[str, str]]:
    """The list's rows, keyed by user id, each cell's inner HTML by column class."""
    found = {}
    for user_id, body in re.findall(
        r'<tr class="user-row" data-user-id="(\d+)"[^>]*>(.*?)</tr>', html, re.S
    ):
        cells = dict(re.findall(r'<td class="col-([\w-]+)[^"]*">(.*?)</td>', body, re.S))
        found[user_id] = {k: v.strip() for k, v in cells.items()}
    return found


def text(cell: str) -> str:
    return re.sub(r"<[^>]+>", "", cell).strip()


def test_each_column_for_a_user_of_each_status(app, client, auth, api):
    with app.app_context():
        admin = api.create_admin("admin@example.com")
        active = api.register("Active.User@example.com")
        api.confirm_email(active)
        api.set_customer_id(active, "cus_A1")
        for _ in range(2):
            api.start_chat(active)
        unconfirmed = api.register("pending@example.com")
        deactivated = api.register("blocked@example.com")
        api.deactivate(deactivated, reason="spam", actor=admin)
        guest = api.create_guest()
        chat = api.start_chat(guest)
        api.delete_chat(chat)
        ids = {
            name: user.id
            for name, user in [
                ("admin", admin),
                ("active", active),
                ("unconfirmed", unconfirmed),
                ("deactivated", deactivated),
                ("guest", guest),
            ]
        }
        guest_id = guest.guest_id
        created = active.created_at
        last = api.find_user(active.id).last_activity_at
    auth.login(ids["admin"])
    response = client.get("/admin/users/")
    assert response.status_code == 200
    table = rows(response.get_data(as_text=True))
    expected = {
        "active": ("Active.User@example.com", "cus_A1", "Active", "2"),
        "unconfirmed": ("pending@example.com", "", "Unconfirmed", "0"),
        "deactivated": ("blocked@example.com", "", "Deactivated", "0"),
        "guest": (guest_id, "", "Guest", "1"),  # a deleted chat still counts
        "admin": ("admin@example.com", "", "Active", "0"),
    }
    for name, (user, customer, status, chats) in expected.items():
        row = table[str(ids[name])]
        assert text(row["user"]) == user
        assert text(row["customer-id"]) == customer
        assert text(row["status"]) == status
        assert text(row["chats"]) == chats
    active_row = table[str(ids["active"])]
    assert f'datetime="{created.isoformat()}"' in active_row["created"]
    assert f'datetime="{last.isoformat()}"' in active_row["last-activity"]


def test_newest_first_and_30_rows(app, client, auth, api, models, db):
    with app.app_context():
        admin_id = api.create_admin("admin@example.com").id
        now = utcnow()
        db.session.add_all(
            models.User(email=f"u{n}@example.com", created_at=now - timedelta(hours=n))
            for n in range(1, 41)
        )
        db.session.commit()
    auth.login(admin_id)
    html = client.get("/admin/users/").get_data(as_text=True)
    users = [text(r["user"]) for r in rows(html).values()]
    assert len(users) == 30
    assert users[:3] == ["admin@example.com", "u1@example.com", "u2@example.com"]
    assert users[-1] == "u29@example.com"


def test_user_strings_are_escaped(app, client, auth, api):
    with app.app_context():
        admin_id = api.create_admin("admin@example.com").id
        user = api.register("x@example.com")
        api.set_customer_id(user, "<script>alert(1)</script>")
    auth.login(admin_id)
    html = client.get("/admin/users/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_create_edit_and_delete_are_off(app, client, auth, api):
    with app.app_context():
        admin_id = api.create_admin("admin@example.com").id
    auth.login(admin_id)
    (view,) = [v for v in app.extensions["admin_users"].admin._views if v.endpoint == "users"]
    assert not (view.can_create or view.can_edit or view.can_delete)
    html = client.get("/admin/users/").get_data(as_text=True)
    assert "/admin/users/new/" not in html and "/admin/users/delete/" not in html
