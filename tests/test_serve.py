"""The HTTP API of poseshift serve, against a running server: each endpoint, each limit, and
concurrent requests."""
import importlib.util
import io
import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from tests.serving import running_server  # noqa: E402


@pytest.fixture(scope="module")
def url():
    with running_server() as base:
        yield base


def _png(w=40, h=60, colour=(180, 60, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return buf.getvalue()


def _pose(w=40, h=60, seed=0):
    rng = np.random.default_rng(seed)
    return [[float(rng.uniform(4, w - 4)), float(rng.uniform(4, h - 4))] if i != 3 else None for i in range(18)]


def _source(w=40, h=60):
    """The photo's own pose, as the page sends it: the shipped model warps the photo's pixels and
    MediaPipe finds nobody in a plain rectangle."""
    return json.dumps(_pose(w, h, seed=1))


def test_health_poses_and_the_page(url):
    assert httpx.get(f"{url}/api/health").json()["status"] == "ok"
    poses = httpx.get(f"{url}/api/poses").json()
    assert len(poses) >= 5 and all(len(p["keypoints"]) == 18 for p in poses)
    assert all(0 <= v <= 1 for p in poses for kp in p["keypoints"] if kp for v in kp)
    page = httpx.get(url).text
    assert "app.js" in page and "http" not in page.split("<body>")[1].replace("http-equiv", "")  # no CDN
    assert httpx.get(f"{url}/static/app.js").status_code == 200


def test_pose_answers_18_joints_in_the_images_frame(url):
    r = httpx.post(f"{url}/api/pose", files={"image": ("a.png", _png(), "image/png")}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert len(body["keypoints"]) == 18 and (body["width"], body["height"]) == (40, 60)


def test_transfer_answers_a_png_in_the_photos_frame(url):
    r = httpx.post(f"{url}/api/transfer", files={"image": ("a.png", _png(), "image/png")},
                   data={"pose": json.dumps(_pose()), "source_pose": _source()})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (40, 60)


def test_animate_answers_a_gif(url):
    r = httpx.post(f"{url}/api/animate", files={"image": ("a.png", _png(), "image/png")},
                   data={"motion": "walk", "frames": "4", "source_pose": _source()}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert Image.open(io.BytesIO(r.content)).n_frames >= 2


def _bomb() -> bytes:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6000, 5000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("image,pose,status", [
    (b"x" * (11 * 1024 * 1024), None, 413),  # over 10 MB
    ("bomb", None, 413),  # 30 megapixels
    (b"not an image at all", None, 415),
    ("ok", json.dumps([[1, 2]] * 17), 422),
    ("ok", json.dumps([[1, "a"]] * 18), 422),
    ("ok", "{not json", 422),
    ("ok", json.dumps([None] * 18), 422),
    ("ok", json.dumps([[1e308, 1]] * 18), 422),
])
def test_bad_uploads_get_a_4xx_with_a_one_line_json_error(url, image, pose, status):
    data = _bomb() if image == "bomb" else _png() if image == "ok" else image
    r = httpx.post(f"{url}/api/transfer", files={"image": ("a.png", data, "image/png")},
                   data={"pose": pose or json.dumps(_pose()), "source_pose": _source()}, timeout=60)
    assert r.status_code == status
    err = r.json()["error"]
    assert isinstance(err, str) and err and "\n" not in err


def test_missing_fields_and_unknown_motions_are_4xx(url):
    r = httpx.post(f"{url}/api/transfer", data={"pose": "[]"})
    assert r.status_code == 422 and "image" in r.json()["error"]
    r = httpx.post(f"{url}/api/animate", files={"image": ("a.png", _png(), "image/png")}, data={"motion": "dance"})
    assert r.status_code == 422 and "motion" in r.json()["error"]
    assert httpx.get(f"{url}/api/nothing").status_code == 404


def test_concurrent_requests_are_each_answered_correctly(url):
    def one(i):
        colour = (20 * i, 100, 200 - 20 * i)
        r = httpx.post(f"{url}/api/transfer", files={"image": ("a.png", _png(30 + i, 50, colour), "image/png")},
                       data={"pose": json.dumps(_pose(30 + i, 50)), "source_pose": _source(30 + i, 50)}, timeout=60)
        return r.status_code, Image.open(io.BytesIO(r.content)).size
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(one, range(8)))
    assert got == [(200, (30 + i, 50)) for i in range(8)]


def test_uploads_are_never_written_outside_a_temporary_folder(url, tmp_path, monkeypatch):
    import tempfile

    before = set(tempfile.gettempdir() and __import__("os").listdir(tempfile.gettempdir()))
    r = httpx.post(f"{url}/api/animate", files={"image": ("a.png", _png(), "image/png")},
                   data={"frames": "2", "source_pose": _source()}, timeout=60)
    assert r.status_code == 200
    after = set(__import__("os").listdir(tempfile.gettempdir()))
    assert not [n for n in after - before if n.startswith("poseshift-serve-")]


def test_a_warping_model_without_a_source_pose_gets_a_4xx_not_a_500(tmp_path, monkeypatch):
    """model.g_arch=warp needs the photo's own pose: where it was neither sent nor detected, the
    answer is a one-line 4xx naming source_pose (501 where pose detection is not installed, 422
    where it finds nobody); with it, a PNG."""
    import poseshift.detect
    from poseshift.training import Trainer
    from tests.helpers import figures, micro_config

    class NoDetector:
        def __init__(self, *a, **k):
            raise ImportError("pose detection needs mediapipe: pip install -e '.[pose]'")

    Trainer(micro_config("model.g_arch=warp"), figures(tmp_path), tmp_path / "run", progress=False,
            psi_pretrained=False).train(max_steps=1)
    with running_server(str(tmp_path / "run/checkpoints/last.safetensors")) as base:
        assert httpx.get(f"{base}/api/health").json()["needs_source_pose"] is True  # the page reads this
        requests = (("transfer", {"pose": json.dumps(_pose())}), ("animate", {"frames": "3"}))
        with monkeypatch.context() as patch:  # before the real detector is ever loaded
            patch.setattr(poseshift.detect, "PoseDetector", NoDetector)
            for endpoint, data in requests:
                r = httpx.post(f"{base}/api/{endpoint}", files={"image": ("a.png", _png(), "image/png")}, data=data,
                               timeout=60)
                assert r.status_code == 501 and r.json()["error"].startswith("source_pose:"), r.text
        if importlib.util.find_spec("mediapipe"):
            for endpoint, data in requests:  # a plain rectangle: nobody detected
                r = httpx.post(f"{base}/api/{endpoint}", files={"image": ("a.png", _png(), "image/png")}, data=data,
                               timeout=60)
                assert r.status_code == 422 and r.json()["error"].startswith("source_pose:"), r.text
                assert "\n" not in r.json()["error"]
        r = httpx.post(f"{base}/api/transfer", files={"image": ("a.png", _png(), "image/png")},
                       data={"pose": json.dumps(_pose()), "source_pose": json.dumps(_pose())}, timeout=60)
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (40, 60)


def test_the_papers_generator_needs_no_source_pose(tmp_path):
    """G(I | p_f) renders from the photo and the target alone: the page is told so and sends
    the photo's pose only where it was detected or edited."""
    from poseshift.training import Trainer
    from tests.helpers import figures, micro_config

    Trainer(micro_config(), figures(tmp_path), tmp_path / "run", progress=False,
            psi_pretrained=False).train(max_steps=1)
    with running_server(str(tmp_path / "run/checkpoints/last.safetensors")) as base:
        assert httpx.get(f"{base}/api/health").json()["needs_source_pose"] is False
        r = httpx.post(f"{base}/api/transfer", files={"image": ("a.png", _png(), "image/png")},
                       data={"pose": json.dumps(_pose())}, timeout=60)
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (40, 60)


def test_the_favicon_is_served(url):
    r = httpx.get(f"{url}/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (32, 32)


def test_each_request_is_logged_with_method_path_status_and_milliseconds(url, caplog):
    import logging
    import re

    caplog.set_level(logging.INFO, logger="poseshift.serve")
    httpx.get(f"{url}/api/health?x=1")
    httpx.get(f"{url}/no-such-page")
    httpx.post(f"{url}/api/transfer", files={"image": ("a.png", b"not an image", "image/png")},
               data={"pose": json.dumps(_pose())})
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("poseshift.serve")]
    for method, path, status in (("GET", "/api/health", 200), ("GET", "/no-such-page", 404),
                                 ("POST", "/api/transfer", 415)):
        assert any(re.fullmatch(rf"{method} {re.escape(path)} {status} \d+ ms", ln) for ln in lines), lines


def test_poseshift_serve_logs_requests_to_stderr(tmp_path):
    """The command itself: one line per request on its stderr."""
    import re
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = tmp_path / "stderr.txt"
    with open(err, "w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "poseshift", "serve", "--port", str(port), "--device", "cpu"],
                                  stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    assert httpx.get(f"http://127.0.0.1:{port}/favicon.ico").status_code == 200
                    break
                except httpx.TransportError:
                    assert server.poll() is None, err.read_text()
                    time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/nothing-here").status_code == 404
        finally:
            server.terminate()
            server.wait(30)
    text = err.read_text()
    assert re.search(r"^poseshift: GET /favicon.ico 200 \d+ ms$", text, re.M), text
    assert re.search(r"^poseshift: GET /nothing-here 404 \d+ ms$", text, re.M), text


def test_a_slow_upload_is_dropped_with_408_and_does_not_block_others(url, monkeypatch):
    """uvicorn has no timeout on a request body: poseshift.serve's own (UPLOAD_SECONDS) answers 408."""
    import socket
    import time

    import httpx

    import poseshift.serve.app as served

    monkeypatch.setattr(served, "UPLOAD_SECONDS", 1.5)
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /api/transfer HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\n")
        t0 = time.monotonic()
        assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200  # others are answered meanwhile
        sock.settimeout(10)
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert 1.0 < time.monotonic() - t0 < 8.0


def test_two_workers_answer_side_by_side_as_one_does():
    """serve --workers 2: two copies of the model, each request on one of its own; concurrent
    requests get the renders one worker gives, and both copies do work."""
    import threading

    from poseshift.serve.app import Service, default_workers

    rng = np.random.default_rng(5)
    photos = [rng.integers(0, 255, (60 + 4 * i, 40, 3), dtype=np.uint8) for i in range(4)]
    poses = [np.stack([rng.uniform(4, 36, 18), rng.uniform(4, 56, 18)], 1).astype(np.float32) for _ in range(4)]
    one = Service("synthetic-64", "cpu", workers=1)
    want = [one.transfer(p, poses[i], poses[(i + 1) % 4]) for i, p in enumerate(photos)]
    two = Service("synthetic-64", "cpu", workers=2)
    used = set()
    for reposer in two.reposers:  # which copy rendered what
        real = reposer.render_in_frame
        reposer.render_in_frame = lambda *a, _real=real, _r=reposer, **k: used.add(id(_r)) or _real(*a, **k)
    start = threading.Barrier(4)

    def call(i):
        start.wait()
        return two.transfer(photos[i], poses[i], poses[(i + 1) % 4])

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(call, range(4)))
    assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in zip(got, want))
    assert len(used) == 2
    assert default_workers("cpu") >= 1
    with pytest.raises(ValueError, match="--workers must be at least 1"):
        Service("synthetic-64", "cpu", workers=0)
