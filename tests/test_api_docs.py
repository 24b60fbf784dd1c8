"""docs/api.md (and the README's Python API) cannot drift from the code: every call
written there binds to the function's signature, optional arguments are shown as
optional, and every error, signal and profile field is listed."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from admin_users import errors, service, signals
from admin_users.models import ProfileMixin

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"
README = ROOT / "README.md"


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of ``text``."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of every row of the Markdown tables in ``text`` (headers and rules aside)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return [row for row in rows if row[0] not in ("call", "error", "signal")]


def spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def written_calls() -> list[str]:
    """Every call in the first column of the Reference tables, as written."""
    reference = section(API.read_text(), "Reference")
    return [span for row in table_rows(reference) for span in spans(row[0])]


def check_written(call: str) -> None:
    """``call`` as the Reference writes it (see its first paragraph) matches the code:
    positional names in order, ``name=name`` for a required keyword, ``name=`` the
    default for an optional one, ``**name`` for a function that takes any keyword."""
    node = ast.parse(call, mode="eval").body
    if isinstance(node, ast.Name):  # a decorator, written without a call
        assert callable(getattr(service, node.id)), call
        return
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), call
    function = getattr(service, node.func.id, None)
    assert callable(function), f"{call}: admin_users.service has no {node.func.id}"
    signature = inspect.signature(function)
    parameters = signature.parameters
    positional = [arg.id for arg in node.args]
    order = [
        name
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    assert positional == order[: len(positional)], f"{call}: positional names {order}"
    keywords = {}
    for keyword in node.keywords:
        if keyword.arg is None:  # **fields
            assert any(p.kind is p.VAR_KEYWORD for p in parameters.values()), call
            continue
        parameter = parameters.get(keyword.arg)
        assert parameter is not None, f"{call}: no argument {keyword.arg!r}"
        value = keyword.value
        if isinstance(value, ast.Name) and value.id == keyword.arg:
            assert parameter.default is inspect.Parameter.empty, (
                f"{call}: {keyword.arg} is optional (default {parameter.default!r}): "
                f"write {keyword.arg}={parameter.default!r}"
            )
        else:
            assert ast.literal_eval(value) == parameter.default, (
                f"{call}: {keyword.arg}'s default is {parameter.default!r}"
            )
        keywords[keyword.arg] = object()
    for name in positional:
        assert parameters[name].default is inspect.Parameter.empty, (
            f"{call}: {name} is optional: write {name}={parameters[name].default!r}"
        )
    signature.bind(*(object() for _ in positional), **keywords)  # raises if not bindable


@pytest.mark.parametrize("call", written_calls())
def test_every_call_in_the_reference_binds_to_the_code(call):
    check_written(call)


@pytest.mark.parametrize(
    "call",
    [
        "deactivate(user, reason, actor)",  # issue 17: keyword-only arguments, positional
        "deactivate(user, reason=reason, actor=actor)",  # actor is optional
        "set_chat_permission(value, actor=admin)",
        "record_event(user, action, entity)",
        "update_profile(user, first_name, city)",
        "set_customer_id(user, id)",
        "throttle(email)",
        "no_such_call(user)",
    ],
)
def test_the_check_catches_what_issue_17_found(call):
    with pytest.raises((AssertionError, TypeError, ValueError)):
        check_written(call)


def test_every_public_function_of_the_service_is_in_the_reference():
    named = {re.match(r"\w+", call).group() for call in written_calls()}
    public = {
        name
        for name in service.__all__
        if inspect.isfunction(getattr(service, name)) or name == "chat_guard"
    }
    assert public - named == set()


def service_calls(path: Path):
    """Every ``service.name(...)`` in the Python code blocks of ``path``."""
    for block in re.findall(r"```python\n(.*?)```", path.read_text(), re.S):
        for node in ast.walk(ast.parse(block)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "service"
            ):
                yield path.name, ast.unparse(node), node


def all_code_calls():
    return [
        pytest.param(node, id=f"{name}: {code}")
        for path in (API, README)
        for name, code, node in service_calls(path)
    ]


@pytest.mark.parametrize("node", all_code_calls())
def test_every_call_in_the_examples_binds(node):
    function = getattr(service, node.func.attr, None)
    assert callable(function), f"admin_users.service has no {node.func.attr}"
    keywords = {k.arg: object() for k in node.keywords if k.arg is not None}
    inspect.signature(function).bind(*(object() for _ in node.args), **keywords)


def test_both_files_have_examples_to_check():
    assert len(list(service_calls(API))) >= 10 and len(list(service_calls(README))) >= 10


def test_every_error_is_listed_with_its_status_and_when_it_is_raised():
    rows = {spans(row[0])[0]: row for row in table_rows(section(API.read_text(), "Errors"))}
    public = [
        cls
        for cls in vars(errors).values()
        if inspect.isclass(cls) and issubclass(cls, errors.AdminUsersError)
    ]
    assert errors.AdminUsersError in public and len(public) > 10
    for cls in public:
        assert cls.__name__ in rows, f"{cls.__name__} is not in docs/api.md's Errors"
        _, status, when = rows[cls.__name__]
        assert int(status) == cls.status, f"{cls.__name__} answers {cls.status}"
        assert len(when) > 10, f"say when {cls.__name__} is raised"
        if cls is not errors.AdminUsersError:
            assert getattr(service, cls.__name__) is cls  # importable from the service too
        if issubclass(cls, ValueError):
            assert "ValueError" in when, f"say that {cls.__name__} is a ValueError"


def test_every_signal_is_listed():
    listed = {spans(row[0])[0] for row in table_rows(section(API.read_text(), "Signals"))}
    assert listed == set(signals.__all__)


def test_every_profile_field_is_listed():
    listed = spans(section(API.read_text(), "Profile fields"))
    assert [name for name in listed if name in ProfileMixin.FIELDS] == list(ProfileMixin.FIELDS)


def test_the_host_data_settings_and_the_transaction_contract_are_written():
    text = API.read_text()
    for key in ("ADMIN_USERS_EXPORT_HOST_DATA", "ADMIN_USERS_ERASE_HOST_DATA", "PendingChanges"):
        assert key in text
    contract = section(text, "Transactions")
    assert "commits" in contract and "after the commit" in contract
