"""evaluate_pairs: the pinned PATN-SSIM figures of the peers on deepfashion-mini, and the bookkeeping
(missing images, skipped metrics, report, sheet) on a tiny synthetic data dir."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("skimage")

from poseshift.evaluate import EvaluationOptions, evaluate_pairs  # noqa: E402
from poseshift.pose.keypoints_io import write_annotations_csv  # noqa: E402


@pytest.mark.parametrize("peer, n, ssim", [("Deform", 79, 0.7551), ("VUNet", 82, 0.7655)])
def test_pinned_peer_ssim_on_deepfashion_mini(shared_data, tmp_path, peer, n, ssim):
    root = shared_data / "deepfashion-mini"
    out = tmp_path / "report.json"
    r = evaluate_pairs(root / "pairs.csv", root, root / "peers" / peer, out,
                       EvaluationOptions(metrics=["ssim"], progress=False))
    assert r["n"] == n and r["missing"] == 160 - n and r["pairs"] == 160
    assert r["metrics"]["ssim"]["n"] == n
    assert r["metrics"]["ssim"]["value"] == pytest.approx(ssim, abs=1e-3)
    assert json.loads(out.read_text())["metrics"]["ssim"]["value"] == r["metrics"]["ssim"]["value"]


def test_ssim_equals_direct_skimage_call_on_one_pair(shared_data, tmp_path):
    from skimage.metrics import structural_similarity
    root = shared_data / "deepfashion-mini"
    gen_dir = root / "peers" / "Deform"
    gen_path = sorted(gen_dir.glob("*.png"))[0]
    src, tgt = gen_path.stem.split("___")
    (tmp_path / "pairs.csv").write_text(f"from,to\n{src}.jpg,{tgt}.jpg\n")
    r = evaluate_pairs(tmp_path / "pairs.csv", root, gen_dir, None, EvaluationOptions(metrics=["ssim"], progress=False))
    gt = np.asarray(Image.open(root / "images" / f"{tgt}.png").convert("RGB"))
    gen = np.asarray(Image.open(gen_path).convert("RGB"))
    ref = structural_similarity(gt, gen, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                channel_axis=-1, data_range=gen.max() - gen.min())
    assert r["n"] == 1 and r["metrics"]["ssim"]["value"] == ref


# ----------------------------------------------------------------------------- synthetic data dir

def _make_data(tmp_path, n_pairs=4, h=64, w=32):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    gen = tmp_path / "gen"
    gen.mkdir()
    kp = np.array([[16, 8], [16, 16], [10, 16], [8, 26], [7, 36], [22, 16], [24, 26], [25, 36],
                   [12, 36], [12, 48], [12, 60], [20, 36], [20, 48], [20, 60],
                   [14, 6], [18, 6], [12, 7], [20, 7]], dtype=np.float32)
    ann, rows = {}, []
    for i in range(n_pairs):
        a, b = f"p{i}_a.jpg", f"p{i}_b.jpg"
        for name in (a, b):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(data / "images" / f"{name[:-4]}.png")
            ann[name] = kp
        rows.append(f"{a},{b}")
        if i % 2 == 0:  # generated exists for even pairs only; pair 0 is the ground truth itself
            gt = np.asarray(Image.open(data / "images" / f"p{i}_b.png"))
            img = gt if i == 0 else rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(img).save(gen / f"p{i}_a___p{i}_b.png")
    write_annotations_csv(data / "annotations.csv", ann)
    (tmp_path / "pairs.csv").write_text("from,to\n" + "\n".join(rows) + "\n")
    return data, gen, kp


def test_missing_generated_counted_and_skips_reported(tmp_path):
    data, gen, _ = _make_data(tmp_path)
    out = tmp_path / "out" / "report.json"
    r = evaluate_pairs(tmp_path / "pairs.csv", data, gen, out, EvaluationOptions(
        metrics=["ssim", "ssim_gfla", "mask_ssim", "pckh", "lpips", "is"], progress=False))
    assert r["pairs"] == 4 and r["n"] == 2 and r["missing"] == 2
    assert r["missing_examples"] == ["p1_a___p1_b", "p3_a___p3_b"]
    for m in ("ssim", "ssim_gfla", "mask_ssim"):
        assert r["metrics"][m]["n"] == 2 and "settings" in r["metrics"][m]
        assert r["metrics"][m]["value"] < 1.0
    assert "detector" in r["metrics"]["pckh"]["skipped"]
    assert "LPIPS" in r["metrics"]["lpips"]["skipped"]
    assert "Inception Score" in r["metrics"]["is"]["skipped"]
    saved = json.loads(out.read_text())
    assert saved["n"] == 2 and saved["missing"] == 2 and list(saved["metrics"]) == list(r["metrics"])


def test_pckh_with_detector_and_sheet(tmp_path):
    data, gen, kp = _make_data(tmp_path)
    calls = []

    def detector(img):
        calls.append(img.shape)
        return kp  # the annotated pose: every joint right

    sheet = tmp_path / "sheet.png"
    r = evaluate_pairs(tmp_path / "pairs.csv", data, gen, None, EvaluationOptions(
        metrics=["pckh", "ssim"], sheet_png=sheet, peers={"same": gen}, progress=False, detector=detector))
    assert calls == [(64, 32, 3)] * 2
    assert r["metrics"]["pckh"]["value"] == 1.0 and r["metrics"]["pckh"]["n"] == 2
    with Image.open(sheet) as im:
        assert im.size == (5 * 32, 14 + 2 * 64)


def test_generated_of_other_size_is_resized(tmp_path):
    data, gen, _ = _make_data(tmp_path)
    big = Image.open(gen / "p0_a___p0_b.png").resize((64, 128), Image.NEAREST)
    big.save(gen / "p0_a___p0_b.png")
    r = evaluate_pairs(tmp_path / "pairs.csv", data, gen, None, EvaluationOptions(metrics=["ssim"], progress=False))
    assert r["resized_to_ground_truth"] == 1 and r["n"] == 2


def test_unknown_metric_and_missing_folder(tmp_path):
    data, gen, _ = _make_data(tmp_path)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_pairs(tmp_path / "pairs.csv", data, gen, None, EvaluationOptions(metrics=["nope"], progress=False))
    with pytest.raises(FileNotFoundError):
        evaluate_pairs(tmp_path / "pairs.csv", data, tmp_path / "absent", None, EvaluationOptions(progress=False))


def test_sample_pairs_draws_held_out_pairs_reproducibly_in_file_order(tmp_path):
    from poseshift.evaluate import sample_pairs

    pairs = [(f"p{i}_0.png", f"p{i}_1.png") for i in range(30)]
    (tmp_path / "pairs.csv").write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    held_out = {i for i in range(30) if i % 3 == 0}
    (tmp_path / "split.csv").write_text("name,person,split\n" + "".join(
        f"p{i}_{k}.png,p{i},{'test' if i in held_out else 'train'}\n" for i in range(30) for k in (0, 1)))
    drawn = sample_pairs(tmp_path, 6)
    assert len(drawn) == 6 and drawn == sample_pairs(tmp_path, 6)  # the same pairs every time
    assert all(int(a[1:].split("_")[0]) in held_out for a, _ in drawn)  # only held-out people
    assert drawn == sorted(drawn, key=pairs.index)  # in the file's order
    assert len(sample_pairs(tmp_path, 100)) == 10 and len(sample_pairs(tmp_path, 100, split=None)) == 30
    assert sample_pairs(tmp_path, 6, seed=1) != drawn
