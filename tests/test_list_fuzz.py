"""Property: no list, batch or counts request answers with a server error."""

from __future__ import annotations

import re
import string

import pytest
from helpers import admin_post, csrf_token_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ODD = ["", "%", "_", "\\", "'", '"', "\x00", "😀", "Ä", "a" * 10_000, "--", "1 OR 1=1"]
args_strategy = st.fixed_dictionaries(
    {},
    optional={
        "q": st.one_of(st.sampled_from(ODD), st.text(max_size=250)),
        "sort": st.one_of(
            st.sampled_from(["email", "status", "chats", "created", "last_activity"]), st.text()
        ),
        "desc": st.one_of(st.sampled_from(["0", "1"]), st.text(max_size=5)),
        "status": st.one_of(st.sampled_from(["active", "guest", "x"]), st.text(max_size=12)),
        "cursor": st.one_of(st.sampled_from(ODD), st.text(max_size=120)),
    },
)


@pytest.mark.slow  # a long hypothesis run
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    args=args_strategy,
    url=st.sampled_from(["/admin/users/", "/admin/users/batch", "/admin/users/counts"]),
)
def test_list_parameters_never_cause_a_server_error(client, auth, app, api, args, url):
    if not hasattr(app, "_fuzz_admin"):
        with app.app_context():
            app._fuzz_admin = api.create_admin("admin@example.com").id
            for n in range(40):
                api.register(f"user{n}@example.com")
    auth.login(app._fuzz_admin)
    response = client.get(url, query_string=args)
    assert response.status_code in (200, 400), (args, response.status_code)
    if response.status_code == 400:
        assert len(response.data) < 2000 and b"Traceback" not in response.data


def test_a_real_cursor_with_odd_search_terms(client, auth, app, api):
    with app.app_context():
        admin_id = api.create_admin("admin@example.com").id
        for n in range(35):
            user = api.register(f"odd{n}@example.com")
            api.set_customer_id(user, "50%_\\'\"😀")
    auth.login(admin_id)
    args = {"q": "%_\\'\"😀", "sort": "email"}
    html = client.get("/admin/users/", query_string=args).get_data(as_text=True)
    assert html.count('class="user-row"') == 30
    cursor = re.search(r'data-cursor="([^"]+)"', html).group(1)
    batch = client.get("/admin/users/batch", query_string={**args, "cursor": cursor})
    assert batch.status_code == 200 and batch.get_data(as_text=True).count('class="user-row"') == 5


@pytest.mark.slow  # a long hypothesis run
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    user=st.one_of(st.integers(-5, 60), st.sampled_from(["abc", "1e3", "%00", "9" * 30])),
    tab=st.one_of(
        st.sampled_from(["chats", "audit", ""]),
        st.text(alphabet=string.ascii_letters + string.digits + "-_.%~", max_size=8),
    ),
    cursor=st.one_of(st.none(), st.sampled_from(ODD), st.text(max_size=80)),
)
def test_dialog_and_tab_parameters_never_cause_a_server_error(
    client, auth, app, api, user, tab, cursor
):
    if not hasattr(app, "_fuzz_admin"):
        with app.app_context():
            app._fuzz_admin = api.create_admin("admin@example.com").id
            someone = api.register("someone@example.com")
            for _ in range(3):
                api.record_event(someone, "login")
    auth.login(app._fuzz_admin)
    url = f"/admin/users/{user}" + (f"/{tab}" if tab else "")
    response = client.get(url, query_string={"cursor": cursor} if cursor is not None else {})
    assert response.status_code in (200, 400, 404, 405), (url, cursor, response.status_code)


TEXT = st.one_of(st.sampled_from(ODD), st.text(max_size=60))
IDS = st.one_of(st.integers(-3, 60), st.sampled_from(["abc", "9" * 30, str(2**31), str(2**63)]))


@pytest.mark.slow  # a long hypothesis run
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    user=IDS,
    action=st.sampled_from(["deactivate", "reactivate", "erase", "export", "bulk"]),
    form=st.fixed_dictionaries(
        {}, optional={"reason": TEXT, "detail": TEXT, "note": TEXT, "confirm": TEXT}
    ),
)
def test_admin_actions_never_cause_a_server_error(client, auth, app, api, user, action, form):
    if not hasattr(app, "_fuzz_admin"):
        with app.app_context():
            app._fuzz_admin = api.create_admin("admin@example.com").id
            for n in range(5):
                api.register(f"target{n}@example.com")
    auth.login(app._fuzz_admin)
    if action == "bulk":
        url, form = "/admin/users/action/", {**form, "action": "deactivate", "rowid": str(user)}
    else:
        url = f"/admin/users/{user}/{action}"
    response = admin_post(client, url, **form)
    assert response.status_code in (200, 400, 404), (url, form, response.status_code)


@pytest.mark.slow  # a long hypothesis run
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    route=st.sampled_from(["index", "send", "delete", "register", "login", "profile"]),
    chat=IDS,
    text=TEXT,
)
def test_the_demo_hosts_routes_never_cause_a_server_error(app, route, chat, text):
    client = app.test_client()
    token = csrf_token_for(client)
    if route == "index":
        response = client.get("/", query_string={"chat": str(chat)})
    elif route == "send":
        data = {"message": text, "chat_id": str(chat), "csrf_token": token}
        response = client.post("/chat", data=data)
    elif route == "delete":
        response = client.post(f"/chat/{chat}/delete", data={"csrf_token": token})
    elif route == "profile":
        client.post("/register", data={"email": f"p{chat}@example.com", "csrf_token": token})
        data = {"first_name": text, "city": text, "csrf_token": csrf_token_for(client)}
        response = client.post("/profile", data=data)
    else:
        response = client.post(f"/{route}", data={"email": text, "csrf_token": token})
    assert response.status_code < 500, (route, chat, text, response.status_code)
