"""What a radiologist sees: the PACS loop's results in the real OHIF viewer.

The push loop of test_pacs_loop.py (Orthanc -> simcase listen + worker -> SC + SR back
into the study), then the ``@ohif/app`` 3.13.2 prebuilt dist served by
docker/ohif/serve.py against that Orthanc, driven by Playwright in Debian's headless
chromium: the study browser shows the montage (SC) with a thumbnail, the montage renders
in a viewport, and the SR opens as text with the similar cases (similarity in percent:
no stray UCUM "1"); the tumour outline (SEG), its TID 1500 volume report and the TID 1500
similar-case list are listed in the study browser.

Needs npm (or an already fetched dist: docker/ohif/fetch-ohif.sh), /usr/bin/chromium and
the playwright Python package; a missing one fails the test, it never skips.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, Response, expect, sync_playwright

from tests.conftest import free_port
from tests.e2e.conftest import (
    CHROMIUM_FLAGS,
    PushLoop,
    QueryStudy,
    storescu_folder,
    wait_for_results,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OHIF_DIR = ROOT / "docker" / "ohif"
#: Where fetch-ohif.sh leaves the dist unless SIMCASE_OHIF_DIST names another one.
OHIF_CACHE = ROOT / ".cache" / "ohif"
ARTIFACTS = ROOT / "test-artifacts"
SC_DESCRIPTION = "simcase similar cases (not for diagnostic use)"
SR_DESCRIPTION = "simcase similar cases report (not for diagnostic use)"
SEG_DESCRIPTION = "simcase tumour outline (not for diagnostic use)"
VOLUMES_DESCRIPTION = "simcase tumour volumes (not for diagnostic use)"
SIMILAR_DESCRIPTION = "simcase similar-case list TID 1500 (not for diagnostic use)"
UI_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def ohif_dist() -> Path:
    """The OHIF dist, fetched with docker/ohif/fetch-ohif.sh when it is not there yet."""
    if os.environ.get("SIMCASE_OHIF_DIST"):
        dist = Path(os.environ["SIMCASE_OHIF_DIST"])
    else:
        done = subprocess.run(
            [str(OHIF_DIR / "fetch-ohif.sh"), str(OHIF_CACHE)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"docker/ohif/fetch-ohif.sh failed (npm needed):\n{done.stderr}")
        dist = OHIF_CACHE / "dist"
    if not (dist / "index.html").is_file():
        pytest.fail(f"no OHIF dist at {dist} (run docker/ohif/fetch-ohif.sh)")
    return dist


@contextmanager
def serving_ohif(dist: Path, orthanc_url: str, log: Path) -> Iterator[str]:
    """docker/ohif/serve.py as its own process; yields its base URL."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                str(OHIF_DIR / "serve.py"),
                "--dist",
                str(dist),
                "--orthanc",
                orthanc_url,
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(url + "/app-config.js", timeout=2).is_success:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"serve.py did not start\n{log.read_text()}"
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def lit_fraction(png: bytes) -> float:
    """The share of pixels that are not (nearly) black."""
    gray = Image.open(io.BytesIO(png)).convert("L")
    histogram = gray.histogram()
    return sum(histogram[16:]) / max(1, sum(histogram))


def check_viewer(page: Page, base_url: str, study_uid: str) -> str:
    """Open the study in OHIF, show the montage and the SR side by side; the SR's text."""
    page.goto(f"{base_url}/viewer?StudyInstanceUIDs={study_uid}")
    page.get_by_text("Skip all").click(timeout=UI_TIMEOUT_MS)  # the first-run tour

    montage = page.locator('[data-cy="study-browser-thumbnail"]').filter(has_text=SC_DESCRIPTION)
    expect(montage).to_have_count(1, timeout=UI_TIMEOUT_MS)
    thumbnail = montage.locator("img")
    expect(thumbnail).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert (thumbnail.get_attribute("src") or "").startswith("data:image/"), "no rendered thumb"
    report = page.locator('[data-cy="study-browser-thumbnail-no-image"]').filter(
        has_text=SR_DESCRIPTION
    )
    expect(report).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(report).to_contain_text("SR")
    # The tumour outline (SEG), its TID 1500 volumes and the TID 1500 similar-case list
    # are listed with the study.
    for description, modality in (
        (SEG_DESCRIPTION, "SEG"),
        (VOLUMES_DESCRIPTION, "SR"),
        (SIMILAR_DESCRIPTION, "SR"),
    ):
        item = page.locator('[data-cy="study-browser-thumbnail-no-image"]').filter(
            has_text=description[:22]
        )
        expect(item).to_have_count(1, timeout=UI_TIMEOUT_MS)
        expect(item).to_contain_text(modality)

    page.locator('[data-cy="Layout"], [data-cy="layout-button"]').first.click()
    page.locator("div.group", has=page.locator("#layout-common-1x2")).click()
    panes = page.locator('[data-cy="viewport-pane"]')
    expect(panes).to_have_count(2, timeout=UI_TIMEOUT_MS)

    panes.nth(0).click()
    montage.dblclick()
    expect(panes.nth(0)).to_contain_text(SC_DESCRIPTION[:20], timeout=UI_TIMEOUT_MS)
    panes.nth(1).click()
    report.dblclick()
    expect(panes.nth(1)).to_contain_text("Similar case #1", timeout=UI_TIMEOUT_MS)
    expect(panes.nth(1)).to_contain_text("NOT FOR DIAGNOSTIC USE")
    page.mouse.move(5, 995)  # away from the viewports: no hover overlays in the screenshot

    # The montage is drawn into the viewport's canvas: wait until it is not black.
    canvas = panes.nth(0).locator("canvas").first
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while (lit := lit_fraction(canvas.screenshot())) < 0.02:
        assert time.monotonic() < deadline, f"montage not rendered ({lit:.3%} lit)"
        time.sleep(0.5)
    return panes.nth(1).inner_text()


def test_results_show_in_ohif(
    ohif_dist: Path,
    chromium: str,
    push_loop: PushLoop,
    query_study: QueryStudy,
) -> None:
    orthanc, logs = push_loop.orthanc, push_loop.logs
    storescu_folder(orthanc, query_study.dicom_dir)
    wait_for_results(orthanc, query_study.study_instance_uid, logs)
    with (
        serving_ohif(ohif_dist, orthanc.url, logs / "ohif-serve.log") as base_url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        console: list[str] = []
        failed: list[str] = []  # DICOMweb requests Orthanc (or the proxy) refused

        def on_response(response: Response) -> None:
            if response.status >= 400:
                console.append(f"HTTP {response.status} {response.url}")
                if urlsplit(response.url).path.startswith(("/dicom-web", "/wado")):
                    failed.append(f"{response.status} {response.url}")

        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("response", on_response)
            try:
                text = check_viewer(page, base_url, query_study.study_instance_uid)
            finally:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=ARTIFACTS / "ohif-viewer.png")
                (ARTIFACTS / "ohif-viewer.log").write_text("\n".join(console))
        finally:
            browser.close()

    # The SR as OHIF renders it: one nested container per similar case.
    assert not failed, failed
    text = " ".join(text.split())  # OHIF puts no-break spaces after the item numbers
    assert "1.1. Similar case #1" in text, text
    assert " %" in text, text  # the similarity's unit, printed by its UCUM code
