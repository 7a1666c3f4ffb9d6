"""model.g_arch = warp: shapes, gradients into every part, the cycle's poses, a checkpoint that
rebuilds the right G, and transfer with the source pose from a file or detected."""
import json

import numpy as np
import pytest
import torch

from poseshift.cli import main
from poseshift.config import load_config
from poseshift.loading import load_inference_generator
from poseshift.nets import build_generator, build_networks
from poseshift.nets.resnet import Generator
from poseshift.nets.warp_generator import WarpGenerator
from poseshift.objective import Batch, render_cycle
from poseshift.pose.heatmaps import belief_maps
from poseshift.pose.keypoints_io import read_annotations_csv, write_keypoints
from poseshift.training import Trainer
from poseshift.transfer import Reposer
from poseshift.warp import NUM_PARTS, PARTS, part_warp
from tests.helpers import MICRO, figures, micro_config
from tests.test_warp import S, standing, textured


def warp_g() -> WarpGenerator:
    g = build_generator(micro_config("model.g_arch=warp", "model.image_size=64"))
    assert isinstance(g, WarpGenerator)
    return g


def test_the_paper_preset_keeps_the_papers_generator():
    assert load_config("paper").model.g_arch == "resnet"
    assert isinstance(build_generator(load_config("paper")), Generator)
    assert load_config("realphoto").model.g_arch == "flow"


def test_shapes_and_an_untrained_g_gives_back_the_warp():
    g = warp_g().eval()
    img, src, tgt = textured(), standing()[None], standing(5)[None]
    out = g(img, belief_maps(tgt, S, S, 3.0), src, tgt)
    assert out.shape == (1, 3, S, S) and out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out, part_warp(img, src, tgt).warped, atol=1e-3)  # the "warp only" floor
    with pytest.raises(ValueError, match="source photo's pose"):
        g(img, belief_maps(tgt, S, S, 3.0))


def test_gradients_reach_every_parameter_and_every_parts_source_pixels():
    g = warp_g()
    img = textured().requires_grad_(True)
    src, tgt = standing()[None], standing(3)[None]
    maps = belief_maps(tgt, S, S, 3.0)
    # G's last layer starts at zero (it answers the warp), so nothing below it has a gradient
    # until one step has moved it.
    g(img.detach(), maps, src, tgt).square().sum().backward()
    torch.optim.SGD(g.parameters(), lr=0.1).step()
    g.zero_grad()
    g(img, maps, src, tgt).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    own = part_warp(img.detach(), src, src).masks[0]           # each part's pixels in the source
    for k in range(NUM_PARTS):
        region = own[k] > 0.9
        assert region.any(), PARTS[k]
        assert img.grad[0][:, region].abs().sum() > 0, f"no gradient reaches the source's {PARTS[k]}"


