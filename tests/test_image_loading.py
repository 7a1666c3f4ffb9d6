"""One way in for every image: a phone's EXIF-rotated portrait comes out upright in its displayed
size, 16-bit and palette PNGs are converted, HEIC is read through pillow-heif (or refused with a
hint), and stored masks go through the same loader."""
import io

import numpy as np
import pytest
from PIL import Image

from poseshift import images
from poseshift.images import ImageError, decode_image, image_size, read_image, read_mask


def marked(w: int = 60, h: int = 40) -> np.ndarray:
    """A landscape picture, grey with a red block in its top-left corner."""
    a = np.full((h, w, 3), 128, np.uint8)
    a[:10, :15] = (255, 0, 0)
    return a


def with_orientation(tmp_path, orientation: int):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(marked()).save(path, quality=95, exif=exif)
    return path


def test_an_exif_rotated_portrait_is_read_upright_in_its_displayed_size(tmp_path):
    path = with_orientation(tmp_path, 6)          # stored landscape, shown turned a quarter clockwise
    photo = read_image(path)
    assert photo.shape == (60, 40, 3) and image_size(path) == (60, 40)
    # Turned clockwise, the stored top-left corner is shown at the top right.
    assert photo[:12, -8:, 0].mean() > 200 and photo[:12, -8:, 1].mean() < 60
    assert photo[-12:, :8, 0].mean() < 160
    same = decode_image(path.read_bytes(), "upload")
    assert np.array_equal(same, photo)
    plain = with_orientation(tmp_path, 1)
    assert read_image(plain).shape == (40, 60, 3) and image_size(plain) == (40, 60)


def test_sixteen_bit_and_palette_pngs_are_converted(tmp_path):
    ramp = (np.arange(64, dtype=np.uint16)[None].repeat(8, 0) * 1040)      # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    grey = read_image(tmp_path / "g16.png")
    assert grey.shape == (8, 64, 3)
    assert np.abs(grey[0, :, 0].astype(int) - np.round(ramp[0] / 65535 * 255)).max() <= 1
    pal = Image.fromarray(marked()).convert("P", palette=Image.ADAPTIVE, colors=4)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    assert read_image(tmp_path / "p.png").shape == (40, 60, 3)
    Image.fromarray(marked()[..., 0]).save(tmp_path / "mask.png")
    assert read_mask(tmp_path / "mask.png").shape == (40, 60)


def test_a_heic_photo_is_read_or_refused_with_a_hint(tmp_path, monkeypatch):
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "photo.heic"
    try:
        pillow_heif.from_pillow(Image.fromarray(marked())).save(path, quality=95)
    except Exception as err:  # noqa: BLE001 - a libheif built without an encoder
        pytest.skip(f"pillow-heif cannot encode HEIC here: {err}")
    photo = read_image(path)
    assert photo.shape == (40, 60, 3) and photo[:8, :12, 0].mean() > 200
    assert decode_image(path.read_bytes(), "upload").shape == (40, 60, 3)
    monkeypatch.setattr(images, "_heif_opener", lambda: False)
    with pytest.raises(ImageError, match=r"photo.heic: a HEIC/HEIF photo needs pillow-heif"):
        read_image(path)
    with pytest.raises(ImageError, match="needs pillow-heif"):
        decode_image(path.read_bytes(), "upload")


def test_heic_photos_are_taken_for_photos():
    assert ".heic" in images.IMAGE_SUFFIXES and ".heif" in images.IMAGE_SUFFIXES
    assert images._is_heif(io.BytesIO(b"\x00\x00\x00\x18ftypheic\x00\x00"))
