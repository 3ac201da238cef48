"""Headless Chromium for the tests: open a static site, report broken images and dead links, take screenshots.

``check_site(index)`` loads ``browser_check.html`` (beside this file) with the
site's index in its URL fragment; that page walks every page reachable by
links in an iframe, waits for each page's images, and writes what it found
as JSON into the page, which ``--dump-dom`` hands back. File pages may read
each other only with web security off, which is why this runs in a
throw-away profile.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHECKER = Path(__file__).resolve().parent / "browser_check.html"


def chromium() -> str | None:
    """The Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(arguments: list[str], timeout: float) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               f"--user-data-dir={profile}", *arguments],
                              capture_output=True, text=True, timeout=timeout)
    return done.stdout


def check_site(index: Path, timeout: float = 180) -> dict:
    """{"pages": n, "broken": ["page -> src", ...], "deadLinks": [url, ...]} for the site at ``index``."""
    url = f"{CHECKER.as_uri()}#{Path(index).resolve().as_uri()}"
    dom = _run(["--allow-file-access-from-files", "--disable-web-security", "--virtual-time-budget=120000",
                "--dump-dom", url], timeout)
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, f"the checker page did not finish: {dom[-500:]}"
    text = found.group(1).replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&").replace("&quot;", '"')
    return json.loads(text)


def screenshot(page: Path, output: Path, size: tuple[int, int] = (1200, 900), timeout: float = 60) -> Path:
    """A PNG of ``page`` as headless Chromium draws it."""
    _run(["--hide-scrollbars", f"--window-size={size[0]},{size[1]}", f"--screenshot={Path(output).resolve()}",
          Path(page).resolve().as_uri()], timeout)
    return Path(output)
