"""Deactivation and reactivation, one user or many, and what the admin is told."""

from __future__ import annotations

from dataclasses import dataclass

from .. import signals
from ..errors import CannotDeactivateSelf, CannotReactivateErased, ReasonRequired
from ..locks import lock_user
from ..models import utcnow, valid_id
from ..sessions import end_sessions
from ..state import db_session, models
from .base import actor_label, audit_entry, check_text, send_after_commit, transaction

# The seed's common reasons, offered in the admin's confirmation step.
DEACTIVATION_REASONS = (
    "Abuse or harmful behaviour",
    "Spam or bot account",
    "Compliance or legal requirement",
    "User requested account closure",
)


def _reason(reason: str | None) -> str:
    reason = check_text((reason or "").strip(), "A reason", single_line=False)
    if not reason:
        raise ReasonRequired("Give a reason: it goes into the audit log.")
    return reason


def compose_reason(reason: str | None, detail: str | None = None) -> str:
    """One reason from a chosen reason and free text (either may be empty)."""
    parts = [p.strip() for p in (reason, detail) if p and p.strip()]
    return ": ".join(parts)[:1000]


def deactivate(user, *, reason: str, actor=None, ip: str | None = None) -> bool:
    """Block the user; False (and no change) if already deactivated.

    ``actor`` is the admin (None from the CLI without ``--actor``). Every session of
    the user ends: it is refused from its next request on (see :func:`chat_access`),
    and stays void after a reactivation; nothing of theirs is deleted.
    """
    reason = _reason(reason)
    if actor is not None and actor.id == user.id:
        raise CannotDeactivateSelf("You cannot deactivate your own account.")
    with transaction(user, actor) as session:
        lock_user(session, user)  # of two admins at once, the second sees the first's
        if user.deactivated_at is not None:
            return False
        user.deactivated_at = utcnow()
        user.deactivated_by_id = getattr(actor, "id", None)
        user.deactivation_reason = reason
        end_sessions(user)
        audit_entry(user, "admin.deactivate", entity="user", actor=actor, ip=ip, detail=reason)
        send_after_commit(signals.user_deactivated, user=user, actor=actor)
    return True


@dataclass(frozen=True)
class Deactivated:
    """What :func:`deactivate_many` did."""

    users: list  # the users found, in the order asked, changed or not
    done: int
    skipped: int  # already deactivated, or the acting admin themself

    @property
    def message(self) -> str:
        text = f"Deactivated {self.done} user{'s' if self.done != 1 else ''}"
        if not self.skipped:
            return text + "."
        return text + f"; {self.skipped} skipped (already deactivated, or yourself)."


def deactivate_many(user_ids, *, reason: str, actor=None, ip: str | None = None) -> Deactivated:
    """Deactivate each of these users (ids that name no one, or are out of range, are
    passed over), one
    transaction and one audit entry each, with one reason; refused as a whole without
    a valid reason."""
    reason = _reason(reason)
    done, users = 0, []
    User = models().User
    for user_id in dict.fromkeys(map(valid_id, user_ids)):
        user = None if user_id is None else db_session().get(User, user_id)
        if user is None:
            continue
        try:
            done += deactivate(user, reason=reason, actor=actor, ip=ip)
        except CannotDeactivateSelf:
            pass
        users.append(user)
    return Deactivated(users, done, len(users) - done)


_OUTCOMES = {
    ("deactivate", True): "{} is deactivated.",
    ("deactivate", False): "{} was already deactivated: nothing changed.",
    ("reactivate", True): "{} is active again.",
    ("reactivate", False): "{} was not deactivated: nothing changed.",
    ("erase", True): "{} is erased.",
    ("erase", False): "{} was already erased: nothing changed.",
}


def outcome(label: str, action: str, changed: bool) -> str:
    """What the admin is told after ``action`` ("deactivate", "reactivate" or "erase")
    on the user shown as ``label`` (their identifier before the change), in the panel
    and on the command line alike."""
    return _OUTCOMES[action, changed].format(label)


def deactivated_by(user) -> str | None:
    """Who deactivated ``user``, as the panel and the CLI show it (None if active)."""
    if user.deactivated_at is None:
        return None
    admin_id = user.deactivated_by_id
    admin = None if admin_id is None else db_session().get(models().User, admin_id)
    names = {} if admin is None else {admin_id: admin.identifier}
    return actor_label(admin_id, by_admin=admin_id is not None, origin="cli", names=names)


def reactivate(user, *, actor=None, note: str | None = None, ip: str | None = None) -> bool:
    """Restore access; False (and no change) if not deactivated. An erased user stays
    erased: :class:`CannotReactivateErased`."""
    check_text(note, "A note", single_line=False)
    with transaction(user, actor) as session:
        lock_user(session, user)
        if user.erased_at is not None:
            raise CannotReactivateErased(f"{user.identifier} was erased and cannot be reactivated.")
        if user.deactivated_at is None:
            return False
        user.deactivated_at = None
        user.deactivated_by_id = None
        user.deactivation_reason = None
        end_sessions(user)  # a session from before the deactivation stays ended
        audit_entry(
            user,
            "admin.reactivate",
            entity="user",
            actor=actor,
            ip=ip,
            detail=(note or "").strip() or None,
        )
        send_after_commit(signals.user_reactivated, user=user, actor=actor)
    return True
