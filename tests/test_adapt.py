"""--adapt: G fine-tuned on one photo, by eq. (8)'s terms on that photo alone, changes a copy of G
for that photo only; the checkpoint file and the Reposer's own G are left untouched."""
import hashlib

import numpy as np
import pytest
import torch

from poseshift.cli import main
from poseshift.pose.keypoints_io import read_annotations_csv, write_keypoints
from poseshift.transfer import Reposer
from tests.helpers import MICRO, figures


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adapt")
    data = figures(tmp)
    run = tmp / "run"
    sets = [a for s in [*MICRO, "model.g_arch=flow"] for a in ("--set", s)]
    assert main(["train", "--config", "tiny",
                 "--data", str(data), "--out", str(run), "--max-steps", "2", "--quiet", *sets]) == 0
    return data, run / "checkpoints" / "last.safetensors"


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_adapt_tunes_a_copy_for_each_photo_and_leaves_the_model_alone(trained):
    data, ckpt = trained
    before = digest(ckpt)
    ann = read_annotations_csv(data / "annotations.csv")
    names = sorted(ann)
    img = lambda n: str(data / "images" / (n.rsplit(".", 1)[0] + ".png"))  # noqa: E731
    reposer = Reposer.from_checkpoint(ckpt, device="cpu", adapt=3)
    own = {k: v.clone() for k, v in reposer.G.inner.state_dict().items()}
    x, maps, kp_o, kp_f, _ = reposer.prepare(img(names[0]), ann[names[1]], ann[names[0]])
    tuned = reposer.generator_for(x, kp_o, kp_f)
    assert reposer._adapter.critics, "the training checkpoint's D_I and Phi take part"
    changed = [k for k, v in tuned.inner.state_dict().items() if not torch.equal(v, own[k])]
    assert changed, "adaptation changes the weights"
    assert reposer.generator_for(x, kp_o, kp_f) is tuned          # the same photo: tuned once
    x2, _, kp_o2, kp_f2, _ = reposer.prepare(img(names[2]), ann[names[1]], ann[names[2]])
    other = reposer.generator_for(x2, kp_o2, kp_f2)
    assert other is not tuned and any(not torch.equal(v, tuned.inner.state_dict()[k])
                                      for k, v in other.inner.state_dict().items())
    assert all(torch.equal(v, own[k]) for k, v in reposer.G.inner.state_dict().items()), "G itself is untouched"
    out = reposer.render_in_frame(np.asarray(__import__("PIL.Image").Image.open(img(names[0])).convert("RGB")),
                                  ann[names[1]], ann[names[0]])
    assert out.dtype == np.uint8 and out.shape[2] == 3
    assert digest(ckpt) == before, "the checkpoint file is never written"


def test_cli_transfer_adapt_and_its_errors(trained, tmp_path):
    data, ckpt = trained
    ann = read_annotations_csv(data / "annotations.csv")
    names = sorted(ann)
    write_keypoints(tmp_path / "src.json", ann[names[0]])
    write_keypoints(tmp_path / "tgt.json", ann[names[1]])
    before = digest(ckpt)
    image = str(data / "images" / (names[0].rsplit(".", 1)[0] + ".png"))
    out = tmp_path / "out.png"
    assert main(["transfer", "--checkpoint", str(ckpt), "--image", image, "--pose", str(tmp_path / "tgt.json"),
                 "--source-pose", str(tmp_path / "src.json"), "--out", str(out), "--adapt", "2"]) == 0
    assert out.is_file() and digest(ckpt) == before
    assert main(["transfer", "--checkpoint", str(ckpt), "--image", image, "--pose", str(tmp_path / "tgt.json"),
                 "--source-pose", str(tmp_path / "src.json"), "--out", str(tmp_path / "o2.png"), "--adapt", "-1"]) == 2


def test_an_export_keeps_the_critics_that_adaptation_uses(trained, tmp_path):
    from safetensors import safe_open

    data, ckpt = trained
    out = tmp_path / "g.safetensors"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    with safe_open(str(out), "pt") as fh:
        assert {k.split(".", 1)[0] for k in fh.keys()} == {"G", "D", "Phi"}
    ann = read_annotations_csv(data / "annotations.csv")
    names = sorted(ann)
    reposer = Reposer.from_checkpoint(out, device="cpu", adapt=1)
    x, _, kp_o, kp_f, _ = reposer.prepare(str(data / "images" / (names[0].rsplit(".", 1)[0] + ".png")),
                                           ann[names[1]], ann[names[0]])
    reposer.generator_for(x, kp_o, kp_f)
    assert reposer._adapter.critics


def test_adapt_reaches_every_render_path_of_the_papers_g(tmp_path):
    """The paper's G (no source pose needed): render_batch, the photo frame and the model frame
    all render with the adapted copy; a pose is given for the photo here."""
    data = figures(tmp_path)
    run = tmp_path / "run"
    sets = [a for s in MICRO for a in ("--set", s)]
    assert main(["train", "--config", "tiny",
                 "--data", str(data), "--out", str(run), "--max-steps", "2", "--quiet", *sets]) == 0
    ckpt = run / "checkpoints" / "last.safetensors"
    ann = read_annotations_csv(data / "annotations.csv")
    names = sorted(ann)
    image = str(data / "images" / (names[0].rsplit(".", 1)[0] + ".png"))
    plain = Reposer.from_checkpoint(ckpt, device="cpu")
    tuned = Reposer.from_checkpoint(ckpt, device="cpu", adapt=5)
    for frame in ("photo", "model"):
        a = plain.render_batch([image], [ann[names[1]]], [ann[names[0]]], frame=frame, retarget=False)[0]
        b = tuned.render_batch([image], [ann[names[1]]], [ann[names[0]]], frame=frame, retarget=False)[0]
        assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() > 0, frame
