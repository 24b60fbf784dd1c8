"""Protective headers on the admin's and the extension's responses (never the host's own
pages), and the cookies' flags."""

from __future__ import annotations

import re

from helpers import link_path


def test_admin_pages_are_hardened(app, api, admin_client):
    with app.app_context():
        user_id = api.register("someone@example.com").id
    urls = [
        "/admin/",
        "/admin/users/",
        "/admin/users/batch",
        f"/admin/users/{user_id}",
        f"/admin/users/{user_id}/audit",
        "/admin/app-config/",
        "/admin/users/csrf-token",
    ]
    nonces = set()
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, url
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, url
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        nonces.add(nonce)
        body = response.get_data(as_text=True)
        # Every script of the page carries this response's nonce.
        for tag in re.findall(r"<script\b[^>]*>", body):
            assert f'nonce="{nonce}"' in tag, (url, tag)
        assert "<style" not in body and " style=" not in body, url
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
    assert len(nonces) == len(urls)  # a new one each response
    with admin_client.get("/admin_users/static/users.js") as script:
        assert script.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" not in script.headers.get("Cache-Control", "")
    refused = admin_client.application.test_client().get("/admin/users/")  # to sign-in
    assert refused.status_code == 302 and refused.headers["X-Frame-Options"] == "DENY"


def test_the_hosts_own_pages_are_left_alone(client):
    # /login and /register are the sign-in blueprint's now: tests/test_auth.py
    for url in ("/", "/profile"):
        response = client.get(url)
        assert "Content-Security-Policy" not in response.headers, url
        assert "X-Frame-Options" not in response.headers, url


def test_cookies_are_httponly_lax_and_secure_over_https(app, api):
    app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    with app.app_context():
        api.register("cookie@example.com")
    path = link_path(app, "cookie@example.com")
    client = app.test_client()
    page = client.get(path, base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        path,
        data={"csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/"},  # Flask-WTF checks it over HTTPS
    )
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert response.status_code == 302, response.get_data(as_text=True)
    for name in ("session", "remember_token"):
        flags = cookies[name].lower()
        assert "httponly" in flags and "samesite=lax" in flags and "secure" in flags, name


def test_the_remember_cookie_follows_the_session_cookie_by_default(app):
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] == app.config["SESSION_COOKIE_SECURE"]
