"""The demo chatbot host records chats, messages and audit events through the API."""

from __future__ import annotations

import re

from helpers import csrf_token_for
from sqlalchemy import select


def audit(app, models):
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        return db.session.execute(
            select(
                models.AuditLog.action, models.AuditLog.ip_address, models.AuditLog.user_id
            ).order_by(models.AuditLog.id)
        ).all()


def test_guest_chats_registers_signs_in_and_out(app, client, models, capsys):
    csrf = csrf_token_for(client)
    env = {"REMOTE_ADDR": "198.51.100.7"}
    response = client.post(
        "/chat", data={"message": "Hello bot", "csrf_token": csrf}, environ_base=env
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "You said: Hello bot" in page
    guest_id = re.search(r"g-\d{9}", page).group(0)
    chat_id = int(response.location.rsplit("=", 1)[1])
    client.post("/register", data={"email": "me@example.com", "csrf_token": csrf}, environ_base=env)
    link = re.search(r"http://localhost(/login/link/\S+)", capsys.readouterr().out).group(1)
    assert "You said: Hello bot" in client.get(f"/?chat={chat_id}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token_for(client)}, environ_base=env)
    client.post(link, data={"csrf_token": csrf_token_for(client)}, environ_base=env)
    client.post(
        f"/chat/{chat_id}/delete", data={"csrf_token": csrf_token_for(client)}, environ_base=env
    )
    client.post(
        "/profile",
        data={"first_name": "Me", "csrf_token": csrf_token_for(client)},
        environ_base=env,
    )
    actions = [a for a, ip, _ in audit(app, models)]
    assert actions == [
        "guest.create",
        "chat.create",
        "register",
        "logout",
        "email.confirm",
        "login",
        "chat.delete",
        "profile.update",
    ]
    assert {ip for _, ip, _ in audit(app, models)} == {"198.51.100.7"}
    assert len({uid for *_, uid in audit(app, models)}) == 1
    with app.app_context():
        from admin_users import service

        assert service.find_user("me@example.com").guest_id == guest_id


def test_someone_elses_chat_is_404(app, client, api):
    with app.app_context():
        other = api.create_guest()
        chat_id = api.start_chat(other).id
    assert client.get(f"/?chat={chat_id}").status_code == 404
    assert (
        client.post(
            f"/chat/{chat_id}/delete", data={"csrf_token": csrf_token_for(client)}
        ).status_code
        == 404
    )


def test_login_page_does_not_reveal_accounts(client, app, api):
    with app.app_context():
        api.register("known@example.com")
    answers = set()
    for email in ("known@example.com", "unknown@example.com"):
        response = client.post(
            "/login",
            data={"email": email, "csrf_token": csrf_token_for(client)},
            follow_redirects=True,
        )
        answers.add(
            re.search(r'<p class="flash">(.*?)</p>', response.get_data(as_text=True)).group(1)
        )
    assert len(answers) == 1


def test_secret_key_is_made_in_instance_not_in_code(tmp_path, monkeypatch):
    from wsgi import _instance_secret

    path = tmp_path / "secret_key"
    first = _instance_secret(path)
    assert len(first) == 64 and _instance_secret(path) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_unreachable_database_is_a_503_without_a_traceback(caplog):
    """The chatbot's pages and the admin panel alike (no server listens on port 1)."""
    from wsgi import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody:x@127.0.0.1:1/none",
            "SECRET_KEY": "test",
            "TESTING": True,
        }
    )
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "t" * 43  # a session's token: checking it needs the database
    for url in ("/", "/login", "/admin/", "/admin/users/", "/admin/users/batch", "/admin/users/1"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 503, url
        assert "Traceback" not in body and "OperationalError" not in body, url
