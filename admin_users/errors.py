"""Every error the extension raises for a request it refuses, in one hierarchy.

Each carries the HTTP status the admin's views answer it with (``status``); the views
turn any of them into ``{"error": message}`` with that status, the CLI into a
``click.ClickException`` (see :func:`admin_users.views.users.refusal` and the CLI's
group). A leaf module: it imports nothing of the package.
"""

from __future__ import annotations


class AdminUsersError(Exception):
    """Base of the errors the API raises for a request it refuses."""

    status = 400


class InvalidEmail(AdminUsersError, ValueError):
    pass


class EmailTaken(AdminUsersError):
    status = 409


class InvalidLink(AdminUsersError):
    pass


class AccountDeactivated(AdminUsersError):
    """The user is deactivated (or erased): nothing is done on their behalf."""

    status = 403


class InvalidText(AdminUsersError, ValueError):
    """A text field with a character SPEC's text fields refuse."""


class TooManyRequests(AdminUsersError):
    """Raised by :func:`admin_users.service.throttle`; ``retry_after`` is in seconds."""

    status = 429

    def __init__(self, retry_after: int):
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many sign-in requests. Try again in {minutes} minute{'s' * (minutes > 1)}."
        )
        self.retry_after = retry_after


class InvalidChoice(AdminUsersError, ValueError):
    """A value outside a setting's choices (the chat permission)."""


class CannotDeactivateSelf(AdminUsersError):
    """An admin deactivating or erasing their own account."""


class ReasonRequired(AdminUsersError, ValueError):
    """A deactivation without a reason."""


class CannotReactivateErased(AdminUsersError):
    """Erasure is for good: an erased user stays deactivated."""


class ConfirmationMismatch(AdminUsersError):
    """An erasure whose confirmation is not the user's email or guest id."""


class BadListRequest(AdminUsersError, ValueError):
    """A list or tab request (search, cursor) answered with 400 and this message."""


class SelectionChanged(AdminUsersError):
    """A bulk action on "all N matching" users refused, before changing anyone: the
    number typed is not the number of users the list now holds, or that number is not
    exact or over the limit."""

    status = 409


class PendingChanges(AdminUsersError, RuntimeError):
    """A service call refused, before writing anything, because the host's database
    session holds pending changes of its own that the call's commit would save too (see
    :mod:`admin_users.service.pending`). A fault of the calling code, not of a request:
    hence a 500."""

    status = 500


class ChatDeleted(AdminUsersError, ValueError):
    """A message added to a chat its user deleted."""

    status = 409


class OwnModelsNeedOwnMigrations(AdminUsersError, RuntimeError):
    """The extension's migrations asked to run beside the host's own model classes: they
    make the default models only, so the host's own migrations make every table (a
    RuntimeError too, which Flask-Migrate's commands print as one line)."""

    status = 409


class BackfillStopped(AdminUsersError):
    """The database refused a batch; the batches before it are committed."""

    status = 503


class BackfillRefused(AdminUsersError):
    """Rows that no backfill can make consistent: two users with one identifier key (emails
    that differ only in case), a time that is no time. The host fixes them, then runs it again."""

    status = 409
