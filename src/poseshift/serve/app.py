"""The FastAPI application of ``poseshift serve`` (see the package docstring for the API).

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
(``UploadFile``, imported lazily inside :func:`create_app`) as objects."""

import functools
import io
import json
import logging
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)  # one line per request; poseshift serve shows them on stderr

MAX_BYTES = 10 * 1024 * 1024  # an upload over 10 MB is refused
MAX_PIXELS = 25_000_000  # and one over 25 megapixels
MAX_VIDEO_SECONDS = 20.0  # a motion video longer than this is refused (413)
MAX_VIDEO_FRAMES = 96  # a longer video is animated on every k-th frame, at its frame rate / k
UPLOAD_SECONDS = 60.0  # a request body not fully received this long after its headers is dropped (408)
STATIC = Path(__file__).parent / "static"


class RequestError(ValueError):
    """A request the server refuses: an HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def decode_image(data: bytes, field: str = "image") -> np.ndarray:
    """RGB uint8 from uploaded bytes (poseshift.images' reader), the size limits checked first."""
    from poseshift.images import ImageError, ImageTooLarge
    from poseshift.images import decode_image as decode

    if len(data) > MAX_BYTES:
        raise RequestError(413, f"{field}: {len(data):,} bytes is over the 10 MB limit")
    if not data:
        raise RequestError(400, f"{field}: empty upload")
    try:
        return decode(data, field, MAX_PIXELS)
    except ImageTooLarge as err:
        raise RequestError(413, str(err)) from None
    except ImageError as err:
        raise RequestError(415, str(err)) from None


def parse_keypoints(text: str, field: str, width: int, height: int) -> np.ndarray:
    """18 ``[x, y]`` or ``null`` (JSON, read as keypoint files are) -> float32 [18, 2], NaN missing."""
    from poseshift.pose.keypoints_io import parse_plain_keypoints

    if len(text) > 100_000:
        raise RequestError(422, f"{field}: too long for 18 keypoints")
    try:
        kp = parse_plain_keypoints(json.loads(text), field)
    except (ValueError, RecursionError) as err:  # JSON errors and KeypointFormatError
        raise RequestError(422, str(err) if str(err).startswith(field) else f"{field}: not JSON") from None
    with np.errstate(invalid="ignore"):
        far = ~((kp[:, 0] >= -width) & (kp[:, 0] <= 2 * width) & (kp[:, 1] >= -height) & (kp[:, 1] <= 2 * height))
    far &= ~np.isnan(kp).any(axis=1)
    if far.any():
        raise RequestError(422, f"{field}: joint {int(np.flatnonzero(far)[0])} lies far outside the "
                                f"{width}x{height} image")
    return kp


def _as_json(kp: np.ndarray) -> list:
    return [None if np.isnan(x) or np.isnan(y) else [round(float(x), 2), round(float(y), 2)] for x, y in kp]


def default_workers(device: str) -> int:
    """Models serving at once: on a CPU, one per core up to 2 (two requests side by side, each on
    one thread, answer 1.6 times as many a second on 2 cores as one on both: docs/inference.md);
    on an accelerator, one."""
    import os

    return min(2, os.cpu_count() or 1) if device == "cpu" or device == "auto" and not _accelerator() else 1


def _accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available()


class Service:
    """The models (``workers`` copies, loaded once, each serving one request at a time, each with
    its own pose detector and last photo), and the lock MediaPipe's video mode runs under."""

    def __init__(self, checkpoint: str = "synthetic-64", device: str = "auto", adapt: int = 0, workers: int = 1):
        import queue

        from poseshift.transfer import Reposer

        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        self.name = str(checkpoint)
        self.reposers = [Reposer.from_checkpoint(checkpoint, device=device, adapt=adapt) for _ in range(workers)]
        self.reposer = self.reposers[0]  # what /api/health describes
        self._free: queue.Queue = queue.Queue()
        for reposer in self.reposers:
            self._free.put(reposer)
        self.lock = threading.Lock()

    @contextmanager
    def model(self):
        """A model of its own for one request (waits while every one is busy)."""
        reposer = self._free.get()
        try:
            yield reposer
        finally:
            self._free.put(reposer)

    def pose(self, image: np.ndarray) -> np.ndarray:
        with self.model() as reposer:
            try:
                return reposer.detect(image, "the image")
            except ImportError as err:
                raise RequestError(501, f"pose detection is not installed ({err})") from None
            except ValueError:
                return np.full((18, 2), np.nan, dtype=np.float32)  # nobody found: every joint missing

    def _source(self, image: np.ndarray, source: np.ndarray | None) -> np.ndarray | None:
        """The photo's own pose: as sent, else detected where the model needs one (a warping G);
        a model that needs one and has none is the client's to fix: a 4xx naming source_pose."""
        if source is not None:
            return source
        with self.model() as reposer:
            try:
                return reposer.source_keypoints(image, None)  # None where the model needs none
            except ValueError as err:  # nobody detected
                raise RequestError(422, f"source_pose: this model needs the photo's own pose ({err.args[0].split(';')[0]}): "
                                        "send source_pose") from None
            except ImportError as err:
                raise RequestError(501, f"source_pose: this model needs the photo's own pose and pose detection is "
                                        f"not installed ({err}): send source_pose") from None

    def transfer(self, image: np.ndarray, pose: np.ndarray, source: np.ndarray | None,
                 retarget: bool = True) -> np.ndarray:
        source = self._source(image, source)
        with self.model() as reposer:  # retargeting detects the photo's pose where the model did not need it
            return reposer.render_in_frame(image, pose, source, retarget=retarget)

    def animate(self, image: np.ndarray, motion: str, frames: int, source: np.ndarray | None,
                retarget: bool = True, video: Path | None = None) -> bytes:
        """A GIF of the photo's person along a built-in ``motion`` of ``frames`` frames, or along the
        motion of the ``video`` file (every frame, or every k-th over MAX_VIDEO_FRAMES)."""
        from poseshift.animate import DEFAULT_FPS, render_sequence, write_animation
        from poseshift.motions import motion as make_motion

        h, w = image.shape[:2]
        source = self._source(image, source)  # also places the motion on the person
        if video is None:
            poses, fps = make_motion(motion, frames, h, w, source), DEFAULT_FPS
        else:
            poses, fps = self._video_motion(video, (h, w), retarget)
        with self.model() as reposer:
            rendered = render_sequence(reposer, image, poses, source, retarget=retarget)
        with tempfile.TemporaryDirectory(prefix="poseshift-serve-") as tmp:  # removed on leaving
            path = write_animation(rendered, Path(tmp) / "animation.gif", fps=fps)
            return path.read_bytes()

    def _video_motion(self, path: Path, photo_hw: tuple[int, int], retarget: bool) -> tuple[np.ndarray, float]:
        from poseshift.animate import _into_photo
        from poseshift.video import video_poses

        try:
            with self.lock:  # MediaPipe's video mode: one video at a time, as the model runs
                got = video_poses(path, max_seconds=MAX_VIDEO_SECONDS)
        except ValueError as err:  # the file's name is ours: the client knows it as "video"
            reason = str(err).replace(f"{path}: ", "").replace(" (--max-seconds allows more)", "")
            raise RequestError(413 if "limit" in reason else 422, f"video: {reason}") from None
        except ImportError as err:
            raise RequestError(501, f"video: reading a video is not installed ({err})") from None
        step = -(-len(got.poses) // MAX_VIDEO_FRAMES)
        poses = got.poses[::step]
        if not retarget:  # the video's frame into the photo's, as a photo's pose is moved
            poses = _into_photo(poses, got.size, photo_hw, self.reposer)
        return poses, min(got.fps / step, 50.0)


def gallery(size: int = 1000) -> list[dict]:
    """Poses packaged with poseshift: frames of the built-in motions, in shares of the frame."""
    from poseshift.motions import motion

    picks = [("stand", "turn", 0, 8), ("side", "turn", 2, 8), ("back", "turn", 4, 8),
             ("other side", "turn", 6, 8), ("stride", "walk", 0, 8), ("stride, other leg", "walk", 4, 8),
             ("passing", "walk", 2, 8)]
    out = []
    for name, which, index, frames in picks:
        kp = motion(which, frames, size, size)[index] / size
        out.append({"name": name, "keypoints": [None if np.isnan(x) else [round(float(x), 4), round(float(y), 4)]
                                                for x, y in kp]})
    return out


@functools.lru_cache(maxsize=1)
def favicon_png() -> bytes:
    """The page's icon, drawn here: a 32x32 PNG of a stick figure in the header's colours."""
    from PIL import Image, ImageDraw

    icon = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((0, 0, 31, 31), radius=6, fill=(45, 58, 74, 255))
    white = (255, 255, 255, 255)
    draw.ellipse((12, 3, 19, 10), fill=white)  # head
    for line in (((16, 10), (16, 19)), ((8, 16), (16, 12), (24, 8)), ((16, 19), (10, 28)), ((16, 19), (23, 27))):
        draw.line(line, fill=white, width=3, joint="curve")
    out = io.BytesIO()
    icon.save(out, format="PNG")
    return out.getvalue()


def create_app(checkpoint: str = "synthetic-64", device: str = "auto", service: Service | None = None,
               adapt: int = 0, workers: int = 1):
    from fastapi import FastAPI, File, Form, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    svc = service or Service(checkpoint, device, adapt, workers)
    app = FastAPI(title="poseshift", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = svc
    poses = gallery()

    @app.exception_handler(RequestError)
    async def _refused(request: Request, err: RequestError):
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, err: HTTPException):
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.middleware("http")
    async def _limit(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BYTES + 1_000_000:
            return JSONResponse({"error": f"request of {int(length):,} bytes is over the 10 MB limit"},
                                status_code=413)
        return await call_next(request)

    @app.middleware("http")  # added last, so outermost: it also times and logs refused requests
    async def _log(request: Request, call_next):
        start, status = time.perf_counter(), 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            log.info("%s %s %d %.0f ms", request.method, request.url.path, status,
                     (time.perf_counter() - start) * 1000)

    async def _read(upload: UploadFile, field: str) -> np.ndarray:
        data = await upload.read(MAX_BYTES + 1)
        return decode_image(data, field)

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/favicon.ico")
    def favicon():
        return Response(favicon_png(), media_type="image/png", headers={"Cache-Control": "max-age=86400"})

    @app.get("/api/health")
    def health():
        return {"status": "ok", "model": svc.name, "image_size": svc.reposer.size,
                "needs_source_pose": svc.reposer.needs_source_pose}

    @app.get("/api/poses")
    def list_poses():
        return poses

    @app.post("/api/pose")
    async def pose(image: UploadFile = File(...)):
        arr = await _read(image, "image")
        return {"keypoints": _as_json(await run_in_threadpool(svc.pose, arr)), "width": arr.shape[1], "height": arr.shape[0]}

    @app.post("/api/transfer")
    async def transfer(image: UploadFile = File(...), pose: str = Form(...), source_pose: str | None = Form(None),
                       retarget: bool = Form(True)):
        from PIL import Image

        arr = await _read(image, "image")
        h, w = arr.shape[:2]
        target = parse_keypoints(pose, "pose", w, h)
        source = parse_keypoints(source_pose, "source_pose", w, h) if source_pose else None
        if np.isnan(target).all():
            raise RequestError(422, "pose: every joint is missing")

        def render() -> bytes:  # the render and its PNG, off the event loop (other uploads, their deadlines)
            out = io.BytesIO()
            Image.fromarray(svc.transfer(arr, target, source, retarget)).save(out, format="PNG", compress_level=1)
            return out.getvalue()

        return Response(await run_in_threadpool(render), media_type="image/png")

    @app.post("/api/animate")
    async def animate(image: UploadFile = File(...), motion: str = Form("turn"), frames: int = Form(16),
                      source_pose: str | None = Form(None), retarget: bool = Form(True),
                      video: UploadFile | None = File(None)):
        from poseshift.motions import MOTIONS
        from poseshift.video import VIDEO_SUFFIXES

        if motion not in MOTIONS:
            raise RequestError(422, f"motion: choose one of {', '.join(MOTIONS)}")
        if not 2 <= frames <= 96:
            raise RequestError(422, "frames: between 2 and 96")
        arr = await _read(image, "image")
        h, w = arr.shape[:2]
        source = parse_keypoints(source_pose, "source_pose", w, h) if source_pose else None
        if video is None:
            return Response(await run_in_threadpool(svc.animate, arr, motion, frames, source, retarget),
                            media_type="image/gif")
        data = await video.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise RequestError(413, "video: over the 10 MB limit")
        if not data:
            raise RequestError(400, "video: empty upload")
        suffix = Path(video.filename or "").suffix.lower()
        with tempfile.TemporaryDirectory(prefix="poseshift-serve-") as tmp:  # removed on leaving
            path = Path(tmp) / f"motion{suffix if suffix in VIDEO_SUFFIXES else '.mp4'}"
            path.write_bytes(data)
            gif = await run_in_threadpool(functools.partial(svc.animate, video=path), arr, motion, frames, source,
                                          retarget)
        return Response(gif, media_type="image/gif")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(_UploadDeadline)  # outermost: uvicorn itself has no timeout on a request body
    return app


class _UploadDeadline:
    """ASGI middleware: a request whose body has not all arrived ``UPLOAD_SECONDS`` after its headers
    (a client sending a few bytes a second) is answered 408 and its connection closed. uvicorn's
    ``timeout_keep_alive`` only covers the idle time between requests; h11 has no body timeout."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        import asyncio

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        deadline, done, started, late = loop.time() + UPLOAD_SECONDS, False, False, False

        async def timed_receive():
            nonlocal done, late
            if done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.001, deadline - loop.time()))
            except asyncio.TimeoutError:  # to the app, the client has gone
                late = done = True
                return {"type": "http.disconnect"}
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked_send(message):
            nonlocal started
            if late:  # the app's answer to the "disconnect" (a 400): the 408 below replaces it
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except Exception:
            if not late or started:
                raise
        if late and not started:
            log.info("%s %s 408: the upload took over %g s", scope.get("method"), scope.get("path"), UPLOAD_SECONDS)
            body = json.dumps({"error": f"the upload took over {UPLOAD_SECONDS:g} s"}).encode()
            await send({"type": "http.response.start", "status": 408,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
