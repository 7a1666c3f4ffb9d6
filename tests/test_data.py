import numpy as np
import pytest
import torch
from PIL import Image

from experiments.pose_judge import flip_batch
from poseshift.data import DataError, PoseImageFolder
from poseshift.letterbox import fit_to_frame
from poseshift.pose.keypoints_io import write_annotations_csv
from poseshift.stick_figures import write_figures


def test_fit_to_frame_keeps_keypoints_on_their_content():
    image = np.full((128, 64, 3), 255, np.uint8)
    image[90:94, 40:44] = (255, 0, 0)  # a red dot centred on (41.5, 91.5)
    kp = np.array([[41.5, 91.5]], np.float32)
    for mode in ("pad", "resize"):
        out, fit = fit_to_frame(image, 64, 64, mode)
        x, y = fit.apply(kp)[0]
        r, g, b = out[int(round(y)), int(round(x))]
        assert r > 200 and g < 80 and b < 80, (mode, x, y)
        assert np.allclose(fit.invert(fit.apply(kp)), kp, atol=1e-4)
        back = fit.unfit(out)  # a render in the frame goes back to the source's size
        assert back.shape == image.shape and back[91, 41, 0] > 200 and back[91, 41, 1] < 100
    out, _ = fit_to_frame(image, 64, 64, "pad")
    assert (out[:, :10] == 255).all()  # letterbox bars are the pad value


def test_dataset_reads_literature_layout_by_stem_and_split(tmp_path):
    root = write_figures(tmp_path / "d", people=4, poses_per_person=2, size=32, seed=1)
    ds = PoseImageFolder(root, 32, split="train")
    assert len(ds) == 6  # 3 train people x 2 poses (25% of 4 people are test)
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["image"].min() >= -1 and item["image"].max() <= 1
    assert item["keypoints"].shape == (18, 2)
    assert ds.poses.shape == (6, 18, 2)
    assert len(PoseImageFolder(root, 32, split=None)) == 8


def test_dataset_skips_rows_without_joints_or_image_and_errors_clearly(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (40, 20), "white").save(tmp_path / "images" / "a.png")
    kp = np.full((18, 2), np.nan, np.float32)
    kp[0] = (5, 5)
    write_annotations_csv(tmp_path / "annotations.csv",
                          {"a.jpg": kp, "b.jpg": kp, "c.jpg": np.full((18, 2), np.nan, np.float32)})
    ds = PoseImageFolder(tmp_path, 32, split=None)
    assert len(ds) == 1 and ds.skipped_no_image == 1 and ds.skipped_no_joints == 1
    with pytest.raises(DataError, match="annotations.csv"):
        PoseImageFolder(tmp_path / "images", 32)


def test_flip_batch_mirrors_selected_samples_and_swaps_sides():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    kp = torch.full((2, 18, 2), float("nan"))
    kp[:, 4] = torch.tensor([0.0, 1.0])  # right wrist at the left edge
    out, kp_out = flip_batch(images, kp, torch.tensor([True, False]))
    assert torch.equal(out[0], images[0].flip(-1)) and torch.equal(out[1], images[1])
    assert torch.equal(kp_out[0, 7], torch.tensor([3.0, 1.0])) and torch.isnan(kp_out[0, 4]).all()
    assert torch.equal(kp_out[1, 4], torch.tensor([0.0, 1.0]))


def test_published_benchmarks_load_in_any_frame(shared_data):
    """DeepFashion (256x256) and Market-1501 (64 wide x 128 high) as the literature ships them."""
    from poseshift.pose.keypoints_io import read_annotations_csv

    for name, size in (("deepfashion-mini", 64), ("market-mini", 128)):
        root = shared_data / name
        rows = read_annotations_csv(root / "annotations.csv")
        empty = sum(bool(np.isnan(kp).all()) for kp in rows.values())
        ds = PoseImageFolder(root, size, split=None)
        assert len(ds) + ds.skipped_no_joints + ds.skipped_no_image == len(rows)
        assert ds.skipped_no_joints == empty
        assert np.nanmax(ds.poses) < size and np.nanmin(ds.poses) > -1
    # Market frames are letterboxed: every keypoint lands in the central 64-px-wide band.
    xs = ds.poses[..., 0]
    assert np.nanmin(xs) >= 31.5 and np.nanmax(xs) <= 96.5
    assert ds[0]["image"][:, :, :30].min() == 1.0  # the white bars


def test_training_items_carry_each_photos_silhouette_flipped_with_it(tmp_path, monkeypatch):
    import poseshift.silhouette as silhouette
    from poseshift.images import read_image
    from poseshift.training.batches import TrainingItems, to_batch
    from poseshift.warp import pose_mask

    root = write_figures(tmp_path / "d", people=4, poses_per_person=2, size=32, seed=1)
    (root / "silhouettes").mkdir()
    ds = PoseImageFolder(root, 32, split="train", silhouettes=True)
    for k, path in enumerate(ds.paths):           # the masks `prepare` would store: left half, or none
        mask = np.zeros((32, 32), np.uint8)
        if k != 1:
            mask[:, :16] = 255
        Image.fromarray(mask).save(root / "silhouettes" / f"{silhouette.pixel_key(read_image(path))}.png")

    def no_segmenter():
        raise AssertionError("a stored mask was computed again")
    monkeypatch.setattr(silhouette, "Segmenter", no_segmenter)
    assert ds.prepare_silhouettes(progress=False) == 0
    items = TrainingItems(ds)
    same, mirrored = items[(0, 0, 2, 0)], items[(0, 1, 2, 0)]
    assert same["sil"].shape == (1, 32, 32)
    assert (same["sil"][0, :, :16] == 255).all() and (same["sil"][0, :, 16:] == 0).all()
    assert torch.equal(mirrored["sil"], same["sil"].flip(-1))
    assert torch.equal(mirrored["image"], same["image"].flip(-1))
    batch = to_batch({k: torch.stack([same[k], items[(1, 0, 2, 0)][k]]) for k in same}, torch.device("cpu"), 2.0, False)
    assert torch.equal(batch.sil_o[0], same["sil"].float() / 255)
    # Where the segmenter found nobody, the mask drawn from the pose stands in.
    assert torch.allclose(batch.sil_o[1], pose_mask(batch.kp_o[1:], 32, 32)[0])
    assert "sil" not in TrainingItems(PoseImageFolder(root, 32, split="train"))[(0, 0, 2, 0)]
    # A DataLoader worker gets the data without an open segmenter (MediaPipe's cannot be pickled).
    import pickle

    ds._masks = silhouette.SilhouetteCache(root / "silhouettes", segmenter=lambda image: image)
    copy = pickle.loads(pickle.dumps(ds))
    assert copy._masks is None and torch.equal(TrainingItems(copy)[(0, 1, 2, 0)]["sil"], mirrored["sil"])
