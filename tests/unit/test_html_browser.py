"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright.

For every lab case (tests/fixtures/expect): the page renders with no console message of level error or
warning and no script error, loads nothing from anywhere, shows each ladder diagram with a real size and
every arrow inside it, and markup from a capture (an SNI of ``<script>alert(1)</script>``) is text that
runs nothing. A screenshot of each case is kept in tests/artifacts/html/ (not committed; CI keeps it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_report_writers import EXPECT, HOSTILE, diagnose_case, parse

from tlsdoctor.report.html import render_html

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                               "(pip install '.[test]')")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (scripts/test.sh installs Debian's chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str], list[str], list[str]]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    console: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    requests.remove(path.as_uri())
    return page, console, requests, dialogs


@pytest.mark.parametrize("expect", EXPECT, ids=[p.stem for p in EXPECT])
def test_page_renders_cleanly(browser: Any, expect: Path, tmp_path: Path) -> None:
    report = diagnose_case(expect.stem)
    html = render_html(report)
    file = tmp_path / f"{expect.stem}.html"
    file.write_text(html, encoding="utf-8")
    page, console, requests, dialogs = _open(browser, file)
    try:
        assert console == [] and requests == [] and dialogs == []
        sizes = page.eval_on_selector_all(
            "svg.ladder-svg", "es => es.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height] })")
        frames = parse(html).frames
        assert len(sizes) == len(frames)
        assert all(w >= 600 and h >= 60 for w, h in sizes), sizes
        # Every arrow is drawn inside its diagram.
        outside = page.eval_on_selector_all("svg.ladder-svg", """svgs => svgs.flatMap(s => {
            const box = s.getBoundingClientRect();
            return [...s.querySelectorAll("g.arrow line")].filter(l => {
                const r = l.getBoundingClientRect();
                return r.left < box.left - 1 || r.right > box.right + 1 ||
                       r.top < box.top - 1 || r.bottom > box.bottom + 1;
            }).map(l => l.parentElement.getAttribute("data-frame"));
        })""")
        assert outside == []
        arrows = page.eval_on_selector_all("svg.ladder-svg g.arrow", "gs => gs.length")
        assert arrows == sum(len(f) for f in frames)
        assert page.locator("section.finding").count() == len(report.findings)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{expect.stem}.png"), full_page=True)
    finally:
        page.context.close()


def test_markup_from_a_capture_runs_nothing(browser: Any, tmp_path: Path) -> None:
    file = tmp_path / "hostile.html"
    file.write_text(render_html(diagnose_case("hostile_sni")), encoding="utf-8")
    page, console, requests, dialogs = _open(browser, file)
    try:
        assert dialogs == [] and console == [] and requests == []
        assert HOSTILE in page.inner_text("body")  # shown as the text it is
        assert page.eval_on_selector_all("script", "s => s.length") == 1
        # The copy button puts the display filter on the clipboard.
        button = page.locator("button.copy").first
        button.click()
        page.wait_for_function("() => document.querySelector('button.copy').textContent !== 'copy'", timeout=5000)
        assert button.inner_text() == "copied"
        assert page.evaluate("navigator.clipboard.readText()") == button.get_attribute("data-copy") == "tcp.stream == 0"
        assert console == []
    finally:
        page.context.close()
