"""Only a signed-in, active admin reaches the admin panel: every route, from the url map."""

from __future__ import annotations

import pytest

# The pages of the sign-in blueprint (admin_users.auth) are for visitors who are not
# admins yet, so they are exempt, each by name, and tested on their own (test_auth.py).
# Any other route of that blueprint is walked like the admin's until it is named here.
SIGN_IN_PAGES = {
    "admin_users_auth.register",
    "admin_users_auth.login",
    "admin_users_auth.login_link",
    "admin_users_auth.logout",
    "admin_users_auth.logout_everywhere",
}


def admin_rules(app):
    """Every rule of the admin's views and of the extension's own blueprints."""
    state = app.extensions["admin_users"]
    ours = {view.endpoint for view in state.admin._views} | {
        name for name, bp in app.blueprints.items() if bp.import_name.startswith("admin_users.")
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith(".static") or rule.endpoint in SIGN_IN_PAGES:
            continue  # static files are public, and the sign-in pages: exempt by name
        if rule.endpoint.split(".")[0] in ours:
            yield rule


def requests_for(app, real_id):
    """Every (method, url) of the admin's rules, with a real user id in each id argument."""
    for rule in admin_rules(app):
        values = {
            arg: sorted(converter.items)[0] if hasattr(converter, "items") else real_id
            for arg, converter in rule._converters.items()
        }
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, url


@pytest.fixture
def people(app, api):
    """Ids of an admin and of a user with a chat, made outside any request."""
    with app.app_context():
        admin = api.create_admin("admin@example.com")
        user = api.register("user@example.com")
        api.confirm_email(user)
        chat = api.start_chat(user)
        api.add_message(chat, "user", "hi")
        return {"admin": admin.id, "user": user.id}


def send(client, method, url, token):
    if method == "POST":
        return client.post(url, data={"csrf_token": token, "rowid": "1", "action": "x"})
    return client.open(url, method=method)


def test_the_walk_finds_the_users_routes(app):
    urls = {rule.rule for rule in admin_rules(app)}
    assert "/admin/" in urls and "/admin/users/" in urls
    assert len(urls) >= 5


def test_the_walk_exempts_the_sign_in_pages_by_name_alone(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert SIGN_IN_PAGES <= endpoints  # each name the exemption gives is a page of the demo
    app.add_url_rule("/account/secret", "admin_users_auth.secret", lambda: "for admins")
    assert "/account/secret" in {rule.rule for rule in admin_rules(app)}


def test_anonymous_visitors_are_sent_to_sign_in(app, client, people, csrf_token):
    token = csrf_token()
    seen = 0
    for method, url in requests_for(app, people["user"]):
        response = send(client, method, url, token)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.location.startswith("/login?next="), (method, url)
        seen += 1
    assert seen >= 5


def test_signed_in_non_admins_get_403(app, client, auth, people, csrf_token):
    auth.login(people["user"])
    token = csrf_token()
    for method, url in requests_for(app, people["user"]):
        response = send(client, method, url, token)
        assert response.status_code == 403, (method, url, response.status_code)


def test_deactivated_admin_loses_the_panel_on_the_next_request(app, client, auth, api, people):
    auth.login(people["admin"])
    assert client.get("/admin/users/").status_code == 200
    with app.app_context():
        other = api.create_admin("second@example.com")
        api.deactivate(api.find_user(people["admin"]), reason="compromised", actor=other)
    # A deactivated user is no longer authenticated (Flask-Login asks is_active).
    for url in ("/admin/users/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.startswith("/login")


def test_admin_reaches_the_panel(client, auth, people):
    auth.login(people["admin"])
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/users/").status_code == 200


def test_static_files_are_served_to_anyone(client):
    with client.get("/admin_users/static/users.js") as response:
        assert response.status_code == 200 and b"use strict" in response.data


def test_post_without_csrf_token_is_400(app, client, auth, people):
    auth.login(people["admin"])
    assert client.post("/admin/users/action/", data={"action": "x"}).status_code == 400
    assert client.post("/chat", data={"message": "hi"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.post("/register", data={"email": "x@example.com"}).status_code == 400


def test_extension_checks_csrf_itself_when_the_host_has_no_csrfprotect(app, client, auth, people):
    app.extensions.pop("csrf")
    app.before_request_funcs[None] = [
        f for f in app.before_request_funcs.get(None, []) if "csrf" not in f.__qualname__
    ]
    auth.login(people["admin"])
    response = client.post("/admin/users/action/", data={"action": "x"})
    assert response.status_code == 400
