"""Realistic demo data, written in bulk (``flask admin-users demo-data``).

Rows go in through Core ``INSERT``s in chunks rather than the ORM, so a million users
seed in minutes; the stored status, key and counters are computed with the same
functions the ORM path uses, so the data is as consistent as the API would make it.
"""

from __future__ import annotations

import random
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, select, text

from .extension import get_state
from .models import derived_columns, utcnow

CHUNK = 5000
SPAN = timedelta(days=730)
FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Émile",
    "Fatima",
    "Günter",
    "Hana",
    "Ívar",
    "Jun",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Ödön",
    "Priya",
    "Quinn",
    "Rosa",
    "Søren",
    "Zoë",
]
LAST = [
    "Abara",
    "Brandt",
    "Castillo",
    "Dąbrowski",
    "Eriksen",
    "Fontaine",
    "García",
    "Hoffmann",
    "Ito",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Petrov",
]
DOMAINS = ["example.com", "mail.example.org", "Example.NET", "chat.example.io", "exämple.de"]
CITIES = [("Berlin", "DE"), ("Lisbon", "PT"), ("Austin", "US"), ("Osaka", "JP"), ("Lyon", "FR")]
REASONS = [
    "Abuse or harmful behaviour",
    "Spam or bot account",
    "Compliance or legal",
    "User requested account closure",
]
PROMPTS = [
    "How do I reset my router?",
    "Write a haiku about autumn",
    "Summarise this article",
    "What is the capital of Peru?",
    "Help me plan a trip to Lyon",
    "Translate 'thank you'",
    "Explain keyset pagination",
    "Suggest a name for my cat",
    "Is 97 a prime number?",
]
# Multiplying by a number prime to 10**9 permutes 0..10**9-1: unique guest ids, no retries.
GUEST_STEP = 387_420_489


def seed_demo_data(count: int, *, seed: int = 1) -> dict[str, int]:
    state = get_state()
    M = state.models
    session = state.db.session
    rng = random.Random(seed)
    now = utcnow()
    start = now - SPAN
    first_user = (session.scalar(select(func.max(M.User.id))) or 0) + 1
    first_chat = (session.scalar(select(func.max(M.Chat.id))) or 0) + 1
    totals = {"users": 0, "chats": 0, "messages": 0, "audit": 0}
    next_chat = first_chat
    connection = session.connection()
    for chunk_start in range(0, count, CHUNK):
        rows = {"users": [], "profiles": [], "chats": [], "messages": [], "audit": []}
        for n in range(chunk_start, min(count, chunk_start + CHUNK)):
            next_chat = _one_user(rng, first_user + n, next_chat, start, now, rows)
        for name, model in (
            ("users", M.User),
            ("profiles", M.Profile),
            ("chats", M.Chat),
            ("messages", M.Message),
            ("audit", M.AuditLog),
        ):
            if rows[name]:
                connection.execute(model.__table__.insert(), rows[name])
        for name in totals:
            totals[name] += len(rows[name])
    if connection.dialect.name == "postgresql":
        for model in (M.User, M.Chat, M.Message, M.AuditLog):
            table = model.__tablename__
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 1))"
                )
            )
    session.commit()
    return totals


def _ip(rng):
    if rng.random() < 0.7:
        return ".".join(str(rng.randint(1, 223 if n == 0 else 254)) for n in range(4))
    return "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(2)) + "::1"


def _one_user(rng, user_id, next_chat, start, now, rows):
    created = start + (now - start) * rng.random()
    guest = rng.random() < 0.2
    user = SimpleNamespace(
        id=user_id,
        email=None,
        guest_id=None,
        customer_id=None,
        created_at=created,
        confirmed_at=None,
        last_activity_at=created,
        deactivated_at=None,
        deactivated_by_id=None,
        deactivation_reason=None,
        erased_at=None,
        is_admin=False,
        chat_count=0,
        login_nonce=None,
    )
    ip = _ip(rng)
    audit = rows["audit"]

    def event(action, when, entity="user", actor=user_id, detail=None):
        audit.append(
            {
                "user_id": user_id,
                "actor_id": actor,
                "action": action,
                "entity": entity,
                "ip_address": ip if actor == user_id else None,
                "created_at": when,
                "detail": detail,
                "origin": "web" if actor == user_id else "cli",
            }
        )
        if actor == user_id:
            user.last_activity_at = max(user.last_activity_at, when)

    def later(after):  # a moment between ``after`` and now, most often soon after
        return after + (now - after) * rng.random() ** 4

    if guest:
        user.guest_id = f"g-{(user_id * GUEST_STEP + 123_456_789) % 10**9:09d}"
        event("guest.create", created)
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}".replace("'", "").replace(" ", "")
        local = local if rng.random() < 0.3 else local.lower()
        user.email = f"{local}{user_id}@{rng.choice(DOMAINS)}"
        event("register", created)
        if rng.random() < 0.8:
            user.confirmed_at = later(created)
            event("email.confirm", user.confirmed_at)
            event("login", user.confirmed_at, entity="session")
        if rng.random() < 0.4:
            user.customer_id = f"cus_{rng.getrandbits(56):014x}"
        if rng.random() < 0.3:
            city, country = rng.choice(CITIES)
            rows["profiles"].append(
                {
                    "user_id": user_id,
                    "first_name": first,
                    "last_name": last,
                    "phone": f"+{rng.randint(1, 99)} {rng.randint(100_000, 999_999_999)}",
                    "address_line1": f"{rng.randint(1, 200)} Example Street",
                    "address_line2": None,
                    "postal_code": f"{rng.randint(10000, 99999)}",
                    "city": city,
                    "region": None,
                    "country": country,
                    "updated_at": created,
                }
            )
    for _ in range(min(int(rng.expovariate(1 / 3)), 40)):
        when = later(created)
        deleted = rng.random() < 0.1
        prompt = rng.choice(PROMPTS)
        rows["chats"].append(
            {
                "id": next_chat,
                "user_id": user_id,
                "title": None if deleted else prompt,
                "message_count": 2,
                "created_at": when,
                "deleted_at": later(when) if deleted else None,
            }
        )
        for role, content in (("user", prompt), ("assistant", f"You said: {prompt}")):
            rows["messages"].append(
                {
                    "chat_id": next_chat,
                    "role": role,
                    "content": None if deleted else content,
                    "created_at": when,
                }
            )
        event("chat.create", when, entity=f"chat:{next_chat}")
        if deleted:
            event("chat.delete", rows["chats"][-1]["deleted_at"], entity=f"chat:{next_chat}")
        user.chat_count += 1
        next_chat += 1
    if not guest and rng.random() < 0.12 or guest and rng.random() < 0.03:
        user.deactivated_at = later(user.last_activity_at)
        user.deactivation_reason = rng.choice(REASONS)
        event("admin.deactivate", user.deactivated_at, actor=None, detail=user.deactivation_reason)
    rows["users"].append({**vars(user), **derived_columns(user)})
    return next_chat
