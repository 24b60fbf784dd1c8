"""The list's rows, rendered for the page, its batches and the actions' answers alike,
and the status badge, which the detail dialog shows too.

Written in Python rather than Jinja: every list request renders 30 of them, and here
they cost a third of the template's time (0.25 against 0.7 ms a batch), which is a
good share of a 3 ms request.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# The invisible characters that reorder the text around them: the bidirectional marks,
# embeddings, overrides and isolates. "abc\u202egpj.exe" would show as "abcexe.jpg".
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


MARKER = '<mark class="bidi-control" title="Hidden direction character">U+{:04X}</mark>'


def _marker(match) -> str:
    return MARKER.format(ord(match[0]))


def user_text(value) -> Markup:
    """A string a user wrote, for HTML: escaped, isolated from the text around it
    (``<bdi>``), and with any direction character shown as a visible marker rather
    than obeyed, so that no name can pass for another."""
    text = str(escape(value))
    if _BIDI.search(text):
        text = _BIDI.sub(_marker, text)
    return Markup(f"<bdi>{text}</bdi>")


def user_attribute(value) -> str:
    """The same for an attribute's value (an ``aria-label``): the marker as text."""
    return str(escape(_BIDI.sub(lambda m: f"[U+{ord(m[0]):04X}]", str(value))))


ERASED = ' <span class="badge badge-dark">Erased</span>'


def status_badge(user) -> Markup:
    """The user's status as a badge, and "Erased" beside it for an erased user."""
    status = user.current_status
    badge = f'<span class="badge badge-status badge-{status.badge}">{status.label}</span>'
    return Markup(badge + (ERASED if user.erased_at else ""))


def _time(value) -> str:
    text = value.isoformat()  # stored in UTC: "2026-11-27T03:08:28.730110+00:00"
    return f'<time datetime="{text}">{text[:10]} {text[11:16]} UTC</time>'


def user_row(user) -> str:
    customer_id = user_text(user.customer_id) if user.customer_id else ""
    return (
        f'<tr class="user-row" data-user-id="{user.id}" tabindex="0">'
        '<td class="col-select"><input type="checkbox" class="action-checkbox" name="rowid"'
        f' value="{user.id}" aria-label="Select {user_attribute(user.identifier)}"></td>'
        f'<td class="col-user">{user_text(user.identifier)}</td>'
        f'<td class="col-customer-id">{customer_id}</td>'
        f'<td class="col-status">{status_badge(user)}</td>'
        f'<td class="col-chats text-right">{user.chat_count}</td>'
        f'<td class="col-created">{_time(user.created_at)}</td>'
        f'<td class="col-last-activity">{_time(user.last_activity_at)}</td></tr>\n'
    )


def user_rows(users) -> Markup:
    """The ``<tr>`` of each user, in order."""
    return Markup("".join(map(user_row, users)))


def rows_document(users) -> str:
    """A batch as the page's script reads it: a table holding the rows only."""
    return f"<table><tbody>{user_rows(users)}</tbody></table>"
