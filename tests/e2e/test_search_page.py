"""The search page in headless chromium: upload the demo-style query, read the results
(similarity in percent), filter by diagnosis, and the admin jobs view with and without
the token. Screenshot in docs/images/search-page.png.

Needs /usr/bin/chromium and the playwright package; a missing one fails, never skips.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from plugin.api import create_app
from plugin.settings import ApiSettings, Settings
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM_FLAGS, MODEL_DIR, QueryStudy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "search-page.png"
TOKEN = "page-test-token"
TIMEOUT_MS = 120_000


@contextmanager
def serving_api(database_url: str, data_dir: Path) -> Iterator[str]:
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        model_dir=MODEL_DIR,
        api=ApiSettings(admin_token=TOKEN),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, database_url), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "API did not start"
        time.sleep(0.3)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_search_page_upload_results_filter_and_admin(
    chromium: str,
    indexed_archive: str,
    query_study: QueryStudy,
    tmp_path: Path,
) -> None:
    case = query_study.dicom_dir.name
    nifti = sorted((query_study.dicom_dir.parents[1] / "query" / case).glob("*.nii.gz"))
    nifti = [p for p in nifti if not p.name.endswith("-seg.nii.gz")]
    assert len(nifti) == 4, nifti
    with (
        serving_api(indexed_archive, tmp_path / "data") as base,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/")
            expect(page.get_by_text("Not for diagnostic use.")).to_be_visible()
            page.set_input_files("#files", [str(p) for p in nifti])
            page.click("#search-form button[type=submit]")
            cards = page.locator("#results .card")
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            assert cards.count() >= 5
            expect(cards.first).to_contain_text("% similar")
            expect(page.locator("#query")).to_contain_text("Query tumour")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT, full_page=False)

            # Only meningiomas: every card is one.
            page.check('input[name="dx"][value="meningioma"]')
            page.click("#search-form button[type=submit]")
            expect(page.locator("#results")).not_to_contain_text("searching", timeout=TIMEOUT_MS)
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            assert cards.count() == page.locator("#results .card.dx-meningioma").count() > 0

            # The admin view: refused without the right token, the jobs table with it.
            page.goto(f"{base}/#jobs")
            page.fill("#token", "wrong")
            page.click("#token-form button[type=submit]")
            expect(page.locator("#jobs")).to_contain_text("401")
            page.fill("#token", TOKEN)
            page.click("#token-form button[type=submit]")
            expect(page.locator("#jobs")).to_contain_text("task")
        finally:
            browser.close()
