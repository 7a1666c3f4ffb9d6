"""The published DeepFashion and Market-1501 layouts are read as downloaded: a mock of each
(images written here, CSVs in the published format) trains, evaluates and is described."""
import json

import numpy as np
import pytest
from PIL import Image

from poseshift.cli import main
from poseshift.data import PoseImageFolder
from poseshift.layouts import LayoutError, open_layout
from poseshift.pose.keypoints_io import write_annotations_csv
from poseshift.training import Trainer
from tests.helpers import micro_config

LAYOUTS = {"deepfashion": ("fasion-resize", (176, 256)), "market": ("market", (64, 128))}


def _person(w, h, seed):
    """A coloured figure on white with its 18 joints (two missing), in its own pixels."""
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), 255, np.uint8)
    kp = np.stack([rng.uniform(0.3, 0.7, 18) * w, np.linspace(0.1, 0.9, 18) * h], axis=1).astype(np.float32)
    kp[rng.choice(18, 2, replace=False)] = np.nan
    x0, x1 = int(0.3 * w), int(0.7 * w)
    image[int(0.1 * h):int(0.9 * h), x0:x1] = rng.integers(0, 200, 3)
    return image, kp


def mock_published(root, kind, people=(6, 3)):
    prefix, (w, h) = LAYOUTS[kind]
    for split, n in zip(("train", "test"), people):
        (root / split).mkdir(parents=True)
        ann, names = {}, []
        for i in range(n):
            name = f"{kind}{split}{i:02d}.jpg"
            image, kp = _person(w, h, hash((kind, split, i)) % 1000)
            Image.fromarray(image).save(root / split / name, quality=95)
            ann[name], names = kp, names + [name]
        write_annotations_csv(root / f"{prefix}-annotation-{split}.csv", ann)
        rows = [f"{names[i]},{names[(i + 1) % n]}" for i in range(n)]
        (root / f"{prefix}-pairs-{split}.csv").write_text("from,to\n" + "\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_published_layout_trains_evaluates_and_is_described(tmp_path, kind, capsys):
    root = mock_published(tmp_path / kind, kind)
    layout = open_layout(root)
    assert layout.kind == kind and set(layout.annotations) == {"train", "test"}
    data = PoseImageFolder(root, 32, split="train")
    assert len(data) == 6 and all(p.parent.name == "train" for p in data.paths)
    assert np.nanmax(data.poses) < 32  # fitted into the frame from the header sizes
    Trainer(micro_config(), root, tmp_path / "run", progress=False).train(max_steps=2)
    ckpt = tmp_path / "run" / "checkpoints" / "last.safetensors"
    out = tmp_path / "eval" / "report.json"
    assert main(["evaluate", "--data", str(root), "--checkpoint", str(ckpt), "--out", str(out),
                 "--metrics", "ssim", "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 3 and report["missing"] == 0  # the published test pairs, rendered and scored
    capsys.readouterr()
    assert main(["data", str(root)]) == 0
    text = capsys.readouterr().out
    w, h = LAYOUTS[kind][1]
    assert f"{kind} layout" in text and "train: 6 images" in text and "test: 3 images" in text
    assert f"{w}x{h} (6)" in text and "pairs: 3 in" in text


def test_rows_without_images_or_joints_are_counted_and_a_broken_layout_is_named(tmp_path, capsys):
    root = mock_published(tmp_path / "df", "deepfashion")
    (root / "train" / "deepfashiontrain00.jpg").unlink()
    ann = root / "fasion-resize-annotation-train.csv"
    ann.write_text(ann.read_text() + "ghost.jpg: " + str([-1] * 18) + ": " + str([-1] * 18) + "\n")
    assert main(["data", str(root)]) == 0
    assert "7 rows in fasion-resize-annotation-train.csv, 2 rows without an image, 1 rows with no joints" \
        in capsys.readouterr().out
    assert len(PoseImageFolder(root, 32)) == 5
    (root / "test").rename(root / "elsewhere")
    with pytest.raises(LayoutError, match="test/"):
        open_layout(root)
    with pytest.raises(LayoutError, match="no annotations found"):
        open_layout(tmp_path / "df" / "train")


def test_evaluate_into_a_folder_as_the_peers_lay_it_out(tmp_path):
    pytest.importorskip("skimage")
    root = mock_published(tmp_path / "deepfashion", "deepfashion")
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(root), "--checkpoint", "synthetic-64", "--out", str(out),
                 "--metrics", "ssim", "ssim_gfla", "ssim_256", "ssim_256_pidm", "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names and all("___" in n and n.endswith(".png") for n in names)
    for m in ("ssim", "ssim_gfla", "ssim_256", "ssim_256_pidm"):
        assert report["metrics"][m]["value"] is not None and report["metrics"][m]["settings"]["protocol"]


def test_real_images_are_the_training_split(tmp_path):
    """The papers' FID compares against the whole training set: a published layout's train/
    folder (every image file, as the peers glob it), or ours: the images of split.csv's train."""
    root = mock_published(tmp_path / "df", "deepfashion", people=(4, 2))
    (root / "train" / "notes.txt").write_text("not an image")
    real = open_layout(root).real_images("train")
    assert [p.name for p in real] == sorted(p.name for p in (root / "train").glob("*.jpg")) and len(real) == 4
    assert len(open_layout(root).real_images("test")) == 2
    ours = tmp_path / "ours"
    (ours / "images").mkdir(parents=True)
    ann = {}
    for i in range(5):
        image, kp = _person(32, 32, i)
        Image.fromarray(image).save(ours / "images" / f"p{i}.png")
        ann[f"p{i}.png"] = kp
    write_annotations_csv(ours / "annotations.csv", ann)
    assert len(open_layout(ours).real_images()) == 5  # no split.csv: every image
    (ours / "split.csv").write_text("name,split\n" + "".join(f"p{i}.png,{'train' if i < 3 else 'test'}\n"
                                                            for i in range(5)))
    assert [p.name for p in open_layout(ours).real_images()] == ["p0.png", "p1.png", "p2.png"]
