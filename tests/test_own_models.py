"""A host with its own Admin and its own user table mounts the extension."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_admin import Admin, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from helpers import signed_in
from sqlalchemy import Integer, String
from sqlalchemy.orm import mapped_column

from admin_users import AdminUsers, build_models
from admin_users.models import UserMixin
from admin_users.views import AdminUsersIndexView

db = SQLAlchemy()


class Account(UserMixin, db.Model):
    __tablename__ = "accounts"
    plan = mapped_column(String(20), default="free")


class Invoice(db.Model):
    __tablename__ = "invoices"
    id = mapped_column(Integer, primary_key=True)
    number = mapped_column(String(20))


models = build_models(db, User=Account)


class InvoiceView(ModelView):
    column_list = ["number"]


def create_host_app(database_url: str) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True)
    db.init_app(app)
    CSRFProtect(app)
    LoginManager(app)  # the extension brings its user loader
    admin = Admin(app, name="Host admin", index_view=AdminUsersIndexView())
    admin.add_view(InvoiceView(Invoice, db, name="Invoices"))
    AdminUsers(db=db, models=models).init_app(app, admin=admin)
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def host(database_url):
    app = create_host_app(database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_host_admin_lists_its_own_users(host, api):
    with host.app_context():
        admin = api.create_admin("boss@host.example")
        user = api.register("customer@host.example")
        user.plan = "pro"
        db.session.commit()
        api.start_chat(user)
        db.session.add(Invoice(number="INV-7"))
        db.session.commit()
        assert isinstance(api.find_user("customer@host.example"), Account)
        (fk,) = models.Chat.__table__.c.user_id.foreign_keys
        assert fk.target_fullname == "accounts.id"
        admin_id = admin.id
    client = signed_in(host.test_client(), admin_id)
    html = client.get("/admin/users/").get_data(as_text=True)
    assert "customer@host.example" in html and "boss@host.example" in html
    assert client.get("/admin/invoice/").get_data(as_text=True).count("INV-7") == 1
    assert "Host admin" in client.get("/admin/").get_data(as_text=True)


def test_two_apps_from_one_factory_both_work(database_url, api, tmp_path):
    from wsgi import create_app

    apps = []
    for n in range(2):
        url = f"sqlite:///{tmp_path / f'app{n}.sqlite'}"
        app = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        demo_db = app.extensions["sqlalchemy"]
        with app.app_context():
            demo_db.create_all()
            admin_id = api.create_admin(f"admin{n}@example.com").id
        apps.append((app, admin_id))
    for n, (app, admin_id) in enumerate(apps):
        client = signed_in(app.test_client(), admin_id)
        html = client.get("/admin/users/").get_data(as_text=True)
        assert f"admin{n}@example.com" in html and f"admin{1 - n}@example.com" not in html
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()


def test_a_clear_error_without_init_app():
    from admin_users import get_state

    with Flask(__name__).app_context(), pytest.raises(RuntimeError, match="init_app"):
        get_state()


def test_the_hosts_own_views_are_for_active_admins_only(host, api):
    with host.app_context():
        admin_id = api.create_admin("boss@host.example").id
        customer_id = api.register("customer@host.example").id
    assert host.test_client().get("/admin/invoice/").status_code == 401  # no login view
    assert host.test_client().get("/admin/").status_code == 401
    customer = signed_in(host.test_client(), customer_id)
    assert customer.get("/admin/invoice/").status_code == 403
    boss = signed_in(host.test_client(), admin_id)
    assert boss.get("/admin/invoice/").status_code == 200
    with host.app_context():
        api.deactivate(api.find_user("boss@host.example"), reason="left", actor=None)
    assert boss.get("/admin/invoice/").status_code in (302, 401)  # that session ended
    with host.test_client().get("/admin/static/bootstrap/bootstrap4/css/bootstrap.min.css") as css:
        assert css.status_code == 200  # the panel's static files stay open


def test_a_host_may_leave_its_views_to_decide_for_themselves(database_url):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI=database_url, TESTING=True)
    own_db = SQLAlchemy(app)
    LoginManager(app)
    admin = Admin(app, name="Host admin")
    admin.add_view(StatusPage(name="Status", endpoint="status"))
    AdminUsers(db=own_db).init_app(app, admin=admin, guard_all_views=False)
    response = app.test_client().get("/admin/status/")
    assert response.status_code == 200 and response.get_data(as_text=True) == "all well"
    assert app.test_client().get("/admin/users/").status_code == 401  # ours stay closed
    with app.app_context():
        own_db.engine.dispose()


class StatusPage(BaseView):
    @expose("/")
    def index(self):
        return "all well"


def _bare_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="host", SQLALCHEMY_DATABASE_URI="sqlite://")
    return app


def test_clear_errors_at_init_app_for_a_setup_that_would_fail_later():
    app, own_db = _bare_app(), SQLAlchemy()
    with pytest.raises(RuntimeError, match=r"db\.init_app\(app\)"):
        AdminUsers(db=own_db).init_app(app)

    app, own_db = _bare_app(), SQLAlchemy()
    own_db.init_app(app)
    with pytest.raises(RuntimeError, match="LoginManager"):
        AdminUsers(db=own_db).init_app(app)

    app, own_db = _bare_app(), SQLAlchemy()
    own_db.init_app(app)
    LoginManager(app)
    Admin(app)
    with pytest.raises(RuntimeError, match=r"init_app\(app, admin=admin\)"):
        AdminUsers(db=own_db).init_app(app)
