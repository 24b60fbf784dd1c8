from __future__ import annotations

from flask_admin.contrib.sqla import ModelView

from .access import AdminOnlyMixin


class UsersView(AdminOnlyMixin, ModelView):
    """Admin > Users: who uses the chatbot. Nothing here creates, edits or deletes."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    simple_list_pager = True
    page_size = 30
    list_template = "admin_users/users_list.html"
    column_list = ["email", "customer_id", "status", "chat_count", "created_at", "last_activity_at"]
    column_labels = {
        "email": "User",
        "customer_id": "Customer ID",
        "chat_count": "Chats",
        "created_at": "Created",
        "last_activity_at": "Last Activity",
    }
    column_default_sort = [("created_at", True), ("id", True)]
    column_sortable_list = ()
