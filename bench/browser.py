"""Admin > Users in a real browser: from the click or key to the rows on screen (see
bench/README.md).

Serves the demo app with gunicorn on loopback (``bench/load.py``'s ``serve``) over the
database ``bench/run.py`` prepares, signs headless Chromium in as the bench's admin
through the real sign-in link, and times in the page itself: from the input event's own
time stamp (or the moment of the scroll) until what the admin waits for is in the DOM,
visible, and one frame later on screen. Reports p50 and max per case against the
target of PERFORMANCE.md (p50 <= 100 ms).

    .venv/bin/python bench/browser.py [--users N] [--database-url URL] [--quick]
                                      [--repeat 20] [--workers 2] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import serve  # noqa: E402  (also puts the checkout on sys.path)
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from run import ADMIN, HEAVY, BenchError, database_url, machine, prepare  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from admin_users import service  # noqa: E402
from admin_users.definitions import Status  # noqa: E402
from admin_users.sorts import SORTS  # noqa: E402
from wsgi import create_app, db  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "admin-users-browser-bench"
VIEWPORT = {"width": 1280, "height": 800}
TARGET_MS = 100  # p50, every case (PERFORMANCE.md, "in a real browser")
TYPING_PAUSE_MS = 250  # navigate.js waits this long after the last key before it asks
NO_MATCH = "zzqxj-no-match"
LIST = "/admin/users/"
LIST_REQUESTS = "^/admin/users/(batch)?$"  # a list's page, its next batches

# The in-page timer, installed before the page's own scripts. Capturing listeners on the
# window note the time stamp of the last click, keydown and input event (the browser's
# own time of the input, on performance.now()'s clock); arm() remembers what the page
# shows now, then checks its conditions at every DOM mutation and every animation frame.
# A condition met is stamped "dom"; the frame after it is stamped "screen" (a task queued
# from the next requestAnimationFrame runs once that frame is rendered).
TIMER_JS = r"""
(() => {
  const last = {};
  performance.setResourceTimingBufferSize(10000);
  for (const type of ['click', 'keydown', 'input']) {
    window.addEventListener(type, (event) => {
      last[type] = { t: event.timeStamp, key: event.key };
    }, true);
  }

  function clipped(el) {
    // The part of el inside the window and inside every scrolling ancestor.
    const r = el.getBoundingClientRect();
    let top = Math.max(r.top, 0), left = Math.max(r.left, 0);
    let bottom = Math.min(r.bottom, innerHeight), right = Math.min(r.right, innerWidth);
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (/auto|scroll|hidden|clip/.test(s.overflowX + s.overflowY)) {
        const b = a.getBoundingClientRect();
        top = Math.max(top, b.top); left = Math.max(left, b.left);
        bottom = Math.min(bottom, b.bottom); right = Math.min(right, b.right);
      }
    }
    return r.width > 0 && r.height > 0 && bottom > top && right > left;
  }
  function shown(el) {  // rendered, not transparent, not hidden
    return !!el && el.isConnected &&
      el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
  }
  function onScreen(el) { return shown(el) && clipped(el); }
  const $ = (selector) => document.querySelector(selector);
  const rows = () => document.getElementById('user-rows').rows;

  // Each condition: (its arguments, what arm() saw) => met?
  const conditions = {
    // The list replaced (a search, a sort): a new first row (or the empty message) on
    // screen, the address changed, the page no longer busy.
    listFirst(c, base) {
      const first = rows()[0];
      const page = $('.users-page');
      if (page.hasAttribute('aria-busy') || location.search === base.search) return false;
      if (first) return first !== base.first && onScreen(first);
      const empty = $('.users-empty');
      return !empty.hidden && onScreen(empty);
    },
    // ... and 30 rows in it, or the end of the list.
    list30(c, base) {
      if (!conditions.listFirst(c, base)) return false;
      return rows().length >= 30 || !document.getElementById('list-end').hidden;
    },
    // The next batch: 30 more rows, each rendered, the first of them on screen.
    batch(c, base) {
      const all = rows();
      if (all.length < base.count + 30) return false;
      for (let i = base.count; i < base.count + 30; i++) if (!shown(all[i])) return false;
      return onScreen(all[base.count]);
    },
    // The dialog of user c.user, its user info on screen.
    dialog(c) {
      const modal = document.getElementById('user-dialog');
      if (!modal.classList.contains('show')) return false;
      const body = modal.querySelector('.modal-body[data-user-id="' + c.user + '"]');
      return !!body && onScreen(body.querySelector('.user-info'));
    },
    // ... and its fade-in over: the dialog opaque and in place.
    dialogSettled(c) {
      const modal = document.getElementById('user-dialog');
      return conditions.dialog(c) && getComputedStyle(modal).opacity === '1'
        && getComputedStyle(modal.querySelector('.modal-dialog')).transform === 'none';
    },
    // A tab's first rows (or its empty message) on screen.
    tab(c) {
      const pane = document.getElementById(c.pane);
      if (!pane) return false;
      const first = pane.querySelector('.tab-rows tr');
      if (first) return onScreen(first);
      const empty = pane.querySelector('.tab-empty');
      return !!empty && !empty.hidden && onScreen(empty);
    },
    // The dialog of c.user shows the status c.status (and its reason, if deactivated).
    dialogStatus(c) {
      const body = $('#user-dialog .modal-body[data-user-id="' + c.user + '"]');
      const status = body && body.querySelector('.field-status');
      if (!status || status.textContent.trim() !== c.status || !onScreen(status)) return false;
      return c.status !== 'Deactivated' || !!body.querySelector('.field-reason');
    },
    // The user's row in the list shows the status c.status.
    rowStatus(c) {
      const cell = $('tr.user-row[data-user-id="' + c.user + '"] td.col-status');
      return !!cell && cell.textContent.trim() === c.status;
    },
  };

  let run = null;

  function describe() {
    const modal = document.getElementById('user-dialog');
    return {
      url: location.pathname + location.search,
      rows: document.getElementById('user-rows') ? rows().length : null,
      busy: !!$('.users-page[aria-busy]'),
      loading: !!$('#list-loading:not([hidden])'),
      loadError: !!$('#load-error:not([hidden])'),
      dialog: modal ? modal.className + ' ' + (modal.innerText || '').slice(0, 300) : null,
    };
  }

  function finish(result) {
    if (!run) return;
    const current = run;
    run = null;
    current.observer.disconnect();
    clearTimeout(current.timer);
    current.resolve(result);
  }

  function check() {
    if (!run) return;
    const now = performance.now();
    for (const c of run.checks) {
      if (c.dom !== undefined || !conditions[c.kind](c, run.base)) continue;
      c.dom = now;
      requestAnimationFrame(() => setTimeout(() => { c.screen = performance.now(); done(); }, 0));
    }
    if (run) requestAnimationFrame(check);
  }

  function done() {
    if (!run || run.checks.some((c) => c.screen === undefined)) return;
    let start = run.armed;
    if (run.trigger !== 'now') {
      const event = last[run.trigger];
      if (!event || (run.key && event.key !== run.key)) {
        finish({ error: 'no ' + run.trigger + ' event seen', state: describe() });
        return;
      }
      start = event.t;
    }
    // The page's requests since the event (Resource Timing; those whose path matches
    // c.requests, if given): when the first was sent, when the last answered before the
    // condition was met.
    const requests = performance.getEntriesByType('resource').filter((e) => e.startTime >= start
      && (e.initiatorType === 'fetch' || e.initiatorType === 'xmlhttprequest'));
    const marks = {};
    for (const c of run.checks) {
      if (c.dom < start) {
        finish({ error: c.name + ' was met before the ' + run.trigger, state: describe() });
        return;
      }
      const mine = c.requests ? new RegExp(c.requests) : null;
      const before = requests.filter((e) => e.responseEnd <= c.dom
        && (!mine || mine.test(new URL(e.name).pathname)));
      marks[c.name] = {
        dom: c.dom - start, screen: c.screen - start,
        sent: before.length ? Math.min(...before.map((e) => e.startTime)) - start : null,
        answered: before.length ? Math.max(...before.map((e) => e.responseEnd)) - start : null,
        requests: before.map((e) => new URL(e.name).pathname),
      };
    }
    finish({ marks: marks, state: describe() });
  }

  window.__bench = {
    // spec: {trigger: 'click' | 'keydown' | 'input' | 'now', key, checks: [{name, kind,
    // ...arguments}], timeout (ms), scroll: true to scroll to the end as the start}
    arm(spec) {
      if (run) finish({ error: 'armed again' });
      for (const type in last) delete last[type];
      performance.clearResourceTimings();
      const body = document.getElementById('user-rows');
      const base = {
        search: location.search,
        first: body ? body.rows[0] : null,
        count: body ? body.rows.length : 0,
      };
      window.__benchDone = new Promise((resolve) => {
        run = {
          trigger: spec.trigger, key: spec.key, base: base, resolve: resolve,
          checks: spec.checks.map((c) => Object.assign({}, c)),
          observer: new MutationObserver(check),
        };
      });
      run.timer = setTimeout(() => finish({ error: 'timed out after ' + spec.timeout + ' ms',
                                            state: describe() }), spec.timeout);
      run.observer.observe(document.documentElement,
        { subtree: true, childList: true, attributes: true, characterData: true });
      run.armed = performance.now();
      if (spec.scroll) {
        window.scrollTo({ top: document.documentElement.scrollHeight, behavior: 'instant' });
      }
      requestAnimationFrame(check);
    },
  };
})();
"""


@dataclass
class Case:
    name: str
    target: float  # ms, p50
    note: str = ""
    screen: list = field(default_factory=list)  # ms, from the event to the frame after
    dom: list = field(default_factory=list)  # ms, from the event to the DOM showing it
    sent: list = field(default_factory=list)  # ms, from the event to its first request
    answered: list = field(default_factory=list)  # ms, ... to the last answer before "dom"
    requests: list = field(default_factory=list)  # the paths asked for (the first run)
    extra: dict = field(default_factory=dict)  # other marks of the same runs: name -> ms
    n: int = 0
    p50: float | None = None
    max: float | None = None
    dom_p50: float | None = None
    sent_p50: float | None = None
    answered_p50: float | None = None
    result: str = ""

    def add(self, mark: dict) -> None:
        self.screen.append(mark["screen"])
        self.dom.append(mark["dom"])
        self.sent.append(mark["sent"])
        self.answered.append(mark["answered"])
        self.requests = self.requests or mark["requests"]

    def close(self, warmups: int = 1) -> None:
        """Drop the warm-up run, sum up, judge."""
        for name in ("screen", "dom", "sent", "answered"):
            setattr(self, name, getattr(self, name)[warmups:])
        self.extra = {k: v[warmups:] for k, v in self.extra.items()}
        self.n = len(self.screen)
        if not self.n:
            self.result = "n/a"
            return
        self.p50, self.max = statistics.median(self.screen), max(self.screen)
        self.dom_p50 = statistics.median(self.dom)
        if None not in self.sent:
            self.sent_p50 = statistics.median(self.sent)
            self.answered_p50 = statistics.median(self.answered)
        self.result = "pass" if self.p50 <= self.target else f"FAIL p50>{self.target:g}"


class Bench:
    """One browser tab signed in as the admin, and the cases timed in it."""

    def __init__(self, page, base: str, timeout_ms: int, shots: Path | None):
        self.page, self.base, self.timeout_ms, self.shots = page, base, timeout_ms, shots
        self.failures: list[str] = []  # answers of 400 and over, JavaScript errors
        page.on("pageerror", lambda error: self.failures.append(f"JavaScript error: {error}"))
        page.on("response", self._answered)

    def _answered(self, response) -> None:
        if response.status >= 400 and response.url.startswith(self.base):
            self.failures.append(f"{response.request.method} {response.url} {response.status}")

    def check_failures(self, where: str) -> None:
        if self.failures:
            self.screenshot("failed")
            raise BenchError(f"{where}: {'; '.join(self.failures[:5])}")

    def screenshot(self, name: str) -> None:
        if self.shots:
            self.page.screenshot(path=str(self.shots / f"{name}.png"))

    def open(self, path: str, ready: str | None = None) -> None:
        """Load ``path``; wait for its rows and its status counts (and ``ready``)."""
        response = self.page.goto(self.base + path)
        if response is None or response.status != 200:
            status = response and response.status
            raise BenchError(f"GET {path} answered {status}: {response and response.text()[:300]}")
        self.page.wait_for_function(
            "() => document.querySelector('.status-count[data-total]').textContent !== ''"
            " && document.getElementById('list-loading').hidden",
            timeout=self.timeout_ms,
        )
        if self.page.locator("tr.user-row").count() == 0 and "q=" not in path:
            raise BenchError(f"{path} shows no rows: {self.page.inner_text('body')[:300]}")
        if ready:
            self.page.wait_for_function(ready, timeout=self.timeout_ms)
        self.check_failures(f"GET {path}")

    def time(self, what: str, action, trigger: str, checks: list[dict], **spec) -> dict:
        """Arm the in-page timer, do ``action()``, await the marks (name -> {dom, screen})."""
        spec = {"trigger": trigger, "checks": checks, "timeout": self.timeout_ms, **spec}
        self.page.evaluate("spec => window.__bench.arm(spec)", spec)
        if action:
            action()
        answer = self.page.evaluate("() => window.__benchDone")
        self.check_failures(what)
        if "error" in answer:
            self.screenshot("failed")
            raise BenchError(f"{what}: {answer['error']}; the page: {answer.get('state')}")
        return answer["marks"]


# -- the cases ----------------------------------------------------------------------------


def ready_dialog(user_id: int) -> str:
    """JavaScript: the dialog of ``user_id`` open, faded in, its shown tab's rows loaded."""
    body = f'#user-dialog.show .modal-body[data-user-id="{user_id}"]'
    tab = ".user-tab.active .tab-rows tr, .user-tab.active .tab-empty:not([hidden])"
    return (
        f"() => !!document.querySelector('{body}') && !!document.querySelector('{tab}')"
        " && getComputedStyle(document.getElementById('user-dialog')).opacity === '1'"
        " && getComputedStyle(document.querySelector('#user-dialog .modal-dialog')).transform"
        " === 'none'"
    )


