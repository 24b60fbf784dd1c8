"""The demo served by gunicorn with four workers on loopback, as in production: what must
hold across processes."""

from __future__ import annotations

import urllib.parse

import pytest
from helpers import demo_app

from bench.load import _http, admin_races, link_race, serve

pytestmark = pytest.mark.slow  # gunicorn and its four workers start for each test

SECRET = "gunicorn test"


@pytest.fixture
def served(database_url):
    """(app, base URL): the demo on ``database_url``, served by 4 gunicorn workers."""
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET}
    with demo_app(config) as app, serve(database_url, SECRET) as base:
        yield app, base


def test_one_link_redeemed_at_once_signs_in_once(served):
    """Twelve browsers press one link's Sign-in button at the same moment, four links in
    a row: one sign-in, one session and one ``login`` entry each; every other browser is
    told the link was used."""
    race = link_race(*served, links=4, racers=12)
    assert race["answers"] == {"signed in": 4, "told the link was used": 44}
    assert race["sessions and logins per link"] == [(1, 1)] * 4


def test_the_throttle_counts_across_workers(served):
    _, base = served
    _, cookie, page = _http(base, "GET", "/login")
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    body = urllib.parse.urlencode({"email": "someone@example.com", "csrf_token": token})
    statuses = [_http(base, "POST", "/login", body, cookie)[0] for _ in range(8)]
    assert statuses == [302] * 5 + [429] * 3  # one count, whichever worker answered


def test_state_changes_raced_happen_once_and_erasure_holds(served):
    """Two admins deactivating one user at once; an erasure against a deactivation; an
    erasure while the user sends six messages at once: five rounds of each."""
    race = admin_races(*served, rounds=5)
    assert all(200 <= status < 500 for status in race["answers"]), race
    assert race["users with doubled or missing admin.deactivate"] == 0
    assert race["erasures overwritten or followed by a deactivation"] == 0
    assert race["texts kept after an erasure"] == 0
    assert race["status counts off a recount"] == 0  # kept in the racing transactions
