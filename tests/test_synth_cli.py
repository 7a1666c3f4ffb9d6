"""poseshift synth / export / demo, and the pose judge of the ablation study."""
import numpy as np
import pytest
import torch
from PIL import Image

from experiments.pose_judge import keypoints_from_maps, pose_error
from poseshift.cli import main
from poseshift.pose.heatmaps import belief_maps
from tests.helpers import MICRO


def test_synth_output_trains_exports_and_drives_the_demo(tmp_path):
    data = tmp_path / "synth"
    assert main(["synth", "--out", str(data), "--people", "6", "--poses-per-person", "2", "--size", "32",
                 "--seed", "1", "--quiet"]) == 0
    assert main(["synth", "--out", str(data), "--people", "2", "--quiet"]) == 2  # never overwrites
    run = tmp_path / "run"
    sets = [a for s in MICRO for a in ("--set", s)]
    assert main(["train", "--config", "synthetic", "--data", str(data), "--out", str(run),
                 "--max-steps", "3", "--quiet", *sets]) == 0
    small = tmp_path / "g.safetensors"
    assert main(["export", "--checkpoint", str(run / "checkpoints" / "last.safetensors"), "--out", str(small)]) == 0
    # G, and D_I and Phi for --adapt; no averaged second G, no optimiser state
    assert small.stat().st_size < (run / "checkpoints" / "last.safetensors").stat().st_size * 0.6
    demo = tmp_path / "demo"
    assert main(["demo", "--out", str(demo), "--checkpoint", str(small)]) == 0
    sheet, gif = Image.open(demo / "sheet.png"), Image.open(demo / "turn.gif")
    assert sheet.size[0] > sheet.size[1] and gif.n_frames == 24
    # A folder of the user's is never cleared by the demo.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["demo", "--out", str(tmp_path / "mine"), "--checkpoint", str(small)]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_shipped_demo_model_renders_offline(tmp_path):
    from poseshift.demo import SHIPPED, run_demo

    if not SHIPPED.is_file():
        pytest.skip(f"{SHIPPED} not built in this checkout")
    assert SHIPPED.stat().st_size < 20 * 2**20
    sheet, gif = run_demo(tmp_path / "demo")
    assert sheet.is_file() and gif.is_file()


def test_pose_judge_reads_peaks_and_measures_distance():
    kp = torch.full((1, 18, 2), float("nan"))
    kp[0, 0], kp[0, 4] = torch.tensor([10.0, 5.0]), torch.tensor([3.0, 20.0])
    maps = belief_maps(kp, 32, 32, 2.0)
    maps[0, 1, 7, 9] = 0.5  # a joint missing in the target is read but not scored
    found = keypoints_from_maps(maps)
    assert np.allclose(found[0, 0], [10, 5]) and np.allclose(found[0, 4], [3, 20])
    err, n = pose_error(found[0], kp[0].numpy())
    assert n == 2 and err == 0
    shifted = found[0].copy()
    shifted[0] += (3, 4)
    err, n = pose_error(shifted, kp[0].numpy())
    assert n == 2 and err == pytest.approx(2.5)


def test_pose_judge_reads_between_pixels():
    kp = torch.full((1, 18, 2), float("nan"))
    kp[0, 2] = torch.tensor([12.4, 7.7])
    found = keypoints_from_maps(belief_maps(kp, 32, 32, 2.0))[0, 2]
    # arg-max alone lands on (12, 8), 0.5 px away; the parabola's vertex moves towards the truth
    assert np.linalg.norm(found - kp[0, 2].numpy()) < 0.5 * np.linalg.norm(np.array([12.0, 8.0]) - kp[0, 2].numpy())


def test_pose_judge_trains_on_ground_truth_and_reloads_with_its_shape(tmp_path):
    from experiments.pose_judge import load_pose_judge, train_pose_judge
    from poseshift.data import PoseImageFolder
    from poseshift.losses import pose_loss
    from poseshift.pose.heatmaps import sigma_pixels

    data = tmp_path / "synth"
    assert main(["synth", "--out", str(data), "--people", "10", "--poses-per-person", "2", "--size", "32",
                 "--seed", "2", "--quiet"]) == 0
    folder = PoseImageFolder(data, 32, "train", "resize")
    items = [folder[i] for i in range(8)]
    images, kp = torch.stack([it["image"] for it in items]), torch.stack([it["keypoints"] for it in items])
    maps = belief_maps(kp, 32, 32, sigma_pixels(32, 0.08))
    losses = []
    for steps in (0, 150):
        out = tmp_path / f"judge{steps}.safetensors"
        train_pose_judge(data, 32, steps, out, channels=8, blocks=2, batch_size=8, progress=False)
        judge, size = load_pose_judge(out)  # rebuilt from the file's own channels and blocks
        assert size == 32 and sum(type(m).__name__ == "ResnetBlock" for m in judge.modules()) == 2
        with torch.no_grad():
            losses.append(float(pose_loss(judge(images), maps)))
    assert losses[1] < 0.5 * losses[0]