def bench_searches(b: Bench, terms: list[dict], runs: int) -> list:
    cases = []
    for t in terms:
        term = t["term"]
        name = f"search {t['kind']} {term!r} ({t['matches']:,} users)"
        enter = Case(f"{name}, Enter: 30 rows or the end", TARGET_MS)
        enter.extra["first row"] = []
        typed = Case(
            f"{name}, typed: 30 rows or the end after the last key",
            TARGET_MS + TYPING_PAUSE_MS,
            f"includes the page's {TYPING_PAUSE_MS} ms pause after the last key",
        )
        checks = [
            {"name": "30", "kind": "list30", "requests": LIST_REQUESTS},
            {"name": "first", "kind": "listFirst", "requests": LIST_REQUESTS},
        ]
        for _ in range(runs):
            b.open(LIST)
            b.page.evaluate(
                "term => { const i = document.querySelector('input.users-search');"
                " i.value = term; i.focus(); }",
                term,
            )
            marks = b.time(
                f"search {term!r} by Enter",
                lambda: b.page.keyboard.press("Enter"),
                "keydown",
                checks,
                key="Enter",
            )
            enter.add(marks["30"])
            enter.extra["first row"].append(marks["first"]["screen"])
            b.open(LIST)
            b.page.focus("input.users-search")
            marks = b.time(
                f"search {term!r} typed",
                lambda term=term: b.page.keyboard.type(term),
                "input",
                checks[:1],
            )
            typed.add(marks["30"])
        b.screenshot(f"search-{t['kind'].replace(' ', '-')}")
        cases += [enter, typed]
    return cases


