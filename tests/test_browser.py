"""The page of poseshift serve in a real headless Chromium (Debian's chromium and
chromium-driver, which .ci/run installs): a photo is uploaded, a joint dragged, and the
render appears and is not blank. Nobody is detected in a drawn person, so the photo's own
skeleton is placed by hand (dragged) too. A screenshot is saved (POSESHIFT_SCREENSHOT names a copy)."""
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


def _drag_a_joint(driver, canvas_id, pose, dx, dy):
    """Drag the most isolated shown joint of ``pose`` (a JavaScript expression) on canvas
    ``canvas_id`` by (dx, dy) screen pixels and check that it, and only it, moved by that much in
    the photo's pixels. (Isolated: a click lands within a few pixels, and a face's joints are
    closer than that.)"""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, canvas_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)  # all of it in view
    j, x, y, scale = driver.execute_script(f"""
        const kp = {pose}; const hidden = '{canvas_id}' === 'editor' ? state.hidden : [];
        const shown = kp.map((p, k) => p && !hidden[k]);
        let i = -1, far = -1;
        kp.forEach((p, k) => {{
          if (!shown[k]) return;
          const near = Math.min(...kp.map((q, m) => (m !== k && shown[m] ? Math.hypot(p[0] - q[0], p[1] - q[1]) : 1e9)));
          if (near > far) {{ far = near; i = k; }}
        }});
        const c = document.getElementById('{canvas_id}'); const r = c.getBoundingClientRect();
        const s = Math.min(c.width / state.w, c.height / state.h) * (r.width / c.width);
        return [i, kp[i][0] * s, kp[i][1] * s, s];""")
    before = driver.execute_script(f"return JSON.parse(JSON.stringify({pose}))")
    ActionChains(driver).move_to_element_with_offset(canvas, x - canvas.size["width"] / 2,
                                                     y - canvas.size["height"] / 2) \
        .click_and_hold().move_by_offset(dx, dy).release().perform()
    after = driver.execute_script(f"return JSON.parse(JSON.stringify({pose}))")
    moved = [k for k in range(18) if before[k] != after[k]]
    assert moved == [j], (j, moved)
    assert abs(after[j][0] - before[j][0] - dx / scale) < 2 and abs(after[j][1] - before[j][1] - dy / scale) < 2, \
        (before[j], after[j])

def _drag_skeleton(driver, canvas_id, pose, dx, dy):
    """Drag from a corner of canvas ``canvas_id`` (no joint there) by (dx, dy) screen pixels:
    every joint of ``pose`` moves by that much in the photo's pixels."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, canvas_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)  # all of it in view
    scale = driver.execute_script(f"""
        const c = document.getElementById('{canvas_id}'); const r = c.getBoundingClientRect();
        return Math.min(c.width / state.w, c.height / state.h) * (r.width / c.width);""")
    before = driver.execute_script(f"return JSON.parse(JSON.stringify({pose}))")
    ActionChains(driver).move_to_element_with_offset(canvas, 6 - canvas.size["width"] / 2, 6 - canvas.size["height"] / 2) \
        .click_and_hold().move_by_offset(dx, dy).release().perform()
    after = driver.execute_script(f"return JSON.parse(JSON.stringify({pose}))")
    shifts = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before) if b]
    assert shifts and all(abs(x - dx / scale) < 1e-3 and abs(y - dy / scale) < 1e-3 for x, y in shifts), shifts


def test_upload_drag_joints_and_render(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from PIL import Image

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
            status = driver.find_element(By.ID, "status").text.lower()
            # MediaPipe finds some drawn people and not others: either way the photo has a skeleton
            # to correct (detected) or to place (guessed), and the page says which.
            assert "pose detected" in status or "no person detected" in status, status
            assert driver.execute_script("return state.sourceKnown") == ("pose detected" in status)
            assert driver.execute_script("return state.source !== null && state.source.some((p) => p)")
            _drag_a_joint(driver, "source", "state.source", 12, 8)
            assert driver.execute_script("return state.sourceKnown")
            _drag_a_joint(driver, "editor", "state.target", 30, 20)
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
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            if os.environ.get("POSESHIFT_SCREENSHOT"):
                shutil.copy(shot, os.environ["POSESHIFT_SCREENSHOT"])
            # Nobody in the photo: a skeleton is placed for the user to drag onto the person; it is
            # sent where the model needs the photo's pose (a warping G), and the render comes back.
            plain = tmp_path / "plain.png"
            Image.new("RGB", (96, 128), (200, 120, 60)).save(plain)
            driver.execute_script("document.getElementById('result').hidden = true; document.getElementById('result').src = '';")
            driver.find_element(By.ID, "photo").send_keys(str(plain))
            _wait(lambda: "no person" in driver.find_element(By.ID, "status").text.lower(), what="no detection")
            placed, known, needs, sent = driver.execute_script(
                "return [state.source.filter((p) => p).length, state.sourceKnown, state.needsSource, sourceJSON() !== null]")
            assert placed >= 12 and not known and sent == needs, (placed, known, needs, sent)
            _drag_skeleton(driver, "source", "state.source", 10, 6)  # placing it: the whole skeleton moves
            assert driver.execute_script("return state.sourceKnown && sourceJSON() !== null")
            driver.find_element(By.ID, "render").click()
            _wait(lambda: driver.execute_script(
                "const im = document.getElementById('result'); return !im.hidden && im.complete && im.naturalWidth > 0"),
                what="the render of the placed skeleton")
            assert driver.execute_script("return document.getElementById('result').naturalWidth") == 96
        finally:
            driver.quit()
