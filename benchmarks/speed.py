"""Training images/s and inference ms/image at several sizes, fp32 and bf16.

    python benchmarks/speed.py                       # CPU: 64, 128, 256 px, fp32 and bf16
    python benchmarks/speed.py --device cuda --dtypes bf16 fp32 --batch 12

Networks are the paper's (CycleGAN ResNet G and Phi with 9 blocks at 256 and 6 below,
the 70x70 PatchGAN, VGG16 relu2_2 as Psi). Psi's weights are random here (the VGG16
file is not shipped), which changes no timing. A training step is the real
``Trainer.train_step``: G twice, Phi, D, Psi, three Adam updates.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from poseshift.config import load_config
from poseshift.figures import write_figures
from poseshift.training import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(size: int, dtype: str, device: str, batch: int, steps: int, warmup: int, tmp: Path) -> dict:
    blocks = 9 if size >= 256 else 6
    cfg = load_config("paper", [
        f"model.image_size={size}", f"model.g_blocks={blocks}", f"model.phi_blocks={blocks}",
        f"train.batch_size={batch}", f"train.device={device}", f"train.bf16={dtype == 'bf16'}",
        f"train.channels_last={device == 'cuda'}", "train.pool_size=50",
    ])
    data = tmp / f"figures{size}"
    if not data.exists():
        write_figures(data, people=max(2, batch), poses_per_person=2, size=size, seed=0)
    trainer = Trainer(cfg, data, tmp / f"run{size}{dtype}", progress=False, psi_pretrained=False)
    dev = trainer.device
    for _ in range(warmup):
        trainer.train_step(trainer.next_batch())
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(trainer.next_batch())
    _sync(dev)
    train_ips = steps * trainer.batch_size / (time.perf_counter() - t0)

    G = trainer.nets.G.eval()
    b = trainer.next_batch()
    x, maps = b.real[:1], b.maps_f[:1]
    ctx = torch.autocast(device_type=dev.type, dtype=torch.bfloat16) if dtype == "bf16" else torch.no_grad()
    with torch.no_grad(), ctx:
        for _ in range(max(1, warmup)):
            G(x, maps)
        _sync(dev)
        n = max(3, steps)
        t0 = time.perf_counter()
        for _ in range(n):
            G(x, maps)
        _sync(dev)
    infer_ms = (time.perf_counter() - t0) / n * 1000
    mem = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else float("nan")
    return {"size": size, "dtype": dtype, "train_ips": train_ips, "infer_ms": infer_ms, "gpu_gib": mem}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"# poseshift speed: device={args.device} ({name}), torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}, batch={args.batch}, paper networks")
    print(f"{'size':>5} {'dtype':>5} {'train img/s':>12} {'infer ms/img':>13} {'peak GiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for dtype in args.dtypes:
                r = bench(size, dtype, args.device, args.batch, args.steps, args.warmup, Path(tmp))
                mem = "-" if r["gpu_gib"] != r["gpu_gib"] else f"{r['gpu_gib']:.2f}"
                print(f"{r['size']:>5} {r['dtype']:>5} {r['train_ips']:>12.2f} {r['infer_ms']:>13.1f} {mem:>9}",
                      flush=True)


if __name__ == "__main__":
    main()
