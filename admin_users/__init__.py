"""admin-users: the Users page of a Flask chatbot's admin panel."""

from .extension import AdminUsers, get_state
from .models import Status, build_models, status_of
from .views import AdminOnlyMixin, AdminUsersIndexView

__all__ = [
    "AdminOnlyMixin",
    "AdminUsers",
    "AdminUsersIndexView",
    "Status",
    "build_models",
    "get_state",
    "status_of",
]
