"""The Users page by keyboard and by mouse: the shortest paths to deactivate a user found
by part of their email, counted, and where the focus lands after each step."""

from __future__ import annotations

import pytest
from helpers import open_as_admin

from admin_users import service

REASON = "Spam or bot account"


@pytest.fixture
def admin_page(page, browser_app):
    page = open_as_admin(page, browser_app, users=90, path="/admin/users/")
    with browser_app.app_context():
        service.register("needle.haystack@example.org")
    return page


class Keys:
    """The page's keyboard, counting the key presses (typed text is not counted)."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def press(self, key):
        self.count += 1
        self.page.keyboard.press(key)

    def type(self, text):
        self.page.keyboard.type(text)


def focused(page) -> str:
    """What has the focus: its tag, id, data-step or the row's user id."""
    return page.evaluate(
        """() => { const e = document.activeElement;
        return e.dataset.userId ? 'row ' + e.dataset.userId
             : e.id || (e.dataset.step && 'step ' + e.dataset.step) || e.value || e.tagName; }"""
    )


def deactivated_with(browser_app, email):
    with browser_app.app_context():
        user = service.find_user(email)
        return user.deactivated_at is not None and user.deactivation_reason


def test_find_and_deactivate_by_keyboard_in_10_keys(admin_page, browser_app):
    page, keys = admin_page, Keys(admin_page)
    page.locator("body").focus()
    keys.press("/")
    assert focused(page) == "INPUT" and page.locator("input.users-search").evaluate(
        "e => e === document.activeElement"
    )
    keys.type("haystack")
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length === 1")
    row_id = page.locator("tr.user-row").get_attribute("data-user-id")
    keys.press("ArrowDown")
    assert focused(page) == f"row {row_id}"
    keys.press("Enter")
    page.wait_for_function("() => document.activeElement.dataset.step === 'deactivate'")
    keys.press("Enter")
    assert focused(page) == "Abuse or harmful behaviour"  # the first reason's button
    keys.press("Tab")
    assert focused(page) == REASON
    keys.press("Enter")
    page.wait_for_selector("#user-dialog .field-reason")
    page.wait_for_function("() => document.activeElement.classList.contains('dialog-close')")
    keys.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function(f"() => document.activeElement.dataset.userId === '{row_id}'")
    assert keys.count <= 10, keys.count
    assert deactivated_with(browser_app, "needle.haystack@example.org") == REASON
    assert "Deactivated" in page.locator(f"tr.user-row[data-user-id='{row_id}']").inner_text()


def test_find_and_deactivate_by_mouse_in_4_clicks(admin_page, browser_app):
    page, clicks = admin_page, []

    def click(selector):
        clicks.append(selector)
        page.click(selector)

    click("input.users-search")
    page.keyboard.type("needle")
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length === 1")
    click("tr.user-row td.col-user")
    click("#user-dialog [data-step='deactivate']")
    click(f"form[data-step-form='deactivate'] button[value='{REASON}']")
    page.wait_for_selector("#user-dialog .field-reason")
    assert len(clicks) <= 4
    assert deactivated_with(browser_app, "needle.haystack@example.org") == REASON


def test_rows_tabs_and_focus_by_keyboard(admin_page):
    page = admin_page
    page.goto("/admin/users/?status=active")  # the admin first, then users they can act on
    ids = page.locator("tr.user-row").evaluate_all("rows => rows.map(r => r.dataset.userId)")
    page.locator("body").focus()
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")
    assert focused(page) == f"row {ids[0]}"
    for key, expected in (("ArrowDown", ids[1]), ("ArrowDown", ids[2]), ("ArrowUp", ids[1])):
        page.keyboard.press(key)
        assert focused(page) == f"row {expected}"
    page.keyboard.press("End")
    assert focused(page) == f"row {ids[-1]}"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowUp")  # above the first row: the search box
    assert focused(page) == "INPUT"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.closest('.dialog-actions') !== null")
    page.evaluate("document.querySelector('input.users-search').focus()")  # outside it
    assert page.evaluate("document.getElementById('user-dialog').contains(document.activeElement)")
    page.focus("#user-tab-chats-link")
    page.keyboard.press("ArrowRight")
    assert focused(page) == "user-tab-audit-link"
    assert page.locator("#user-tab-audit.active").is_visible()  # at once: no fade
    assert page.get_attribute("#user-tab-audit-link", "aria-selected") == "true"
    assert page.get_attribute("#user-tab-chats-link", "tabindex") == "-1"
    page.keyboard.press("Home")
    assert focused(page) == "user-tab-chats-link"
    page.keyboard.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function(f"() => document.activeElement.dataset.userId === '{ids[0]}'")
    page.keyboard.press("ArrowDown")  # a user who is not the admin: the steps
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.dataset.step === 'deactivate'")
    page.click("#user-dialog [data-step='erase']")
    assert focused(page) == "erase-confirm"
    page.click("form[data-step-form='erase'] [data-cancel]")
    assert focused(page) == "step erase"


def test_escape_in_the_search_box_clears_the_search(admin_page):
    page = admin_page
    box = page.locator("input.users-search")
    box.fill("haystack")
    box.press("Enter")
    page.wait_for_url("**q=haystack**")
    assert page.locator("tr.user-row").count() == 1
    box.press("Escape")
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length === 30")
    assert "q=" not in page.url and box.input_value() == ""
    assert box.evaluate("e => e === document.activeElement")


def test_sort_keeps_the_focus_on_its_button(admin_page):
    page = admin_page
    page.evaluate("window.notReloaded = true")
    button = page.locator(".sort-form[data-sort='chats'] button")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=chats**")
    page.wait_for_function(
        "() => document.activeElement.closest('.sort-form')?.dataset.sort === 'chats'"
    )
    assert page.evaluate("window.notReloaded") is True
    assert page.get_attribute("th.col-chats", "aria-sort") == "descending"
    page.keyboard.press("Space")
    page.wait_for_url("**sort=chats&desc=0**")
    page.go_back()
    sorted_by_chats = "() => document.querySelector('th.col-chats').getAttribute('aria-sort')"
    page.wait_for_function(f"() => ({sorted_by_chats})() === 'descending'")
    page.go_back()
    page.wait_for_function(f"() => ({sorted_by_chats})() === null")
    assert page.evaluate("window.notReloaded") is True
