from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    request,
    stream_with_context,
)
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from .. import service
from ..details import TABS, get_user, profile_of, tab_batch
from ..listing import (
    MATCHING_LIMIT,
    ListQuery,
    fetch_batch,
    listed,
    matching_ids,
    status_counts,
    total,
)
from ..models import Status
from ..sorts import SORT_TABLE, SORTS
from .access import AdminOnlyMixin, refusal
from .rows import rows_document, status_badge, user_rows, user_text

# (sort, header) of each column; the Customer ID beside the User sorts nothing.
COLUMNS = [(sort.name, sort.label) for sort in SORT_TABLE]
COLUMNS.insert(1, (None, "Customer ID"))


class UsersView(AdminOnlyMixin, ModelView):
    """Admin > Users: who uses the chatbot. Nothing here creates, edits or deletes.

    The list is ours (keyset batches, see :mod:`admin_users.listing`) rather than
    Flask-Admin's, whose list counts every row and pages with OFFSET.
    """

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    # The templates, which a host may point elsewhere (a subclass, or an attribute set
    # before init_app); each may extend ours and override its blocks.
    list_template = "admin_users/users_list.html"
    details_template = "admin_users/user_detail.html"
    tab_templates = {
        "chats": "admin_users/chats_batch.html",
        "audit": "admin_users/audit_batch.html",
    }

    def render(self, template, **kwargs):
        """Every template here shows what users wrote through ``user_text``."""
        return super().render(
            template,
            user_text=user_text,
            status_badge=status_badge,
            actor_label=service.actor_label,
            **kwargs,
        )

    def _user_or_404(self, user_id):
        user = get_user(user_id)
        if user is None:
            abort(404, "There is no such user.")
        return user

    def _query(self) -> ListQuery:
        return ListQuery.from_args(request.args)  # BadListRequest: a 400, in access.py

    def _batch(self, query: ListQuery):
        return fetch_batch(query, request.args.get("cursor") or None)

    @expose("/")
    def index_view(self):
        """The list; with ``?user=ID`` (a dialog's own URL) that user's dialog opens over it."""
        query = self._query()
        batch = self._batch(query)
        open_user = request.args.get("user")
        page = self.render(
            self.list_template,
            query=query,
            batch=batch,
            rows=user_rows(batch.users),
            columns=COLUMNS,
            statuses=list(Status),
            reasons=service.DEACTIVATION_REASONS,
            matching_limit=MATCHING_LIMIT,
            continued="cursor" in request.args,
            open_user=open_user,
        )
        missing = open_user is not None and get_user(open_user) is None
        return (page, 404) if missing else page

    def _tab_rows(self, user, tab: str, cursor: str | None = None):
        """A tab's rows after ``cursor`` as its tab template renders them, and the cursor
        after them (None at the end)."""
        batch = tab_batch(user, tab, cursor)
        return self.render(self.tab_templates[tab], batch=batch), batch.next_cursor

    @expose("/<int:user_id>")
    def user_view(self, user_id):
        """The detail dialog's content. ``first_rows(tab)`` gives the template the first
        rows of the tab it shows first, so they arrive with the dialog."""
        user = self._user_or_404(user_id)

        def first_rows(tab: str):
            html, cursor = self._tab_rows(user, tab)
            return {"html": Markup(html), "cursor": cursor or ""}

        return self.render(
            self.details_template,
            user=user,
            first_rows=first_rows,
            profile=profile_of(user),
            deactivated_by=service.deactivated_by(user),
            confirmation_text=service.confirmation_text(user),
            reasons=service.DEACTIVATION_REASONS,
            data_requests=service.data_requests(user),
        )

    @expose("/<int:user_id>/<any(chats, audit):tab>")
    def tab_view(self, user_id, tab):
        """The next rows of a dialog's tab; the cursor after them in a header."""
        if tab not in TABS:
            abort(404, "There is no such user.")
        user = self._user_or_404(user_id)
        html, cursor = self._tab_rows(user, tab, request.args.get("cursor") or None)
        response = make_response(html)
        response.headers["X-Next-Cursor"] = cursor or ""
        return response

    @expose("/batch")
    def batch_view(self):
        """The next rows only, for infinite scroll; the cursor after them in a header."""
        query = self._query()
        batch = self._batch(query)
        response = make_response(rows_document(batch.users))
        response.headers["X-Next-Cursor"] = batch.next_cursor or ""
        return response

    @expose("/counts")
    def counts_view(self):
        """Users per status, in all and in the list as filtered, loaded beside the rows."""
        query = self._query()
        counts = status_counts(query)
        return jsonify(counts=counts, total=total(counts), listed=listed(query, counts))

    def is_sortable(self, name) -> bool:
        return name in SORTS

    # -- actions ------------------------------------------------------------------------

    @expose("/csrf-token")
    def csrf_token_view(self):
        """A fresh CSRF token for the page's next POST (a page may stay open for hours)."""
        return jsonify(token=generate_csrf())

    def _outcome(self, user, action: str, changed: bool, label: str | None = None):
        return jsonify(
            changed=changed,
            message=service.outcome(label or user.identifier, action, changed),
            status=user.current_status.key,
            row=rows_document([user]),
        )

    @expose("/<int:user_id>/deactivate", methods=["POST"])
    def deactivate_view(self, user_id):
        """Deactivate one user, from the dialog's confirmation step."""
        user = self._user_or_404(user_id)
        reason = service.compose_reason(request.form.get("reason"), request.form.get("detail"))
        changed = service.deactivate(user, reason=reason, actor=current_user)
        return self._outcome(user, "deactivate", changed)

    @expose("/<int:user_id>/reactivate", methods=["POST"])
    def reactivate_view(self, user_id):
        """Reactivate one user, from the dialog's confirmation step."""
        user = self._user_or_404(user_id)
        changed = service.reactivate(user, actor=current_user, note=request.form.get("note"))
        return self._outcome(user, "reactivate", changed)

    @expose("/<int:user_id>/export", methods=["POST"])
    def export_view(self, user_id):
        """The user's data as a JSON download, streamed; audit-logged."""
        user = self._user_or_404(user_id)
        pieces = service.export_user(user, actor=current_user)
        return Response(
            stream_with_context(pieces),
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="user-{user.id}.json"'},
        )

    @expose("/<int:user_id>/erase", methods=["POST"])
    def erase_view(self, user_id):
        """Erase the person, after the admin typed their email or guest id."""
        user = self._user_or_404(user_id)
        label = user.identifier
        typed = request.form.get("confirm", "")
        changed = service.erase_user(user, actor=current_user, confirm=typed)
        return self._outcome(user, "erase", changed, label)

    @action("deactivate", "Deactivate selected")
    def action_deactivate(self, ids):
        """Bulk deactivation: one reason, an audit entry for each user."""
        wants_json = request.accept_mimetypes.best == "application/json"
        reason = service.compose_reason(request.form.get("reason"), request.form.get("detail"))
        try:
            if request.form.get("matching"):  # "all N matching": the list's users, not rowid
                ids = matching_ids(ListQuery.from_args(request.form), request.form.get("count"))
            result = service.deactivate_many(ids, reason=reason, actor=current_user)
        except service.AdminUsersError as error:
            if wants_json:
                return refusal(error)
            flash(str(error), "error")
            return None
        if wants_json:
            return jsonify(
                deactivated=result.done,
                skipped=result.skipped,
                message=result.message,
                rows={user.id: rows_document([user]) for user in result.users},
            )
        flash(result.message)
        return redirect(self.get_url(".index_view"))
