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
    assert main(["train", "--config", "tiny",
                 "--data", str(data), "--out", str(run), "--max-steps", "4", "--quiet", *sets]) == 0
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
    assert main(["train", "--config", "tiny", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0]


def test_train_needs_a_config_and_says_so(tmp_path, capsys):
    # No default: `paper` wants a GPU and VGG16 weights, the 64 px presets are CPU recipes.
    with pytest.raises(SystemExit) as done:
        main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert done.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("the following arguments are required: --config")
    assert not (tmp_path / "run").exists()


def test_pose_command_writes_the_annotation_csv(tmp_path, shared_data):
    pytest.importorskip("mediapipe")
    images = sorted((shared_data / "deepfashion-mini" / "images").iterdir())[:2]
    out = tmp_path / "poses.csv"
    assert main(["pose", *map(str, images), "--out", str(out), "--quiet"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "name:keypoints_y:keypoints_x" and len(lines) == 3


# ----------------------------------------------------------------------------- rough edges (issue 28)
def _helps() -> dict:
    import argparse

    from poseshift.cli import COMMANDS
    from poseshift.cli_parser import build_parser

    parser = build_parser(COMMANDS)
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **subs.choices}


def test_help_shows_each_default_once_and_none_for_required_options_or_nothing():
    for name, parser in _helps().items():
        text = " ".join(parser.format_help().split())  # wrapped lines joined
        assert "(default: None)" not in text and "(default: False)" not in text, name
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.help is None:
                continue
            shown = formatter._expand_help(action)  # the flag's help as --help prints it
            assert shown.count("(default") <= 1, f"{name} {action.option_strings}: {shown}"
            if action.required:
                assert "(default" not in shown, f"{name} {action.option_strings}: {shown}"
    assert "(default: the schedule's end)" in " ".join(_helps()["train"].format_help().split())
    assert "(default: 256)" in " ".join(_helps()["prepare"].format_help().split())


def test_transfer_defaults_to_the_packaged_model_as_animate_and_serve_do():
    helps = _helps()
    assert helps["transfer"].parse_args(["--image", "a.png", "--pose", "b.json", "--out", "o.png"]).checkpoint \
        == helps["animate"].parse_args(["--image", "a.png", "--poses", "walk", "--out", "o.gif"]).checkpoint \
        == helps["serve"].parse_args([]).checkpoint == "synthetic-64"
    assert "(default: synthetic-64)" in " ".join(helps["transfer"].format_help().split())


def test_pose_with_every_image_skipped_fails_and_writes_nothing_and_no_native_log_line(tmp_path):
    import subprocess
    import sys

    pytest.importorskip("mediapipe")
    (tmp_path / "bad.png").write_text("not an image")
    out = tmp_path / "poses.json"
    done = subprocess.run([sys.executable, "-m", "poseshift", "pose", str(tmp_path / "bad.png"), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and not out.exists()
    lines = done.stderr.strip().splitlines()
    # only ours: no MediaPipe / TensorFlow Lite line (inference_feedback_manager.cc, XNNPACK, absl)
    assert all(ln.startswith("poseshift: ") for ln in lines), done.stderr
    assert "skipped bad.png" in lines[0] and "the image was skipped" in lines[-1] and str(out) in lines[-1]


def test_missing_extras_give_one_hint_form_that_names_this_install(tmp_path, capsys, monkeypatch):
    import re
    import sys
    from pathlib import Path

    from poseshift.extras import install_command

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    hint = re.fullmatch(r"poseshift: error: poseshift serve needs the 'serve' extra: "
                        r"pip install (-e )?\"(.+)\[serve\]\"", err[0])
    assert hint, err[0]
    # poseshift is not on PyPI: the hint names the folder this copy runs from
    assert (Path(hint.group(2)) / "pyproject.toml").is_file() and install_command("serve").endswith('[serve]"')
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.jsonl").write_text('{"step": 1, "loss_G": 1.0}\n')
    assert main(["plot", str(tmp_path / "run")]) == 2
    assert f"plotting needs the 'plot' extra: {install_command('plot')}" in capsys.readouterr().err


def test_plot_says_what_it_wrote_without_warnings(tmp_path, capsys):
    import warnings

    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"step": 1, "loss_G": 1.0, "loss_D": 0.5}\n'
                                   '{"step": 2, "loss_G": 0.8, "loss_D": 0.4}\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'loss.png'}" and (run / "loss.png").is_file()
    assert not caught, [str(w.message) for w in caught]  # a panel with no term used: no legend warning
