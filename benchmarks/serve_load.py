"""Load on poseshift serve: 200 transfer requests from 8 concurrent clients on loopback.

    python benchmarks/serve_load.py                  # 200 requests, 8 clients, synthetic-64
    python benchmarks/serve_load.py --requests 500 --clients 16

It starts a real server (``python -m poseshift serve`` in its own process, as a user runs it: the
model under a lock, one request at a time) on a free port, sends multipart /api/transfer
requests of a 176x256 photo from client threads of this process, and prints errors, p50 and p95
latency and requests/s. ``--in-process`` runs the server in a thread of this process instead
(the clients then share its interpreter, and its latencies include theirs).

    python benchmarks/serve_load.py --clients 32 --slow-client

``--slow-client`` adds one more client that sends a transfer upload a few bytes a second
(``--slow-rate``) on a raw socket while the others run: it passes when the others have no
errors and none waits over ``--block-limit`` seconds, and it reports when (and with what status)
the server dropped the slow upload (``poseshift.serve.app.UPLOAD_SECONDS``).
"""
from __future__ import annotations

import argparse
import io
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.serving import running_server  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--checkpoint", default="synthetic-64")
    ap.add_argument("--slow-client", action="store_true", help="one more client uploading a few bytes a second")
    ap.add_argument("--slow-rate", type=float, default=4.0, help="the slow client's bytes per second")
    ap.add_argument("--block-limit", type=float, default=30.0,
                    help="with --slow-client: seconds past which another client's request counts as blocked")
    ap.add_argument("--in-process", action="store_true", help="the server in a thread of this process")
    ap.add_argument("--workers", type=int, default=None, help="poseshift serve --workers (default: its own)")
    ap.add_argument("--upload-timeout", type=float, default=None,
                    help="the server's limit on receiving one request body, s (default: UPLOAD_SECONDS, 60)")
    args = ap.parse_args()
    if args.upload_timeout is not None:
        import poseshift.serve.app

        poseshift.serve.app.UPLOAD_SECONDS = args.upload_timeout
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (256, 176, 3), dtype=np.uint8)).save(buf, format="PNG")
    photo = buf.getvalue()
    pose, source = (json.dumps([[float(rng.uniform(10, 166)), float(rng.uniform(10, 246))] for _ in range(18)])
                    for _ in range(2))  # the target, and the photo's own (a warping model needs it; as the page sends)
    server = running_server(args.checkpoint) if args.in_process or args.upload_timeout is not None \
        else server_process(args.checkpoint, args.workers)
    with server as url, httpx.Client(timeout=120) as client:
        def one(_):
            t0 = time.perf_counter()
            r = client.post(f"{url}/api/transfer", files={"image": ("p.png", photo, "image/png")}, data={"pose": pose, "source_pose": source})
            return r.status_code, time.perf_counter() - t0
        client.get(f"{url}/api/health")
        slow, stop = {}, threading.Event()
        if args.slow_client:
            req = client.build_request("POST", f"{url}/api/transfer", files={"image": ("p.png", photo, "image/png")},
                                       data={"pose": pose, "source_pose": source})
            body, ctype = req.read(), req.headers["content-type"]
            thread = threading.Thread(target=slow_upload, args=(url, body, ctype, args.slow_rate, stop, slow),
                                      daemon=True)
            thread.start()
            time.sleep(1.0)  # the slow upload is under way before the load starts
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - t0
        if args.slow_client:
            thread.join(max(0.0, 75.0 - (time.perf_counter() - slow["start"])))  # let the server's timeout show
            stop.set()
            thread.join(5)
    lat = sorted(t for _, t in results)
    errors = sum(code != 200 for code, _ in results)
    print(f"# poseshift serve load: {args.requests} requests, {args.clients} clients, {args.checkpoint}, loopback, "
          f"workers {args.workers or 'default'}")
    print(f"errors {errors}, p50 {statistics.median(lat) * 1000:.0f} ms, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms, "
          f"{args.requests / wall:.1f} requests/s")
    if args.slow_client:
        held = slow.get("end", time.perf_counter()) - slow["start"]
        blocked = sum(t > args.block_limit for t in lat)
        print(f"slow client at {args.slow_rate:g} B/s: sent {slow.get('sent', 0)} of {slow['size']} bytes; "
              f"{slow.get('answer') or 'no answer'} after {held:.1f} s; others over {args.block_limit:g} s: {blocked}")
        return 1 if errors or blocked else 0
    return 1 if errors else 0


@contextmanager
def server_process(checkpoint: str, workers: int | None = None):
    """``python -m poseshift serve`` on a free loopback port, in its own process; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "poseshift", "serve", "--checkpoint", checkpoint, "--port",
                             str(port), "--device", "cpu", *(["--workers", str(workers)] if workers else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"poseshift serve did not start (exit {proc.poll()})")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def slow_upload(url: str, body: bytes, ctype: str, rate: float, stop: threading.Event, out: dict) -> None:
    """POST ``body`` to /api/transfer at ``rate`` bytes a second until the server answers or closes,
    or ``stop``; ``out``: start, end, sent, size, answer (the status line, or how it ended)."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    out.update(start=time.perf_counter(), size=len(body), sent=0)
    head = (f"POST /api/transfer HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head)
        sock.settimeout(1.0 / rate)
        step = max(1, int(rate))
        while out["sent"] < len(body) and not stop.is_set():
            try:
                got = sock.recv(4096)
                out["answer"] = got.split(b"\r\n", 1)[0].decode("latin-1") if got else "closed by the server"
                break
            except socket.timeout:
                pass
            except OSError as err:
                out["answer"] = f"closed by the server ({type(err).__name__})"
                break
            try:
                sock.sendall(body[out["sent"]:out["sent"] + step])
                out["sent"] += step
            except OSError as err:
                out["answer"] = f"closed by the server ({type(err).__name__})"
                break
            time.sleep(max(0.0, 1.0 - 1.0 / rate))
    out["end"] = time.perf_counter()


if __name__ == "__main__":
    sys.exit(main())
