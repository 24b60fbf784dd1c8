"""Sessions end when they must: server-side records, the session version, timeouts,
sign-in that an attacker cannot borrow, and throttled sign-in emails."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import POSTGRES_URL, csrf_token_for, link_path, sign_in_by_link, signed_in
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from admin_users.models import utcnow


def register(client, email):
    return client.post("/register", data={"email": email, "csrf_token": csrf_token_for(client)})


def profile(client):
    """The profile page's status and text (a redirect to sign-in when signed out)."""
    response = client.get("/profile")
    return response.status_code, response.get_data(as_text=True)


def records(app, models, email):
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        user_id = db.session.scalar(select(models.User.id).where(models.User.email == email))
        return db.session.scalars(
            select(models.UserSession).where(models.UserSession.user_id == user_id)
        ).all()


def age_sessions(app, models, email, **ago):
    """Move the user's session records' times back, as if that much time had passed."""
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        user_id = db.session.scalar(select(models.User.id).where(models.User.email == email))
        db.session.execute(
            update(models.UserSession)
            .where(models.UserSession.user_id == user_id)
            .values({name: utcnow() - delta for name, delta in ago.items()})
        )
        db.session.commit()


# -- 1 and 2: whoever registered an address first ---------------------------------------------


def test_a_pre_registered_session_never_becomes_an_admin(app, runner):
    attacker = app.test_client()
    assert register(attacker, "new.hire@example.com").status_code == 302
    assert profile(attacker)[0] == 200  # signed in, Unconfirmed
    result = runner.invoke(args=["admin-users", "create-admin", "new.hire@example.com"])
    assert result.exit_code == 0, result.output
    assert attacker.get("/admin/users/").status_code == 302  # to sign-in: that session ended
    assert profile(attacker)[0] == 302
    admin = app.test_client()
    assert sign_in_by_link(admin, link_path(app, "new.hire@example.com")).status_code == 302
    assert admin.get("/admin/users/").status_code == 200
    assert attacker.get("/admin/users/").status_code == 302


def test_a_pre_registered_session_never_sees_the_owner(app, models):
    attacker = app.test_client()
    register(attacker, "owner@example.com")
    owner = app.test_client()
    assert sign_in_by_link(owner, link_path(app, "owner@example.com")).status_code == 302
    token = csrf_token_for(owner)
    owner.post("/profile", data={"first_name": "Olivia", "csrf_token": token})
    owner.post("/chat", data={"message": "my secret plans", "csrf_token": token})
    assert "Olivia" in profile(owner)[1]
    status, page = profile(attacker)
    assert status == 302 and "Olivia" not in page
    home = attacker.get("/", follow_redirects=True).get_data(as_text=True)
    assert "my secret plans" not in home and "owner@example.com" not in home
    # The owner's browser holds the one live session; the attacker's record is stale.
    live = [r for r in records(app, models, "owner@example.com") if r.version == 1]
    assert len(live) == 1 and len(records(app, models, "owner@example.com")) == 2


# -- 3: sign-out, cookies, timeouts ------------------------------------------------------------


def test_cookies_saved_before_sign_out_open_nothing_after(app):
    with app.app_context():
        from admin_users import service

        service.register("leaver@example.com")
    client = app.test_client()
    sign_in_by_link(client, link_path(app, "leaver@example.com"))
    saved = {name: client.get_cookie(name).value for name in ("session", "remember_token")}
    assert profile(client)[0] == 200
    client.post("/logout", data={"csrf_token": csrf_token_for(client)})
    assert profile(client)[0] == 302
    for name, value in saved.items():  # each cookie alone, replayed in a fresh browser
        thief = app.test_client()
        thief.set_cookie(name, value)
        assert profile(thief)[0] == 302, name


def test_signing_out_with_only_the_remember_cookie_ends_it_too(app, api, models):
    """The browser was closed and opened again: its one cookie still names the session."""
    with app.app_context():
        api.register("closed.browser@example.com")
    client = app.test_client()
    sign_in_by_link(client, link_path(app, "closed.browser@example.com"))
    saved = client.get_cookie("remember_token").value
    with app.test_request_context(headers={"Cookie": f"remember_token={saved}"}):
        api.sign_out()
    (record,) = records(app, models, "closed.browser@example.com")
    assert record.revoked_at is not None


