"""The ablation benchmark's statistics (experiments/ablation_stats.py). Its paired bootstrap: a known
shift gives an interval at the shift, identical rows give zero, and unrelated noise gives an
interval around zero."""
import numpy as np

from experiments import ablation_stats as ablation


def _row(rng, n=100):
    return {"ssim": rng.random(n), "err": rng.random(n) * 5, "n": rng.integers(5, 18, n).astype(float)}


def test_a_constant_shift_is_found_exactly_and_identical_rows_give_zero():
    a = _row(np.random.default_rng(1))
    b = {"ssim": a["ssim"] - 0.05, "err": a["err"] + 1.0, "n": a["n"]}
    ci = ablation.paired_bootstrap(a, b)
    assert np.allclose(ci["ssim"], [0.05, 0.05]) and np.allclose(ci["pose_error_px"], [-1.0, -1.0])
    same = ablation.paired_bootstrap(a, a)
    assert same == {"ssim": [0.0, 0.0], "pose_error_px": [0.0, 0.0]}


def test_independent_rows_give_an_interval_around_zero_and_missing_renders_are_ignored():
    rng = np.random.default_rng(2)
    a, b = _row(rng, 400), _row(rng, 400)
    a["ssim"][:10] = np.nan  # renders that were missing
    ci = ablation.paired_bootstrap(a, b)
    assert ci["ssim"][0] < 0 < ci["ssim"][1]
    assert ci["pose_error_px"][0] < 0 < ci["pose_error_px"][1]
    assert ci["ssim"][1] - ci["ssim"][0] < 0.1


def _figures(root, colours):
    """One 32x32 image per (person, pose): a coloured block on a grey background."""
    from PIL import Image
    (root / "images").mkdir(parents=True, exist_ok=True)
    for p, colour in enumerate(colours):
        for pose in range(2):
            im = Image.new("RGB", (32, 32), (200, 200, 200))
            im.paste(colour, (8 + 4 * pose, 6, 20 + 4 * pose, 28))
            im.save(root / "images" / f"p{p:05d}_{pose}.png")
    return [(f"p{p:05d}_0", f"p{p:05d}_1") for p in range(len(colours))]


def _renders(folder, pairs, colour_of):
    from PIL import Image
    folder.mkdir(parents=True)
    for i, (src, tgt) in enumerate(pairs):
        im = Image.new("RGB", (32, 32), (200, 200, 200))
        im.paste(colour_of(i), (10, 6, 22, 28))
        im.save(folder / f"{src}___{tgt}.png")
    return folder


def test_colour_identity_tells_own_colours_from_anyone_elses(tmp_path):
    colours = [(200, 30, 30), (30, 160, 40), (30, 40, 200), (230, 200, 30), (150, 40, 170)]
    pairs = _figures(tmp_path / "data", colours)
    data = tmp_path / "data"
    own = ablation.colour_identity(_renders(tmp_path / "own", pairs, lambda i: colours[i]), data, pairs, offset=1)
    alike = ablation.colour_identity(_renders(tmp_path / "alike", pairs, lambda i: (40, 40, 40)), data, pairs, offset=1)
    other = ablation.colour_identity(_renders(tmp_path / "other", pairs, lambda i: colours[(i + 1) % 5]), data,
                                     pairs, offset=1)
    assert own == 1.0  # the render's colours are exactly its person's, and nobody else's
    assert alike == 0.0  # everyone rendered the same: no identity
    assert other == -1.0  # everyone wearing the next person's colours


def test_seeds_combine_into_their_mean_and_a_seed_missing_a_render_leaves_the_others():
    rng = np.random.default_rng(3)
    a, b = _row(rng), _row(rng)
    b["n"] = a["n"].copy()  # both seeds scored the same joints of each target
    both = ablation.combine_seeds([a, b])
    assert np.allclose(both["ssim"], (a["ssim"] + b["ssim"]) / 2)
    table = ablation.mean_joint_error(both["err"], both["n"])
    each = [ablation.mean_joint_error(r["err"], r["n"]) for r in (a, b)]
    assert np.isclose(table, np.mean(each))
    # Seed b did not render pair 0 (no ssim, no joints scored): pair 0 is seed a's alone.
    b["ssim"][0], b["n"][0], b["err"][0] = np.nan, 0.0, 0.0
    both = ablation.combine_seeds([a, b])
    assert np.isclose(both["ssim"][0], a["ssim"][0]) and np.isclose(both["err"][0], a["err"][0])
    # The combined rows bootstrap like any row: a seed set against itself differs by nothing.
    assert ablation.paired_bootstrap(both, both)["pose_error_px"] == [0.0, 0.0]
    assert [ablation.run_name("full", s) for s in (0, 2)] == ["full", "full_seed2"]


def test_a_rows_table_entry_is_the_mean_of_its_seeds_and_keeps_each_seed():
    rows = [{"ssim": 0.7, "kid": 0.2, "n": 100}, {"ssim": 0.8, "kid": None, "n": 100}]
    entry = ablation.mean_over_seeds(rows, ["ssim", "kid"])
    assert np.isclose(entry["ssim"], 0.75) and entry["kid"] is None  # no KID for one seed: none for the row
    assert entry["seeds"] == 2 and entry["per_seed"] == rows
    assert "per_seed" not in ablation.mean_over_seeds(rows[:1], ["ssim"])
