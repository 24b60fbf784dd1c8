from __future__ import annotations

from flask import flash, redirect, request
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select

from .. import service
from ..details import identifiers
from ..state import get_state
from .access import AdminOnlyMixin


class AppConfigView(AdminOnlyMixin, BaseView):
    """Admin > App Config: who may chat. A change is audit-logged and applies to the next
    request of every worker (it is read from the database on each request)."""

    template = "admin_users/app_config.html"  # a host may point it at its own

    @expose("/", methods=["GET", "POST"])
    def index(self):
        if request.method == "POST":
            value = request.form.get("chat_permission", "")
            try:
                changed = service.set_chat_permission(value, actor=current_user)
            except service.AdminUsersError as error:
                flash(str(error), "error")
                return redirect(self.get_url(".index"), 303)
            if changed:
                flash(f"Chat permission is now {value.title()}.")
            else:
                flash(f"Chat permission was already {value.title()}: nothing changed.")
            return redirect(self.get_url(".index"), 303)
        AuditLog = get_state().models.AuditLog
        history = (
            get_state()
            .db.session.scalars(
                select(AuditLog)
                .where(AuditLog.action == "admin.config")
                .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
                .limit(10)
            )
            .all()
        )
        return self.render(
            self.template,
            permission=service.get_chat_permission(),
            choices=service.CHAT_PERMISSIONS,
            history=history,
            actors=identifiers(entry.actor_id for entry in history),
        )
