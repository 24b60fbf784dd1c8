"""Properties: search finds exactly the users a plain Python filter finds, on every
database and whichever way it reads; counters always equal a recount."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from admin_users import status_of
from admin_users.models import Status, utcnow
from admin_users.planner import PlanSettings

# Characters that trip search implementations: LIKE wildcards and escapes, quotes,
# letters whose case folds beyond ASCII (or to two letters), an emoji, digits, spaces.
TRICKY = "%_\\'\"aAäÄßsSσΣςİiıIé e-.+@0123459😀ŉ"
PIECES = ["50%", "a_b", "x\\y", "ÄRGER", "ärger", "STRASSE", "straße", "ΣΊΣΥΦΟΣ", "σίσυφος"]
PIECES += ["İstanbul", "i̇stanbul", "o'neil", 'say"hi', "😀fan", "cus_", "CUS-", "100%_sure"]

pytestmark = pytest.mark.slow  # long hypothesis runs, over 2,000 users
# A scan of 50 rows, then the term's users collected 60 or so a request.
COLLECT = PlanSettings(probe_limit=0, scan_limit=50, collect_windows=40, collect_batch=60)


def adversarial(rng: random.Random) -> str:
    parts = [rng.choice(PIECES) if rng.random() < 0.5 else "" for _ in range(2)]
    parts.append("".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 6))).strip())
    rng.shuffle(parts)
    return "".join(parts)


@pytest.fixture
def population(app, models, db):
    """2,000 users: emails and customer ids built from the tricky characters."""
    rng = random.Random(7)
    rows = []
    with app.app_context():
        for n in range(2000):
            guest = n % 5 == 0
            email = None if guest else f"{adversarial(rng)}{n}@{rng.choice(['ex.com', 'Ex.ORG'])}"
            customer = adversarial(rng) or None if rng.random() < 0.6 else None
            db.session.add(
                models.User(
                    email=email,
                    guest_id=f"g-{n:09d}" if guest else None,
                    customer_id=customer,
                    created_at=utcnow(),
                )
            )
            rows.append((n, email, customer))
        db.session.commit()
        users = db.session.execute(
            select(models.User.id, models.User.email, models.User.customer_id, models.User.guest_id)
        ).all()
    return users


def oracle(users, term: str) -> set[int]:
    """What a plain filter finds: the term in the email, the customer id or the guest id."""
    term = term.strip().casefold()
    return {
        u.id
        for u in users
        if term in "\n".join(v.casefold() for v in (u.email, u.customer_id, u.guest_id) if v)
    }


terms = st.one_of(
    st.text(alphabet=TRICKY, min_size=1, max_size=5),
    st.sampled_from(PIECES).flatmap(
        lambda piece: st.tuples(st.integers(0, len(piece)), st.integers(1, 6)).map(
            lambda ij: piece[ij[0] : ij[0] + ij[1]]
        )
    ),
).filter(lambda t: t.strip())


@pytest.mark.parametrize(
    "plan_settings",  # the app fixture is built with these
    [
        pytest.param(PlanSettings(quick_walk=0), id="index"),  # straight to the trigram index
        pytest.param(PlanSettings(probe_limit=0), id="walk"),  # the trigram index is bypassed
        pytest.param(PlanSettings(probe_limit=0, scan_limit=50, collect_limit=0), id="short-walk"),
        pytest.param(COLLECT, id="collect"),  # short scans, then windows (SQLite)
    ],
)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(term=terms)
def test_search_finds_what_a_plain_filter_finds(app, population, term):
    from admin_users import listing

    with app.test_request_context():
        query = listing.ListQuery.from_args({"q": term, "sort": "email"})
        found = [user.id for user in listing.iterate(query)]
    assert len(found) == len(set(found))
    assert set(found) == oracle(population, term), term


# Terms by share of users and by where their users sit in each order: a band's marker is
# put into the emails of users taken from one end of an order (names that begin with "z",
# the newest, the oldest), or spread over all of them.
BANDS = {"qz": 0.001, "kw": 0.01, "vx": 0.05, "jy": 0.2}  # marker: share of users
PLACES = ["spread", "z-names", "newest", "oldest"]


@pytest.fixture
def banded(app, models, db):
    """3,000 users whose emails carry markers in bands of share, at each place."""
    rng = random.Random(11)
    now = utcnow()
    rows = []
    for n in range(3000):
        first = "z" if n % 10 == 0 else rng.choice("abcdefgh")
        rows.append({"n": n, "first": first, "created": now - timedelta(seconds=n)})
    with app.app_context():
        for marker, share in BANDS.items():
            for place in PLACES:
                if place == "spread":
                    chosen = rng.sample(rows, max(1, int(share * len(rows))))
                elif place == "z-names":
                    chosen = [r for r in rows if r["first"] == "z"][
                        : max(1, int(share * len(rows)))
                    ]
                else:
                    ordered = rows[: max(1, int(share * len(rows)))]
                    chosen = ordered if place == "newest" else rows[-len(ordered) :]
                for r in chosen:
                    r.setdefault("markers", []).append(f"{marker}{place[0]}")
        for r in rows:
            guest = r["n"] % 5 == 1
            local = f"{r['first']}{'.'.join(r.get('markers', []))}.{r['n']}"
            db.session.add(
                models.User(
                    email=None if guest else f"{local}@ex.com",
                    guest_id=f"g-{r['n'] * 7919 % 10**9:09d}" if guest else None,
                    customer_id=f"cus_{local}" if guest else None,
                    created_at=r["created"],
                )
            )
        db.session.commit()
        M = models.User
        return db.session.execute(select(M.id, M.email, M.customer_id, M.guest_id, M.status)).all()


BAND_TERMS = [f"{m}{p[0]}" for m in BANDS for p in PLACES] + ["z", "zk", "g-", "-0", "cus_z"]


@pytest.mark.parametrize(
    "plan_settings",
    [
        pytest.param(PlanSettings(quick_walk=10, probe_limit=20), id="index"),
        pytest.param(PlanSettings(quick_walk=10, probe_limit=20, scan_limit=100), id="scan"),
        pytest.param(COLLECT, id="collect"),
    ],
)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    term=st.sampled_from(BAND_TERMS),
    sort=st.sampled_from(["email", "status", "created", "chats", "last_activity"]),
    desc=st.booleans(),
    status=st.sampled_from(["", "unconfirmed", "guest"]),
)
def test_every_band_and_place_finds_what_a_plain_filter_finds(
    app, banded, term, sort, desc, status
):
    """Terms in 0.1% to 20% of users, spread or bunched at either end of an order, with
    every sort, direction and status filter: the same users as a plain filter, each once,
    in the list's order, however many requests (scans, collecting steps) it takes."""
    from admin_users import listing

    args = {"q": term, "sort": sort, "desc": "1" if desc else "0", "status": status}
    with app.test_request_context():
        query = listing.ListQuery.from_args(args)
        found = list(listing.iterate(query))
        column = listing.BY_NAME[sort].column(type(found[0])) if found else None
        keys = [(getattr(u, column.key), u.id) for u in found] if found else []
    assert keys == sorted(keys, reverse=desc)
    ids = [user.id for user in found]
    assert len(ids) == len(set(ids))
    wanted = oracle(banded, term)
    if status:
        wanted &= {u.id for u in banded if Status(u.status).key == status}
    assert set(ids) == wanted, term


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "guest",
                "register",
                "confirm",
                "chat",
                "message",
                "delete_chat",
                "deactivate",
                "reactivate",
                "erase",
                "customer",
            ]
        ),
        st.integers(0, 50),
    ),
    min_size=5,
    max_size=40,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_counters_and_status_counts_equal_a_recount(app, api, models, db, actions):
    from admin_users.listing import ListQuery, status_counts

    with app.test_request_context():
        admin = api.find_user("prop-admin@example.com") or api.create_admin(
            "prop-admin@example.com"
        )
        for action, n in actions:
            users = db.session.scalars(select(models.User).order_by(models.User.id)).all()
            chats = db.session.scalars(select(models.Chat).order_by(models.Chat.id)).all()
            user = users[n % len(users)]
            try:
                if action == "guest":
                    api.create_guest()
                elif action == "register":
                    api.register(
                        f"p{len(users)}-{n}@example.com", guest=user if user.email is None else None
                    )
                elif action == "confirm":
                    api.confirm_email(user)
                elif action == "chat":
                    api.start_chat(user)
                elif action == "message" and chats:
                    api.add_message(chats[n % len(chats)], "user", f"m{n}")
                elif action == "delete_chat" and chats:
                    api.delete_chat(chats[n % len(chats)])
                elif action == "deactivate":
                    api.deactivate(user, reason="property", actor=admin)
                elif action == "reactivate":
                    api.reactivate(user, actor=admin)
                elif action == "erase" and user.id != admin.id:
                    api.erase_user(user, actor=admin)
                elif action == "customer":
                    api.set_customer_id(user, f"cus_{n}")
            except (ValueError, api.AdminUsersError):
                db.session.rollback()  # refused by the rules (a deleted chat, yourself...)
        db.session.expire_all()
        M = models
        chat_counts = dict(
            db.session.execute(select(M.Chat.user_id, func.count()).group_by(M.Chat.user_id)).all()
        )
        message_counts = dict(
            db.session.execute(
                select(M.Message.chat_id, func.count()).group_by(M.Message.chat_id)
            ).all()
        )
        by_status = {}
        for user in db.session.scalars(select(M.User)):
            assert user.chat_count == chat_counts.get(user.id, 0)
            assert user.status == int(status_of(user))
            by_status[status_of(user).key] = by_status.get(status_of(user).key, 0) + 1
        for chat in db.session.scalars(select(M.Chat)):
            assert chat.message_count == message_counts.get(chat.id, 0)
        counts = status_counts(ListQuery())
        assert {k: v["count"] for k, v in counts.items() if v["count"]} == by_status
        assert not any(v["more"] for v in counts.values())
