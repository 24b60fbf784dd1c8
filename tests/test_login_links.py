"""Magic links: signed, expiring, single-use, and only a POST uses them up."""

from __future__ import annotations

import time

import pytest
from helpers import link_path


def test_link_signs_in_once_and_confirms(app, client, api, csrf_token, db, models):
    with app.app_context():
        user_id = api.register("one@example.com").id
    path = link_path(app, "one@example.com")
    page = client.get(path)
    assert page.status_code == 200 and b'id="sign-in"' in page.data
    assert client.get("/admin/").status_code == 302  # the GET signed no one in
    response = client.post(path, data={"csrf_token": csrf_token()})
    assert response.status_code == 302
    assert "one@example.com" in client.get("/profile").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(models.User, user_id).confirmed_at is not None
    client.post("/logout", data={"csrf_token": csrf_token()})
    again = client.post(path, data={"csrf_token": csrf_token()})
    assert again.status_code == 400 and b"already been used" in again.data
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_get_of_a_link_signs_no_one_in(app, client, api, db, models):
    with app.app_context():
        user_id = api.register("two@example.com").id
    path = link_path(app, "two@example.com")
    for _ in range(3):
        assert client.get(path).status_code == 200
    with client.session_transaction() as session:
        assert "_user_id" not in session
    with app.app_context():
        assert db.session.get(models.User, user_id).confirmed_at is None


def test_link_expires(app, api):
    app.config["ADMIN_USERS_MAGIC_LINK_MAX_AGE"] = 1
    with app.app_context():
        user = api.register("three@example.com")
        token = api.issue_login_link(user)
        time.sleep(2.1)
        with pytest.raises(api.InvalidLink, match="expired"):
            api.redeem_login_link(token)


def test_tampered_link_is_refused(app, client, api, csrf_token):
    with app.app_context():
        user = api.register("four@example.com")
        token = api.issue_login_link(user)
    response = client.post(f"/login/link/{token[:-2]}xx", data={"csrf_token": csrf_token()})
    assert response.status_code == 400 and b"not valid" in response.data


def test_deactivated_user_gets_no_link_and_old_links_fail(app, api, admin):
    with app.app_context():
        user = api.register("five@example.com")
        token = api.issue_login_link(user)
        api.deactivate(user, reason="abuse", actor=admin)
        with pytest.raises(api.AccountDeactivated):
            api.redeem_login_link(token)
        with pytest.raises(api.AccountDeactivated):
            api.issue_login_link(user)
