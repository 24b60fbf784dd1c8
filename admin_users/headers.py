"""Protective headers on the admin's and the extension's own responses, never the host's.

The extension's views (Admin > Users, App Config, the admin home when it is the
extension's index view) and its static files get a Content-Security-Policy whose
scripts and styles are the site's own files and those carrying this response's nonce
(Flask-Admin's ``csp_nonce_generator``), no framing, ``no-store`` (the pages hold
personal data), ``nosniff`` and a same-origin referrer. Their HTML declares its language,
which Flask-Admin's base template leaves out.
"""

from __future__ import annotations

import secrets

from flask import g, request

CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def nonce() -> str:
    """This request's CSP nonce, the same for every script and style of one page."""
    if "admin_users_csp_nonce" not in g:
        g.admin_users_csp_nonce = secrets.token_urlsafe(16)
    return g.admin_users_csp_nonce


def protect(app, endpoints: set[str], prefixes: tuple[str, ...]) -> None:
    """Set the headers on responses of these endpoints (or endpoint prefixes)."""

    @app.after_request
    def _headers(response):
        endpoint = request.endpoint or ""
        if endpoint not in endpoints and not endpoint.startswith(prefixes):
            return response
        response.headers["Content-Security-Policy"] = CSP.format(nonce=nonce())
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not endpoint.endswith(".static"):
            response.headers["Cache-Control"] = "no-store"
        if response.mimetype == "text/html" and not response.is_streamed:
            # The pages are written in English; user text in them is escaped, so the
            # first "<html>" is the document's own tag.
            response.set_data(response.get_data().replace(b"<html>", b'<html lang="en">', 1))
        return response
