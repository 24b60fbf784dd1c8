"""Search, sort, filter and keyset scrolling of Admin > Users, against oracles written here."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

import pytest
from helpers import offsets_or_counts, recorded_sql
from sqlalchemy import text

from admin_users import counters
from admin_users.models import Status, utcnow
from admin_users.planner import PlanSettings

STATUS_RANK = {"active": 0, "unconfirmed": 1, "deactivated": 2, "guest": 3}
SORT_ARGS = ["email", "status", "chats", "created", "last_activity"]


def oracle_status(u) -> str:
    if u["deactivated"]:
        return "deactivated"
    if not u["email"]:
        return "guest"
    return "active" if u["confirmed"] else "unconfirmed"


def as_read(identifier: str) -> str:
    """The identifier as people read it, for this file's emails: accents and case dropped."""
    letters = unicodedata.normalize("NFD", identifier)
    return "".join(c for c in letters if not unicodedata.combining(c)).casefold()


ORACLE_KEYS = {
    "email": lambda u: as_read(u["email"] or u["guest_id"]),
    "status": lambda u: STATUS_RANK[oracle_status(u)],
    "chats": lambda u: u["chats"],
    "created": lambda u: u["created"],
    "last_activity": lambda u: u["last"],
}


def oracle_order(users, sort, desc, keep=lambda u: True):
    chosen = [u for u in users if keep(u)]
    return [
        u["id"] for u in sorted(chosen, key=lambda u: (ORACLE_KEYS[sort](u), u["id"]), reverse=desc)
    ]


EMAILS = [
    "alice@example.com",
    "Bob@Example.com",
    "bob.b@example.com",
    "ÄRGER@example.de",
    "ärmel@example.de",
    "zoë@example.com",
    "Zed@example.com",
    "a_b@example.com",
    "axb@example.com",
    "50%off@example.com",
    "500@example.com",
    "back\\slash@example.com",
    "backxslash@example.com",
    "émile@example.fr",
    "Emile@example.fr",
    "0day@example.com",
]


@pytest.fixture
def people(app, models, db):
    """A mixed population with ties on every sort; returns plain dicts (the oracle's view)."""
    base = utcnow().replace(microsecond=0) - timedelta(days=30)
    users = []
    with app.app_context():
        admin = models.User(
            email="admin@admin.test",
            is_admin=True,
            confirmed_at=base,
            created_at=base - timedelta(days=1),
            last_activity_at=base,
        )
        db.session.add(admin)
        for i in range(90):
            email = (
                EMAILS[i]
                if i < len(EMAILS)
                else (
                    None
                    if i % 5 == 0
                    else f"user{i % 37}.{i}@{'Example' if i % 2 else 'example'}.org"
                )
            )
            row = {
                "email": email,
                "guest_id": None if email else f"g-{100000000 + i * 7919:09d}",
                "customer_id": f"CUS-{i % 12:03d}" if i % 3 == 0 else None,
                "confirmed": i % 4 != 1,
                "deactivated": i % 9 == 4,
                "chats": i % 4,  # many ties
                "created": base + timedelta(hours=i // 3),  # ties of three
                "last": base + timedelta(hours=(i * 7) % 40, microseconds=0 if i % 2 else 500),
            }
            user = models.User(
                email=row["email"],
                guest_id=row["guest_id"],
                customer_id=row["customer_id"],
                confirmed_at=base if row["confirmed"] and email else None,
                deactivated_at=base if row["deactivated"] else None,
                chat_count=row["chats"],
                created_at=row["created"],
                last_activity_at=row["last"],
            )
            db.session.add(user)
            db.session.flush()
            row["id"] = user.id
            users.append(row)
        db.session.commit()
        admin_row = {
            "id": admin.id,
            "email": admin.email,
            "guest_id": None,
            "customer_id": None,
            "confirmed": True,
            "deactivated": False,
            "chats": 0,
            "created": base - timedelta(days=1),
            "last": base,
        }
    return {"admin": admin_row, "all": [admin_row, *users]}


SHORT_WALK = PlanSettings(probe_limit=0, scan_limit=7)
# How search reads: the trigram index where it helps (as in production), always a walk of
# the sort order, or a walk that stops every 7 rows (batches then come short). The app
# fixture is built with these settings.
every_strategy = pytest.mark.parametrize(
    "plan_settings",
    [
        pytest.param(PlanSettings(quick_walk=0), id="index"),  # straight to the index
        pytest.param(PlanSettings(probe_limit=0), id="walk"),  # no term counts as rare
        pytest.param(SHORT_WALK, id="short-walk"),
    ],
)


@pytest.fixture
def signed_in(client, auth, people):
    auth.login(people["admin"]["id"])
    return client


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="user-row" data-user-id="(\d+)"', html)]


def scroll(client, args: dict, *, between=None) -> list[int]:
    """Every row the admin sees: the page, then each batch the cursor leads to."""
    page = client.get("/admin/users/", query_string=args)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    ids = row_ids(html)
    found = re.search(r'data-cursor="([^"]+)"', html)
    cursor = found and found.group(1)
    while cursor:
        if between:
            between(len(ids))
        batch = client.get("/admin/users/batch", query_string={**args, "cursor": cursor})
        assert batch.status_code == 200
        ids += row_ids(batch.get_data(as_text=True))
        cursor = batch.headers["X-Next-Cursor"]
    return ids


@pytest.mark.parametrize("sort", SORT_ARGS)
@pytest.mark.parametrize("desc", ["0", "1"])
def test_each_sort_in_both_directions_matches_the_oracle(app, signed_in, people, sort, desc):
    app.config["ADMIN_USERS_PAGE_SIZE"] = 7  # many batch boundaries, inside tie groups too
    seen = scroll(signed_in, {"sort": sort, "desc": desc})
    assert seen == oracle_order(people["all"], sort, desc == "1")


def test_default_sort_is_newest_first(signed_in, people):
    assert scroll(signed_in, {}) == oracle_order(people["all"], "created", True)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ALICE", ["alice@example.com"]),
        ("bob", ["Bob@Example.com", "bob.b@example.com"]),
        ("ä", ["ÄRGER@example.de", "ärmel@example.de"]),
        ("Är", ["ÄRGER@example.de", "ärmel@example.de"]),
        ("a_b", ["a_b@example.com"]),
        ("50%", ["50%off@example.com"]),
        ("back\\s", ["back\\slash@example.com"]),
        ("ÉMILE", ["émile@example.fr"]),
        ("  zoë@  ", ["zoë@example.com"]),
        ("nothing-like-this", []),
    ],
)
@every_strategy
def test_search_is_one_literal_case_insensitive_substring(signed_in, people, term, expected):
    found = scroll(signed_in, {"q": term, "sort": "email", "desc": "0"})
    by_id = {u["id"]: u["email"] for u in people["all"]}
    assert sorted(by_id[i] for i in found) == sorted(expected)


