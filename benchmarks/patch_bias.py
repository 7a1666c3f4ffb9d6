"""Where do the patch terms of L_Id point? Per joint, on pairs with ground truth.

The patch-style term (eq. 5-6, on Psi's features) and the pixel patch-colour term (the
preset's addition to eq. 7) compare each joint's patch in I_po (around p_o) with the same
joint's patch in I_pf (around p_f). They assume a joint's patch looks the same in any pose.
Where the patch also holds what surrounds the joint (background, the torso behind a wrist),
that is not so, and the term is large even for the true target: it then pulls a render away
from the truth. This script measures, for each joint and each patch width, the term between
a pair's source and its ground-truth target, and between the source and the renders of any
folders given (``SRC___TGT.png``, as ``poseshift evaluate`` reads them). A joint whose renders
score lower than the truth is one where the term has been met at the truth's expense.

    python benchmarks/patch_bias.py --data runs/ablation/data --scales 1 0.5 0.3 \
        --renders runs/ablation/renders/full runs/ablation/renders/l1_identity

Values are x1000, averaged over the pairs where the joint is visible in both poses.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: experiments/
from experiments.patch_terms import joint_terms, narrow_maps  # noqa: E402
from poseshift.config import load_config  # noqa: E402
from poseshift.evaluate import sample_pairs  # noqa: E402
from poseshift.images import read_image, resolve_by_stem, to_tensor  # noqa: E402
from poseshift.nets import build_feature_net  # noqa: E402
from poseshift.pose.heatmaps import belief_maps, sigma_pixels, visible  # noqa: E402
from poseshift.pose.keypoints_io import read_annotations_csv  # noqa: E402

JOINTS = ["nose", "neck", "r_sho", "r_elb", "r_wri", "l_sho", "l_elb", "l_wri", "r_hip", "r_knee",
          "r_ank", "l_hip", "l_knee", "l_ank", "r_eye", "l_eye", "r_ear", "l_ear"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path, help="a dataset with images/, annotations.csv, pairs.csv")
    ap.add_argument("--renders", nargs="*", default=[], type=Path, help="folders of SRC___TGT renders")
    ap.add_argument("--scales", nargs="+", type=float, default=[1.0, 0.5, 0.3],
                    help="widths of the patch maps, as shares of the pose maps' sigma")
    ap.add_argument("--config", default="synthetic", help="preset whose pose.sigma_frac and Psi are used")
    ap.add_argument("--split", default="test")
    ap.add_argument("--pairs", type=int, default=100)
    args = ap.parse_args()
    for path in [args.data / "pairs.csv", args.data / "annotations.csv", *args.renders]:
        if not path.exists():
            sys.exit(f"patch_bias: {path} does not exist")
    cfg = load_config(args.config)
    psi = build_feature_net(cfg).eval()
    ann = read_annotations_csv(args.data / "annotations.csv")
    pairs = sample_pairs(args.data, args.pairs, args.split)
    columns = ["truth", *[str(f.name) for f in args.renders]]
    for scale in args.scales:
        sums = {(c, k): np.zeros(18) for c in columns for k in ("colour", "style")}
        seen = np.zeros(18)
        for src_name, tgt_name in pairs:
            src = to_tensor(read_image(resolve_by_stem(args.data / "images", Path(src_name).stem)))[None]
            h, w = src.shape[-2:]
            sigma = sigma_pixels(h, cfg.pose.sigma_frac)
            both = visible(ann[src_name]) & visible(ann[tgt_name])
            # belief_maps gives a missing (NaN) joint an all-zero map
            m_o, m_f = (narrow_maps(belief_maps(torch.from_numpy(ann[k])[None], h, w, sigma), scale)
                        for k in (src_name, tgt_name))
            targets = {"truth": resolve_by_stem(args.data / "images", Path(tgt_name).stem)}
            for folder in args.renders:
                targets[folder.name] = resolve_by_stem(folder, f"{Path(src_name).stem}___{Path(tgt_name).stem}")
            if any(p is None for p in targets.values()):
                continue
            with torch.no_grad():
                feat_src = psi(src)
                for col, path in targets.items():
                    colour, style = joint_terms(psi, src, to_tensor(read_image(path))[None], m_o, m_f, feat_src)
                    sums[col, "colour"][both] += colour[both]
                    sums[col, "style"][both] += style[both]
            seen[both] += 1
        print(f"\npatch maps at {scale} x sigma ({int(seen.max())} pairs); x1000, colour term | patch-style term")
        head = "".join(f"{c[:12]:>13s}" for c in columns)
        print(f"{'joint':8s}{head} |{head}")
        for j, name in enumerate(JOINTS):
            n = max(seen[j], 1.0)
            print(f"{name:8s}" + "".join(f"{1e3 * sums[c, 'colour'][j] / n:13.2f}" for c in columns) + " |"
                  + "".join(f"{1e3 * sums[c, 'style'][j] / n:13.2f}" for c in columns))
        total = max(seen.sum(), 1.0)
        print(f"{'all':8s}" + "".join(f"{1e3 * sums[c, 'colour'].sum() / total:13.2f}" for c in columns) + " |"
              + "".join(f"{1e3 * sums[c, 'style'].sum() / total:13.2f}" for c in columns))


if __name__ == "__main__":
    main()