def bench_sorts(b: Bench, runs: int) -> list:
    """Each column header clicked on the default list, then clicked again."""
    cases = []
    for sort in SORTS:
        clicks = [Case(f"sort by {sort}, first click", TARGET_MS),
                  Case(f"sort by {sort}, second click", TARGET_MS)]  # fmt: skip
        button = f".sort-form[data-sort='{sort}'] button"
        for run in range(runs):
            b.open(LIST)
            for case in clicks:
                marks = b.time(
                    f"sort by {sort}",
                    lambda button=button: b.page.click(button),
                    "click",
                    [{"name": "30", "kind": "list30", "requests": LIST_REQUESTS}],
                )
                case.add(marks["30"])
                if run == 0:
                    order = b.page.get_attribute(f"th:has({button})", "aria-sort")
                    case.name += f" ({order})"
        b.screenshot(f"sort-{sort}")
        cases += clicks
    return cases


def bench_next_batch(b: Bench, runs: int) -> Case:
    case = Case("next batch: scrolled to the end, 30 more rows", TARGET_MS)
    b.open(LIST)
    for _ in range(runs):
        b.page.wait_for_function(
            "() => document.getElementById('list-loading').hidden", timeout=b.timeout_ms
        )
        check = {"name": "batch", "kind": "batch", "requests": LIST_REQUESTS}
        marks = b.time("next batch", None, "now", [check], scroll=True)
        case.add(marks["batch"])
    b.screenshot("next-batch")
    return case


