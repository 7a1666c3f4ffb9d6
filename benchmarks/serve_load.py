"""Load on poseshift serve: 200 transfer requests from 8 concurrent clients on loopback.

    python benchmarks/serve_load.py                  # 200 requests, 8 clients, synthetic-64
    python benchmarks/serve_load.py --requests 500 --clients 16

It starts a real server (uvicorn, one process; the model under a lock, one request at a time)
on a free port, sends multipart /api/transfer requests of a 176x256 photo, and prints errors,
p50 and p95 latency and requests/s.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
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
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (256, 176, 3), dtype=np.uint8)).save(buf, format="PNG")
    photo = buf.getvalue()
    pose, source = (json.dumps([[float(rng.uniform(10, 166)), float(rng.uniform(10, 246))] for _ in range(18)])
                    for _ in range(2))  # the target, and the photo's own (a warping model needs it; as the page sends)
    with running_server(args.checkpoint) as url, httpx.Client(timeout=120) as client:
        def one(_):
            t0 = time.perf_counter()
            r = client.post(f"{url}/api/transfer", files={"image": ("p.png", photo, "image/png")}, data={"pose": pose, "source_pose": source})
            return r.status_code, time.perf_counter() - t0
        client.get(f"{url}/api/health")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - t0
    lat = sorted(t for _, t in results)
    errors = sum(code != 200 for code, _ in results)
    print(f"# poseshift serve load: {args.requests} requests, {args.clients} clients, {args.checkpoint}, loopback")
    print(f"errors {errors}, p50 {statistics.median(lat) * 1000:.0f} ms, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms, {args.requests / wall:.1f} requests/s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
