"""The sorts of the Users list, in one table: the list, its cursors, the column headers,
the CLI's ``--sort`` and the benchmark all read it.

Each sort walks the index of its column, ``(value, id)``: ties break by id, so the order
is total (see :mod:`admin_users.keyset`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .models import MAX_ID

_time = datetime.fromisoformat


def _count(value) -> int:
    if type(value) is not int or abs(value) > MAX_ID:
        raise ValueError("not a count")
    return value


def _key(value) -> bytes:
    """A collation key, which a cursor carries as hex (JSON holds no bytes)."""
    if type(value) is not str:
        raise ValueError("not a key")
    return bytes.fromhex(value)  # ValueError where it is not hex


@dataclass(frozen=True)
class Sort:
    name: str  # in URLs (``?sort=``), the CLI's ``--sort`` and cursors
    label: str  # the column's header
    attribute: str  # the User column it walks
    first_desc: bool  # a first click: names A to Z, numbers and times biggest first
    decode: Callable  # a cursor's value (as JSON gave it) back to the column's type
    # The value moves forward as the user acts: an ascending scroll leaves out the users
    # who moved past its start (see walks.conditions_after).
    follows_activity: bool = False

    def column(self, User):
        return getattr(User, self.attribute)


SORT_TABLE = (
    Sort("email", "User", "sort_key", False, _key),
    Sort("status", "Status", "status", False, _count),
    Sort("chats", "Chats", "chat_count", True, _count),
    Sort("created", "Created", "created_at", True, _time),
    Sort("last_activity", "Last Activity", "last_activity_at", True, _time, follows_activity=True),
)
SORTS = tuple(sort.name for sort in SORT_TABLE)
BY_NAME = {sort.name: sort for sort in SORT_TABLE}
DEFAULT_SORT = ("created", True)  # newest first


def sort_column(User, sort: str):
    """The column of ``User`` that the sort named ``sort`` walks."""
    return BY_NAME[sort].column(User)
