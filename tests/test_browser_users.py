"""The Users page in a real browser."""

from __future__ import annotations

from conftest import sign_in


def test_admin_sees_users_with_relative_times(page, browser_app, tmp_path):
    runner = browser_app.test_cli_runner()
    assert runner.invoke(args=["admin-users", "demo-data", "--users", "200"]).exit_code == 0
    assert runner.invoke(args=["admin-users", "create-admin", "admin@example.com"]).exit_code == 0
    sign_in(page, browser_app, "admin@example.com")
    page.goto("/admin/users/")
    rows = page.locator("tr.user-row")
    assert rows.count() == 30
    first = rows.first.locator("td.col-created time")
    assert (
        first.inner_text() in ("now", "1 second ago", "2 seconds ago")
        or "ago" in first.inner_text()
    )
    assert first.get_attribute("title")  # the exact time, in the browser's zone
    assert page.locator("th", has_text="Last Activity").count() == 1
    page.screenshot(path=str(tmp_path / "users.png"), full_page=True)
