"""Flask-Admin views of the extension; thin, the rules are in :mod:`admin_users.service`."""

from .access import AdminOnlyMixin
from .config import AppConfigView
from .index import AdminUsersIndexView
from .users import UsersView

__all__ = ["AdminOnlyMixin", "AdminUsersIndexView", "AppConfigView", "UsersView"]
