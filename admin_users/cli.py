"""``flask admin-users ...``: a thin layer over :mod:`admin_users.service`."""

from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup
from sqlalchemy import select

from . import migrate, service
from .backfill import BATCH_SIZE, backfill
from .demo_data import seed_demo_data
from .details import profile_of, tab_batch
from .listing import ListQuery, iterate
from .models import Status
from .sorts import DEFAULT_SORT, SORTS
from .state import get_state


class _Group(AppGroup):
    """The commands' group: what the service refuses is a clear error, exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except service.AdminUsersError as error:
            raise click.ClickException(printable(str(error))) from None


admin_users_group = _Group("admin-users", help="Manage the chatbot's users.")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters, and the invisible ones that
    reorder or hide text (bidirectional overrides), shown as escapes (``\\x1b``)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _echo(line: str) -> None:
    """Print a line made of user-supplied strings."""
    click.echo(printable(line))


def _user_or_fail(ref):
    user = service.find_user(ref)
    if user is None:
        raise click.ClickException(
            f"No user {printable(repr(ref))} (give an id, an email or a guest id)."
        )
    return user


@admin_users_group.command("init-db")
def init_db_command():
    """Create the extension's tables (those that do not exist yet) and search index."""
    migrate.create_tables()
    click.echo("Tables are ready.")


@admin_users_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision):
    """Apply the extension's migrations (its own version table; the default models)."""
    migrate.upgrade(revision)
    click.echo(f"The extension's tables are at {migrate.current() or 'base'}.")


class _Progress:
    """Progress callbacks (``progress(phase, done, total)``) shown as a click progress bar
    per phase, on standard error so that standard output keeps only the summary. Where
    standard error is no terminal (a log file, the CLI test runner), click prints a
    bar's label alone, once: there the label says how far it is, each tenth of the way."""

    def __init__(self, labels: dict[str, str]):
        self.labels, self.bar, self.phase, self.done = labels, None, None, 0
        self.stream = sys.stderr
        self.terminal = self.stream.isatty()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase, self.done, self.total = phase, 0, total
            self.label = self.labels.get(phase, phase).format(total=total)
            self.bar = click.progressbar(
                length=max(total, 1), label=self.label, show_pos=True, file=self.stream
            )
            self.bar.__enter__()
        if not self.terminal and total and done * 10 // total > self.done * 10 // total:
            self.bar.label = f"{self.label}: {done:,} ({done * 100 // total}%)"
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@admin_users_group.command("demo-data")
@click.option("--users", "count", default=1000, show_default=True, help="How many users.")
@click.option("--seed", default=1, show_default=True, help="Random seed, for the same data again.")
@click.option("--if-empty", is_flag=True, help="Do nothing if there are users already.")
def demo_data_command(count, seed, if_empty):
    """Fill the database with realistic users, chats and audit entries."""
    migrate.create_tables()
    state = get_state()
    if if_empty and state.db.session.scalar(select(state.models.User.id).limit(1)):
        click.echo("There are users already: no demo data added.")
        return
    started = time.perf_counter()
    progress = _Progress({"users": "Writing {total:,} users", "indexes": "Building indexes"})
    try:
        totals = seed_demo_data(count, seed=seed, progress=progress)
    finally:
        progress.close()
    took = time.perf_counter() - started
    click.echo(
        f"Added {totals['users']:,} users, {totals['chats']:,} chats, "
        f"{totals['messages']:,} messages, {totals['audit']:,} audit entries in {took:.1f} s."
    )


@admin_users_group.command("backfill")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(1))
@click.option("--reindex", is_flag=True, help="Make the search index again, even if present.")
def backfill_command(batch_size, reindex):
    """Fill the derived columns, counters and search index of users written without the ORM
    (a table adopted with its rows, a raw INSERT). Safe to run again, and to stop."""
    started = time.perf_counter()
    progress = _Progress({"users": "Backfilling {total:,} users", "search index": "Search index"})
    try:
        totals = backfill(batch_size=batch_size, reindex=reindex, progress=progress)
    finally:
        progress.close()
    took = time.perf_counter() - started
    index = "made" if totals.indexed else "kept"
    click.echo(
        f"Backfilled {totals.users:,} users in {took:.1f} s: {totals.changed:,} changed, "
        f"{totals.chats:,} chats' message counts fixed; search index {index}."
    )


@admin_users_group.command("create-admin")
@click.argument("email")
def create_admin_command(email):
    """Make EMAIL an active admin (creating the account if needed)."""
    try:
        user = service.create_admin(email)
    except service.AdminUsersError as error:
        raise click.ClickException(str(error)) from None
    _echo(f"{user.email} is an admin.")


@admin_users_group.command("login-link")
@click.argument("email")
def login_link_command(email):
    """Print a sign-in link for EMAIL (there is no mail server in the demo)."""
    user = _user_or_fail(email)
    try:
        click.echo(service.login_link_url(user))
    except (service.AdminUsersError, RuntimeError) as error:
        raise click.ClickException(str(error)) from None


