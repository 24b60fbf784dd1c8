"""SPEC's Definitions, in code: a user's status, the identifier, sort and search keys
stored beside it, and what counts as a row id. The models store what these compute; the
service, the views and the CLI ask these, never their own copy."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import icu


def utcnow() -> datetime:
    return datetime.now(UTC)


# The ids' column is an INTEGER: 32 bits on PostgreSQL, so nothing above this is an id.
MAX_ID = 2**31 - 1


def valid_id(value) -> int | None:
    """``value`` as a row id if it can be one (an int, or a string of digits, in the
    column's range); None otherwise, so that no query is sent with it."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 10:
            return None
        value = int(value)
    if type(value) is not int or not 0 < value <= MAX_ID:
        return None
    return value


class Status(enum.IntEnum):
    """A user's status; the numbers are the sort order of the seed's table."""

    ACTIVE = 1
    UNCONFIRMED = 2
    DEACTIVATED = 3
    GUEST = 4

    @property
    def label(self) -> str:
        return self.name.title()

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def badge(self) -> str:
        """The Bootstrap colour of the status's badge."""
        return BADGES[self]


BADGES = {Status.ACTIVE: "success", Status.UNCONFIRMED: "warning",
          Status.DEACTIVATED: "danger", Status.GUEST: "secondary"}  # fmt: skip


def status_of(user) -> Status:
    """The definition of a user's status (SPEC, "Definitions")."""
    if user.deactivated_at is not None or user.erased_at is not None:
        return Status.DEACTIVATED
    if not user.email:
        return Status.GUEST
    if user.confirmed_at is None:
        return Status.UNCONFIRMED
    return Status.ACTIVE


def shown_identifier(user) -> str | None:
    """What the User column shows: the email, else the guest id, else ``#id`` (None for
    a user not yet written, who has no id)."""
    return user.email or user.guest_id or (None if user.id is None else f"#{user.id}")


def identifier_key(user) -> str | None:
    """The identifier shown in the User column, case-folded: its uniqueness makes emails
    unique regardless of case, and :func:`admin_users.service.find_user` looks users up
    by it. (The column sorts by :func:`sort_key`.)"""
    return user.email.casefold() if user.email else shown_identifier(user)


# The root locale's order at primary strength: accents and case do not count,
# punctuation and digits do. Built once: its keys depend on nothing but the text.
_COLLATOR = icu.Collator.createInstance(icu.Locale.getRoot())
_COLLATOR.setStrength(icu.Collator.PRIMARY)


def sort_key(user) -> bytes | None:
    """The sort key of the User column: the identifier shown (the email, else the guest
    id, else ``#id``: :func:`shown_identifier`), as people read names.

    An ICU collation key: Ödön sorts with the O's, Émile with the E's. Its bytes compare
    alike on SQLite (BLOB) and PostgreSQL (bytea), so the order is the same on both.
    Distinct emails may share a key (``émile@`` and ``Emile@``): the list breaks ties by
    id, and :func:`identifier_key` keeps emails unique. Keys can change with ICU's
    version: ``flask admin-users backfill`` rewrites those that did.
    """
    shown = shown_identifier(user)
    return None if shown is None else _COLLATOR.getSortKey(shown)


def search_text(user) -> str:
    """What search looks in: the email, the customer id and the guest id, case-folded,
    one per line.

    Search terms cannot hold a newline, so a match never spans two of them.
    """
    values = (user.email, user.customer_id, user.guest_id)
    return "\n".join(value.casefold() for value in values if value)


def derived_columns(user) -> dict:
    """The stored columns computed from a user's own fields, for every way rows are written."""
    return {
        "status": int(status_of(user)),
        "identifier_key": identifier_key(user),
        "sort_key": sort_key(user),
        "search_text": search_text(user),
    }
