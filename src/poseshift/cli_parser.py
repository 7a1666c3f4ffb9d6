"""The ``poseshift`` command line's arguments: every command, flag, help text and default.
The commands themselves are in :mod:`poseshift.cli`."""
from __future__ import annotations

import argparse

from poseshift import __version__
from poseshift.packaged import PHOTO_MODEL

DESCRIPTION = """\
poseshift renders the person of a photo in a new pose (Pumarola et al., "Unsupervised Person
Image Synthesis in Arbitrary Poses", CVPR 2018), and trains that model from single, unpaired
photos with keypoints.

examples:
  poseshift demo                                         # offline, with the packaged model
  poseshift transfer --checkpoint synthetic-64 --image a.jpg --pose b.jpg --out a_posed.png
  poseshift pose b.jpg --out b.json                      # detect a pose, reuse it as --pose
  poseshift animate --checkpoint synthetic-64 --image a.jpg --poses walk --out walk.gif
  poseshift data fashion_data                            # check a dataset before training
  poseshift train --config paper --data fashion_data --out runs/paper
  torchrun --nproc_per_node 8 -m poseshift train --config paper --data fashion_data --out runs/p8
  poseshift evaluate --data fashion_data --checkpoint runs/paper/checkpoints/last.safetensors \\
      --out eval/report.json
  poseshift models                                       # the packaged models
  poseshift serve                                        # a web page on http://127.0.0.1:7860/

Run 'poseshift COMMAND --help' for a command's options."""

