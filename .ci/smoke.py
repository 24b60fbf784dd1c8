"""CI smoke test of the README's demo command: start it, sign in with the link it
prints, fetch Admin > Users, stop it."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

PORT = "5055"


def main() -> int:
    workdir = tempfile.mkdtemp()
    env = dict(
        os.environ, PORT=PORT, DEMO_USERS="300", DATABASE_URL=f"sqlite:///{workdir}/smoke.sqlite"
    )
    demo = subprocess.Popen(
        ["scripts/demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        link = None
        deadline = time.monotonic() + 300
        for line in demo.stdout:
            print("demo:", line.rstrip())
            found = re.search(rf"http://127\.0\.0\.1:{PORT}/login/link/\S+", line)
            if found:
                link = found.group(0)
                break
            if time.monotonic() > deadline:
                break
        if link is None:
            print("smoke: the demo printed no sign-in link")
            return 1
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = None
        for _ in range(100):
            try:
                page = opener.open(link).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page or "").group(1)
        opener.open(link, data=urllib.parse.urlencode({"csrf_token": token}).encode()).read()
        users = opener.open(f"http://127.0.0.1:{PORT}/admin/users/")
        html = users.read().decode()
        rows = html.count('class="user-row"')
        print(f"smoke: /admin/users/ answered {users.status} with {rows} rows")
        return 0 if users.status == 200 and rows == 30 and "Last Activity" in html else 1
    finally:
        demo.terminate()
        demo.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