def dialog_tabs(b: Bench, path: str, user_id: int) -> list[dict]:
    """The dialog's tabs, as it lists them (a tab added later is timed too)."""
    b.open(path, ready_dialog(user_id))
    return b.page.eval_on_selector_all(
        "#user-dialog [role=tab]",
        "tabs => tabs.map(t => ({id: t.id, pane: t.getAttribute('aria-controls'),"
        " label: t.childNodes[0].textContent.trim(), active: t.classList.contains('active'),"
        " path: '^' + new URL(document.getElementById(t.getAttribute('aria-controls'))"
        ".dataset.url, location.href).pathname + '$'}))",
    )


def bench_dialog(b: Bench, heavy: dict, other: dict, runs: int) -> list:
    """The dialog of a row clicked, with the tab that shows first (from that click); then
    each other tab clicked in a dialog just opened (the heavy user's)."""
    path = LIST + "?" + urlencode({"q": heavy["email"], "user": heavy["id"]})
    tabs = dialog_tabs(b, path, heavy["id"])
    first = next(t for t in tabs if t["active"])
    others = [t for t in tabs if not t["active"]]

    dialog = Case(f"detail dialog of {heavy['email']} (row clicked)", TARGET_MS)
    plain = Case(f"detail dialog of {other['email']} (row clicked)", TARGET_MS)
    shown_first = Case(f"{first['label']} tab's first rows (shown first: from the row's click)",
                       TARGET_MS)  # fmt: skip
    for case in (dialog, plain):
        case.extra["fade-in over"] = []
    for _ in range(runs):
        for user, case in ((heavy, dialog), (other, plain)):
            b.open(LIST + "?" + urlencode({"q": user["email"]}))
            row = f"tr.user-row[data-user-id='{user['id']}'] td.col-user"
            mine = f"^{LIST}{user['id']}$"
            checks = [
                {"name": "dialog", "kind": "dialog", "user": user["id"], "requests": mine},
                {"name": "settled", "kind": "dialogSettled", "user": user["id"]},
            ]
            if case is dialog:
                tab = {  # its first rows may come with the dialog's own answer
                    "name": "tab",
                    "kind": "tab",
                    "pane": first["pane"],
                    "requests": f"{first['path']}|{mine}",
                }
                checks.append(tab)
            marks = b.time(
                f"dialog of {user['email']}", lambda row=row: b.page.click(row), "click", checks
            )
            case.add(marks["dialog"])
            case.extra["fade-in over"].append(marks["settled"]["screen"])
            if case is dialog:
                shown_first.add(marks["tab"])
    b.screenshot("dialog")
    cases = [dialog, plain, shown_first]

    tab_cases = {t["id"]: Case(f"{t['label']} tab's first rows (tab clicked)", TARGET_MS)
                 for t in others}  # fmt: skip
    for _ in range(runs):
        b.open(path, ready_dialog(heavy["id"]))
        for t in others:
            marks = b.time(
                f"{t['label']} tab",
                lambda t=t: b.page.click(f"#{t['id']}"),
                "click",
                [{"name": "tab", "kind": "tab", "pane": t["pane"], "requests": t["path"]}],
            )
            tab_cases[t["id"]].add(marks["tab"])
            b.screenshot(f"tab-{t['pane']}")
    cases += tab_cases.values()
    if not any("session" in t["label"].casefold() for t in tabs):
        cases.append(Case("Sessions tab's first rows", TARGET_MS, "the dialog has no such tab"))
    return cases


