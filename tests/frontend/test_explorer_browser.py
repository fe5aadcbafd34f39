"""A real browser: the explorer served by ``streamlit run`` on localhost, the composition map
rendered by headless Chromium (Debian package ``chromium``) and kept as a PNG.

The PNG goes to ``$SCREENING_TEST_ARTIFACTS/explorer-composition-map.png`` when that is set
(CI keeps it), else to the test's temporary directory.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from explorer_fixtures import Seeded
from PIL import Image

from frontend.launch import explorer_command, explorer_env

CHROMIUM = shutil.which("chromium")
STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(seeded: Seeded, tmp_path: Path) -> Iterator[str]:
    """The explorer on a free localhost port; its base URL once healthy."""
    port = _free_port()
    with (tmp_path / "streamlit.log").open("w") as log:
        process = subprocess.Popen(
            explorer_command(port, "127.0.0.1"),
            env=explorer_env(seeded.url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log_text = (tmp_path / "streamlit.log").read_text()
                    pytest.fail(f"streamlit did not start:\n{log_text}")
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.skipif(CHROMIUM is None, reason="needs the chromium browser (apt install chromium)")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_composition_map_in_chromium(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    target = Path(os.environ.get("SCREENING_TEST_ARTIFACTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    png = target / "explorer-composition-map.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{served}/composition_map", timeout=STARTUP_TIMEOUT_S * 1000)
            page.get_by_text("Composition map · liybc").wait_for(timeout=STARTUP_TIMEOUT_S * 1000)
            page.locator(".js-plotly-plot .heatmaplayer").wait_for(timeout=30_000)
            page.wait_for_timeout(1000)  # let Plotly finish drawing the colour bar and stars
            page.screenshot(path=str(png), full_page=True)
            body = page.inner_text("body")
            exceptions = page.locator('[data-testid="stException"]').count()
            stars = page.locator(".js-plotly-plot path.point").count()
        finally:
            browser.close()

    assert exceptions == 0 and "Traceback" not in body
    assert "In fraction on metal" in body and "E_hull (meV/atom)" in body
    assert stars >= 5  # a marker per composition, plus the stable stars
    image = Image.open(io.BytesIO(png.read_bytes())).convert("RGB")
    assert image.width >= 1400 and image.height >= 1000
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100  # a drawn page, not a blank skeleton