@admin_users_group.command("list")
@click.option("--search", default="", help="A part of an email or customer id.")
@click.option("--status", type=click.Choice([s.key for s in Status]), help="Only this status.")
@click.option("--sort", type=click.Choice(SORTS), default=DEFAULT_SORT[0], show_default=True)
@click.option("--desc/--asc", default=None, help="Direction (default: as a first click).")
@click.option("--limit", default=30, show_default=True, help="How many users at most.")
def list_command(search, status, sort, desc, limit):
    """List users as Admin > Users does, with its search, filter and sort."""
    args = {"q": search, "status": status or "", "sort": sort}
    if desc is not None:
        args["desc"] = "1" if desc else "0"
    shown = 0
    for user in iterate(ListQuery.from_args(args), limit=limit):
        shown += 1
        _echo(
            f"{user.id:>8}  {user.identifier:<40}  {user.customer_id or '-':<20}  "
            f"{user.current_status.label:<11}  {user.chat_count:>5}  "
            f"{user.created_at:%Y-%m-%d %H:%M}  {user.last_activity_at:%Y-%m-%d %H:%M}"
        )
    if not shown:
        click.echo("No users match." if search or status else "No users yet.")


def _actor(email):
    """The admin named by ``--actor``, or None (the entry then shows ``cli``)."""
    if email is None:
        return None
    actor = _user_or_fail(email)
    if not service.may_use_admin_account(actor):
        raise click.ClickException(f"{email} is not an active admin.")
    return actor


@admin_users_group.command("show")
@click.argument("user")
@click.option("--entries", default=10, show_default=True, help="How many recent audit entries.")
def show_command(user, entries):
    """Show USER (an id, an email or a guest id): fields, status and recent audit entries."""
    user = _user_or_fail(user)
    status = user.current_status.label + (" (erased)" if user.erased_at else "")
    fields = [
        ("id", user.id),
        ("email", user.email),
        ("guest id", user.guest_id),
        ("customer id", user.customer_id),
        ("status", status),
        ("admin", "yes" if user.is_admin else None),
        ("chats", user.chat_count),
        ("created", user.created_at),
        ("confirmed", user.confirmed_at),
        ("last activity", user.last_activity_at),
        ("deactivated", user.deactivated_at),
        ("deactivated by", service.deactivated_by(user)),
        ("reason", user.deactivation_reason),
    ]
    profile = profile_of(user)
    if profile is not None:
        fields += [("name", profile.name), ("phone", profile.phone), ("address", profile.address)]
    for label, value in fields:
        if value is not None and value != "":
            _echo(f"{label + ':':<16}{value}")
    batch = tab_batch(user, "audit", limit=entries)
    click.echo("recent audit entries:" if batch.rows else "no audit entries")
    for entry in batch.rows:
        by = service.actor_label(
            entry.actor_id, by_admin=entry.by_admin, origin=entry.origin, names=batch.actors
        )
        line = (
            f"  {entry.created_at:%Y-%m-%d %H:%M:%S}  {entry.action:<18} {entry.entity or '':<16}"
        )
        line += f" {entry.ip_address or '':<15}"
        if by:
            line += f" by {by}"
        if entry.detail:
            line += f" — {entry.detail}"
        _echo(line.rstrip())


# The admin a command acts as, named in the audit log.
actor_option = click.option("--actor", help="The admin's email, for the audit log (default: cli).")


@admin_users_group.command("deactivate")
@click.argument("user")
@click.option("--reason", required=True, help="Why: it goes into the audit log.")
@actor_option
def deactivate_command(user, reason, actor):
    """Deactivate USER: refused from their next request, data kept."""
    _change_state(service.deactivate, user, actor, reason=reason)


@admin_users_group.command("reactivate")
@click.argument("user")
@click.option("--note", help="An optional note for the audit log.")
@actor_option
def reactivate_command(user, note, actor):
    """Reactivate USER: access again from their next request."""
    _change_state(service.reactivate, user, actor, note=note)


def _change_state(change, reference, actor, **details):
    """``service.deactivate`` or ``reactivate`` of the user ``reference``, and its outcome."""
    user = _user_or_fail(reference)
    changed = change(user, actor=_actor(actor), **details)
    _echo(service.outcome(user.identifier, change.__name__, changed))


@admin_users_group.command("export")
@click.argument("user")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file (default: standard output).",
)
@actor_option
def export_command(user, output, actor):
    """Export USER's data as JSON: fields, profile, chats with messages, audit log, requests."""
    user, actor = _user_or_fail(user), _actor(actor)
    pieces = service.export_user(user, actor=actor)
    with click.open_file(output or "-", "w", encoding="utf-8") as out:
        for piece in pieces:
            out.write(piece)
        if output is None:
            out.write("\n")
    if output:
        click.echo(printable(f"Exported {user.identifier} to {output}."), err=True)


@admin_users_group.command("erase")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for the typed confirmation.")
@actor_option
def erase_command(user, yes, actor):
    """Erase USER for good: personal data removed, audit entries kept without identity."""
    user, actor = _user_or_fail(user), _actor(actor)
    label, shown = user.identifier, service.confirmation_text(user)
    typed = None
    if shown is not None and not yes:
        typed = click.prompt(printable(f"This cannot be undone. Type {shown} to confirm"))
    changed = service.erase_user(user, actor=actor, confirm=typed)
    _echo(service.outcome(label, "erase", changed))
