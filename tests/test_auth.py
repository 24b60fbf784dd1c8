"""The sign-in blueprint, admin_users.auth: each page for a visitor, a signed-in user and a
deactivated one (in the demo, which mounts it at its old URLs), and a host that is not
the demo mounting it at /account with a mailer of its own."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_login import LoginManager, current_user
from flask_sqlalchemy import SQLAlchemy
from helpers import csrf_token_for, link_path, sign_in_by_link
from sqlalchemy import select

from admin_users import AdminUsers, auth
from admin_users.extension import create_tables


def post(client, url, **form):
    """A POST of one of the pages' forms, with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token_for(client), **form})


def signed_in_as(client) -> str | None:
    """The email the demo's profile page shows, or None when it sends to sign-in."""
    response = client.get("/profile")
    if response.status_code != 200:
        return None
    return re.search(r"<span>([^<]+)</span>", response.get_data(as_text=True)).group(1)


def signed_in_user(app, api, email):
    """A browser signed in as a new user ``email`` through the link page."""
    with app.app_context():
        api.register(email)
    client = app.test_client()
    assert sign_in_by_link(client, link_path(app, email)).status_code == 302
    return client


def deactivate(app, api, email):
    with app.app_context():
        api.deactivate(api.find_user(email), reason="abuse", actor=None)


def actions(app, models, email):
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        user_id = db.session.scalar(select(models.User.id).where(models.User.email == email))
        return db.session.scalars(
            select(models.AuditLog.action)
            .where(models.AuditLog.user_id == user_id)
            .order_by(models.AuditLog.id)
        ).all()


def revoked(app, models, email):
    """Whether each session record of ``email`` is revoked, oldest first."""
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        user = db.session.scalar(select(models.User).where(models.User.email == email))
        records = db.session.scalars(
            select(models.UserSession)
            .where(models.UserSession.user_id == user.id)
            .order_by(models.UserSession.id)
        )
        return [record.revoked_at is not None for record in records]


def links_printed(capsys):
    return re.findall(r"Sign-in link for (\S+): http://localhost(/\S+)", capsys.readouterr().out)


# -- register --------------------------------------------------------------------------------


def test_register_signs_a_new_address_in_and_mails_it_the_confirming_link(app, client, capsys):
    response = post(client, "/register", email="new@example.com")
    assert response.status_code == 302 and response.location == "/"
    assert signed_in_as(client) == "new@example.com"
    [(email, path)] = links_printed(capsys)
    assert email == "new@example.com" and path.startswith("/login/link/")


def test_register_of_a_known_address_signs_no_one_in_and_mails_that_address(
    app, client, api, capsys
):
    with app.app_context():
        api.register("known@example.com")
    response = post(client, "/register", email="Known@Example.com ")
    assert response.status_code == 302 and response.location == "/login"
    assert links_printed(capsys)[0][0] == "known@example.com"
    assert signed_in_as(client) is None
    with client.session_transaction() as session:
        assert "_user_id" not in session
    page = client.get("/login").get_data(as_text=True)
    assert "already has an account: we sent it a sign-in link" in page


def test_register_of_a_known_address_while_signed_in_keeps_who_you_are(app, api, capsys):
    client = signed_in_user(app, api, "me@example.com")
    with app.app_context():
        api.register("someone.else@example.com")
    assert post(client, "/register", email="someone.else@example.com").status_code == 302
    assert signed_in_as(client) == "me@example.com"


def test_register_by_a_deactivated_user_signs_no_one_in_and_mails_nothing(app, api, capsys):
    client = signed_in_user(app, api, "gone@example.com")
    deactivate(app, api, "gone@example.com")
    capsys.readouterr()
    assert post(client, "/register", email="gone@example.com").status_code == 302
    assert links_printed(capsys) == [] and signed_in_as(client) is None


def test_register_of_a_bad_address_is_a_400_that_says_why(app, client, models):
    response = post(client, "/register", email="not an address")
    assert response.status_code == 400
    assert b"does not look like an email address" in response.data
    assert b'value="not an address"' in response.data  # kept in the form, escaped
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        assert db.session.scalars(select(models.User)).all() == []


# -- ask for a link ----------------------------------------------------------------------------


