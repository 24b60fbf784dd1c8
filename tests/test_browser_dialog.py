"""The detail dialog in a real browser: open, tabs, scrolling tabs, close, deep link, back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import sign_in
from sqlalchemy import insert

from admin_users.models import utcnow


@pytest.fixture
def admin_page(page, browser_app):
    from admin_users import service

    db = browser_app.extensions["sqlalchemy"]
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
    page.wait_for_function("() => !location.search.includes('user=')")
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
    page.wait_for_function(
        "() => document.querySelectorAll('#user-tab-audit tr.audit-row').length >= 30"
    )
    dialog.locator("#user-tab-audit tr.audit-row").nth(29).scroll_into_view_if_needed()
    page.wait_for_function(
        "() => document.querySelectorAll('#user-tab-audit tr.audit-row').length >= 60"
    )
    page.screenshot(path=str(tmp_path / "dialog.png"))
    actions = dialog.locator("#user-tab-audit td.col-action code").all_inner_texts()
    assert actions[:4] == ["profile.update", "register", "event.1", "event.2"]
    assert len(actions) == len(set(actions))
    page.keyboard.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function("() => !location.search.includes('user=')")


# Every fetch the page makes, as it makes it (before its answer).
LOG_FETCHES = """window.__fetched = [];
const fetchOriginal = window.fetch;
window.fetch = function (input) {
    window.__fetched.push(new URL(String(input), location.href).pathname
        + new URL(String(input), location.href).search);
    return fetchOriginal.apply(this, arguments);
};"""


def test_the_first_tab_comes_with_the_dialog_and_a_tab_asks_as_it_is_chosen(
    admin_page, browser_app
):
    page = admin_page
    db = browser_app.extensions["sqlalchemy"]
    models = browser_app.extensions["admin_users"].models
    with browser_app.app_context():
        now = utcnow()
        rows = [
            {"user_id": page.busy_id, "title": f"chat {n}", "message_count": 1,
             "created_at": now - timedelta(minutes=n)}
            for n in range(35)
        ]  # fmt: skip
        db.session.execute(insert(models.Chat), rows)
        db.session.commit()
    page.add_init_script(LOG_FETCHES)
    page.goto(f"/admin/users/?user={page.busy_id}")
    page.wait_for_selector("#user-dialog.show .user-info")
    chats = page.locator("#user-tab-chats tr.chat-row")
    # The dialog's answer held the Chats tab's first 30 rows: shown with it, not asked for.
    assert chats.count() == 30
    assert chats.first.locator("td.col-title").inner_text() == "chat 0"
    assert page.locator("#user-tab-chats .tab-more").is_visible()  # more to come
    assert page.locator("#user-tab-chats template").count() == 0
    mine = f"() => window.__fetched.filter((f) => f.startsWith('/admin/users/{page.busy_id}'))"
    assert page.evaluate(mine) == [f"/admin/users/{page.busy_id}"]
    chats.nth(29).scroll_into_view_if_needed()  # then the next ones, as before
    page.wait_for_function(
        "() => document.querySelectorAll('#user-tab-chats tr.chat-row').length === 35"
    )
    assert page.locator("#user-tab-chats .tab-more").is_hidden()
    after = page.evaluate(mine)[1:]
    assert [f.split("?")[0] for f in after] == [f"/admin/users/{page.busy_id}/chats"]
    assert "cursor=" in after[0]
    # Audit Logs asks for its rows as it is chosen, before its pane is shown.
    asked_before_shown = page.evaluate(
        """() => new Promise((resolve) => {
            window.jQuery('#user-tab-audit-link').one('shown.bs.tab',
                () => resolve(window.__fetched.some((f) => f.includes('/audit'))));
            document.getElementById('user-tab-audit-link').click();
        })"""
    )
    assert asked_before_shown
    page.wait_for_selector("#user-tab-audit tr.audit-row")
    assert sum("/audit" in f for f in page.evaluate("window.__fetched")) == 1


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
    page.wait_for_function("() => !location.search.includes('user=')")
    assert page.evaluate("document.activeElement.dataset.userId") == user_id


def test_deep_link_and_back_button(admin_page, server):
    page = admin_page
    page.goto(f"/admin/users/?sort=email&user={page.busy_id}")
    page.wait_for_selector("#user-dialog.show .user-info")
    assert page.locator("#user-dialog .field-email").inner_text() == "busy@example.com"
    page.keyboard.press("Escape")
    page.wait_for_selector("#user-dialog", state="hidden")
    page.wait_for_function("() => !location.search.includes('user=')")
    assert "sort=email" in page.url
    open_dialog_of(page, page.busy_id)
    page.go_back()
    page.wait_for_selector("#user-dialog", state="hidden")
    assert "user=" not in page.url
    page.go_forward()
    page.wait_for_selector("#user-dialog.show .user-info")


# Bootstrap's modal fires hide.bs.modal as its fade-out starts and hidden.bs.modal after
# it (show.bs.modal and shown.bs.modal likewise for the fade-in). These scripts make a
# navigation from inside such an event's handler, so that it arrives in the middle of the
# transition on every run, and resolve once that transition has ended.
FORWARD_WHILE_HIDING = """() => new Promise((resolve) => {
    const $dialog = window.jQuery('#user-dialog');
    const seen = {forwardWhileHiding: false, hidden: false};
    $dialog.one('hide.bs.modal', () => {
        window.addEventListener('popstate', () => {
            seen.forwardWhileHiding = !seen.hidden && !$dialog.hasClass('show');
        }, {once: true});
        window.history.forward();
    });
    $dialog.one('hidden.bs.modal', () => {
        seen.hidden = true;
        seen.search = location.search;
        resolve(seen);
    });
    window.history.back();
})"""

# Back, or Escape (as the key's listener gets it), as the fade-in starts.
CLOSE_WHILE_SHOWING = """(how) => {
    const $dialog = window.jQuery('#user-dialog');
    $dialog.one('show.bs.modal', () => {
        if (how === 'back') window.history.back();
        else document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
    });
    window.dialogHidden = new Promise((resolve) => $dialog.one('hidden.bs.modal', resolve));
}"""

# Resolves after the dialog's next hidden.bs.modal; a new show would have begun by then.
BACK_UNTIL_HIDDEN = """() => new Promise((resolve) => {
    window.jQuery('#user-dialog').one('hidden.bs.modal', () => resolve({
        search: location.search,
        reopening: document.body.classList.contains('modal-open'),
    }));
    window.history.back();
})"""


def test_forward_while_the_dialog_is_still_closing(admin_page):
    page = admin_page
    open_dialog_of(page, page.busy_id)
    seen = page.evaluate(FORWARD_WHILE_HIDING)  # Back, then Forward during the fade-out
    assert seen["forwardWhileHiding"], seen  # the race was run, not missed
    assert seen["search"] == f"?user={page.busy_id}"  # the fade-out's end kept Forward's URL
    page.wait_for_selector("#user-dialog.show .user-info", timeout=5000)
    dialog = page.locator("#user-dialog")
    assert dialog.locator(".modal-body").get_attribute("data-user-id") == str(page.busy_id)
    assert dialog.locator(".field-email").inner_text() == "busy@example.com"
    assert page.url.endswith(f"/admin/users/?user={page.busy_id}")
    assert page.evaluate(BACK_UNTIL_HIDDEN) == {"search": "", "reopening": False}
    assert page.locator("#user-dialog").is_hidden()
    assert "user=" not in page.url


@pytest.mark.parametrize("how", ["back", "escape"])
def test_closing_while_the_dialog_is_still_opening(admin_page, how):
    page = admin_page
    page.evaluate(CLOSE_WHILE_SHOWING, how)
    page.click(f"tr.user-row[data-user-id='{page.busy_id}'] td.col-user")
    page.evaluate("window.dialogHidden")  # shown, then closed at once
    page.wait_for_function("() => !location.search.includes('user=')")
    assert not page.evaluate("document.body.classList.contains('modal-open')")
    assert page.locator("#user-dialog").is_hidden()
    page.go_forward()  # the entry the click pushed is still there
    page.wait_for_selector("#user-dialog.show .user-info")
    assert f"user={page.busy_id}" in page.url


def test_deep_link_to_an_unknown_user(admin_page):
    page = admin_page
    page.expected_console_errors.append("status of 404 (NOT FOUND)")
    response = page.goto("/admin/users/?user=987654")
    assert response.status == 404
    page.wait_for_selector("#user-dialog.show .dialog-message:has-text('no such user')")