DEVICES = ["auto", "cpu", "cuda", "mps"]
CHECKPOINT = "a checkpoint file, or a packaged model's name (see poseshift models)"


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written, and a flag's default shown once: not where its help already says
    it, nor for a required option, a switch, or a flag whose default is nothing (None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("(default" in text or action.required or not action.option_strings
                or default is None or default is False or default is argparse.SUPPRESS):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"

ADAPT_HELP = ("fine-tune a copy of G on each photo for this many steps first (eq. 8 on that one "
              "image, poseshift.adapt; default 0: off)")

RETARGET_HELP = ("render the target pose as it is, in its own person's proportions and place (default: "
                 "retargeted: its joint angles on this person's own bone lengths, where they stand)")


def _sub(sub, name: str, help: str, func: str):
    parser = sub.add_parser(name, help=help, description=help, formatter_class=Formatter)
    parser.set_defaults(func=func)
    return parser


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """``commands``: name -> function, from :mod:`poseshift.cli`."""
    p = argparse.ArgumentParser(prog="poseshift", description=DESCRIPTION, formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"poseshift {__version__}")
    p.add_argument("--verbose", action="store_true", help="show MediaPipe's and PyTorch's own log lines")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = _sub(sub, "train", "train G, D and Phi on a folder of images with keypoints", commands["train"])
    t.add_argument("--config", required=True, help="a preset: paper (the paper's settings: 256 px, VGG16 weights, "
                                                   "a GPU), realphoto, synthetic or tiny (64 px, CPU budgets); or a "
                                                   "YAML file (docs/configuration.md)")
    t.add_argument("--data", required=True, help="folder with images/ and annotations.csv (split.csv optional), "
                                                 "or a published DeepFashion or Market-1501 layout (see poseshift data)")
    t.add_argument("--out", required=True, help="run folder for checkpoints, samples and log.jsonl")
    t.add_argument("--max-steps", type=int, default=None, help="stop at this global step (default: the schedule's end)")
    t.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this many minutes; --resume goes on")
    t.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.safetensors")
    t.add_argument("--overwrite", action="store_true", help="start a new run in --out, replacing the run there")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. train.lr_g=1e-4")
    t.add_argument("--init", metavar="CKPT", help="fine-tune: a new run whose networks start from this checkpoint's, "
                                                  "a file or a packaged model (its model settings are kept; "
                                                  "ignored on --resume)")
    t.add_argument("--device", choices=DEVICES, help="shorthand for --set train.device=")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    r = _sub(sub, "transfer", "render a person in a new pose: one photo, a folder of photos, or a pairs CSV",
             commands["transfer"])
    r.add_argument("--checkpoint", default=PHOTO_MODEL, help=CHECKPOINT + f" (default: {PHOTO_MODEL})")
    r.add_argument("--image", help="photo of the person (any size), or a folder of photos")
    r.add_argument("--pose", help="target pose: a second photo (its pose is detected), an annotation CSV, "
                                  "OpenPose JSON, a JSON list of 18 [x, y] or null, or what poseshift pose writes; "
                                  "keypoint files are in the pixel frame of --image")
    r.add_argument("--pose-name", help="the row of --pose, where it is a multi-row annotation CSV (or the entry "
                                       "of a poseshift pose JSON)")
    r.add_argument("--source-pose", help="keypoints of --image itself, for a generator that warps the source "
                                          "(model.g_arch=warp); detected when absent. An annotations CSV or "
                                          "poseshift pose JSON naming several photos gives each photo its own")
    r.add_argument("--no-retarget", action="store_true", help=RETARGET_HELP + "; --pairs never retargets: as in "
                                                                             "evaluate, a pair's pose is its truth")
    r.add_argument("--pairs", help="instead of --image/--pose: render every from,to pair of this CSV from --data")
    r.add_argument("--data", help="with --pairs: the data folder holding the images and their keypoints")
    r.add_argument("--frame", choices=["photo", "model"], default="photo",
                   help="photo: the render in the source photo's own size and frame; model: the model's square")
    r.add_argument("--batch", type=int, default=16, help="renders per pass of the generator (folders)")
    r.add_argument("--out", required=True, help="output PNG (a folder for a folder of photos or --pairs)")
    r.add_argument("--device", choices=DEVICES, default="auto", help="where the generator runs")
    r.add_argument("--adapt", type=int, default=0, metavar="STEPS", help=ADAPT_HELP)
    r.add_argument("--bf16", action="store_true", help="run G under bfloat16 autocast: faster on CPUs with bf16 "
                                                       "units (elsewhere fp32, with a warning); renders differ by "
                                                       "about 0.3 of 255 levels")
    r.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    an = _sub(sub, "animate", "render a person along a pose sequence, as a GIF or an MP4", commands["animate"])
    an.add_argument("--checkpoint", default="synthetic-64", help=CHECKPOINT)
    an.add_argument("--image", required=True, help="photo of the person")
    an.add_argument("--poses", required=True, help="a built-in motion (turn, walk), a multi-row annotation CSV, "
                                                   "a folder of OpenPose JSON frames, or a video (.mp4, .mov, ...: "
                                                   "its person's pose is detected in every frame and smoothed)")
    an.add_argument("--no-retarget", action="store_true", help=RETARGET_HELP)
    an.add_argument("--max-seconds", type=float, default=600.0, help="refuse a --poses video longer than this")
    an.add_argument("--source-pose", help="keypoints of --image (a warping generator; detected when absent); "
                                          "a file naming several photos gives the entry named like --image")
    an.add_argument("--pose-name", help="the entry of --source-pose to use, where it names several photos "
                                        "(an annotations CSV or poseshift pose JSON)")
    an.add_argument("--frames", type=int, default=48, help="frames of a built-in motion")
    an.add_argument("--fps", type=float, help="frames per second (default: a video's own, else 12)")
    an.add_argument("--out", required=True, help="OUT.gif or OUT.mp4")
    an.add_argument("--device", choices=DEVICES, default="auto", help="where the generator runs")
    an.add_argument("--adapt", type=int, default=0, metavar="STEPS", help=ADAPT_HELP)
    an.add_argument("--bf16", action="store_true", help="run G under bfloat16 autocast (fp32, with a warning, "
                                                        "where the device has no fast bf16)")
    an.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    an.add_argument("--quiet", action="store_true", help="no progress bar")

    po = _sub(sub, "pose", "detect 18 COCO keypoints per image (MediaPipe, offline)", commands["pose"])
    po.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="photos, or folders of photos, or one video "
                                                                      "(a row a frame: frame_000000, ...)")
    po.add_argument("--out", required=True, help="FILE.csv (annotation format) or FILE.json ({name: 18 [x, y] or null})")
    po.add_argument("--masks", help="also write a person mask per image into this folder")
    po.add_argument("--max-seconds", type=float, default=600.0, help="refuse a video longer than this")
    po.add_argument("--overwrite", action="store_true", help="replace an existing --out file and masks")
    po.add_argument("--quiet", action="store_true", help="no progress bar")

    pr = _sub(sub, "prepare", "make a training folder from unlabeled photos", commands["prepare"])
    pr.add_argument("--images", required=True, help="folder of photos")
    pr.add_argument("--out", required=True, help="new folder: images/ and annotations.csv")
    pr.add_argument("--size", type=int, nargs="+", default=[256], help="N (square) or H W")
    pr.add_argument("--fit", choices=["pad", "resize"], default="pad", help="letterbox (pad) or stretch (resize)")
    pr.add_argument("--masks", action="store_true", help="also write person masks")
    pr.add_argument("--no-silhouettes", action="store_true",
                    help="skip the warp's person masks (OUT/silhouettes, else made on first use)")
    pr.add_argument("--overwrite", action="store_true", help="allow a non-empty --out")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = _sub(sub, "evaluate", "SSIM, mask-SSIM, PCKh, FID/KID (and LPIPS/IS with weights) on pairs",
              commands["evaluate"])
    ev.add_argument("--pairs", help="CSV with from,to (default: a published layout's pairs of --split, "
                                    "test unless given)")
    ev.add_argument("--data", required=True, help="folder with images/ and annotations.csv, or a published "
                                                  "DeepFashion or Market-1501 layout")
    ev.add_argument("--generated", help="folder of <from stem>___<to stem>.png")
    ev.add_argument("--checkpoint", help="render the pairs with this checkpoint (kept beside the report); " + CHECKPOINT)
    ev.add_argument("--copy-source", action="store_true", help="baseline: the source image as the render")
    ev.add_argument("--warp-only", action="store_true", help="baseline: the source warped part by part into the "
                                                             "target pose, untrained (poseshift.warp)")
    ev.add_argument("--split", help="only pairs whose two images are in this split of DATA/split.csv")
    ev.add_argument("--out", required=True, help="a folder (DIR/images/<from stem>___<to stem>.png and "
                                                 "DIR/report.json, as the peers lay them out) or a report .json")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing report, sheet and renders")
    ev.add_argument("--metrics", nargs="+", help="subset of metrics (default: all)")
    ev.add_argument("--peers", nargs="+", help="other systems' output folders, shown on the sheet")
    ev.add_argument("--sheet", help="sheet PNG (default: the report's name with .png)")
    ev.add_argument("--lpips-weights", nargs="+", help="local LPIPS weights: torchvision's AlexNet file "
                                                       "(alexnet-owt-7be5be79.pth) and lpips' v0.1 alex.pth")
    ev.add_argument("--inception-weights", help="torchvision's Inception-v3 ImageNet file "
                                                "(inception_v3_google-0cc3c7bd.pth) for fid, the papers' protocol")
    ev.add_argument("--fid-cache", help="folder for the training set's FID statistics "
                                        "(default ~/.cache/poseshift/fid-stats)")
    ev.add_argument("--is-weights", help="local Inception Score classifier (TorchScript)")
    ev.add_argument("--device", choices=DEVICES, default="auto", help="where the networks run")
    ev.add_argument("--adapt", type=int, default=0, metavar="STEPS", help="with --checkpoint: " + ADAPT_HELP)
    ev.add_argument("--quiet", action="store_true", help="no progress bar")

    da = _sub(sub, "data", "what a data folder holds: its layout, images, rows and frame sizes", commands["data"])
    da.add_argument("dir", help="a data folder (ours, or DeepFashion / Market-1501 as published)")

    sy = _sub(sub, "synth", "render a synthetic dataset of clothed people with exact keypoints", commands["synth"])
    sy.add_argument("--out", required=True, help="new folder")
    sy.add_argument("--people", type=int, default=100, help="people (identities)")
    sy.add_argument("--poses-per-person", type=int, default=4, help="images per person")
    sy.add_argument("--size", type=int, default=64, help="image side in pixels")
    sy.add_argument("--seed", type=int, default=0, help="random seed")
    sy.add_argument("--background", choices=["plain", "textured"], default="plain", help="backgrounds")
    sy.add_argument("--workers", type=int, default=1, help="processes rendering in parallel")
    sy.add_argument("--quiet", action="store_true", help="no progress bar")

    d = _sub(sub, "demo", "offline demonstration: re-pose new synthetic people with the packaged model",
             commands["demo"])
    d.add_argument("--out", default="poseshift-demo", help="folder for sheet.png and turn.gif")
    d.add_argument("--checkpoint", help="another checkpoint than the packaged synthetic-64")
    d.add_argument("--train", action="store_true", help="instead, train tiny briefly on simple figures (~2 min)")
    d.add_argument("--quiet", action="store_true", help="no progress bar")

    ex = _sub(sub, "export", "write G for inference: a safetensors checkpoint (G_ema where the run kept one, and "
                             "the config) or an ONNX model", commands["export"])
    ex.add_argument("--checkpoint", required=True, help=CHECKPOINT)
    ex.add_argument("--out", required=True, help="OUT.safetensors, or OUT.onnx for an ONNX model")
    ex.add_argument("--format", choices=["safetensors", "onnx"],
                    help="onnx: G as an ONNX graph, its inputs described in OUT.json, checked with onnxruntime "
                         "(default: from --out's extension)")
    ex.add_argument("--full-resolution", metavar="HxW",
                    help="ONNX only: instead of G at the model's frame, what `poseshift transfer` renders for "
                         "photos of this size (e.g. 256x176): letterbox, G and the warp at the photo's resolution "
                         "in one graph; the person's mask and scene are inputs (docs/inference.md)")
    ex.add_argument("--overwrite", action="store_true", help="replace existing outputs")

    pl = _sub(sub, "plot", "plot a run's loss curves from log.jsonl", commands["plot"])
    pl.add_argument("run", help="a run folder")
    pl.add_argument("--out", help="PNG path (default RUN/loss.png)")
    pl.add_argument("--overwrite", action="store_true", help="replace an existing PNG")

    se = _sub(sub, "serve", "a local web page that re-poses a photo, and its HTTP API", commands["serve"])
    se.add_argument("--checkpoint", default="synthetic-64", help=CHECKPOINT)
    se.add_argument("--host", default="127.0.0.1", help="address to listen on (another than loopback: with a warning)")
    se.add_argument("--port", type=int, default=7860, help="port to listen on")
    se.add_argument("--device", choices=DEVICES, default="auto", help="where the generator runs")
    se.add_argument("--adapt", type=int, default=0, metavar="STEPS", help=ADAPT_HELP)
    se.add_argument("--workers", type=int, default=0, metavar="N",
                    help="copies of the model serving requests side by side (0: one per CPU core up to 2 on a "
                         "CPU, 1 on a GPU)")

    mo = _sub(sub, "models", "the packaged models: resolution, training data and what each is good for",
              commands["models"])
    del mo
    return p
