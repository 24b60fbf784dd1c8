"""One sign-in link, redeemed by many browsers at the same moment, against gunicorn with
four workers on loopback: one sign-in, one session, one ``login`` entry; every other
browser is told the link was used."""

from __future__ import annotations

from bench.load import link_race, serve

SECRET = "link race"


def test_one_link_redeemed_at_once_signs_in_once(database_url):
    from admin_users.extension import create_tables
    from wsgi import create_app, db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET})
    with app.app_context():
        create_tables()
    try:
        with serve(database_url, SECRET) as base:
            race = link_race(app, base, links=4, racers=12)
    finally:
        with app.app_context():
            db.engine.dispose()
    assert race["answers"] == {"signed in": 4, "told the link was used": 44}
    assert race["sessions and logins per link"] == [(1, 1)] * 4
