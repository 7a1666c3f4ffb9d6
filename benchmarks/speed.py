"""Training images/s, FLOPs, TFLOP/s and share of peak, and inference ms/image.

    python benchmarks/speed.py                       # CPU: 64, 128, 256 px, fp32 and bf16
    python benchmarks/speed.py --sizes 128 --dtypes bf16 --batch 4     # the issue's CPU target
    python benchmarks/speed.py --device cuda --sizes 256 --dtypes bf16 --batch 12 64 --compile off on

FLOPs per sample are counted with ``torch.utils.flop_counter`` on one real training step.
bf16 runs only where the device has fast bf16 (``poseshift.devices.bf16_is_fast``): elsewhere (an
AVX2 CPU, where a bf16 matmul is hundreds of times slower) training and inference fall back to
fp32, as ``train.bf16`` and ``--bf16`` do; the header says which dtype each row used and why, and
the row's dtype reads ``fp32*``.
The peak: on CPU it is measured in the same run (a large bf16 and fp32 matmul on all
threads); on CUDA it is the dense bf16/fp32 peak of the GPU by name (``GPU_PEAKS``), or
``--peak-tflops``. A batch that does not fit is reported as OOM.

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
from poseshift.devices import bf16_is_fast
from poseshift.stick_figures import write_figures
from poseshift.training import Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# Dense (no sparsity) tensor-core peaks, TFLOP/s: (bf16, fp32 without TF32), from the vendors' sheets.
GPU_PEAKS = {"H200": (989.0, 67.0), "H100": (989.0, 67.0), "A100": (312.0, 19.5), "L40S": (362.0, 91.6),
             "L4": (121.0, 30.3), "A10": (125.0, 31.2), "RTX 4090": (165.0, 82.6), "V100": (125.0, 15.7)}


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 2048, reps: int = 10,
                warm_seconds: float = 1.0) -> float:
    """TFLOP/s of an n x n matmul on ``device``: the best of ``reps`` after ``warm_seconds`` of
    warm-up (the first calls of oneDNN's bf16 kernels run at about half speed)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < warm_seconds:
        a @ b
        _sync(device)
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e12


def peak_tflops(device: str, dtype: str, given: float | None) -> tuple[float, str]:
    if given:
        return given, "--peak-tflops"
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name()
        for key, (bf16, fp32) in GPU_PEAKS.items():
            if key in name:
                return (bf16 if dtype == "bf16" else fp32), f"table ({key})"
        return float("nan"), f"unknown GPU {name!r}: pass --peak-tflops"
    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    return matmul_peak(torch.device(device), dt), "measured matmul"


def step_flops(trainer: Trainer) -> float:
    """FLOPs of one training step per sample (forward and backward of every network)."""
    from torch.utils.flop_counter import FlopCounterMode

    batch = trainer.next_batch()
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(batch)
    return counter.get_total_flops() / batch.real.shape[0]


def bench(size: int, dtype: str, device: str, batch: int, steps: int, warmup: int, tmp: Path,
          config: str = "paper", compile_: bool = False, flops: float | None = None) -> dict:
    blocks = 9 if size >= 256 else 6
    cfg = load_config(config, [
        f"model.image_size={size}", f"model.g_blocks={blocks}", f"model.phi_blocks={blocks}",
        f"train.batch_size={batch}", f"train.device={device}", f"train.bf16={dtype == 'bf16'}",
        f"train.channels_last={device == 'cuda'}", "train.pool_size=50", f"train.compile={compile_}",
        "train.workers=0",
    ])
    data = tmp / f"figures{size}"
    if not data.exists():
        write_figures(data, people=max(2, batch), poses_per_person=2, size=size, seed=0)
    trainer = Trainer(cfg, data, tmp / f"run{size}{dtype}", progress=False, psi_pretrained=False)
    dev = trainer.device
    used = "bf16" if trainer.learner.bf16 else "fp32"  # the guard's choice (train.bf16 on a slow device: fp32)
    if flops is None:  # counted once per setting (compile changes the kernels, not the FLOPs)
        try:
            flops = step_flops(trainer)
        except Exception as err:  # the counter on a compiled graph, on some torch versions
            print(f"# FLOP count failed ({type(err).__name__}); run with --compile off first", flush=True)
            flops = float("nan")
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
    ctx = torch.autocast(device_type=dev.type, dtype=torch.bfloat16) if used == "bf16" else torch.no_grad()
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
    return {"size": size, "dtype": used if used == dtype else f"{used}*", "batch": trainer.batch_size,
            "train_ips": train_ips, "infer_ms": infer_ms, "gpu_gib": mem, "gflop": flops / 1e9,
            "tflops": train_ips * flops / 1e12}


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
    ap.add_argument("--config", default="paper", help="preset (its G, D and Phi; blocks set by size)")
    ap.add_argument("--batch", type=int, nargs="+", default=[2])
    ap.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--peak-tflops", type=float, help="the device's peak for the dtype (default: measured on "
                                                      "CPU, a table of GPUs on CUDA)")
    args = ap.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"# poseshift speed: device={args.device} ({name}), torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}, {args.config} networks")
    fast, why = bf16_is_fast(args.device)
    used = {d: d if d == "fp32" or fast else "fp32" for d in args.dtypes}
    print(f"# dtype: {', '.join(f'{d} asked, {u} used' for d, u in used.items())}"
          + (f"; bf16: {why}" if "bf16" in used else ""))
    if not fast and "bf16" in used and not args.device.startswith("cuda"):  # the trap the guard avoids, in numbers
        slow, quick = (matmul_peak(torch.device(args.device), t, n=1024, reps=2, warm_seconds=0.1) * 1e3
                       for t in (torch.bfloat16, torch.float32))  # ~10 s: bf16 runs at ~1 GFLOP/s here
        print(f"# 1024x1024 matmul here: bf16 {slow:.2f} GFLOP/s, fp32 {quick:.1f} GFLOP/s ({quick / slow:.0f}x); "
              f"fp32* rows: bf16 was asked, fp32 used")
    measured = {u: peak_tflops(args.device, u, args.peak_tflops) for u in dict.fromkeys(used.values())}
    peaks = {d: measured[u] for d, u in used.items()}
    for u, (value, how) in measured.items():
        print(f"# peak {u}: {value:.3f} TFLOP/s ({how})")
    print(f"{'size':>5} {'dtype':>5} {'batch':>5} {'compile':>7} {'train img/s':>12} {'GFLOP/img':>10} "
          f"{'TFLOP/s':>8} {'of peak':>8} {'infer ms/img':>13} {'peak GiB':>9}")
    counted: dict[tuple[int, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for dtype in args.dtypes:
                for batch in args.batch:
                    for comp in args.compile:
                        try:
                            r = bench(size, dtype, args.device, batch, args.steps, args.warmup, Path(tmp),
                                      args.config, comp == "on", counted.get((size, batch)))
                            counted[(size, batch)] = r["gflop"] * 1e9
                        except torch.cuda.OutOfMemoryError:
                            print(f"{size:>5} {dtype:>5} {batch:>5} {comp:>7} {'OOM':>12}", flush=True)
                            torch.cuda.empty_cache()
                            continue
                        mem = "-" if r["gpu_gib"] != r["gpu_gib"] else f"{r['gpu_gib']:.2f}"
                        share = r["tflops"] / peaks[dtype][0]
                        print(f"{r['size']:>5} {r['dtype']:>5} {r['batch']:>5} {comp:>7} {r['train_ips']:>12.2f} "
                              f"{r['gflop']:>10.1f} {r['tflops']:>8.3f} {share:>8.1%} {r['infer_ms']:>13.1f} "
                              f"{mem:>9}", flush=True)
                        if args.device.startswith("cuda"):
                            torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    main()