class Spy(torch.nn.Module):
    """A generator that records the keypoints it is given and answers its input."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, image, maps, kp_src=None, kp_tgt=None):
        self.calls.append((kp_src, kp_tgt))
        return image * 0.5


def test_the_cycle_gives_the_second_pass_p_f_as_its_source_pose():
    nets = build_networks(micro_config("model.g_arch=warp"), psi_pretrained=False)
    nets.G = Spy()
    kp_o, kp_f = standing()[None] / 2, standing(4)[None] / 2
    maps_o, maps_f = belief_maps(kp_o, 32, 32, 2.0), belief_maps(kp_f, 32, 32, 2.0)
    batch = Batch(torch.zeros(1, 3, 32, 32), maps_o, maps_f, torch.ones(1, 18, dtype=torch.bool),
                  torch.ones(1, 18, dtype=torch.bool), kp_o, kp_f)
    render_cycle(nets.G, batch)
    (first_src, first_tgt), (second_src, second_tgt) = nets.G.calls
    assert first_src is kp_o and first_tgt is kp_f       # I_pf = G(I_po | p_f), rendered from p_o
    assert second_src is kp_f and second_tgt is kp_o     # I^_po = G(I_pf | p_o), I_pf is in p_f


def test_training_saves_a_checkpoint_that_rebuilds_the_warping_g(tmp_path):
    data = figures(tmp_path)
    cfg = micro_config("model.g_arch=warp")
    trainer = Trainer(cfg, data, tmp_path / "run", progress=False)
    trainer.train(max_steps=3)
    g, ckpt = load_inference_generator(trainer.ckpt_path)
    assert isinstance(g, WarpGenerator) and ckpt.config.model.g_arch == "warp"
    batch = trainer.next_batch()
    with torch.no_grad():
        want = trainer.nets.G.eval()(batch.real, batch.maps_f, batch.kp_o, batch.kp_f)
        got = g.eval()(batch.real, batch.maps_f, batch.kp_o, batch.kp_f)
    assert torch.allclose(want, got, atol=1e-6)
    assert (tmp_path / "run" / "samples").is_dir()


def _real_pair(shared_data):
    root = shared_data / "deepfashion-mini"
    ann = read_annotations_csv(root / "annotations.csv")
    names = [n for n in ann if not np.isnan(ann[n]).any(-1)[:8].any()]  # head-to-hips all present
    from poseshift.images import read_image, resolve_by_stem
    return read_image(resolve_by_stem(root / "images", names[0])), ann[names[0]], ann[names[1]]


def test_transfer_with_the_source_pose_from_a_file_or_detected(tmp_path, shared_data):
    pytest.importorskip("mediapipe")
    data = figures(tmp_path)
    trainer = Trainer(micro_config("model.g_arch=warp"), data, tmp_path / "run", progress=False)
    trainer.train(max_steps=2)
    image, src_kp, tgt_kp = _real_pair(shared_data)
    write_keypoints(tmp_path / "src.json", src_kp)
    reposer = Reposer.from_checkpoint(trainer.ckpt_path, device="cpu")
    from_file = reposer(image, tgt_kp, tmp_path / "src.json")
    assert np.array_equal(from_file, reposer(image, tgt_kp, src_kp))
    detected = reposer(image, tgt_kp)  # MediaPipe finds the source's pose itself
    reposer.close()
    assert from_file.shape == detected.shape == (32, 32, 3)
    other = reposer(image, tgt_kp, np.roll(src_kp, 6, axis=0))  # a wrong source pose
    assert np.abs(from_file.astype(int) - detected).mean() < np.abs(from_file.astype(int) - other).mean()
    # In the photo's own frame: the full-resolution warp blended with G's upsampled answer.
    full = reposer.render_in_frame(image, tgt_kp, src_kp)
    assert full.shape == image.shape


def test_cli_transfer_takes_a_source_pose_and_evaluate_scores_warp_only(tmp_path):
    pytest.importorskip("skimage")
    data = figures(tmp_path)
    run = tmp_path / "run"
    sets = [a for s in [*MICRO, "model.g_arch=warp"] for a in ("--set", s)]
    assert main(["train", "--config", "tiny",
                 "--data", str(data), "--out", str(run), "--max-steps", "2", "--quiet", *sets]) == 0
    ann = read_annotations_csv(data / "annotations.csv")
    names = sorted(ann)
    write_keypoints(tmp_path / "src.json", ann[names[0]])
    write_keypoints(tmp_path / "tgt.json", ann[names[1]])
    out = tmp_path / "out.png"
    assert main(["transfer", "--checkpoint", str(run / "checkpoints" / "last.safetensors"), "--image",
                 str(data / "images" / (names[0].rsplit(".", 1)[0] + ".png")), "--pose", str(tmp_path / "tgt.json"),
                 "--source-pose", str(tmp_path / "src.json"), "--out", str(out)]) == 0
    assert out.is_file()
    # a folder of photos: their own poses from one annotations CSV naming each (a drawn figure
    # has no pose MediaPipe could find); each render in its photo's frame
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in names[:3]:
        png = n.rsplit(".", 1)[0] + ".png"
        (photos / png).write_bytes((data / "images" / png).read_bytes())
    ckpt = str(run / "checkpoints" / "last.safetensors")
    assert main(["transfer", "--checkpoint", ckpt, "--image", str(photos), "--pose", str(tmp_path / "tgt.json"),
                 "--source-pose", str(data / "annotations.csv"), "--out", str(tmp_path / "many"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == sorted(p.name for p in photos.iterdir())
    # a photo the file does not name: a one-line error naming the file and the photo
    (photos / "stranger.png").write_bytes((photos / sorted(p.name for p in photos.iterdir())[0]).read_bytes())
    assert main(["transfer", "--checkpoint", ckpt, "--image", str(photos), "--pose", str(tmp_path / "tgt.json"),
                 "--source-pose", str(data / "annotations.csv"), "--out", str(tmp_path / "more"), "--quiet"]) == 2
    report = tmp_path / "warp.json"
    assert main(["evaluate", "--pairs", str(data / "pairs.csv"), "--data", str(data), "--warp-only",
                 "--out", str(report), "--metrics", "ssim", "--quiet"]) == 0
    got = json.loads(report.read_text())
    assert got["n"] == 6 and 0 < got["metrics"]["ssim"]["value"] < 1
