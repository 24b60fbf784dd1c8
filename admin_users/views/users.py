from __future__ import annotations

from flask import abort, jsonify, make_response, request
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView

from ..details import TABS, get_user, identifiers, profile_of, tab_batch
from ..listing import SORTS, BadListRequest, ListQuery, fetch_batch, status_counts
from ..models import Status
from .access import AdminOnlyMixin

COLUMNS = [
    ("email", "User"),
    (None, "Customer ID"),
    ("status", "Status"),
    ("chats", "Chats"),
    ("created", "Created"),
    ("last_activity", "Last Activity"),
]


class UsersView(AdminOnlyMixin, ModelView):
    """Admin > Users: who uses the chatbot. Nothing here creates, edits or deletes.

    The list is ours (keyset batches, see :mod:`admin_users.listing`) rather than
    Flask-Admin's, whose list counts every row and pages with OFFSET.
    """

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False

    def _query(self) -> ListQuery:
        try:
            return ListQuery.from_args(request.args)
        except BadListRequest as error:
            abort(400, str(error))

    def _batch(self, query: ListQuery):
        try:
            return fetch_batch(query, request.args.get("cursor") or None)
        except BadListRequest as error:
            abort(400, str(error))

    @expose("/")
    def index_view(self):
        """The list; with ``?user=ID`` (a dialog's own URL) that user's dialog opens over it."""
        query = self._query()
        batch = self._batch(query)
        open_user = request.args.get("user")
        page = self.render(
            "admin_users/users_list.html",
            query=query,
            batch=batch,
            columns=COLUMNS,
            statuses=list(Status),
            continued="cursor" in request.args,
            open_user=open_user,
        )
        missing = open_user is not None and get_user(open_user) is None
        return (page, 404) if missing else page

    @expose("/<int:user_id>")
    def user_view(self, user_id):
        """The detail dialog's content."""
        user = get_user(user_id)
        if user is None:
            abort(404, "There is no such user.")
        return self.render(
            "admin_users/user_detail.html",
            user=user,
            profile=profile_of(user),
            deactivated_by=identifiers([user.deactivated_by_id]).get(user.deactivated_by_id),
        )

    @expose("/<int:user_id>/<tab>")
    def tab_view(self, user_id, tab):
        """The next rows of a dialog's tab; the cursor after them in a header."""
        user = get_user(user_id)
        if user is None or tab not in TABS:
            abort(404, "There is no such user.")
        try:
            batch = tab_batch(user, tab, request.args.get("cursor") or None)
        except BadListRequest as error:
            abort(400, str(error))
        response = make_response(self.render(f"admin_users/{tab}_batch.html", batch=batch))
        response.headers["X-Next-Cursor"] = batch.next_cursor or ""
        return response

    @expose("/batch")
    def batch_view(self):
        """The next rows only, for infinite scroll; the cursor after them in a header."""
        query = self._query()
        batch = self._batch(query)
        response = make_response(self.render("admin_users/users_batch.html", batch=batch))
        response.headers["X-Next-Cursor"] = batch.next_cursor or ""
        return response

    @expose("/counts")
    def counts_view(self):
        """Users per status for the current search, loaded beside the rows."""
        return jsonify(counts=status_counts(self._query()), cap=1000)

    def is_sortable(self, name) -> bool:
        return name in SORTS
