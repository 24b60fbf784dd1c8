from __future__ import annotations

from flask_admin import AdminIndexView

from .access import AdminOnlyMixin


class AdminUsersIndexView(AdminOnlyMixin, AdminIndexView):
    """The admin home, closed to all but admins (Flask-Admin's own is open).

    A host with its own ``Admin`` passes one as ``Admin(index_view=AdminUsersIndexView())``.
    """