def test_a_link_goes_only_to_an_account_that_may_sign_in_and_the_answer_is_one(
    app, client, api, capsys
):
    with app.app_context():
        live_id = api.register("live@example.com").id
        api.register("gone@example.com")
        guest_id = api.create_guest().guest_id
    deactivate(app, api, "gone@example.com")
    answers = set()
    # An id or a guest id names no one to mail: only an address is looked up.
    for email in ("live@example.com", "gone@example.com", str(live_id), guest_id, "no@one.org"):
        response = post(client, "/login", email=email)
        assert response.status_code == 302 and response.location == "/login", email
        page = client.get("/login").get_data(as_text=True)
        answers.add(re.search(r'<p class="flash">(.*?)</p>', page).group(1))
    assert len(answers) == 1
    assert [email for email, _ in links_printed(capsys)] == ["live@example.com"]
    assert signed_in_as(client) is None


def test_a_signed_in_user_may_ask_for_a_link_and_stays_signed_in(app, api, capsys):
    client = signed_in_user(app, api, "me@example.com")
    assert client.get("/login").status_code == 200
    assert post(client, "/login", email="me@example.com").status_code == 302
    assert [email for email, _ in links_printed(capsys)] == ["me@example.com"]
    assert signed_in_as(client) == "me@example.com"


# -- the link page -----------------------------------------------------------------------------


def test_the_link_page_signs_in_whoever_presses_its_button(app, api):
    client = signed_in_user(app, api, "first@example.com")
    with app.app_context():
        api.register("second@example.com")
    assert sign_in_by_link(client, link_path(app, "second@example.com")).status_code == 302
    assert signed_in_as(client) == "second@example.com"


def test_a_deactivated_users_link_is_refused_and_signs_no_one_in(app, api):
    client = signed_in_user(app, api, "gone@example.com")
    path = link_path(app, "gone@example.com")
    deactivate(app, api, "gone@example.com")
    assert client.get(path).status_code == 200  # the page; its button is refused
    answer = sign_in_by_link(client, path)
    assert answer.status_code == 400 and b"deactivated" in answer.data
    assert b"Ask for a new link" in answer.data and b'id="sign-in"' not in answer.data
    assert signed_in_as(client) is None


# -- sign out ----------------------------------------------------------------------------------


def test_sign_out_needs_a_post_with_a_csrf_token(app, api, models):
    client = signed_in_user(app, api, "me@example.com")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert signed_in_as(client) == "me@example.com"
    assert post(client, "/logout").status_code == 302
    assert signed_in_as(client) is None
    assert revoked(app, models, "me@example.com") == [True]
    assert actions(app, models, "me@example.com")[-1] == "logout"


def test_sign_out_of_a_visitor_just_goes_home(client):
    response = post(client, "/logout")
    assert response.status_code == 302 and response.location == "/"


def test_a_deactivated_users_session_is_gone_and_sign_out_revokes_it(app, api, models):
    client = signed_in_user(app, api, "gone@example.com")
    deactivate(app, api, "gone@example.com")
    assert signed_in_as(client) is None
    assert "gone@example.com" not in client.get("/login").get_data(as_text=True)
    assert post(client, "/logout").status_code == 302
    assert revoked(app, models, "gone@example.com") == [True]
    assert "logout" not in actions(app, models, "gone@example.com")  # nothing on their behalf


def test_sign_out_everywhere_ends_every_session_of_the_user(app, api, models):
    client = signed_in_user(app, api, "me@example.com")
    phone = app.test_client()
    sign_in_by_link(phone, link_path(app, "me@example.com"))
    assert client.post("/logout/everywhere").status_code == 400  # no CSRF token
    response = post(client, "/logout/everywhere")
    assert response.status_code == 302 and response.location == "/login"
    assert signed_in_as(client) is None and signed_in_as(phone) is None
    assert actions(app, models, "me@example.com")[-1] == "logout.everywhere"


def test_sign_out_everywhere_asks_a_visitor_or_a_deactivated_user_to_sign_in(app, api, models):
    visitor = app.test_client()
    response = post(visitor, "/logout/everywhere")
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    client = signed_in_user(app, api, "gone@example.com")
    deactivate(app, api, "gone@example.com")
    response = post(client, "/logout/everywhere")
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    assert "logout.everywhere" not in actions(app, models, "gone@example.com")


