"""Odd and hostile input gets a clear 4xx, never a 5xx and never a half-written change:
SPEC's text-field rules, ids beyond the column's range, a deactivated guest registering,
erasing yourself, and strings that would take over an operator's terminal."""

from __future__ import annotations

import pytest
from helpers import admin_post, csrf_token_for, signed_in
from sqlalchemy import func, select, update

from admin_users.models import utcnow

BIG = [str(2**31), str(2**63), "9" * 30]


def count(app, model):
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("bad", ["a\x1b[2J@example.com", "nul\x00@example.com", "a@b.c\nd"])
def test_an_email_with_control_characters_is_refused(app, client, models, bad):
    response = client.post("/register", data={"email": bad, "csrf_token": csrf_token_for(client)})
    assert (
        response.status_code == 400
        and b"control characters" in response.data
        or (response.status_code == 400 and b"one line" in response.data)
    )
    assert count(app, models.User) == 0


def test_text_fields_follow_spec(app, api, client, models):
    with app.app_context():
        user = api.register("fields@example.com")
        with pytest.raises(api.InvalidText, match="one line"):
            api.update_profile(user, first_name="Ann\nBob")
        with pytest.raises(api.InvalidText, match="control"):
            api.set_customer_id(user, "cus\x9b1")
        chat = api.start_chat(user)
        with pytest.raises(api.InvalidText, match="control"):
            api.add_message(chat, "user", "hello\x00there")
        api.add_message(chat, "user", "two\nlines\tand a tab")  # free text keeps them
        user_id = user.id
    signed_in(client, user_id)
    token = csrf_token_for(client)
    bad = client.post("/chat", data={"message": "hi\x07", "csrf_token": token})
    assert bad.status_code == 400 and b"control characters" in bad.data
    profile = client.post("/profile", data={"city": "Ber\rlin", "csrf_token": token})
    assert profile.status_code == 400
    assert count(app, models.Message) == 1


def test_a_reason_with_control_characters_is_refused(app, api, admin_client, models):
    with app.app_context():
        user_id = api.register("target@example.com").id
    for url, form in [
        (f"/admin/users/{user_id}/deactivate", {"reason": "Spam", "detail": "x\x1b[2J"}),
        ("/admin/users/action/", {"action": "deactivate", "rowid": str(user_id), "reason": "\x00"}),
    ]:
        response = admin_post(admin_client, url, **form)
        assert response.status_code == 400, url
        assert "control characters" in response.get_json()["error"]
    with app.app_context():
        assert api.find_user(user_id).deactivated_at is None


def test_ids_beyond_the_column_are_404_not_5xx(app, api, admin_client, client):
    from admin_users.listing import ListQuery, make_cursor

    for big in BIG:
        assert admin_client.get(f"/admin/users/{big}").status_code == 404
        assert admin_client.get(f"/admin/users/{big}/chats").status_code == 404
        assert admin_client.get(f"/admin/users/?user={big}").status_code == 404
        bulk = admin_post(admin_client, "/admin/users/action/", action="deactivate", rowid=big,
                          reason="Spam")  # fmt: skip
        assert bulk.status_code == 200 and bulk.get_json()["deactivated"] == 0
        assert client.get(f"/?chat={big}").status_code == 404
        token = csrf_token_for(client)
        deleted = client.post(f"/chat/{big}/delete", data={"csrf_token": token})
        assert deleted.status_code == 404, deleted.data
        sent = client.post("/chat", data={"message": "hi", "chat_id": big, "csrf_token": token})
        assert sent.status_code == 404
    with app.test_request_context():
        cursor = make_cursor(ListQuery(), utcnow(), 10**30, utcnow())
    assert admin_client.get(f"/admin/users/batch?cursor={cursor}").status_code == 400
    with app.app_context():
        assert api.find_user(str(2**40)) is None


def test_a_deactivated_guest_registering_is_refused_and_nothing_is_written(
    app, api, admin_id, client, models
):
    token = csrf_token_for(client)
    client.post("/chat", data={"message": "hello", "csrf_token": token})
    with client.session_transaction() as session:
        guest_id = session["admin_users_guest_id"]
    with app.app_context():
        api.deactivate(api.find_user(guest_id), reason="abuse", actor=api.find_user(admin_id))
    response = client.post("/register", data={"email": "new@example.com", "csrf_token": token})
    assert response.status_code == 403 and b"deactivated" in response.data
    with app.app_context():
        assert api.find_user(guest_id).email is None
        assert api.find_user("new@example.com") is None


def test_an_admin_cannot_erase_themself(app, api, admin_id, admin_client):
    url = f"/admin/users/{admin_id}/erase"
    response = admin_post(admin_client, url, confirm="admin@example.com")
    assert response.status_code == 400 and "your own account" in response.get_json()["error"]
    with app.app_context():
        assert api.find_user(admin_id).erased_at is None


def test_the_cli_escapes_what_would_take_over_a_terminal(app, api, runner, models, db):
    with app.app_context():
        user = api.register("spoof\u202egpj.exe@example.com")
        db.session.execute(  # as an older version, or another writer, may have stored it
            update(models.User).where(models.User.id == user.id).values(customer_id="c\x1b[2J")
        )
        db.session.commit()
        user_id = user.id
    for args in (["list"], ["show", str(user_id)]):
        output = runner.invoke(args=["admin-users", *args]).output
        assert "\x1b" not in output and "\u202e" not in output
        assert "\\x1b[2J" in output and "spoof\\u202egpj.exe@example.com" in output


def test_a_missing_secret_key_is_a_clear_error(tmp_path):
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    from admin_users import AdminUsers

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'x.sqlite'}"
    db = SQLAlchemy(app)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        AdminUsers(app, db=db)


def test_direction_characters_are_shown_isolated_not_obeyed(app, api, admin_id, admin_client):
    """ "spoof\\u202egpj.exe" would read "spoofexe.jpg": the list, the dialog and its tabs
    show the override as a marker, and each user-written string inside ``<bdi>``."""
    spoof = "spoof\u202egpj.exe@example.com"
    with app.app_context():
        user = api.register(spoof)
        api.set_customer_id(user, "cus\u2067x")
        api.start_chat(user, title="title\u202dx")
        api.deactivate(user, reason="why\u200fnot")
        user_id = user.id
    pages = {
        "list": "/admin/users/",
        "batch": "/admin/users/batch",
        "dialog": f"/admin/users/{user_id}",
        "chats": f"/admin/users/{user_id}/chats",
        "audit": f"/admin/users/{user_id}/audit",
    }
    marker = '<mark class="bidi-control" title="Hidden direction character">U+{}</mark>'
    for name, url in pages.items():
        html = admin_client.get(url).get_data(as_text=True)
        assert not any(c in html for c in "\u202e\u2067\u202d\u200f"), name
        if name in ("list", "batch", "dialog"):
            assert f"<bdi>spoof{marker.format('202E')}gpj.exe@example.com</bdi>" in html, name
            assert f"<bdi>cus{marker.format('2067')}x</bdi>" in html, name
    assert marker.format("202D") in admin_client.get(pages["chats"]).get_data(as_text=True)
    dialog = admin_client.get(pages["dialog"]).get_data(as_text=True)
    assert marker.format("200F") in dialog
    assert 'aria-label="Select spoof[U+202E]gpj.exe@example.com"' in (
        admin_client.get(pages["list"]).get_data(as_text=True)
    )
