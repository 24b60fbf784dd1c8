"""The README's and docs' screenshots: the demo host with 5,000 demo users, in Chromium,
the list and the dialog at 1280, 800 and 375 pixels wide (docs/screens/).

    .venv/bin/python scripts/screenshots.py   (Chromium at /usr/bin/chromium)
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from admin_users import service  # noqa: E402
from admin_users.migrate import create_tables  # noqa: E402
from wsgi import create_app  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def main() -> None:
    out = ROOT / "docs" / "screens"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"SECRET_KEY": "screens", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/s.db"}
        )
        with app.app_context():
            create_tables()
        runner = app.test_cli_runner()
        runner.invoke(args=["admin-users", "demo-data", "--users", "5000"], catch_exceptions=False)
        runner.invoke(args=["admin-users", "create-admin", "admin@example.com"])
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        base = f"http://127.0.0.1:{httpd.server_port}"
        app.config["ADMIN_USERS_BASE_URL"] = base
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for width in (1280, 800, 375):
                page = browser.new_page(viewport={"width": width, "height": 800}, base_url=base)
                with app.app_context():
                    page.goto(service.login_link_url(service.find_user("admin@example.com")))
                page.click("#sign-in")
                page.wait_for_url("**/")
                page.goto("/admin/users/")
                page.wait_for_function("() => document.querySelector('.status-count').textContent")
                page.screenshot(path=str(out / f"users-{width}.png"))
                page.locator("tr.user-row td.col-user").nth(3).click()
                page.wait_for_selector(
                    "#user-tab-chats .tab-rows tr, #user-tab-chats .tab-empty:not([hidden])"
                )
                page.wait_for_function("() => document.activeElement.closest('.dialog-actions')")
                page.screenshot(path=str(out / f"dialog-{width}.png"))
                page.close()
            browser.close()
        httpd.shutdown()
    print(f"written to {out}")


if __name__ == "__main__":
    main()