@every_strategy
def test_search_by_partial_customer_id(signed_in, people):
    found = set(scroll(signed_in, {"q": "cus-00"}))
    expected = {
        u["id"]
        for u in people["all"]
        if u["customer_id"] and "cus-00" in u["customer_id"].casefold()
    }
    assert found == expected and len(expected) > 3


@pytest.mark.parametrize("sort", SORT_ARGS)
@every_strategy
def test_search_and_status_filter_with_every_sort(app, signed_in, people, sort):
    app.config["ADMIN_USERS_PAGE_SIZE"] = 5

    def keep(u):
        text = "\n".join(x.casefold() for x in (u["email"], u["customer_id"]) if x)
        return "example" in text and oracle_status(u) == "active"

    seen = scroll(signed_in, {"q": "Example", "status": "active", "sort": sort, "desc": "1"})
    assert seen == oracle_order(people["all"], sort, True, keep)


def test_spaces_inside_a_term_are_literal(app, signed_in, api):
    with app.app_context():
        api.set_customer_id(api.register("spaced@example.com"), "ACME Corp 7")
    assert len(scroll(signed_in, {"q": "acme corp"})) == 1
    assert scroll(signed_in, {"q": "acme  corp"}) == []


@pytest.mark.parametrize("sort", SORT_ARGS)
@pytest.mark.parametrize("desc", ["0", "1"])
def test_scrolling_shows_each_user_once_while_users_sign_up(
    app, signed_in, people, sort, desc, api
):
    before = {u["id"] for u in people["all"]}
    added = []

    def sign_ups(_shown):
        with app.app_context():
            for name in ("aaaa-first", "zzzz-last"):  # before and after the position
                added.append(api.register(f"{name}{len(added)}@example.com").id)

    seen = scroll(signed_in, {"sort": sort, "desc": desc}, between=sign_ups)
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    assert set(seen) <= before | set(added)


@pytest.mark.parametrize("desc", ["0", "1"])
def test_no_user_twice_when_last_activity_moves(app, signed_in, people, desc, api, db):
    def activity(_shown):
        with app.app_context():
            for u in people["all"][::7]:
                user = api.find_user(u["id"])
                if user.deactivated_at is None:  # a deactivated user does nothing
                    api.record_event(user, "login")
            db.session.commit()

    seen = scroll(signed_in, {"sort": "last_activity", "desc": desc}, between=activity)
    assert len(seen) == len(set(seen))
    unmoved = {u["id"] for u in people["all"][1:]} - {u["id"] for u in people["all"][::7]}
    assert unmoved <= set(seen)