def bench_actions(b: Bench, user: dict, runs: int, reason: str) -> list:
    """Deactivate with a reason, then reactivate, from the confirming click until the
    dialog shows the new status (its row in the list, behind it, is timed too)."""
    deactivate = Case(f"deactivate ({reason!r}) in the dialog", TARGET_MS)
    reactivate = Case("reactivate in the dialog", TARGET_MS)
    for case in (deactivate, reactivate):
        case.extra["row in the list"] = []
    b.open(LIST + "?" + urlencode({"q": user["email"]}))
    b.page.click(f"tr.user-row[data-user-id='{user['id']}'] td.col-user")
    b.page.wait_for_selector("#user-dialog.show [data-step='deactivate']")
    steps = (
        (deactivate, "deactivate", "Deactivated",
         f"form[data-step-form='deactivate'] button[value='{reason}']"),
        (reactivate, "reactivate", "Active",
         "form[data-step-form='reactivate'] button[type=submit]"),
    )  # fmt: skip
    for _ in range(runs):
        for case, step, status, confirm in steps:
            b.page.click(f"#user-dialog [data-step='{step}']")
            b.page.wait_for_selector(confirm, state="visible")
            checks = [
                {"name": "dialog", "kind": "dialogStatus", "user": user["id"], "status": status},
                {"name": "row", "kind": "rowStatus", "user": user["id"], "status": status},
            ]
            marks = b.time(step, lambda c=confirm: b.page.click(c), "click", checks)
            case.add(marks["dialog"])
            case.extra["row in the list"].append(marks["row"]["screen"])
            if step == "deactivate":
                b.screenshot("deactivated")
    return [deactivate, reactivate]


