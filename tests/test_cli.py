"""The command line end to end: evaluate from a checkpoint, the copy baseline, pose, errors."""
import json

import pytest

from poseshift.cli import main
from tests.helpers import MICRO, figures


def test_evaluate_renders_pairs_from_a_checkpoint_and_the_copy_baseline(tmp_path, capsys):
    pytest.importorskip("skimage")
    data = figures(tmp_path)
    run = tmp_path / "run"
    sets = [a for s in MICRO for a in ("--set", s)]
    assert main(["train", "--data", str(data), "--out", str(run), "--max-steps", "4", "--quiet", *sets]) == 0
    report = tmp_path / "eval" / "model.json"
    assert main(["evaluate", "--pairs", str(data / "pairs.csv"), "--data", str(data), "--checkpoint",
                 str(run / "checkpoints" / "last.safetensors"), "--out", str(report),
                 "--metrics", "ssim", "mask_ssim", "--quiet"]) == 0
    got = json.loads(report.read_text())
    assert got["n"] == 6 and got["missing"] == 0  # 6 people x 1 pair each
    assert 0 < got["metrics"]["ssim"]["value"] < 1
    rendered = sorted((tmp_path / "eval" / "model_images").iterdir())
    assert len(rendered) == 6 and "___" in rendered[0].name
    assert (tmp_path / "eval" / "model.png").is_file()  # the side-by-side sheet
    # The copy baseline on the test split only: identical poses would give ssim 1, these do not.
    copy = tmp_path / "eval" / "copy.json"
    assert main(["evaluate", "--pairs", str(data / "pairs.csv"), "--data", str(data), "--copy-source",
                 "--split", "test", "--out", str(copy), "--metrics", "ssim", "--quiet"]) == 0
    got = json.loads(copy.read_text())
    assert got["n"] == 2 and 0 < got["metrics"]["ssim"]["value"] < 1
    # The report says where the pairs came from and which ones were scored.
    assert got["pairs_csv"] == f"{data / 'pairs.csv'} (split test)"
    assert len(got["pair_list"]) == 2 and all(len(p) == 2 for p in got["pair_list"])


def test_evaluate_refuses_ambiguous_sources_in_one_line(tmp_path, capsys):
    data = figures(tmp_path, people=2)
    assert main(["evaluate", "--pairs", str(data / "pairs.csv"), "--data", str(data),
                 "--out", str(tmp_path / "r.json")]) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_train_reports_a_bad_data_folder_in_one_line(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0]


def test_pose_command_writes_the_annotation_csv(tmp_path, shared_data):
    pytest.importorskip("mediapipe")
    images = sorted((shared_data / "deepfashion-mini" / "images").iterdir())[:2]
    out = tmp_path / "poses.csv"
    assert main(["pose", *map(str, images), "--out", str(out), "--quiet"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "name:keypoints_y:keypoints_x" and len(lines) == 3