@every_strategy
def test_batches_use_no_offset_and_no_count(app, signed_in, people, db, plan_settings):
    with app.app_context():
        engine = db.engine
    with recorded_sql(engine) as statements:
        for sort in SORT_ARGS:
            for args in ({"q": "example", "status": "active"}, {"q": "ex"}, {"q": "bob"}, {}):
                scroll(signed_in, {"sort": sort, **args})
    selects = [(s, p) for s, p in statements if "FROM USERS" in s]
    assert len(selects) > 10
    assert offsets_or_counts(selects, plan_settings.scan_limit) == []


@pytest.mark.parametrize("term", ["example", "ex", "bob", ""])
@every_strategy
def test_status_counts_for_the_current_search(signed_in, people, term, plan_settings):
    counts = signed_in.get("/admin/users/counts", query_string={"q": term}).get_json()
    expected = {key: 0 for key in STATUS_RANK}
    for u in people["all"]:
        if term in "\n".join(x.casefold() for x in (u["email"], u["customer_id"]) if x):
            expected[oracle_status(u)] += 1
    if plan_settings == SHORT_WALK and term:
        # Only 7 index entries of each status are read: a lower bound, and said so.
        for key, got in counts["counts"].items():
            assert got["count"] <= expected[key] and (got["more"] or got["count"] == expected[key])
    else:
        assert counts["counts"] == {k: {"count": n, "more": False} for k, n in expected.items()}


def test_status_counts_stop_at_the_cap(app, ctx, people):
    from admin_users.listing import ListQuery, status_counts

    state = app.extensions["admin_users"]
    every = counters.totals(state.db.session, state.models.StatusCount)
    counts = status_counts(ListQuery(), cap=10)  # no search: the counts kept, exact
    assert counts["active"] == {"count": every[Status.ACTIVE], "more": False} and (
        every[Status.ACTIVE] > 10
    )
    assert status_counts(ListQuery(search="example"), cap=10)["active"] == {
        "count": 10,
        "more": True,
    }
    assert status_counts(ListQuery(search="zoë"), cap=10)["unconfirmed"] == {
        "count": 1,
        "more": False,
    }


@pytest.mark.parametrize(
    "args",
    [
        {"sort": "password"},
        {"sort": "chats", "desc": "sideways"},
        {"sort": "", "desc": "1"},
        {"sort": "created", "desc": "x"},
    ],
)
def test_unknown_sort_or_direction_gives_the_default_sort(signed_in, people, args):
    assert scroll(signed_in, args) == oracle_order(people["all"], "created", True)


def first_cursor(client, args):
    html = client.get("/admin/users/", query_string=args).get_data(as_text=True)
    return re.search(r'data-cursor="([^"]+)"', html).group(1)


def test_bad_cursors_are_400(signed_in, people):
    cursor = first_cursor(signed_in, {"sort": "email"})
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for bad, args in [
        ("garbage", {"sort": "email"}),
        (tampered, {"sort": "email"}),
        (cursor, {"sort": "chats"}),  # another sort
        (cursor, {"sort": "email", "q": "bob"}),  # another search
        (cursor, {"sort": "email", "desc": "1"}),  # another direction
    ]:
        for url in ("/admin/users/batch", "/admin/users/"):
            response = signed_in.get(url, query_string={**args, "cursor": bad})
            assert response.status_code == 400, (bad, args, url)
            assert b"list position" in response.data


def test_search_longer_than_200_characters_is_400(signed_in, people):
    assert signed_in.get("/admin/users/", query_string={"q": "a" * 200}).status_code == 200
    for url in ("/admin/users/", "/admin/users/batch", "/admin/users/counts"):
        response = signed_in.get(url, query_string={"q": "a" * 201})
        assert response.status_code == 400 and b"200 characters" in response.data


def test_empty_states(app, client, auth, api, people):
    auth.login(people["admin"]["id"])
    html = client.get("/admin/users/", query_string={"q": "no-such-<b>"}).get_data(as_text=True)
    assert "No users match" in html and "no-such-&lt;b&gt;" in html
    assert "Clear the search" in html
    auth.logout()


def test_empty_state_without_users(app, client, auth, models, db):
    with app.app_context():
        admin = models.User(email="a@a.test", is_admin=True, confirmed_at=utcnow())
        db.session.add(admin)
        db.session.commit()
        admin_id = admin.id
    auth.login(admin_id)
    html = client.get("/admin/users/", query_string={"status": "guest"}).get_data(as_text=True)
    assert "No guest users" in html and "Show all users" in html