# -- setup and report ---------------------------------------------------------------------


def action_target(app, models, avoid: set[int]) -> dict:
    """An active, confirmed demo user with an email, not an admin: deactivated and
    reactivated by the action cases (left active at the end)."""
    User = models.User
    with app.app_context():
        user = db.session.scalars(
            select(User)
            .where(
                User.status == int(Status.ACTIVE),
                User.email.is_not(None),
                User.is_admin.is_(False),
                User.id.not_in(avoid),
                ~User.email.startswith("bench-"),
            )
            .order_by(User.id)
            .limit(1)
        ).first()
        if user is None:
            raise BenchError("no active user to deactivate and reactivate")
        return {"id": user.id, "email": user.email}


def pick_terms(app, models, sample: int = 20_000) -> list[dict]:
    """The searches typed: a rare term (the local part of a user's email), a common one,
    one that finds nobody, and the most and the least common letter of the search texts
    of the first ``sample`` users; each with the users it finds."""
    User = models.User
    rng = random.Random(7)
    with app.app_context():
        session = db.session
        emails = select(User.email).where(User.email.is_not(None), ~User.email.startswith("bench-"))
        total = session.scalar(select(func.count()).select_from(emails.subquery()))
        if not total:
            raise BenchError("no user with an email to search for")
        email = session.scalar(emails.order_by(User.id).offset(rng.randrange(total)).limit(1))
        letters = Counter()
        for text in session.scalars(select(User.search_text).order_by(User.id).limit(sample)):
            letters.update(c for c in set(text) if c.isalpha())
        terms = [
            ("rare", email.split("@")[0].casefold()),
            ("common", "example"),
            ("no match", NO_MATCH),
            ("1 char common", max(letters, key=lambda c: (letters[c], c))),
            ("1 char rare", min(letters, key=lambda c: (letters[c], c))),
        ]
        found = []
        for kind, term in terms:
            if session.get_bind().dialect.name == "sqlite":
                condition = func.instr(User.search_text, term) > 0
            else:
                escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                condition = User.search_text.like(f"%{escaped}%", escape="\\")
            matches = session.scalar(select(func.count()).select_from(User).where(condition))
            found.append({"kind": kind, "term": term, "matches": matches})
    return found


