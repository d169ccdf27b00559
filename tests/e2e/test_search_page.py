"""The search page in headless chromium: upload the demo-style query, see its tumour
slice with the outline and its facts, the hits with their slices and the same outlines
(similarity in percent), open a hit beside the query (three planes, window/level), the
archive map with the query on it, filter (diagnosis, age, sex, exclude a patient), open
the query in OHIF when the PACS holds it, search with one 2-D image and a box dragged
around the tumour, and the admin view (model versions, query studies, jobs, audit log,
reindex) with and without the token. Screenshots: docs/images/search-page.png,
search-compare.png, search-map.png and admin-view.png.

Needs /usr/bin/chromium and the playwright package; a missing one fails, never skips.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nibabel as nib
import numpy as np
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from indexer.case_images import CORE_COLOUR, WHOLE_COLOUR
from plugin.api import create_app
from plugin.settings import ApiSettings, PacsSettings, Settings
from tests.conftest import free_port
from tests.e2e.conftest import CHROMIUM_FLAGS, MODEL_DIR, QueryStudy, storescu_folder
from tests.integration.plugin.orthanc_fixture import running_orthanc

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "images" / "search-page.png"
COMPARE_SCREENSHOT = ROOT / "docs" / "images" / "search-compare.png"
MAP_SCREENSHOT = ROOT / "docs" / "images" / "search-map.png"
ADMIN_SCREENSHOT = ROOT / "docs" / "images" / "admin-view.png"
VIEWER = "http://ohif.invalid"
TOKEN = "page-test-token"
SEARCH_TOKEN = "page-search-token-0123456789"
TIMEOUT_MS = 120_000


@contextmanager
def serving_api(
    database_url: str, data_dir: Path, pacs: PacsSettings | None = None
) -> Iterator[str]:
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        model_dir=MODEL_DIR,
        api=ApiSettings(admin_token=TOKEN, search_token=SEARCH_TOKEN),
        pacs=pacs or PacsSettings(),
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


def _search(page: Page) -> None:
    page.click("#search-form button[type=submit]")
    expect(page.locator("#results")).not_to_contain_text("searching", timeout=TIMEOUT_MS)
    expect(page.locator("#error")).to_be_empty()


def _card_values(page: Page, attribute: str) -> list[str]:
    return [
        str(v)
        for v in page.locator("#results .card").evaluate_all(
            f"cards => cards.map(c => c.dataset.{attribute})"
        )
    ]


def _canvas_mean(page: Page, selector: str) -> float:
    """Mean grey level of the first canvas under ``selector``."""
    return float(
        page.locator(selector).first.evaluate(
            """canvas => { const d = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
              let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i];
              return s / (d.length / 4); }"""
        )
    )


def _outline_colours(src: str) -> set[tuple[int, ...]]:
    """The colours drawn in a transparent outline PNG given as a data URI."""
    assert src.startswith("data:image/png;base64,"), src[:40]
    png = base64.b64decode(src.split(",", 1)[1])
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).reshape(-1, 4)
    return {tuple(int(v) for v in p) for p in np.unique(pixels[pixels[:, 3] > 0], axis=0)}


def _tumour_slice_png(nifti: list[Path], out: Path) -> tuple[Path, tuple[int, int, int, int]]:
    """The post-contrast slice with the most tumour, as a radiologist sees it (anterior at
    the top, patient right on the left), and the tumour's box x0,y0,x1,y1 on it."""
    t1c = next(p for p in nifti if p.name.endswith("-t1c.nii.gz"))
    seg = t1c.with_name(t1c.name.replace("-t1c.", "-seg."))
    image = np.asarray(nib.as_closest_canonical(nib.load(t1c)).dataobj, dtype=np.float32)
    mask = np.asarray(nib.as_closest_canonical(nib.load(seg)).dataobj) > 0
    k = int(np.argmax(mask.sum(axis=(0, 1))))
    shown = np.flip(image[:, :, k].T, axis=(0, 1))
    tumour = np.flip(mask[:, :, k].T, axis=(0, 1))
    grey = np.clip(shown / np.percentile(shown[shown > 0], 99.5), 0, 1) * 255
    Image.fromarray(grey.astype(np.uint8)).save(out)
    rows, cols = np.nonzero(tumour)
    return out, (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))