# -- responses ---------------------------------------------------------------------------------


def test_the_pages_are_kept_out_of_frames_caches_and_other_sites_referers(app, api, client):
    with app.app_context():
        api.register("me@example.com")
    pages = [client.get(url) for url in ("/login", "/register", link_path(app, "me@example.com"))]
    for response in [*pages, post(client, "/login", email="me@example.com")]:
        assert response.headers["X-Frame-Options"] == "DENY"
        # Not a script policy: the pages render the host's layout, its scripts and styles.
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# -- a host that is not the demo ---------------------------------------------------------------


def make_host(database_url: str, sent: list, *, tables: bool = True, **settings) -> Flask:
    """A chatbot of its own: Flask-Login and the extension, no CSRFProtect, the sign-in
    pages at /account, and a mailer that keeps what it was asked to send."""
    app = Flask(__name__, template_folder=settings.pop("template_folder", "templates"))
    app.config.update(
        SECRET_KEY="host",
        SQLALCHEMY_DATABASE_URI=database_url,
        TESTING=True,
        ADMIN_USERS_BASE_URL="http://localhost",
        ADMIN_USERS_SEND_LINK=lambda user, url: sent.append((user.email, url)),
    )
    app.config.update(settings)
    host_db = SQLAlchemy(app)
    LoginManager(app)
    AdminUsers(db=host_db).init_app(app)
    app.register_blueprint(auth.blueprint, url_prefix="/account")

    @app.get("/")
    def home():
        return current_user.email if current_user.is_authenticated else "a visitor"

    if tables:
        with app.app_context():
            create_tables()
    return app


@pytest.fixture
def sent():
    return []


@pytest.fixture
def hosts():
    """``make_host``, with each app's connections closed at the end."""
    made = []

    def make(*args, **kwargs) -> Flask:
        made.append(make_host(*args, **kwargs))
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            app.extensions["sqlalchemy"].session.remove()
            app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def host(hosts, database_url, sent):
    return hosts(database_url, sent)


