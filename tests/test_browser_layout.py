"""What an admin sees while the page works: a failing network that does not loop, the
loading indicator, narrow screens without sideways scrolling, sticky headers and times
that stay true."""

from __future__ import annotations

import pytest
from helpers import open_as_admin


@pytest.fixture
def admin_page(page, browser_app):
    return open_as_admin(page, browser_app, users=200, path="/admin/users/")


@pytest.mark.parametrize("fault", ["500", "cut"])
def test_a_failing_batch_is_tried_3_times_then_waits_for_retry(admin_page, fault):
    page, asked = admin_page, []

    def failing(route):
        asked.append(route.request.url)
        if fault == "500":
            route.fulfill(status=500, body="down")
        else:
            route.abort("connectionreset")

    page.expected_console_errors += ["500", "ERR_CONNECTION_RESET"]
    page.route("**/admin/users/batch?*", failing)
    page.mouse.wheel(0, 20000)
    page.wait_for_selector("#load-error:not([hidden])")
    assert len(asked) == 3
    for _ in range(5):  # scrolling on asks for nothing more; the message stays
        page.mouse.wheel(0, 5000)
        page.mouse.wheel(0, -5000)
    assert page.locator("#load-error").is_visible() and len(asked) == 3
    page.click("#load-retry")  # still failing: three more, and the message again
    page.wait_for_selector("#load-error:not([hidden])")
    assert len(asked) == 6
    page.unroute("**/admin/users/batch?*")
    page.click("#load-retry")
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length >= 60")
    assert page.locator("#load-error").is_hidden()


def test_a_slow_batch_shows_loading_then_the_rows(admin_page):
    page, held = admin_page, []
    page.route("**/admin/users/batch?*", lambda route: held.append(route))
    page.mouse.wheel(0, 20000)
    page.wait_for_selector("#list-loading:not([hidden])")
    assert page.locator("#load-more").is_hidden()
    held[0].continue_()
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length >= 60")
    page.unroute("**/admin/users/batch?*")


def test_a_failing_tab_is_tried_3_times(admin_page):
    page, asked = admin_page, []
    page.expected_console_errors.append("500")
    page.route(
        "**/admin/users/*/audit*", lambda route: (asked.append(1), route.fulfill(status=500))
    )
    page.locator("tr.user-row td.col-user").first.click()
    page.click("#user-dialog.show #user-tab-audit-link")  # Chats came with the dialog
    page.wait_for_selector("#user-tab-audit .tab-error:not([hidden])")
    assert len(asked) == 3 and page.locator("#user-tab-audit .tab-retry").is_visible()


def horizontal_overflow(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize(
    "width, shown",
    [
        (1280, ["User", "Customer ID", "Status", "Chats", "Created", "Last Activity"]),
        (800, ["User", "Status", "Chats", "Last Activity"]),
        (375, ["User", "Status"]),
    ],
)
def test_narrow_screens_scroll_only_down(admin_page, width, shown, tmp_path):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/admin/users/")
    assert horizontal_overflow(page) <= 0
    headers = page.locator("thead th.column-header:visible").all_inner_texts()
    assert [h.strip() for h in headers] == shown
    table = page.locator("table.users-list").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= width
    page.screenshot(path=str(tmp_path / f"list-{width}.png"))
    page.locator("tr.user-row td.col-user").first.click()
    page.wait_for_selector("#user-dialog.show .user-info")
    dialog = page.locator("#user-dialog .modal-content").bounding_box()
    if width < 992:  # the dialog fills the width, less a margin
        assert dialog["width"] >= width - 32
    assert horizontal_overflow(page) <= 0


def test_the_column_headers_stay_in_view(admin_page):
    page = admin_page
    page.mouse.wheel(0, 3000)
    page.wait_for_function("() => window.scrollY > 1000")
    top = page.locator("thead th.col-user").bounding_box()["y"]
    assert -1 <= top <= 1  # still in view, at the top


def test_the_dialog_tabs_stay_in_view(admin_page, browser_app):
    from admin_users import service

    page = admin_page
    with browser_app.app_context():
        user = service.register("chatty@example.com")
        for n in range(40):
            service.start_chat(user, title=f"chat {n}")
        user_id = user.id
    page.goto(f"/admin/users/?user={user_id}")
    page.wait_for_function(
        "() => document.querySelectorAll('#user-tab-chats tr.chat-row').length >= 30"
    )
    body = page.locator("#user-dialog .modal-body")
    body.evaluate("node => { node.scrollTop = node.scrollHeight; }")
    page.wait_for_function(
        "() => document.querySelector('#user-dialog .modal-body').scrollTop > 500"
    )
    tabs, top = page.locator("#user-dialog .user-tabs").bounding_box(), body.bounding_box()["y"]
    assert top <= tabs["y"] <= top + 16  # at the top of what shows, within its padding


def test_relative_times_refresh_each_minute(page, browser_app):
    from admin_users import service

    page.clock.install()
    page = open_as_admin(page, browser_app, users=5, path="/admin/users/")
    with browser_app.app_context():
        service.register("just-now@example.com")  # the newest: the first row
    page.reload()
    shown = "() => document.querySelector('tr.user-row td.col-created time').textContent"
    assert page.evaluate(shown) in ("now", "1 second ago", "2 seconds ago")
    page.clock.fast_forward("02:00")
    page.wait_for_function(f"() => ({shown})() === '2 minutes ago'")
