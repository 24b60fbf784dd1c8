"""The Users page in a real browser: rows, infinite scroll, search, sort, filter."""

from __future__ import annotations

import pytest
from helpers import open_as_admin

from admin_users.listing import ListQuery, iterate


@pytest.fixture
def admin_page(page, browser_app):
    return open_as_admin(page, browser_app, users=200, path="/admin/users/")


def user_ids(page):
    return page.locator("tr.user-row").evaluate_all("rows => rows.map(r => r.dataset.userId)")


def test_infinite_scroll_loads_30_at_a_time(admin_page, tmp_path):
    page = admin_page
    rows = page.locator("tr.user-row")
    assert rows.count() == 30
    first = rows.first.locator("td.col-created time")
    assert "ago" in first.inner_text() or first.inner_text() == "now"
    assert first.get_attribute("title")  # the exact time, in the browser's zone
    for expected in (60, 90):
        page.mouse.wheel(0, 20000)
        page.wait_for_function(
            f"() => document.querySelectorAll('tr.user-row').length >= {expected}"
        )
    ids = user_ids(page)
    assert len(ids) == len(set(ids)) >= 90
    assert page.locator("tr.user-row time[data-shown]").count() == 2 * len(ids)
    page.screenshot(path=str(tmp_path / "scrolled.png"), full_page=True)


def test_scrolling_to_the_end_shows_the_end(admin_page):
    page = admin_page
    for _ in range(12):
        page.mouse.wheel(0, 50000)
        page.wait_for_timeout(150)
    page.wait_for_selector("#list-end:not([hidden])")
    assert page.locator("tr.user-row").count() == 201


def test_search_by_enter_and_by_button(admin_page, tmp_path):
    page = admin_page
    box = page.locator("input.users-search")
    box.fill("EXÄMPLE.DE")
    box.press("Enter")
    page.wait_for_url("**q=EX%C3%84MPLE.DE**")
    users = page.locator("tr.user-row td.col-user").all_inner_texts()
    assert users and all("exämple.de" in u.casefold() for u in users)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.status-count')].every(b => b.textContent !== '')"
    )
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)
    box = page.locator("input.users-search")
    box.fill("cus_")
    page.click("button:has-text('Search')")
    page.wait_for_url("**q=cus_**")
    assert page.locator("tr.user-row td.col-customer-id", has_text="cus_").count() == (
        page.locator("tr.user-row").count()
    )
    box = page.locator("input.users-search")
    box.fill("no such user anywhere")
    box.press("Enter")
    page.wait_for_selector(".users-empty")
    page.click("text=Clear the search")
    page.wait_for_selector("tr.user-row")


def test_search_answers_in_place(admin_page, browser_app):
    page = admin_page
    first_id = user_ids(page)[0]
    with browser_app.app_context():
        expected = [str(u.id) for u in iterate(ListQuery(search="example"))]
    assert len(expected) > 60  # more than two batches: scrolling goes on within the search
    page.evaluate("window.notReloaded = true")
    box = page.locator("input.users-search")
    box.fill("example")
    box.press("Enter")
    page.wait_for_url("**q=example**")
    assert page.evaluate("window.notReloaded") is True
    assert user_ids(page) == expected[:30]
    page.wait_for_function(
        "() => [...document.querySelectorAll('.status-count')].every(b => b.textContent !== '')"
    )
    counts = page.locator("[data-status] .status-count").all_inner_texts()
    assert sum(int(c.replace(",", "")) for c in counts) == len(expected)
    assert page.locator(".status-count[data-total]").inner_text() == f"{len(expected):,}"
    assert page.locator(".sort-form[data-sort='chats'] input[name=q]").input_value() == "example"
    for _ in range(12):
        page.mouse.wheel(0, 50000)
        page.wait_for_timeout(150)
    page.wait_for_selector("#list-end:not([hidden])")
    assert user_ids(page) == expected
    page.go_back()  # in place too: the list of the address before
    page.wait_for_function("() => document.querySelector('input.users-search').value === ''")
    assert "q=" not in page.url and page.evaluate("window.notReloaded") is True
    assert user_ids(page)[0] == first_id and len(user_ids(page)) == 30


def test_sort_header_clicked_twice(admin_page):
    page = admin_page
    page.click(".sort-form[data-sort='chats'] button")
    page.wait_for_url("**sort=chats**desc=1**")
    counts = [int(c) for c in page.locator("td.col-chats").all_inner_texts()]
    assert counts == sorted(counts, reverse=True)
    assert page.locator("th[aria-sort='descending'] .fa-chevron-down").count() == 1
    page.click(".sort-form[data-sort='chats'] button")
    page.wait_for_url("**sort=chats**desc=0**")
    counts = [int(c) for c in page.locator("td.col-chats").all_inner_texts()]
    assert counts == sorted(counts)
    assert page.locator("th[aria-sort='ascending'] .fa-chevron-up").count() == 1
    page.mouse.wheel(0, 20000)
    page.wait_for_function("() => document.querySelectorAll('tr.user-row').length >= 60")
    counts = [int(c) for c in page.locator("td.col-chats").all_inner_texts()]
    assert counts == sorted(counts)


def test_status_filter_with_counts(admin_page):
    page = admin_page
    badge = page.locator(".status-filter [data-status='guest'] .status-count")
    page.wait_for_function(
        "() => document.querySelector(\".status-filter [data-status='guest'] .status-count\")"
        ".textContent !== ''"
    )
    guests = int(badge.inner_text().replace(",", ""))
    badges = page.locator("[data-status] .status-count").all_inner_texts()
    total = page.locator(".status-count[data-total]").inner_text()
    assert int(total) == sum(map(int, badges)) == 201  # the counts kept: 200 and the admin
    page.click(".status-filter [data-status='guest']")
    page.wait_for_url("**status=guest**")
    statuses = set(page.locator("tr.user-row td.col-status").all_inner_texts())
    assert statuses == {"Guest"}
    for _ in range(4):
        page.mouse.wheel(0, 50000)
        page.wait_for_timeout(150)
    page.wait_for_selector("#list-end:not([hidden])")
    assert page.locator("tr.user-row").count() == guests
