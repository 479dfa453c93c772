"""Helpers for the console's browser tests: Debian's Chromium through Playwright (the system
browser via `executable_path`, nothing downloaded), a logged-in browser context without
paying for an Argon2 login, keyboard-only navigation, and screenshots kept as test
artifacts under artifacts/console/ in the repository root (gitignored, like artifacts/ui/).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
NARROW = {"width": 1024, "height": 720}  # a small laptop screen


@contextlib.contextmanager
def chromium():
    """A headless Chromium; skips the test when Playwright or Chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) is not installed")
    if not shutil.which(CHROMIUM):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def logged_in(browser, harness, role: str, viewport: dict | None = None):
    """A browser context carrying a fresh session cookie of `role` (written into the
    database as `FleetHarness.client` does; the login page has its own test)."""
    import datetime as dt

    from fleet.server.models import LoginSession, utcnow

    token = secrets.token_urlsafe(32)
    with harness.server.db.session() as session:
        session.add(LoginSession(token_sha256=hashlib.sha256(token.encode()).hexdigest(), username=role,
                                 created_at=utcnow(), expires_at=utcnow() + dt.timedelta(hours=1)))
    context = browser.new_context(viewport=viewport or NARROW)
    context.add_cookies([{"name": "fleet_session", "value": token, "url": harness.url}])
    context.set_default_timeout(10_000)
    return context


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} was not reached with Tab in {limit} presses")


def type_into(page, selector: str, text: str) -> None:
    """Tab to a text field, select what is in it and type over it."""
    tab_to(page, selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def fits_width(page) -> bool:
    """The page does not scroll sideways (wide tables scroll inside their own box)."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def shot(page, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
