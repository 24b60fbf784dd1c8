"""The detail dialog in a real browser: open, tabs, scrolling tabs, close, deep link, back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import sign_in
from sqlalchemy import insert

from admin_users.models import utcnow


@pytest.fixture
def admin_page(page, browser_app):
    from admin_users import service
    from wsgi import db

    runner = browser_app.test_cli_runner()
    assert runner.invoke(args=["admin-users", "demo-data", "--users", "120"]).exit_code == 0
    with browser_app.app_context():
        service.create_admin("admin@example.com")
        busy = service.register("busy@example.com")
        service.update_profile(busy, first_name="Bea", last_name="Busy", city="Lisbon")
        models = browser_app.extensions["admin_users"].models
        now = utcnow()
        db.session.execute(
            insert(models.AuditLog),
            [
                {
                    "user_id": busy.id,
                    "actor_id": busy.id,
                    "action": f"event.{n}",
                    "entity": "test",
                    "ip_address": "192.0.2.1",
                    "origin": "web",
                    "created_at": now - timedelta(seconds=n),
                }
                for n in range(1, 80)
            ],
        )
        db.session.commit()
        page.busy_id = busy.id
    sign_in(page, browser_app, "admin@example.com")
    page.goto("/admin/users/")
    return page


def open_dialog_of(page, user_id):
    page.click(f"tr.user-row[data-user-id='{user_id}'] td.col-user")
    page.wait_for_selector("#user-dialog.show .user-info")


def test_closing_keeps_the_list_where_it_was(admin_page):
    page = admin_page
    page.evaluate("window.scrollTo(0, 300)")
    row = page.locator("tr.user-row").nth(8)
    user_id = row.get_attribute("data-user-id")
    row.locator("td.col-user").click()
    page.wait_for_selector("#user-dialog.show .user-info")
    page.keyboard.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function("!location.search.includes('user=')")
    assert page.evaluate("window.scrollY") == 300
    assert page.evaluate("document.activeElement.dataset.userId") == user_id


def test_click_a_row_switch_tabs_and_scroll_a_tab(admin_page, tmp_path):
    page = admin_page
    open_dialog_of(page, page.busy_id)
    dialog = page.locator("#user-dialog")
    assert dialog.locator(".field-email").inner_text() == "busy@example.com"
    assert dialog.locator(".field-name").inner_text() == "Bea Busy"
    assert f"user={page.busy_id}" in page.url
    page.wait_for_selector("#user-tab-chats .tab-empty:not([hidden])")  # no chats
    assert page.locator("#user-tab-audit tr").count() == 1  # the header only: not loaded yet
    page.click("#user-tab-audit-link")
    page.wait_for_function("document.querySelectorAll('#user-tab-audit tr.audit-row').length >= 30")
    dialog.locator("#user-tab-audit tr.audit-row").nth(29).scroll_into_view_if_needed()
    page.wait_for_function("document.querySelectorAll('#user-tab-audit tr.audit-row').length >= 60")
    page.screenshot(path=str(tmp_path / "dialog.png"))
    actions = dialog.locator("#user-tab-audit td.col-action code").all_inner_texts()
    assert actions[:4] == ["profile.update", "register", "event.1", "event.2"]
    assert len(actions) == len(set(actions))
    page.keyboard.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function("!location.search.includes('user=')")


def test_enter_on_a_focused_row_and_the_close_button(admin_page):
    page = admin_page
    row = page.locator("tr.user-row").nth(3)
    user_id = row.get_attribute("data-user-id")
    row.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#user-dialog.show .user-info")
    assert page.locator("#user-dialog .modal-body").get_attribute("data-user-id") == user_id
    page.click("#user-dialog .modal-footer button:has-text('Close')")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function("!location.search.includes('user=')")
    assert page.evaluate("document.activeElement.dataset.userId") == user_id


def test_deep_link_and_back_button(admin_page, server):
    page = admin_page
    page.goto(f"/admin/users/?sort=email&user={page.busy_id}")
    page.wait_for_selector("#user-dialog.show .user-info")
    assert page.locator("#user-dialog .field-email").inner_text() == "busy@example.com"
    page.keyboard.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function("!location.search.includes('user=')")
    assert "sort=email" in page.url
    open_dialog_of(page, page.busy_id)
    page.go_back()
    page.wait_for_selector("#user-dialog", state="hidden")
    assert "user=" not in page.url
    page.go_forward()
    page.wait_for_selector("#user-dialog.show .user-info")


def test_deep_link_to_an_unknown_user(admin_page):
    page = admin_page
    page.expected_console_errors.append("status of 404 (NOT FOUND)")
    response = page.goto("/admin/users/?user=987654")
    assert response.status == 404
    page.wait_for_selector("#user-dialog.show .dialog-message:has-text('no such user')")