def token_of(client, path="/account/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_host_mounts_the_pages_at_a_prefix_and_signs_in_through_them(host, sent, api):
    client = host.test_client()
    response = client.post(
        "/account/register", data={"email": "ana@host.example", "csrf_token": token_of(client)}
    )
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").get_data(as_text=True) == "ana@host.example"
    [(email, url)] = sent
    assert email == "ana@host.example" and url.startswith("http://localhost/account/login/link/")

    client.post("/account/logout", data={"csrf_token": token_of(client)})
    assert client.get("/").get_data(as_text=True) == "a visitor"
    response = client.post(
        "/account/login", data={"email": "ana@host.example", "csrf_token": token_of(client)}
    )
    assert response.status_code == 302 and response.location == "/account/login"
    email, url = sent[-1]
    path = url.removeprefix("http://localhost")
    assert email == "ana@host.example" and b'id="sign-in"' in client.get(path).data
    assert client.get("/").get_data(as_text=True) == "a visitor"  # the GET used nothing up
    response = client.post(path, data={"csrf_token": token_of(client)})
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").get_data(as_text=True) == "ana@host.example"
    with host.app_context():
        assert api.find_user("ana@host.example").confirmed_at is not None


def test_the_host_needs_no_link_endpoint_nor_login_view_setting(host):
    link = host.test_cli_runner().invoke(args=["admin-users", "create-admin", "boss@host.example"])
    assert link.exit_code == 0
    link = host.test_cli_runner().invoke(args=["admin-users", "login-link", "boss@host.example"])
    assert link.exit_code == 0, link.output
    assert link.output.startswith("http://localhost/account/login/link/")
    response = host.test_client().get("/admin/users/")
    assert response.status_code == 302 and response.location.startswith("/account/login?next=")


def test_without_csrfprotect_the_pages_check_the_token_themselves(host, sent, api):
    client = host.test_client()
    refused = client.post("/account/register", data={"email": "ana@host.example"})
    assert refused.status_code == 400 and sent == []
    with host.app_context():
        assert api.find_user("ana@host.example") is None
    client.post(
        "/account/register", data={"email": "ana@host.example", "csrf_token": token_of(client)}
    )
    assert client.post("/account/logout").status_code == 400
    assert client.post("/account/logout/everywhere", data={"csrf_token": "x"}).status_code == 400
    assert client.get("/").get_data(as_text=True) == "ana@host.example"


def test_a_throttled_request_is_a_429_with_retry_after(host, sent):
    host.config["ADMIN_USERS_THROTTLE_PER_ADDRESS"] = "1 per hour"
    client = host.test_client()
    token = token_of(client)
    for expected in (302, 429):
        response = client.post("/account/login", data={"email": "a@b.example", "csrf_token": token})
        assert response.status_code == expected
    assert (
        int(response.headers["Retry-After"]) > 0 and b"Too many sign-in requests" in response.data
    )


def test_a_mailer_that_fails_is_a_503_that_says_so(hosts, tmp_path, api):
    def broken(user, url):
        raise ConnectionRefusedError("no mail server")

    app = hosts(f"sqlite:///{tmp_path / 'host.sqlite'}", [], ADMIN_USERS_SEND_LINK=broken)
    with app.app_context():
        api.register("ana@host.example")
    client = app.test_client()
    response = client.post(
        "/account/login", data={"email": "ana@host.example", "csrf_token": token_of(client)}
    )
    assert response.status_code == 503 and b"could not be sent" in response.data
    assert b"ConnectionRefusedError" not in response.data


def test_an_unreachable_database_is_a_503_without_a_traceback(hosts):
    app = hosts("postgresql+psycopg://nobody:x@127.0.0.1:1/none", [], tables=False)
    client = app.test_client()
    token = token_of(client)  # the page itself needs no database
    with client.session_transaction() as session:
        session["_user_id"] = "t" * 43  # a session's token: checking it needs the database
    response = client.post("/account/logout", data={"csrf_token": token})
    assert response.status_code == 503
    assert b"Traceback" not in response.data and b"OperationalError" not in response.data


def test_the_host_overrides_a_template_and_the_layout(hosts, tmp_path):
    (tmp_path / "admin_users" / "auth").mkdir(parents=True)
    (tmp_path / "admin_users" / "auth" / "login.html").write_text(
        "{% extends auth_base_template %}{% block content %}<h1>Our sign-in</h1>{% endblock %}"
    )
    (tmp_path / "layout.html").write_text("<main>{% block content %}{% endblock %}</main>")
    app = hosts(
        f"sqlite:///{tmp_path / 'host.sqlite'}",
        [],
        template_folder=str(tmp_path),
        ADMIN_USERS_AUTH_BASE_TEMPLATE="layout.html",
    )
    client = app.test_client()
    assert (
        client.get("/account/login").get_data(as_text=True) == "<main><h1>Our sign-in</h1></main>"
    )
    register = client.get("/account/register").get_data(as_text=True)
    assert register.startswith("<main>") and 'action="/account/register"' in register


def test_registering_the_pages_without_a_mailer_is_a_clear_error():
    app = Flask(__name__)
    with pytest.raises(RuntimeError, match="ADMIN_USERS_SEND_LINK"):
        app.register_blueprint(auth.blueprint)


def test_the_hosts_own_link_endpoint_and_login_view_are_kept():
    app = Flask(__name__)
    app.config.update(ADMIN_USERS_SEND_LINK=print, ADMIN_USERS_LOGIN_LINK_ENDPOINT="mine.link")
    login_manager = LoginManager(app)
    login_manager.login_view = "mine.login"
    app.register_blueprint(auth.blueprint, name="account", url_prefix="/account")
    assert app.config["ADMIN_USERS_LOGIN_LINK_ENDPOINT"] == "mine.link"
    assert login_manager.login_view == "mine.login"
    other = Flask(__name__)
    other.config["ADMIN_USERS_SEND_LINK"] = print
    LoginManager(other)
    other.register_blueprint(auth.blueprint, name="account")
    assert other.config["ADMIN_USERS_LOGIN_LINK_ENDPOINT"] == "account.login_link"
    assert other.login_manager.login_view == "account.login"
