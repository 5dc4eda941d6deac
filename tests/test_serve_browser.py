"""The page in a real browser (Playwright driving Debian's chromium): upload two images, start a 64 px job, see
the live image change twice, press Stop, then the download link, and fetch the PNG. With STYLEGRAM_SCREENSHOT=PATH
it also saves a screenshot of the page mid-run there (the README's; STYLEGRAM_SCREENSHOT_SIZE sets the job's
size)."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from .conftest import SHARED_IMAGES, make_painting, make_photo
from .test_serve import server  # noqa: F401  (the fixture: a real `stylegram serve`)

playwright = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):  # CI installs it (.ci/run) and must not skip
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


def test_page_paints_live_and_offers_the_png(server, tmp_path: Path) -> None:  # noqa: F811
    _, url, _ = server
    size = os.environ.get("STYLEGRAM_SCREENSHOT_SIZE", "64")
    shot = os.environ.get("STYLEGRAM_SCREENSHOT")
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    make_photo(160, 120).save(photo)
    make_painting(128, 128).save(painting)
    if shot and (SHARED_IMAGES / "tubingen.jpg").is_file():  # the README's picture: the paper's pair
        photo, painting = SHARED_IMAGES / "tubingen.jpg", SHARED_IMAGES / "starry_night.jpg"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(url)
        page.wait_for_selector("#opt-size")
        page.select_option("#opt-texture", "yes")  # a texture: the fields take the texture command's defaults
        assert (page.input_value("#opt-init"), page.input_value("#opt-normalization")) == ("noise", "mean")
        page.select_option("#opt-texture", "no")  # and back
        assert (page.input_value("#opt-init"), page.input_value("#opt-normalization")) == ("palette", "balanced")
        page.set_input_files("#content-input", str(photo))
        page.set_input_files("#style-input", str(painting))
        page.fill("#opt-size", size)
        page.fill("#opt-iterations", "100000")  # the job ends when Stop is pressed, however fast the machine
        page.click("#options-form summary")  # the folded options
        page.fill("#opt-tol", "0")
        page.fill("#opt-scales", "1")  # one scale: the live image follows it (coarse scales keep the preview up)
        page.click("#options-form summary")
        page.click("#start")
        page.wait_for_selector("#start:disabled", timeout=60_000)  # one press, one job: Start waits for it
        page.wait_for_selector("#live[src]", timeout=300_000)
        page.reload()  # a reloaded page follows this person's running job, its form shows the job's options
        page.wait_for_selector("#stop:enabled", timeout=300_000)
        assert page.input_value("#opt-size") == size and page.is_disabled("#start")
        sources: list[str] = []
        end = time.monotonic() + 300  # a bound, not a pace: the loop ends at the third live image
        while len(sources) < 3 and time.monotonic() < end:
            src = page.get_attribute("#live", "src")
            if src and (not sources or sources[-1] != src):
                sources.append(src)
            time.sleep(0.05)
        assert len(sources) >= 3, f"the live image changed {len(sources) - 1} times in 300 s: {sources}"
        if shot:
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=shot, full_page=False)
        page.click("#stop")
        page.wait_for_selector("#downloads", state="visible", timeout=300_000)
        status = page.inner_text("#status")
        assert "stopped" in status and "left at most" not in status  # a finished job has nothing left
        assert page.is_visible("#compare") and page.is_enabled("#start")
        page.fill("#slider", "50")  # before/after: the photo over the left half
        assert "50%" in page.get_attribute("#before", "style")
        href = page.get_attribute("#download-png", "href")
        response = page.request.get(url + href)
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        img = Image.open(io.BytesIO(response.body()))
        assert max(img.size) == int(size)
        page.wait_for_selector(".card img")  # the gallery shows it
        page.on("dialog", lambda d: d.accept())
        page.click(".card button.delete")
        page.wait_for_selector(".card", state="detached", timeout=60_000)
        browser.close()