def sign_in(page, app, base: str) -> None:
    """The admin signs in through a real sign-in link: its page, then its button."""
    with app.app_context():
        link = service.login_link_url(service.find_user(ADMIN))
    path = urlsplit(link).path
    response = page.goto(base + path)
    if response is None or response.status != 200:
        raise BenchError(f"the sign-in link's page answered {response and response.status}")
    with page.expect_navigation():
        page.click("#sign-in")
    response = page.goto(base + LIST)
    if response is None or response.status != 200 or "/login" in page.url:
        raise BenchError(f"signed in, {LIST} answered {response and response.status} at {page.url}")


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def markdown(meta: dict, cases: list[Case]) -> str:
    lines = [f"# Admin > Users in a browser: {meta['users']:,} users, {meta['dialect']}", ""]
    for key, value in meta.items():
        if key not in ("dialect", "terms"):
            lines.append(f"- {key}: {f'{value:,}' if isinstance(value, int) else value}")
    lines += [
        "",
        "Times in ms from the input event (the click, the key; for the next batch, the "
        "scroll reaching the end) until the case's rows are in the DOM, rendered and on "
        "screen, and the next frame has been drawn: p50 / max over n runs, after one "
        'warm-up. "In the DOM": the same until the DOM showed it, before that frame.',
        "",
        "| case | n | p50 / max | requests sent / answered p50 | in the DOM p50 "
        "| other marks p50 / max | target p50 | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        other = "; ".join(
            f"{k}: {fmt(statistics.median(v))} / {fmt(max(v))}" for k, v in c.extra.items() if v
        )
        if c.note:
            other = f"{other}; {c.note}" if other else c.note
        shown = f"{fmt(c.p50)} / {fmt(c.max)}" if c.n else ""
        asked = "" if c.sent_p50 is None else f"{fmt(c.sent_p50)} / {fmt(c.answered_p50)}"
        lines.append(
            f"| {c.name} | {c.n} | {shown} | {asked} | {fmt(c.dom_p50)} | {other} "
            f"| {c.target:g} | {c.result} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, help="users in the database (default 1,000,000)")
    parser.add_argument("--database-url", help="default: SQLite file bench/results/bench-N.sqlite")
    parser.add_argument("--quick", action="store_true", help="3,000 users, repeat 5 (CI)")
    parser.add_argument("--repeat", type=int, help="timed runs per case (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--out", default="bench/results", help="reports (and the SQLite file)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--timeout", type=float, default=30, help="s to wait for one answer")
    parser.add_argument("--screenshots", action="store_true", help="PNGs of each case's end in OUT")
    parser.add_argument(
        "--reduced-motion",
        action="store_true",
        help="as an admin whose system asks for reduced motion: no fades (Bootstrap honours it)",
    )
    args = parser.parse_args()
    args.users = args.users or (3_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (5 if args.quick else 20)
    args.fresh = False  # for run.py's database_url
    heavy_audit = 5_000 if args.quick else 100_000
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url = database_url(args)
    dialect = make_url(url).get_backend_name()
    shots = None
    if args.screenshots:
        shots = out / f"browser-{args.users}-{dialect}"
        shots.mkdir(exist_ok=True)

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "TESTING": False})
    models = app.extensions["admin_users"].models
    facts = prepare(app, models, args, heavy_audit)
    terms = pick_terms(app, models)
    heavy = {"id": facts["heavy_id"], "email": HEAVY}
    target = action_target(app, models, {facts["heavy_id"], facts["admin_id"]})
    runs = args.repeat + 1  # the first is the warm-up
    load_before = os.getloadavg()
    started = time.perf_counter()
    with serve(url, SECRET, args.workers) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport=VIEWPORT, reduced_motion="reduce" if args.reduced_motion else None
            )
            context.add_init_script(TIMER_JS)
            page = context.new_page()
            page.set_default_timeout(args.timeout * 1000)
            sign_in(page, app, base)
            b = Bench(page, base, int(args.timeout * 1000), shots)
            b.open(LIST)
            print("timing searches ...", flush=True)
            cases = bench_searches(b, terms, runs)
            print("timing sorts ...", flush=True)
            cases += bench_sorts(b, runs)
            print("timing the next batch ...", flush=True)
            cases.append(bench_next_batch(b, runs))
            print("timing the dialog and its tabs ...", flush=True)
            cases += bench_dialog(b, heavy, target, runs)
            print("timing deactivate and reactivate ...", flush=True)
            cases += bench_actions(b, target, runs, service.DEACTIVATION_REASONS[0])
            chromium = browser.version
        finally:
            browser.close()
    took = time.perf_counter() - started
    for case in cases:
        case.close()
    failed = [c for c in cases if c.result.startswith("FAIL")]
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dialect": dialect,
        **machine(app, url),
        "browser": f"Chromium {chromium}, headless, {VIEWPORT['width']}x{VIEWPORT['height']}"
        + (", prefers-reduced-motion: reduce" if args.reduced_motion else ""),
        "server": f"gunicorn, {args.workers} workers, loopback",
        "url": make_url(url).render_as_string(hide_password=True),
        **{k: facts[k] for k in ("users", "chats", "audit", "heavy_audit")},
        "repeat": args.repeat,
        "quick": args.quick,
        "search terms": ", ".join(
            f"{t['kind']} {t['term']!r} ({t['matches'] / facts['users']:.2%})" for t in terms
        ),
        "timing_s": round(took, 1),
        "load average": f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
        " (1 min; other work on the machine shows in the times)",
        "summary": f"{len(cases) - len(failed)} of {len(cases)} cases pass"
        f" (p50 <= {TARGET_MS} ms), {len(failed)} miss",
    }
    report = markdown(meta, cases)
    print("\n" + report)
    stem = out / f"bench-{args.users}-{dialect}-browser"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "terms": terms, "cases": [asdict(c) for c in cases]}, indent=2)
    )
    print(f"Wrote {stem}.md and {stem}.json")
    return 1 if args.check and failed else 0


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: gunicorn and Chromium are stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    try:
        sys.exit(main())
    except (BenchError, PlaywrightError) as error:
        print(f"\nBENCHMARK ABORTED: {error}", file=sys.stderr)
        sys.exit(2)
