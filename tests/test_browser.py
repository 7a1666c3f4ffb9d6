"""The page of poseshift serve in a real headless Chromium (Debian's chromium and
chromium-driver, which .ci/run installs) at 1400x1000: a photo is uploaded, joints dragged,
hidden and added on both skeletons (the photo's own and the target), and the render appears
beside the photo, within the window, with a photo/render wipe. What the server receives is
recorded (tests.serving), so the poses the page sends are checked, not only its state. A
screenshot after a render is saved (POSESHIFT_SCREENSHOT names a copy)."""
import base64
import io
import json
import os
import shutil
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="Chromium could not be installed here (apt-get install chromium chromium-driver)")

from tests.serving import running_server  # noqa: E402

CANVAS = {"source": "source", "target": "editor"}  # editor name -> its canvas's id
LIST = {"source": "sourcejoints", "target": "joints"}  # and its list of joints


@pytest.fixture(scope="module")
def site():
    transfers = []
    with running_server(transfers=transfers) as url:
        yield url, transfers


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from poseshift.synth import write_dataset

    people = tmp_path_factory.mktemp("people")
    write_dataset(people, 1, 1, 128, 4, progress=False)
    return sorted((people / "images").iterdir())[0]


def _wait(predicate, seconds=60, what="the page"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _open(driver, url, photo):
    """The page with ``photo`` uploaded and both skeletons set."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    _wait(lambda: driver.execute_script("return state.gallery.length") > 0, what="the gallery")
    driver.find_element(By.ID, "photo").send_keys(str(photo))
    _wait(lambda: driver.execute_script("return editors.target.pose !== null && editors.source.pose !== null"),
          what="both skeletons")


def _render(driver, transfers):
    from selenium.webdriver.common.by import By

    before = len(transfers)
    driver.find_element(By.ID, "render").click()
    _wait(lambda: driver.execute_script(
        "const im = document.getElementById('result'); return !im.hidden && im.complete && im.naturalWidth > 0"),
        what="the render")
    assert len(transfers) == before + 1
    return transfers[-1]


def _pose(driver, name):
    return driver.execute_script(f"return JSON.parse(JSON.stringify(editors.{name}.pose))")


def _array(kp):
    """18 [x, y] or None -> float32 [18, 2], NaN missing (as the server parses a pose)."""
    return np.array([p or [np.nan, np.nan] for p in kp], np.float32)


def _offset(driver, name, x, y):
    """Where the photo's pixel (x, y) lies on editor ``name``'s canvas, from its centre (what
    ActionChains.move_to_element_with_offset takes), and the CSS pixels per photo pixel."""
    ox, oy, s, w, h = driver.execute_script(
        f"const v = editors.{name}.view(); return [v.ox, v.oy, v.s, v.r.width, v.r.height]")
    return ox + x * s - w / 2, oy + y * s - h / 2, s


def _isolated_joint(driver, name, but=()):
    """The shown joint of editor ``name`` farthest from the others (a click lands within a few
    pixels, and a face's joints are closer than that)."""
    kp, hidden = driver.execute_script(f"return [editors.{name}.pose, editors.{name}.hidden]")
    shown = [k for k in range(18) if kp[k] and not hidden[k]]
    return max((k for k in shown if k not in but),
               key=lambda k: min(np.hypot(kp[k][0] - kp[m][0], kp[k][1] - kp[m][1]) for m in shown if m != k))


def _drag_a_joint(driver, name, dx, dy):
    """Drag the most isolated shown joint of editor ``name`` by (dx, dy) screen pixels: it, and
    only it, moves by that much in the photo's pixels."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, CANVAS[name])
    before = _pose(driver, name)
    j = _isolated_joint(driver, name)
    x, y, scale = _offset(driver, name, *before[j])
    ActionChains(driver).move_to_element_with_offset(canvas, x, y).click_and_hold().move_by_offset(dx, dy) \
        .release().perform()
    after = _pose(driver, name)
    assert [k for k in range(18) if before[k] != after[k]] == [j]
    assert abs(after[j][0] - before[j][0] - dx / scale) < 2 and abs(after[j][1] - before[j][1] - dy / scale) < 2, \
        (before[j], after[j])


def _drag_skeleton(driver, name, dx, dy):
    """Drag from a corner of editor ``name``'s canvas (no joint there) by (dx, dy) screen pixels:
    every joint moves by that much in the photo's pixels."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, CANVAS[name])
    scale = _offset(driver, name, 0, 0)[2]
    before = _pose(driver, name)
    ActionChains(driver).move_to_element_with_offset(canvas, 6 - canvas.size["width"] / 2, 6 - canvas.size["height"] / 2) \
        .click_and_hold().move_by_offset(dx, dy).release().perform()
    shifts = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(_pose(driver, name), before) if b]
    assert shifts and all(abs(x - dx / scale) < 1e-3 and abs(y - dy / scale) < 1e-3 for x, y in shifts), shifts


def test_upload_drag_joints_and_render(site, driver, photo, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By

    url, transfers = site
    _open(driver, url, photo)
    status = driver.find_element(By.ID, "status").text.lower()
    # MediaPipe finds some drawn people and not others: either way the photo has a skeleton
    # to correct (detected) or to place (guessed), and the page says which.
    assert "pose detected" in status or "no person detected" in status, status
    assert driver.execute_script("return state.sourceKnown") == ("pose detected" in status)
    _drag_a_joint(driver, "source", 12, 8)
    assert driver.execute_script("return state.sourceKnown")
    _drag_a_joint(driver, "target", 30, 20)
    sent = _render(driver, transfers)
    assert np.allclose(sent["pose"], _array(_pose(driver, "target")), atol=1e-3, equal_nan=True)
    spread = driver.execute_script("""
        const im = document.getElementById('result'); const c = document.createElement('canvas');
        c.width = im.naturalWidth; c.height = im.naturalHeight; const g = c.getContext('2d');
        g.drawImage(im, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
        let lo = 255, hi = 0; for (let k = 0; k < d.length; k += 4) { lo = Math.min(lo, d[k]); hi = Math.max(hi, d[k]); }
        return [c.width, c.height, hi - lo];""")
    assert spread[:2] == [128, 128] and spread[2] > 20, spread  # the photo's size, and not blank
    # Nobody in the photo: a skeleton is placed for the user to drag onto the person; it is
    # sent where the model needs the photo's pose (a warping G), and the render comes back.
    plain = tmp_path / "plain.png"
    Image.new("RGB", (96, 128), (200, 120, 60)).save(plain)
    driver.find_element(By.ID, "photo").send_keys(str(plain))
    _wait(lambda: "no person" in driver.find_element(By.ID, "status").text.lower(), what="no detection")
    assert driver.execute_script("return document.getElementById('result').hidden")  # the last photo's render went
    placed, known, needs, sent = driver.execute_script(
        "return [editors.source.pose.filter((p) => p).length, state.sourceKnown, state.needsSource, sourceJSON() !== null]")
    assert placed >= 12 and not known and sent == needs, (placed, known, needs, sent)
    _drag_skeleton(driver, "source", 10, 6)  # placing it: the whole skeleton moves
    assert driver.execute_script("return state.sourceKnown && sourceJSON() !== null")
    got = _render(driver, transfers)
    assert driver.execute_script("return document.getElementById('result').naturalWidth") == 96
    assert np.allclose(got["source_pose"], _array(_pose(driver, "source")), atol=1e-3, equal_nan=True)


def _png_of(driver, element_id):
    """An <img>'s pixels as the browser decoded them."""
    from PIL import Image

    data = driver.execute_script(f"""
        const im = document.getElementById('{element_id}'); const c = document.createElement('canvas');
        c.width = im.naturalWidth; c.height = im.naturalHeight; c.getContext('2d').drawImage(im, 0, 0);
        return c.toDataURL('image/png');""")
    return Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB")


def test_the_render_beside_the_photo_in_view_and_a_photo_render_wipe(site, driver, photo, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, transfers = site
    _open(driver, url, photo)
    driver.execute_script("editors.target.set(galleryPose())")  # not the photo's own pose: a render unlike the photo
    _render(driver, transfers)
    view, source, box = driver.execute_script("""
        const r = (id) => { const b = document.getElementById(id).getBoundingClientRect();
                            return [b.left, b.top, b.right, b.bottom]; };
        return [[window.scrollX, window.scrollY, innerWidth, innerHeight], r('source'), r('compare')];""")
    sx, sy, vw, vh = view
    assert (sx, sy) == (0, 0)  # nothing scrolled
    for left, top, right, bottom in (source, box):  # both wholly in the 1400x1000 window, at a useful size
        assert 0 <= left and right <= vw and 0 <= top and bottom <= vh, (view, source, box)
        assert right - left >= 360 and bottom - top >= 360, (source, box)
    assert source[2] <= box[0] and abs(source[1] - box[1]) < 4, (source, box)  # side by side, photo on the left

    def shown():  # what the compare box shows, as pixels of the window (inside its 1px border)
        time.sleep(0.2)  # a frame drawn
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
        k = shot.width / vw
        left, top, right, bottom = (round(v * k) for v in box)
        return np.asarray(shot.crop((left + 1, top + 1, right - 1, bottom - 1)), np.float32)

    slider = driver.find_element(By.ID, "wipe")
    slider.send_keys(Keys.HOME)
    at_photo = shown()
    slider.send_keys(Keys.END)
    at_render = shown()
    size = at_photo.shape[1::-1]
    photo_px = np.asarray(Image.open(photo).convert("RGB").resize(size, Image.BILINEAR), np.float32)
    render_px = np.asarray(_png_of(driver, "result").resize(size, Image.BILINEAR), np.float32)
    diff = lambda a, b: float(np.abs(a - b).mean())  # noqa: E731
    assert diff(photo_px, render_px) > 4, "the render is too like the photo to tell them apart"
    assert diff(at_photo, photo_px) < diff(photo_px, render_px) / 3, (diff(at_photo, photo_px), diff(photo_px, render_px))
    assert diff(at_render, render_px) < diff(photo_px, render_px) / 3, (diff(at_render, render_px), diff(photo_px, render_px))
    # A click in the middle of the picture: the render left of it, the photo right of it.
    ActionChains(driver).move_to_element(driver.find_element(By.ID, "compare")).click().perform()
    assert abs(int(slider.get_attribute("value")) - 50) <= 1
    half = shown()
    w, margin = half.shape[1], 8
    assert diff(half[:, :w // 2 - margin], at_render[:, :w // 2 - margin]) < 2
    assert diff(half[:, w // 2 + margin:], at_photo[:, w // 2 + margin:]) < 2
    assert diff(half[:, w // 2 + margin:], at_render[:, w // 2 + margin:]) > 2
    shot = tmp_path / "serve.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("POSESHIFT_SCREENSHOT"):
        shutil.copy(shot, os.environ["POSESHIFT_SCREENSHOT"])


def test_hiding_and_adding_joints_changes_the_poses_sent(site, driver, photo, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, transfers = site
    _open(driver, url, photo)
    files = {}
    for name, field, missing in (("source", "sourcefile", 4), ("target", "posefile", 7)):  # r_wrist, l_wrist
        kp = _pose(driver, name)
        kp[missing] = None
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(kp))
        driver.find_element(By.ID, field).send_keys(str(files[name]))
        _wait(lambda: driver.execute_script(f"return editors.{name}.pose[{missing}] === null"), what=f"{name}.json")
    edits = {}
    for name, missing, spot in (("source", 4, (100.0, 40.0)), ("target", 7, (20.0, 90.0))):
        canvas = driver.find_element(By.ID, CANVAS[name])
        # Adding a missing joint: its "+" in the list, then a click on the photo where it goes.
        driver.find_element(By.CSS_SELECTOR, f"#{LIST[name]} button.place[data-joint='{missing}']").click()
        assert driver.execute_script(f"return editors.{name}.placing") == missing
        assert ("r_wrist" if missing == 4 else "l_wrist") in driver.find_element(By.ID, "status").text
        x, y, scale = _offset(driver, name, *spot)
        ActionChains(driver).move_to_element_with_offset(canvas, x, y).click().perform()
        placed = _pose(driver, name)[missing]
        assert placed and abs(placed[0] - spot[0]) <= 1.5 / scale and abs(placed[1] - spot[1]) <= 1.5 / scale, placed
        # Hiding a joint: a right-click on it.
        hide = _isolated_joint(driver, name, but=(missing,))
        x, y, _ = _offset(driver, name, *_pose(driver, name)[hide])
        ActionChains(driver).move_to_element_with_offset(canvas, x, y).context_click().perform()
        assert driver.execute_script(f"return editors.{name}.hidden") == [k == hide for k in range(18)]
        edits[name] = (missing, placed, hide)
    # ...and one hidden from the target's list, then shown again there.
    k = next(j for j in (10, 13) if j != edits["target"][2])  # an ankle
    driver.find_element(By.CSS_SELECTOR, f"#joints input[data-joint='{k}']").click()
    assert driver.execute_script(f"return editors.target.hidden[{k}] && JSON.parse(targetJSON())[{k}] === null")
    driver.find_element(By.CSS_SELECTOR, f"#joints input[data-joint='{k}']").click()  # the list is redrawn
    assert driver.execute_script(f"return !editors.target.hidden[{k}] && JSON.parse(targetJSON())[{k}] !== null")

    sent = _render(driver, transfers)
    count = len(transfers)
    for name, field in (("source", "source_pose"), ("target", "pose")):
        missing, placed, hide = edits[name]
        expect = _array(json.loads(files[name].read_text()))
        expect[missing] = placed
        expect[hide] = np.nan
        assert np.allclose(sent[field], expect, atol=1e-3, equal_nan=True), (name, sent[field], expect)

    # Every target joint hidden: one line says why nothing is sent.
    driver.execute_script("editors.target.hidden.fill(true); editors.target.draw()")
    driver.find_element(By.ID, "render").click()
    line = driver.find_element(By.ID, "status").text
    assert line.startswith("Cannot render: every joint of the target is hidden") and "\n" not in line, line
    assert len(transfers) == count


def test_the_favicon_loads(site, driver):
    url, _ = site
    driver.get(url)
    got = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const link = document.querySelector("link[rel~='icon']");
        fetch(link.href).then(async (r) => {
          const bitmap = await createImageBitmap(await r.blob());
          done([new URL(link.href).pathname, r.status, r.headers.get('content-type'), bitmap.width, bitmap.height]);
        }).catch((e) => done(String(e)));""")
    assert got == ["/favicon.ico", 200, "image/png", 32, 32], got


def test_a_phones_exif_rotated_photo_is_shown_and_rendered_upright(site, driver, photo, tmp_path):
    # A portrait stored as landscape pixels with EXIF orientation 6 (as phones store them): the
    # page shows it upright, the server detects the pose on the upright picture, and the render
    # comes back in the photo's displayed (portrait) size.
    from PIL import Image

    url, transfers = site
    upright = Image.open(photo).convert("RGB").crop((16, 0, 112, 128))          # 96 x 128, portrait
    exif = Image.Exif()
    exif[0x0112] = 6                                                             # shown turned clockwise
    phone = tmp_path / "phone.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(phone, quality=95, exif=exif)
    assert Image.open(phone).size == (128, 96)                                  # stored landscape
    _open(driver, url, phone)
    assert driver.execute_script("return [state.w, state.h]") == [96, 128]
    if not driver.execute_script("return state.sourceKnown"):
        _drag_skeleton(driver, "source", 4, 4)                                  # placed, not detected
    sent = _render(driver, transfers)
    assert driver.execute_script(
        "const im = document.getElementById('result'); return [im.naturalWidth, im.naturalHeight]") == [96, 128]
    assert sent["pose"] is not None