def test_the_remember_cookie_is_new_at_every_sign_in_and_ends_on_the_server(app, models):
    with app.app_context():
        from admin_users import service

        service.register("twice@example.com")
    cookies = []
    for _ in range(2):
        client = app.test_client()
        sign_in_by_link(client, link_path(app, "twice@example.com"))
        cookies.append(client.get_cookie("remember_token").value)
    assert cookies[0] != cookies[1]
    remembered = app.test_client()
    remembered.set_cookie("remember_token", cookies[1])
    assert profile(remembered)[0] == 200
    age_sessions(app, models, "twice@example.com", created_at=timedelta(days=31))
    remembered = app.test_client()
    remembered.set_cookie("remember_token", cookies[1])
    assert profile(remembered)[0] == 302


def test_signing_out_ends_that_session_only(app):
    with app.app_context():
        from admin_users import service

        service.register("two.devices@example.com")
    phone, laptop = app.test_client(), app.test_client()
    for client in (phone, laptop):
        sign_in_by_link(client, link_path(app, "two.devices@example.com"))
    phone.post("/logout", data={"csrf_token": csrf_token_for(phone)})
    assert profile(phone)[0] == 302 and profile(laptop)[0] == 200


@pytest.mark.parametrize(
    ("ago", "open_"),
    [
        ({"last_seen_at": timedelta(minutes=29)}, True),
        ({"last_seen_at": timedelta(minutes=31)}, False),  # idle
        ({"created_at": timedelta(hours=11)}, True),
        ({"created_at": timedelta(hours=13)}, False),  # past its lifetime, however busy
    ],
)
def test_an_admin_session_times_out(app, models, ago, open_):
    with app.app_context():
        from admin_users import service

        service.create_admin("admin@example.com")
    client = app.test_client()
    sign_in_by_link(client, link_path(app, "admin@example.com"))
    assert client.get_cookie("remember_token") is None  # admins are not remembered
    assert client.get("/admin/users/").status_code == 200
    age_sessions(app, models, "admin@example.com", **ago)
    assert client.get("/admin/users/").status_code == (200 if open_ else 302)


def test_last_seen_is_written_at_most_once_a_minute(app, models):
    with app.app_context():
        from admin_users import service

        service.register("busy@example.com")
    client = app.test_client()
    sign_in_by_link(client, link_path(app, "busy@example.com"))
    (first,) = records(app, models, "busy@example.com")
    profile(client)
    assert records(app, models, "busy@example.com")[0].last_seen_at == first.last_seen_at
    age_sessions(app, models, "busy@example.com", last_seen_at=timedelta(minutes=2))
    profile(client)
    assert records(app, models, "busy@example.com")[0].last_seen_at > first.last_seen_at


