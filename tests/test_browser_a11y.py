"""Accessibility, checked by axe-core (from the axe-playwright-python package, nothing from
a CDN) in the browser: no serious or critical violation on any page of the extension, in
each state an admin reaches."""

from __future__ import annotations

import pytest
from helpers import open_as_admin, skip_or_fail


def serious(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        skip_or_fail("axe-playwright-python is not installed")
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']][:5]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def admin_page(page, browser_app):
    return open_as_admin(page, browser_app, users=60, path="/admin/users/")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/",
        "/admin/users/?status=deactivated",
        "/admin/users/?pending=1",
        "/admin/users/?q=nobody-matches-this",
        "/admin/users/?q=nobody&status=guest&pending=1",
        "/admin/users/?sort=email&desc=0",
        "/admin/app-config/",
    ],
)
def test_list_states_and_app_config(admin_page, path):
    page = admin_page
    page.goto(path)
    page.wait_for_selector("html[lang=en]")
    assert serious(page) == []


def test_the_list_without_users(page, browser_app):
    page = open_as_admin(page, browser_app, users=0, path="/admin/users/?status=guest")
    assert page.locator(".users-empty").is_visible()
    assert serious(page) == []


def open_dialog(page):
    page.locator("tr.user-row td.col-user").nth(1).click()  # not the admin's own
    page.wait_for_selector("#user-dialog.show .user-info")


def test_the_dialog_each_tab_and_each_step(admin_page):
    page = admin_page
    page.goto("/admin/users/?status=active")
    open_dialog(page)
    page.wait_for_selector("#user-tab-chats .tab-rows tr, #user-tab-chats .tab-empty:not([hidden])")
    assert serious(page) == []
    page.click("#user-tab-audit-link")
    page.wait_for_selector("#user-tab-audit .tab-rows tr, #user-tab-audit .tab-empty:not([hidden])")
    assert serious(page) == []
    for step in ("deactivate", "erase"):
        page.click(f"#user-dialog [data-step='{step}']")
        assert serious(page) == [], step
        page.click(f"form[data-step-form='{step}'] [data-cancel]")
    page.click("#user-dialog [data-step='deactivate']")
    page.click("form[data-step-form='deactivate'] button[value='Spam or bot account']")
    page.wait_for_selector("#user-dialog [data-step='reactivate']")
    page.click("#user-dialog [data-step='reactivate']")
    assert serious(page) == []


def test_the_bulk_dialog(admin_page):
    page = admin_page
    page.locator("tr.user-row .action-checkbox").first.check()
    page.click("#bulk-deactivate")
    page.wait_for_selector("#bulk-dialog.show")
    assert serious(page) == []


def test_the_sign_in_pages(page, browser_app):
    from admin_users import service

    with browser_app.app_context():
        link = service.login_link_url(service.register("visitor@example.com"))
    for path in ("/register", "/login", link):
        page.goto(path)
        assert serious(page) == [], path
