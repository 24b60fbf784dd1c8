"""The users of each status, kept beside the users (admin_users.counters): equal to a
recount after every kind of change, after rows written without the ORM, and after the
migration that brings them to an existing database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from helpers import admin_post, signed_in
from sqlalchemy import func, select, text

from admin_users import counters, migrate, service
from admin_users.models import Status


def kept_and_recounted(app) -> tuple[dict, dict]:
    """The counts as kept and as a recount gives them, by status key."""
    state = app.extensions["admin_users"]
    session, User = state.db.session, state.models.User
    kept = {s.key: n for s, n in counters.totals(session, state.models.StatusCount).items()}
    counted = dict(session.execute(select(User.status, func.count()).group_by(User.status)).all())
    session.commit()  # ends the read
    return kept, {s.key: counted.get(int(s), 0) for s in Status}


def assert_kept(app) -> dict:
    kept, counted = kept_and_recounted(app)
    assert kept == counted
    return kept


def test_every_change_of_a_status_is_counted(app, api, db, models):
    with app.app_context():
        admin = api.create_admin("boss@example.com")
        guest = api.create_guest()
        user = api.register("new@example.com")
        assert assert_kept(app) == {"active": 1, "unconfirmed": 1, "deactivated": 0, "guest": 1}
        api.confirm_email(user)
        api.deactivate(guest, reason="Spam or bot account", actor=admin)
        assert assert_kept(app) == {"active": 2, "unconfirmed": 0, "deactivated": 1, "guest": 0}
        api.reactivate(guest, actor=admin)
        api.deactivate(user, reason="Abuse or harmful behaviour", actor=admin)
        api.erase_user(user, actor=admin, confirm="new@example.com")
        assert assert_kept(app) == {"active": 1, "unconfirmed": 0, "deactivated": 1, "guest": 1}
        summary = api.deactivate_many(
            [guest.id, user.id], reason="Spam or bot account", actor=admin
        )
        assert assert_kept(app)["deactivated"] == 2, summary
        # The host's own writes through the ORM are counted too: a change and a delete.
        row = models.User(email="other@example.com")
        db.session.add(row)
        db.session.commit()
        assert assert_kept(app)["unconfirmed"] == 1
        row.email = None  # an unconfirmed account turned into a guest
        db.session.commit()
        assert assert_kept(app)["guest"] == 1
        db.session.delete(row)
        db.session.commit()
        assert assert_kept(app) == {"active": 1, "unconfirmed": 0, "deactivated": 2, "guest": 0}


def test_a_rolled_back_change_is_not_counted(app, api, db, models):
    with app.app_context():
        api.register("stays@example.com")
        db.session.add(models.User(email="gone@example.com"))
        db.session.flush()  # counted in the transaction ...
        db.session.rollback()  # ... and not after it
        assert assert_kept(app)["unconfirmed"] == 1


def test_rows_written_without_the_orm_are_recounted_by_backfill(app, api, runner):
    with app.app_context():
        api.register("orm@example.com")
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO users (email, created_at) VALUES (:e, :t)"),
                [
                    {"e": f"raw{n}@example.com", "t": datetime(2025, 1, 2, tzinfo=UTC)}
                    for n in range(3)
                ],
            )
        kept, counted = kept_and_recounted(app)
        assert kept != counted  # the raw rows, with the placeholder status, are not counted
        result = runner.invoke(args=["admin-users", "backfill"])
        assert result.exit_code == 0, result.output
        assert assert_kept(app)["unconfirmed"] == 4


def test_demo_data_is_counted_and_the_page_shows_the_totals(app, runner, admin_id):
    assert runner.invoke(args=["admin-users", "demo-data", "--users", "300"]).exit_code == 0
    with app.app_context():
        kept = assert_kept(app)
    client = signed_in(app.test_client(), admin_id)
    answer = client.get("/admin/users/counts").get_json()
    assert {k: c["count"] for k, c in answer["counts"].items()} == kept
    assert answer["total"] == answer["listed"] == {"count": sum(kept.values()), "more": False}
    guests = client.get("/admin/users/counts?status=guest").get_json()
    assert guests["listed"] == {"count": kept["guest"], "more": False}
    assert not any(c["more"] for c in answer["counts"].values())  # exact beyond the cap too
    searched = client.get("/admin/users/counts?q=example").get_json()
    assert searched["total"]["count"] == sum(c["count"] for c in searched["counts"].values())


def test_the_migration_counts_the_users_there_are(bare_app):
    with bare_app.app_context():
        migrate.upgrade("admin_users_0005")
        engine = bare_app.extensions["sqlalchemy"].engine
        with engine.begin() as connection:  # as the version before wrote them
            connection.execute(
                text(
                    "INSERT INTO users (email, identifier_key, status, created_at) "
                    "VALUES (:e, :e, :s, :t)"
                ),
                [
                    {"e": f"before{n}@example.com", "s": s, "t": datetime(2025, 1, 2, tzinfo=UTC)}
                    for n, s in enumerate([1, 2, 2, 2, 4])
                ],
            )
        migrate.upgrade()
        assert migrate.at_head()
        assert assert_kept(bare_app) == {
            "active": 1, "unconfirmed": 3, "deactivated": 0, "guest": 1
        }  # fmt: skip
        service.register("after@example.com")
        assert assert_kept(bare_app)["unconfirmed"] == 4
        migrate.downgrade("admin_users_0005")
        with engine.connect() as connection:
            assert "user_status_counts" not in engine.dialect.get_table_names(connection)


def test_all_matching_is_refused_unless_the_typed_number_is_the_lists(app, runner, admin_id):
    assert runner.invoke(args=["admin-users", "demo-data", "--users", "60"]).exit_code == 0
    client = signed_in(app.test_client(), admin_id)
    with app.app_context():
        guests = assert_kept(app)["guest"]
    form = {"action": "deactivate", "matching": "1", "status": "guest", "reason": "Spam"}
    wrong = admin_post(client, "/admin/users/action/", **form, count=str(guests + 1))
    assert wrong.status_code == 409 and f"holds {guests} users" in wrong.get_json()["error"]
    with app.app_context():
        assert assert_kept(app)["guest"] == guests  # nobody changed
    right = admin_post(client, "/admin/users/action/", **form, count=str(guests))
    assert right.status_code == 200 and right.get_json()["deactivated"] == guests
    with app.app_context():
        assert assert_kept(app)["guest"] == 0


def test_init_db_over_a_database_from_before_counts_its_users(app, api, runner):
    with app.app_context():
        for n in range(3):
            api.register(f"earlier{n}@example.com")
        api.create_guest()
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as connection:  # as a version before the counts left it
            connection.execute(text("DROP TABLE user_status_counts"))
    assert runner.invoke(args=["admin-users", "init-db"]).exit_code == 0
    with app.app_context():
        assert assert_kept(app) == {"active": 0, "unconfirmed": 3, "deactivated": 0, "guest": 1}
    assert runner.invoke(args=["admin-users", "init-db"]).exit_code == 0  # again: kept as is
    with app.app_context():
        assert assert_kept(app)["unconfirmed"] == 3