def test_a_session_record_tells_where_it_was_opened(app, models):
    with app.app_context():
        from admin_users import service

        service.register("seen@example.com")
    client = app.test_client()
    client.post(
        link_path(app, "seen@example.com"),
        data={"csrf_token": csrf_token_for(client)},
        headers={
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        },
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    (record,) = records(app, models, "seen@example.com")
    assert (record.ip_address, record.browser, record.os) == (
        "198.51.100.23",
        "Firefox 128",
        "Linux",
    )
    assert record.remember and record.revoked_at is None and len(record.token_sha256) == 64


# -- the session version -----------------------------------------------------------------------


def test_sign_out_everywhere_ends_every_session(app):
    with app.app_context():
        from admin_users import service

        service.register("everywhere@example.com")
    clients = [app.test_client() for _ in range(3)]
    for client in clients:
        sign_in_by_link(client, link_path(app, "everywhere@example.com"))
    first = clients[0]
    first.post("/logout/everywhere", data={"csrf_token": csrf_token_for(first)})
    assert [profile(c)[0] for c in clients] == [302, 302, 302]
    assert sign_in_by_link(first, link_path(app, "everywhere@example.com")).status_code == 302
    assert profile(first)[0] == 200 and profile(clients[1])[0] == 302


def test_an_email_change_takes_effect_once_the_new_address_is_proven(app, api, capsys):
    with app.app_context():
        api.register("old@example.com")
    client, other = app.test_client(), app.test_client()
    for c in (client, other):
        sign_in_by_link(c, link_path(app, "old@example.com"))
    client.post(
        "/profile/email", data={"email": "new@example.com", "csrf_token": csrf_token_for(client)}
    )
    link = re.search(r"http://localhost(/login/link/\S+)", capsys.readouterr().out).group(1)
    with app.app_context():
        assert api.find_user("new@example.com") is None  # not before the link
        assert api.find_user("old@example.com").pending_email == "new@example.com"
    assert profile(other)[0] == 200
    fresh = app.test_client()
    assert sign_in_by_link(fresh, link).status_code == 302
    with app.app_context():
        user = api.find_user("new@example.com")
        assert user is not None and user.pending_email is None and user.confirmed_at
        assert api.find_user("old@example.com") is None
    assert profile(client)[0] == 302 and profile(other)[0] == 302
    assert "new@example.com" in profile(fresh)[1]
    assert sign_in_by_link(app.test_client(), link).status_code == 400  # used


def test_a_link_from_before_a_deactivation_stays_void_after_reactivation(app, api, admin):
    with app.app_context():
        user = api.register("returning@example.com")
        token = api.issue_login_link(user)
        api.deactivate(user, reason="abuse", actor=admin)
        api.reactivate(user, actor=admin)
        with pytest.raises(api.InvalidLink, match="already been used"):
            api.redeem_login_link(token)
        assert api.redeem_login_link(api.issue_login_link(user)).id == user.id


def test_sign_in_makes_a_new_csrf_token(app, api):
    with app.app_context():
        api.register("rotate@example.com")
    client = app.test_client()
    before = csrf_token_for(client)
    path = link_path(app, "rotate@example.com")
    assert client.post(path, data={"csrf_token": before}).status_code == 302
    stale = client.post("/profile", data={"first_name": "X", "csrf_token": before})
    assert stale.status_code == 400
    fresh = client.post("/profile", data={"first_name": "X", "csrf_token": csrf_token_for(client)})
    assert fresh.status_code == 302


def test_only_the_extensions_sign_in_makes_a_session(app, api):
    """A host that calls ``login_user`` itself is told, not signed in with a bare user id."""
    from flask_login import login_user

    with app.test_request_context():
        user = api.register("direct@example.com")
        with pytest.raises(RuntimeError, match="sign_in"):
            login_user(user)
    assert app.login_manager._user_callback.__module__ == "admin_users.sessions"


# -- 6: registration and link sending ---------------------------------------------------------


def test_registering_an_existing_address_sends_it_a_link_and_signs_no_one_in(app, api, capsys):
    with app.app_context():
        api.register("taken@example.com")
    visitor = app.test_client()
    answer = register(visitor, "TAKEN@example.com")
    assert answer.status_code == 302
    page = visitor.get(answer.location).get_data(as_text=True)
    assert "we sent it a sign-in link" in page
    assert "Sign-in link for taken@example.com" in capsys.readouterr().out
    assert profile(visitor)[0] == 302


def test_sign_in_emails_are_throttled_per_address(app, api, capsys):
    with app.app_context():
        api.register("target@example.com")
    client = app.test_client()
    token = csrf_token_for(client)
    statuses = [
        client.post("/login", data={"email": "target@example.com", "csrf_token": token}).status_code
        for _ in range(7)
    ]
    assert statuses == [302] * 5 + [429] * 2
    assert capsys.readouterr().out.count("Sign-in link for target@example.com") == 5
    other = app.test_client()
    assert register(other, "target@example.com").status_code == 429  # the same count
    assert register(other, "someone.else@example.com").status_code == 302


def test_sign_in_emails_are_throttled_per_ip(app):
    app.config["ADMIN_USERS_THROTTLE_PER_IP"] = "3 per hour"
    client = app.test_client()
    here = {"REMOTE_ADDR": "203.0.113.5"}
    token = csrf_token_for(client)
    statuses = [
        client.post(
            "/login", data={"email": f"n{n}@example.com", "csrf_token": token}, environ_base=here
        ).status_code
        for n in range(4)
    ]
    assert statuses == [302, 302, 302, 429]
    refused = client.post(
        "/register", data={"email": "x@example.com", "csrf_token": token}, environ_base=here
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert b"Too many sign-in requests" in refused.data
    elsewhere = {"REMOTE_ADDR": "203.0.113.6"}
    assert (
        client.post(
            "/login", data={"email": "n0@example.com", "csrf_token": token}, environ_base=elsewhere
        ).status_code
        == 302
    )


# -- 6: a database of this run's own -----------------------------------------------------------


def test_each_test_run_has_a_database_of_its_own(postgres_url, models):
    from sqlalchemy import create_engine, text

    ours = make_url(postgres_url).database
    assert ours != make_url(POSTGRES_URL).database
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT current_database()")).scalar() == ours
        assert connection.execute(select(func.count()).select_from(text("pg_class"))).scalar()
    engine.dispose()


def test_the_signed_in_helper_makes_a_real_session(app, admin):
    """Tests sign in through a session record too (not a bare id in the cookie)."""
    client = signed_in(app.test_client(), admin)
    assert client.get("/admin/users/").status_code == 200
    with client.session_transaction() as session:
        assert not session["_user_id"].isdigit()
