"""``flask admin-users ...`` through the app's CLI runner."""

from __future__ import annotations

import pytest
from helpers import sign_in_by_link
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError


def test_init_db_creates_the_tables(app, runner):
    result = runner.invoke(args=["admin-users", "init-db"])
    assert result.exit_code == 0 and "ready" in result.output


def test_demo_data_makes_a_consistent_mix(app, runner, models, db):
    result = runner.invoke(args=["admin-users", "demo-data", "--users", "500"])
    assert result.exit_code == 0, result.output
    assert "500 users" in result.output
    with app.app_context():
        M = models
        users = db.session.scalars(select(M.User)).all()
        assert len(users) == 500
        statuses = {u.status for u in users}
        assert statuses == {1, 2, 3, 4}
        guests = sum(1 for u in users if u.email is None)
        assert 60 < guests < 140
        assert any(u.customer_id for u in users)
        assert db.session.scalar(select(func.count()).select_from(M.Profile)) > 0
        chats = dict(
            db.session.execute(select(M.Chat.user_id, func.count()).group_by(M.Chat.user_id)).all()
        )
        assert all(u.chat_count == chats.get(u.id, 0) for u in users)
        assert all(u.status == int(u.current_status) for u in users)
        assert db.session.scalar(select(func.count()).where(M.Chat.deleted_at.is_not(None))) > 0
        ips = db.session.scalars(select(M.AuditLog.ip_address)).all()
        assert any(ip and ":" in ip for ip in ips) and any(ip and "." in ip for ip in ips)
    again = runner.invoke(args=["admin-users", "demo-data", "--users", "100"])
    assert again.exit_code == 0, again.output  # a second run adds, no clashes
    # The foreign keys (dropped while PostgreSQL seeds) are back: an orphan is refused.
    with app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(insert(M.Chat).values(user_id=10**9, title="orphan"))
        db.session.flush()


def test_create_admin_and_login_link(app, runner):
    result = runner.invoke(args=["admin-users", "create-admin", "root@example.com"])
    assert result.exit_code == 0 and "root@example.com is an admin" in result.output
    link = runner.invoke(args=["admin-users", "login-link", "root@example.com"])
    assert link.exit_code == 0
    assert link.output.startswith("http://localhost/login/link/")
    client = app.test_client()
    path = link.output.strip().removeprefix("http://localhost")
    assert sign_in_by_link(client, path).status_code == 302
    assert client.get("/admin/users/").status_code == 200


def test_unknown_user_is_a_clear_error(app, runner):
    result = runner.invoke(args=["admin-users", "login-link", "nobody@example.com"])
    assert result.exit_code != 0 and "No user 'nobody@example.com'" in result.output
    bad = runner.invoke(args=["admin-users", "create-admin", "not-an-email"])
    assert bad.exit_code != 0 and "email" in bad.output