def test_end_of_list_and_load_more_without_javascript(app, signed_in, people):
    app.config["ADMIN_USERS_PAGE_SIZE"] = 40
    html = signed_in.get("/admin/users/").get_data(as_text=True)
    link = re.search(r'<a id="load-more" class="[^"]*" href="([^"]+)"', html).group(1)
    second = signed_in.get(link.replace("&amp;", "&"))
    assert second.status_code == 200
    ids = row_ids(html) + row_ids(second.get_data(as_text=True))
    assert len(ids) == 80 and len(set(ids)) == 80
    assert "Back to the top" in second.get_data(as_text=True)


def test_sort_headers_flip_and_show_the_direction(signed_in, people):
    html = signed_in.get("/admin/users/", query_string={"sort": "chats"}).get_data(as_text=True)
    assert 'aria-sort="descending"' in html and "fa-chevron-down" in html

    def sort_button(sort):  # the hidden fields of the header's form
        form = re.search(rf'<form [^>]*data-sort="{sort}">(.*?)</form>', html, re.S).group(1)
        return dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))

    assert sort_button("chats") == {"sort": "chats", "desc": "0"}
    assert sort_button("email") == {"sort": "email", "desc": "0"}


def test_cli_list_shares_the_query(app, runner, people):
    result = runner.invoke(args=["admin-users", "list", "--search", "BOB", "--sort", "email"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["bob.b@example.com", "Bob@Example.com"]
    limited = runner.invoke(args=["admin-users", "list", "--status", "guest", "--limit", "3"])
    assert len(limited.output.strip().splitlines()) == 3 and "Guest" in limited.output
    none = runner.invoke(args=["admin-users", "list", "--search", "zzzz-nothing"])
    assert "No users match." in none.output
    long = runner.invoke(args=["admin-users", "list", "--search", "x" * 201])
    assert long.exit_code != 0 and "200 characters" in long.output


# "co" is in 40 users: not probed. A quick walk of 5 rows is too short to find 30.
@pytest.mark.parametrize("plan_settings", [PlanSettings(probe_limit=20, quick_walk=5)])
def test_short_terms_are_read_from_an_index(app, ctx, api):
    """A term of one or two characters, also at the very end of a user's text, is found
    through an index (SQLite's trigrams, PostgreSQL's substrings); a common one is left to
    the walk of the list, without collecting its users first once known common."""
    from admin_users import listing, planner

    last = api.register("end@example.com")
    api.set_customer_id(last, "cus-Q")
    middle = api.register("mi§dle@example.com")
    for n in range(40):
        api.register(f"common{n}@example.com")
    expected = {"q": {last.id}, "-q": {last.id}, "§": {middle.id}, "§d": {middle.id}, "¶": set()}
    for term, ids in expected.items():
        query = listing.ListQuery(search=term)
        found = planner.candidates(query)
        assert found is not None and set(found) == ids, term
        assert {u.id for u in listing.iterate(query)} == ids, term
    assert planner.candidates(listing.ListQuery(search="co")) is None
    db = app.extensions["admin_users"].db
    if db.engine.dialect.name == "sqlite":
        # "co" was found common: its batches now walk the list at once, without first
        # the quick walk (too short here to find 30) and the index's counts.
        with recorded_sql(db.engine) as statements:
            assert len(listing.fetch_batch(listing.ListQuery(search="co")).users) == 30
        assert len([s for s, _ in statements if " AS HIT" in s]) == 1
        assert not [s for s, _ in statements if "_VOCAB" in s]
    if db.engine.dialect.name == "postgresql":
        # This app has kept no statistics: those read before were empty (an empty table's).
        db.session.execute(text("ANALYZE users"))
        with recorded_sql(db.engine) as statements:
            assert planner.candidates(listing.ListQuery(search="co")) is None
            assert planner.candidates(listing.ListQuery(search="q")) == [last.id]
        probes = [s for s, _ in statements if "@>" in s]
        assert len(probes) == 1 and "LIMIT" in probes[0]  # "q" only
        # With the statistics known, a short term's batch needs no walk to tell it common.
        with recorded_sql(db.engine) as statements:
            assert [u.id for u in listing.fetch_batch(listing.ListQuery(search="q")).users] == [
                last.id
            ]
            assert len(listing.fetch_batch(listing.ListQuery(search="co")).users) == 30
        walks = [s for s, _ in statements if " AS HIT" in s]
        assert len(walks) == 1 and "@>" not in " ".join(walks)  # "co" only, as one walk


@pytest.mark.parametrize("plan_settings", [PlanSettings(quick_walk=5, probe_limit=20)])
def test_the_plan_says_which_way_and_why(app, ctx, api):
    """Each way a batch is read, chosen by the settings' figures, and the reason given."""
    from admin_users import listing, planner

    api.register("end@example.com")
    for n in range(40):
        api.register(f"common{n}@example.com")

    def plan(args: dict, limit: int = 30) -> planner.Plan:
        found = planner.plan(listing.ListQuery.from_args(args), limit=limit)
        assert listing.fetch_batch(listing.ListQuery.from_args(args), limit=limit).plan == found
        return found

    assert plan({}).way == planner.INDEX_WALK
    assert plan({"status": "active"}).way == planner.BOUNDED_SCAN
    assert plan({"q": "common"}, limit=3).way == planner.QUICK_WALK
    assert plan({"q": "common"}, limit=3).reason == "3 matches within 5 rows"
    rare = plan({"q": "end@"})
    assert rare.way == planner.CANDIDATES and len(rare.ids) == 1
    assert rare.reason == "not 30 matches within 5 rows; term found in 1 user < probe limit 20"
    common = plan({"q": "common"})
    assert common.way == planner.BOUNDED_SCAN and common.ids is None
    assert common.reason.endswith("term found in 20 users or more (probe limit 20)")


# Registered in this order: Émile before emile and Ívar before ivar, so that their ties
# going by id is not the code points' order (emile, ivar first).
NAMES = ["Zed", "Ödön", "oscar", "Émile", "emile", "emma", "Ívar", "ivar"]


def test_the_user_column_sorts_as_people_read_names(app, admin_client, admin_id, api, runner):
    """Accents and case do not count: Émile and emma with the E's, Ívar with the I's, Ödön
    with the O's, the same on both databases; ties go by id. Scrolled 2 users at a time,
    both ways, and in the CLI."""
    app.config["ADMIN_USERS_PAGE_SIZE"] = 2
    with app.app_context():
        ids = {name: api.register(f"{name}@example.com").id for name in NAMES}
        guest = api.create_guest()
        ids["guest"], guest_id = guest.id, guest.guest_id
    names = ["admin", "Émile", "emile", "emma", "guest", "Ívar", "ivar", "Ödön", "oscar", "Zed"]
    expected = [admin_id if name == "admin" else ids[name] for name in names]
    assert scroll(admin_client, {"sort": "email", "desc": "0"}) == expected
    assert scroll(admin_client, {"sort": "email", "desc": "1"}) == expected[::-1]

    listed = runner.invoke(args=["admin-users", "list", "--sort", "email"])
    assert listed.exit_code == 0, listed.output
    shown = [line.split()[1] for line in listed.output.strip().splitlines()]
    assert shown == [guest_id if n == "guest" else f"{n}@example.com" for n in names]


def test_a_user_sort_cursor_whose_key_is_not_hex_is_400(app, admin_client, admin_id):
    """A cursor carries the collation key as hex; one signed with the app's key (forged
    by someone who has it, or written by a bug) whose key is not hex is refused."""
    from admin_users.listing import ListQuery, make_cursor

    with app.test_request_context():
        query = ListQuery(sort="email", desc=False)
        bad = [make_cursor(query, value, admin_id, utcnow()) for value in ("zz", "abc", 7, None)]
    for cursor in bad:
        response = admin_client.get(
            "/admin/users/batch", query_string={"sort": "email", "desc": "0", "cursor": cursor}
        )
        assert response.status_code == 400 and b"list position" in response.data


def guest(models, db, guest_id: str) -> int:
    user = models.User(guest_id=guest_id)
    db.session.add(user)
    db.session.commit()
    return user.id


@every_strategy
def test_a_guest_is_found_by_their_guest_id(app, ctx, models, db, api):
    """The whole guest id, or any part of its digits, finds the guest (a guest who quotes
    their id); digits in no guest id find nobody."""
    from admin_users.listing import ListQuery, iterate

    api.set_customer_id(api.register("ana@example.com"), "cus-4711")
    first = guest(models, db, "g-149018363")
    second = guest(models, db, "g-275500001")
    for term, found in [
        ("g-149018363", {first}),
        ("G-149018363", {first}),
        ("49018", {first}),
        ("018363", {first}),
        ("90", {first}),
        ("5500", {second}),
        ("g-", {first, second}),
        ("18364", set()),
        ("4711", {api.find_user("ana@example.com").id}),
    ]:
        assert {u.id for u in iterate(ListQuery(search=term))} == found, term