def test_search_page_upload_results_filter_and_admin(
    chromium: str,
    archive: Path,
    indexed_archive: str,
    query_study: QueryStudy,
    tmp_path: Path,
) -> None:
    case = query_study.dicom_dir.name
    nifti = sorted((query_study.dicom_dir.parents[1] / "query" / case).glob("*.nii.gz"))
    nifti = [p for p in nifti if not p.name.endswith("-seg.nii.gz")]
    assert len(nifti) == 4, nifti
    dicom_files = sorted(str(p) for p in query_study.dicom_dir.rglob("*.dcm"))
    with (archive / "cases.csv").open() as f:
        archive_rows = {row["case_id"]: row for row in csv.DictReader(f)}
    with (
        running_orthanc(tmp_path / "orthanc") as orthanc,
        serving_api(
            indexed_archive,
            tmp_path / "data",
            PacsSettings(dicomweb_url=orthanc.dicomweb_url, viewer_url=VIEWER),
        ) as base,
        sync_playwright() as playwright,
    ):
        storescu_folder(orthanc, query_study.dicom_dir)
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1150})
            page.goto(f"{base}/")
            expect(page.get_by_text("Not for diagnostic use.").first).to_be_visible()

            # The search credential is on: without the token the page says what is
            # missing; with it (kept for the tab in sessionStorage) the page searches.
            page.set_input_files("#files", [str(p) for p in nifti])
            page.click("#search-form button[type=submit]")
            expect(page.locator("#error")).to_contain_text(
                "requires a valid search bearer token", timeout=TIMEOUT_MS
            )
            expect(page.locator("#error")).to_contain_text("Search token box")
            page.fill("#search-token", SEARCH_TOKEN)
            page.click("#credential-form button[type=submit]")
            expect(page.locator("#credential-status")).to_contain_text("kept")
            page.reload()
            expect(page.locator("#search-token")).to_have_value(SEARCH_TOKEN)

            # The query: its tumour slice with the outline, and its facts.
            page.set_input_files("#files", [str(p) for p in nifti])
            _search(page)
            cards = page.locator("#results .card")
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            assert cards.count() >= 5
            expect(cards.first).to_contain_text("% similar")
            panel = page.locator("#query-panel")
            expect(panel.locator("img[alt='query tumour slice']")).to_be_visible()
            expect(panel.locator("img.outline")).to_be_visible()
            for fact in ("volume", "compartments", "enhancing", "location", "lesions"):
                expect(panel).to_contain_text(fact)
            expect(panel).to_contain_text("sequences")
            expect(panel).to_contain_text("none missing")
            expect(panel).to_contain_text("mask from")
            # Every hit shows its own tumour slice with its outline, the query's drawing.
            slices = page.locator("#results .card .pic img:not(.outline)")
            outlines = page.locator("#results .card .pic img.outline")
            assert slices.count() == cards.count() == outlines.count()
            expect(outlines.first).to_be_visible()
            page.wait_for_function(
                "() => [...document.querySelectorAll('#results .card img.outline')]"
                ".every((img) => img.complete && img.naturalWidth === 160)",
                timeout=TIMEOUT_MS,
            )
            drawn = _outline_colours(str(outlines.first.get_attribute("src")))
            assert drawn and drawn <= {WHOLE_COLOUR, CORE_COLOUR}, drawn
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT, full_page=False)

            # The archive map: every case, the query, lines to its top hits.
            expect(page.locator("#map circle.case")).to_have_count(45, timeout=TIMEOUT_MS)
            expect(page.locator("#map circle.query-point")).to_have_count(1)
            expect(page.locator("#map line.link")).to_have_count(5)
            expect(page.locator("#map")).to_contain_text("not for diagnostic use")
            page.locator("#map").screenshot(path=MAP_SCREENSHOT)
            point = page.locator("#map circle.case").nth(3)
            point_case = str(point.get_attribute("data-case"))
            point.dispatch_event("click")
            expect(page.locator("#case-facts")).to_contain_text(
                f"Case {point_case}", timeout=TIMEOUT_MS
            )
            page.click("#compare-close")

            # A hit beside the query: three planes each, the case's facts, window/level.
            top = _card_values(page, "case")[0]
            cards.first.click()
            dialog = page.locator("#compare")
            expect(dialog).to_be_visible()
            expect(page.locator("#case-facts")).to_contain_text(f"Case {top}", timeout=TIMEOUT_MS)
            expect(page.locator("#case-facts")).to_contain_text(archive_rows[top]["diagnosis"])
            views = page.locator("#compare-views .view canvas")
            expect(views).to_have_count(6, timeout=TIMEOUT_MS)
            for plane in ("axial", "coronal", "sagittal"):
                for who in ("query", "case"):
                    expect(
                        page.locator(f"#compare-views .view.{who}.{plane} canvas")
                    ).to_have_count(1)
            expect(page.locator("#compare-views img.outline").first).to_be_visible()
            expect(dialog).to_contain_text("Not for diagnostic use.")
            before = _canvas_mean(page, "#compare-views .view.query.axial canvas")
            page.locator("#window").fill("60")
            page.locator("#level").fill("60")
            after = _canvas_mean(page, "#compare-views .view.query.axial canvas")
            assert after > before + 10, (before, after)  # a narrow, low window brightens
            page.click("#wl-reset")
            COMPARE_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=COMPARE_SCREENSHOT, full_page=False)
            page.click("#compare-close")
            expect(dialog).to_be_hidden()

            # Exclude the top hit's patient: that case is gone from the results.
            page.fill("#exclude-patient", archive_rows[top]["patient_id"])
            _search(page)
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            assert top not in _card_values(page, "case")
            page.fill("#exclude-patient", "")

            # Age range and sex: every hit is a woman between 40 and 70.
            page.fill("#age-min", "40")
            page.fill("#age-max", "70")
            page.select_option("#sex", "F")
            _search(page)
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            assert set(_card_values(page, "sex")) == {"F"}
            assert all(40 <= int(age) <= 70 for age in _card_values(page, "age"))
            page.fill("#age-min", "")
            page.fill("#age-max", "")
            page.select_option("#sex", "")

            # Only meningiomas: every card is one.
            page.check('input[name="dx"][value="meningioma"]')
            _search(page)
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            assert cards.count() == page.locator("#results .card.dx-meningioma").count() > 0
            page.uncheck('input[name="dx"][value="meningioma"]')

            # The query as DICOM, which the PACS holds: a link opens it in OHIF, and its
            # own patient is left out of the results.
            page.set_input_files("#files", dicom_files)
            _search(page)
            link = page.locator("#query-panel a.ohif")
            expect(link).to_have_attribute(
                "href", f"{VIEWER}/viewer?StudyInstanceUIDs={query_study.study_instance_uid}"
            )
            expect(page.locator("#query-panel")).to_contain_text("patient is left out")

            # One 2-D image (the query's post-contrast slice as a PNG), a box dragged
            # around the tumour: results, labelled as the weaker query they are.
            png, (x0, y0, x1, y1) = _tumour_slice_png(nifti, tmp_path / "slice.png")
            page.set_input_files("#image-file", str(png))
            canvas = page.locator("#image-canvas")
            expect(canvas).to_have_attribute("width", str(Image.open(png).width))
            where = canvas.bounding_box()
            assert where is not None
            page.mouse.move(where["x"] + x0, where["y"] + y0)
            page.mouse.down()
            page.mouse.move(where["x"] + x1, where["y"] + y1, steps=4)
            page.mouse.up()
            expect(page.locator("#image-box")).to_have_value(f"{x0},{y0},{x1},{y1}")
            page.click("#image-form button[type=submit]")
            expect(page.locator("#results")).not_to_contain_text("searching", timeout=TIMEOUT_MS)
            expect(page.locator("#error")).to_be_empty()
            expect(page.locator("#query")).to_contain_text("single 2-D image: weaker")
            expect(cards.first).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.locator("#results")).to_contain_text("weaker than a study search")
            expect(page.locator("#map circle.query-point")).to_have_count(1, timeout=TIMEOUT_MS)

            # The admin view: refused without the right token, the jobs table with it.
            page.goto(f"{base}/#jobs")
            page.fill("#token", "wrong")
            page.click("#token-form button[type=submit]")
            expect(page.locator("#jobs")).to_contain_text("401")
            expect(page.locator("#admin-view")).to_be_hidden()
            page.fill("#token", TOKEN)
            page.click("#token-form button[type=submit]")
            expect(page.locator("#jobs")).to_contain_text("task")
            # The admin view: model versions with case counts, query studies, the audit log,
            # and a reindex button that queues a job.
            models = page.locator("#admin-models")
            expect(models).to_contain_text("active")
            expect(models.locator("tr").nth(1)).to_contain_text("45")
            expect(page.locator("#admin-studies")).to_contain_text("No query study yet.")
            # Every search above is audited with the cases it showed (never a patient id),
            # and with how it was allowed: the page sent the search token.
            expect(page.locator("#admin-audit")).to_contain_text("search token")
            expect(page.locator("#admin-audit")).to_contain_text(top)
            expect(page.locator("#admin-audit")).not_to_contain_text(
                archive_rows[top]["patient_id"]
            )
            page.click("#reindex")
            expect(page.locator("#reindex-status")).to_contain_text("queued")
            expect(page.locator("#jobs")).to_contain_text("reindex")
            # An erasure through the admin API shows in the audit log.
            gone = sorted(archive_rows)[0]
            httpx.delete(
                f"{base}/api/v1/admin/cases/{gone}", headers={"Authorization": f"Bearer {TOKEN}"}
            ).raise_for_status()
            page.click("#token-form button[type=submit]")
            expect(page.locator("#admin-audit")).to_contain_text("delete_case")
            expect(page.locator("#admin-audit")).to_contain_text("reindex")
            expect(page.locator("#admin-audit")).to_contain_text(gone)
            expect(models.locator("tr").nth(1)).to_contain_text("44")
            page.screenshot(path=ADMIN_SCREENSHOT, full_page=False)
        finally:
            browser.close()
