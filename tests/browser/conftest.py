"""Browser test infrastructure: headless Debian chromium driven by Playwright.

Browsers are never downloaded: Playwright's wheel brings its driver, and the
tests launch the system's /usr/bin/chromium (`.ci/run` installs it with apt).
Without it the tests skip, saying so. `axe_check(page)` injects axe-core
(npm, tests/browser/js's lockfile) and fails on any serious or critical
violation; `screenshot(page, name)` writes tests/output/screenshots/NAME.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CREDLEDGER_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does it)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                                    headless=True)
        yield launched
        await launched.close()


class CspWatch:
    """Collects the console's Content-Security-Policy complaints: a page that
    needs an inline script or style to work is a failure, not a warning."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def __call__(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(message.text)


@pytest.fixture
async def context(browser) -> AsyncIterator[object]:
    made = await browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    watch = CspWatch()
    made.on("console", watch)
    made.csp_watch = watch
    yield made
    await made.close()
    assert watch.violations == [], f"CSP violations: {watch.violations}"


async def axe_check(page) -> list[dict]:
    """Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page; fails on serious or critical findings."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make browser-deps` (npm ci in tests/browser/js)")
    # Evaluated over the DevTools protocol, which the page's CSP does not
    # govern: a <script> tag would be (rightly) refused by script-src 'self'.
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text("utf-8"))
    result = await page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',"
        " 'wcag21aa', 'best-practice']}})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    summary = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5]} for v in bad]
    assert not bad, f"axe-core on {page.url}: {json.dumps(summary, indent=1)}"
    return result["violations"]


async def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
