"""Deactivation in a real browser: the dialog's confirmation steps and bulk deactivation."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import open_as_admin

from admin_users.listing import ListQuery, iterate
from admin_users.models import Status


@pytest.fixture
def admin_page(page, browser_app):
    return open_as_admin(page, browser_app, users=90, path="/admin/users/?status=active")


def row_status(page, user_id):
    return page.locator(f"tr.user-row[data-user-id='{user_id}'] td.col-status").inner_text()


def test_deactivate_and_reactivate_from_the_dialog(admin_page, tmp_path):
    page = admin_page
    row = page.locator("tr.user-row").nth(2)
    user_id = row.get_attribute("data-user-id")
    email = row.locator("td.col-user").inner_text()
    row.locator("td.col-user").click()
    page.wait_for_selector("#user-dialog.show .user-info")
    page.click("[data-step='deactivate']")
    form = page.locator("form[data-step-form='deactivate']")
    assert f"Deactivate {email}?" in form.inner_text()
    page.expected_console_errors.append("status of 400 (BAD REQUEST)")
    form.locator("button", has_text="Other reason").click()  # no reason yet: refused
    page.wait_for_selector("form[data-step-form='deactivate'] .form-error.d-block")
    assert "reason" in form.locator(".form-error").inner_text()
    form.locator("textarea[name=detail]").fill("Posted <b>links</b> in every chat")
    page.screenshot(path=str(tmp_path / "confirm.png"))
    form.locator("button", has_text="Spam or bot account").click()
    page.wait_for_selector("#user-dialog .field-reason")
    dialog = page.locator("#user-dialog")
    assert dialog.locator(".field-status").inner_text() == "Deactivated"
    assert dialog.locator(".field-reason").inner_text() == (
        "Spam or bot account: Posted <b>links</b> in every chat"
    )
    assert dialog.locator(".field-deactivated-by").inner_text() == "admin@example.com"
    assert "is deactivated" in dialog.locator(".dialog-feedback").inner_text()
    assert row_status(page, user_id) == "Deactivated"  # the row, without a reload
    page.click("[data-step='reactivate']")
    reactivate = page.locator("form[data-step-form='reactivate']")
    assert f"Reactivate {email}?" in reactivate.inner_text()
    reactivate.locator("textarea[name=note]").fill("appeal accepted")
    reactivate.locator("button[type=submit]").click()
    page.wait_for_selector("#user-dialog [data-step='deactivate']")
    assert page.locator("#user-dialog .field-status").inner_text() == "Active"
    assert row_status(page, user_id) == "Active"
    page.click("#user-tab-audit-link")
    page.wait_for_selector("#user-tab-audit tr.audit-row")
    newest = page.locator("#user-tab-audit tr.audit-row").first.inner_text()
    assert "admin.reactivate" in newest and "appeal accepted" in newest


def test_bulk_deactivation_with_a_row_loaded_by_scrolling(admin_page, tmp_path):
    page = admin_page
    page.goto("/admin/users/")
    rows = page.locator("tr.user-row")
    page.mouse.wheel(0, 20000)
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length > 30")
    picked = [rows.nth(n) for n in (1, 4, 40)]  # the last was loaded by scrolling
    ids = [row.get_attribute("data-user-id") for row in picked]
    already = sum(row.locator("td.col-status").inner_text() == "Deactivated" for row in picked)
    for row in picked:
        row.locator(".action-checkbox").check()
    assert page.locator(".selected-count").inner_text() == "3"
    page.click("#bulk-deactivate")
    page.wait_for_selector("#bulk-dialog.show")
    assert "Deactivate 3 users" in page.locator("#bulk-dialog").inner_text()
    page.screenshot(path=str(tmp_path / "bulk.png"))
    page.click("#bulk-dialog button:has-text('Abuse or harmful behaviour')")
    page.wait_for_selector("#bulk-dialog", state="hidden")
    feedback = page.locator(".bulk-feedback").inner_text()
    assert f"Deactivated {3 - already} user" in feedback
    for user_id in ids:
        assert row_status(page, user_id) == "Deactivated"
    assert page.locator(".action-checkbox:checked").count() == 0


def test_export_and_erase_through_the_dialog(admin_page, browser_app, tmp_path):
    import json

    from admin_users import service

    page = admin_page
    with browser_app.app_context():
        user = service.register("leaving@example.com")
        service.update_profile(user, first_name="Lea", city="Porto")
        chat = service.start_chat(user)
        service.add_message(chat, "user", "please forget me")
        service.request_deletion(user)
        user_id = user.id
    page.goto("/admin/users/?pending=1")
    assert page.locator("tr.user-row").count() == 1
    page.click(f"tr.user-row[data-user-id='{user_id}'] td.col-user")
    page.wait_for_selector("#user-dialog.show .data-request.pending")
    with page.expect_download() as download_info:
        page.click("#user-dialog .export-form button")
    exported = json.loads(Path(download_info.value.path()).read_text())
    assert exported["user"]["email"] == "leaving@example.com"
    assert exported["chats"][0]["messages"][0]["content"] == "please forget me"

    page.click("[data-step='erase']")
    form = page.locator("form[data-step-form='erase']")
    page.expected_console_errors.append("status of 400 (BAD REQUEST)")
    form.locator("input[name=confirm]").fill("someone-else@example.com")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("form[data-step-form='erase'] .form-error.d-block")
    assert "Nothing was erased" in form.locator(".form-error").inner_text()
    form.locator("input[name=confirm]").fill("leaving@example.com")
    page.screenshot(path=str(tmp_path / "erase.png"))
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#user-dialog .dialog-feedback:has-text('is erased')")
    title = page.locator("#user-dialog .modal-title").inner_text()
    assert "Erased" in title and "leaving@example.com" not in title
    row = page.locator(f"tr.user-row[data-user-id='{user_id}']")
    assert "Erased" in row.inner_text() and "leaving@example.com" not in row.inner_text()
    assert page.locator("#user-dialog [data-step]").count() == 0  # nothing left to do


def test_bulk_deactivation_of_all_matching_behind_the_typed_number(admin_page, browser_app):
    page = admin_page  # the active users, more than one batch of them
    badge = page.locator(".status-filter [data-status='active'] .status-count")
    page.wait_for_function("() => document.querySelector('.users-page').dataset.matching")
    active = int(badge.inner_text().replace(",", ""))
    assert active > 30 and page.locator(".select-matching").is_hidden()
    page.check("#select-all")
    assert page.locator(".selection-scope").inner_text() == "30 of 30 loaded users selected"
    page.click(f".select-matching:has-text('Select all {active} matching')")
    assert page.locator(".selection-scope").inner_text() == f"All {active} matching users selected"
    page.click("#bulk-deactivate")
    page.wait_for_function("() => document.activeElement.id === 'bulk-count'")
    page.expected_console_errors.append("status of 409 (CONFLICT)")
    page.keyboard.type(str(active - 1))
    page.click("#bulk-dialog button:has-text('Spam or bot account')")
    page.wait_for_selector("#bulk-dialog .form-error.d-block")
    assert f"holds {active} users, not {active - 1}" in page.locator("#bulk-dialog").inner_text()
    page.fill("#bulk-count", str(active))
    page.click("#bulk-dialog button:has-text('Spam or bot account')")
    page.wait_for_selector("#bulk-dialog", state="hidden")
    assert f"Deactivated {active - 1} users" in page.locator(".bulk-feedback").inner_text()
    with browser_app.app_context():  # everyone but the admin, the rows not loaded too
        assert [u.email for u in iterate(ListQuery(status=Status.ACTIVE))] == ["admin@example.com"]


def test_actions_reuse_the_pages_csrf_token_and_renew_a_stale_one(admin_page):
    """A POST goes with the page's CSRF token, without asking for one first; a token the
    server refuses (expired, or the admin signed in anew elsewhere) is renewed once."""
    page = admin_page
    asked = []
    page.on(
        "request",
        lambda r: (
            asked.append(f"{r.method} {r.url.split('/admin/users/')[1]}")
            if r.method == "POST" or r.url.endswith("/csrf-token")
            else None
        ),
    )
    page.evaluate("document.querySelector('.users-page').dataset.csrfToken = 'stale'")
    row = page.locator("tr.user-row").nth(1)
    user_id = row.get_attribute("data-user-id")
    row.locator("td.col-user").click()
    page.wait_for_selector("#user-dialog.show [data-step='deactivate']")
    page.click("[data-step='deactivate']")
    page.expected_console_errors.append("status of 400 (BAD REQUEST)")
    page.click("form[data-step-form='deactivate'] button:has-text('Spam or bot account')")
    page.wait_for_selector("#user-dialog .field-reason")
    deactivate = f"POST {user_id}/deactivate"
    assert asked == [deactivate, "GET csrf-token", deactivate]
    asked.clear()
    page.click("[data-step='reactivate']")
    page.click("form[data-step-form='reactivate'] button[type=submit]")
    page.wait_for_selector("#user-dialog [data-step='deactivate']")
    assert asked == [f"POST {user_id}/reactivate"]  # the renewed token, kept
    assert row_status(page, user_id) == "Active"
