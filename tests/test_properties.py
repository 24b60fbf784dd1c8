"""Properties: search finds exactly the users a plain Python filter finds, on every
database and whichever way it reads; counters always equal a recount."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from admin_users import status_of
from admin_users.models import utcnow
from admin_users.planner import PlanSettings

# Characters that trip search implementations: LIKE wildcards and escapes, quotes,
# letters whose case folds beyond ASCII (or to two letters), an emoji, digits, spaces.
TRICKY = "%_\\'\"aAäÄßsSσΣςİiıIé e-.+@0123459😀ŉ"
PIECES = ["50%", "a_b", "x\\y", "ÄRGER", "ärger", "STRASSE", "straße", "ΣΊΣΥΦΟΣ", "σίσυφος"]
PIECES += ["İstanbul", "i̇stanbul", "o'neil", 'say"hi', "😀fan", "cus_", "CUS-", "100%_sure"]

pytestmark = pytest.mark.slow  # long hypothesis runs, over 2,000 users


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
            select(models.User.id, models.User.email, models.User.customer_id)
        ).all()
    return users


def oracle(users, term: str) -> set[int]:
    term = term.strip().casefold()
    return {
        u.id
        for u in users
        if term in "\n".join(v.casefold() for v in (u.email, u.customer_id) if v)
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
        pytest.param(PlanSettings(probe_limit=0, scan_limit=50), id="short-walk"),
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
