"""The page of poseshift serve in a real headless Chromium (Debian's chromium and
chromium-driver, which .ci/run installs): a photo is uploaded, a joint dragged, and the
render appears and is not blank. A screenshot is saved (POSESHIFT_SCREENSHOT names a copy)."""
import os
import shutil
import time

import pytest

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="Chromium could not be installed here (apt-get install chromium chromium-driver)")

from tests.serving import running_server  # noqa: E402


def _wait(predicate, seconds=60, what="the page"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_upload_drag_a_joint_and_render(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from poseshift.synth import write_dataset

    people = tmp_path / "people"
    write_dataset(people, 1, 1, 128, 4, progress=False)
    photo = sorted((people / "images").iterdir())[0]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    with running_server() as url:
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        try:
            driver.get(url)
            _wait(lambda: driver.execute_script("return state.gallery.length") > 0, what="the gallery")
            driver.find_element(By.ID, "photo").send_keys(str(photo))
            _wait(lambda: driver.execute_script("return state.target !== null"), what="a target skeleton")
            status = driver.find_element(By.ID, "status").text
            assert "detect" in status.lower(), status
            # Drag the first visible joint 30 px right and 20 px down on the editor canvas.
            editor = driver.find_element(By.ID, "editor")
            j, x, y, scale = driver.execute_script("""
                const i = state.target.findIndex((p, k) => p && !state.hidden[k]);
                const c = document.getElementById('editor'); const r = c.getBoundingClientRect();
                const s = Math.min(c.width / state.w, c.height / state.h) * (r.width / c.width);
                return [i, state.target[i][0] * s, state.target[i][1] * s, s];""")
            before = driver.execute_script(f"return state.target[{j}].slice()")
            ActionChains(driver).move_to_element_with_offset(editor, x - editor.size["width"] / 2,
                                                             y - editor.size["height"] / 2) \
                .click_and_hold().move_by_offset(30, 20).release().perform()
            after = driver.execute_script(f"return state.target[{j}].slice()")
            assert abs(after[0] - before[0] - 30 / scale) < 2 and abs(after[1] - before[1] - 20 / scale) < 2
            driver.find_element(By.ID, "render").click()
            _wait(lambda: driver.execute_script(
                "const im = document.getElementById('result'); return im.complete && im.naturalWidth > 0"),
                what="the render")
            spread = driver.execute_script("""
                const im = document.getElementById('result'); const c = document.createElement('canvas');
                c.width = im.naturalWidth; c.height = im.naturalHeight; const g = c.getContext('2d');
                g.drawImage(im, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
                let lo = 255, hi = 0; for (let k = 0; k < d.length; k += 4) { lo = Math.min(lo, d[k]); hi = Math.max(hi, d[k]); }
                return [c.width, c.height, hi - lo];""")
            assert spread[:2] == [128, 128] and spread[2] > 20, spread  # the photo's size, and not blank
            shot = tmp_path / "serve.png"
            driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            if os.environ.get("POSESHIFT_SCREENSHOT"):
                shutil.copy(shot, os.environ["POSESHIFT_SCREENSHOT"])
        finally:
            driver.quit()
