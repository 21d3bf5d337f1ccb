"""What every browser test module needs: Chromium, or a skip (a failure with REQUIRE_BROWSER=1) where
it is missing; Playwright; and the app served with a fresh Chromium to open pages in."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from harness.app_driver import CHROMIUM, launch_chromium, serve_app
from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts"     # the screenshots browser tests take


def require_chromium():
    """Playwright's sync_playwright; called at a test module's top, it skips the module where Debian's
    Chromium is missing (REQUIRE_BROWSER=1 makes that a failure)."""
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; REQUIRE_BROWSER=1 makes this an error", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return pytest.importorskip("playwright.sync_api").sync_playwright


@contextmanager
def served_with_browser(env: dict[str, str]) -> Iterator[tuple]:
    """(browser, url): `python app.py` served with `env` added, and a Chromium to open fresh pages in."""
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app(env) as url, require_chromium()() as pw:
        browser = launch_chromium(pw)
        try:
            yield browser, url
        finally:
            browser.close()
