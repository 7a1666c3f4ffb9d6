"""Image files and tensors: reading with one-line errors, stems, and [-1,1] tensors.

One way in for every image poseshift opens (photos, uploads, stored masks): the EXIF orientation
is applied (a phone's portrait is stored as landscape pixels and a tag), HEIC/HEIF is read through
``pillow-heif`` where it is installed (the ``heic`` extra), and 16-bit, palette, grey, CMYK and
alpha images are converted to 8-bit RGB. Sizes are those of the picture as it is displayed.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# poseshift applies its own limit (MAX_PIXELS) from the header, so PIL's own warning is noise.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".heic", ".heif")
HEIF_SUFFIXES = (".heic", ".heif")


class ImageError(ValueError):
    """An image file that cannot be read."""


class ImageTooLarge(ImageError):
    """An image whose header claims more pixels than allowed."""


# The most pixels an image may have: 64 megapixels (8000 x 8000) is several times any photo this
# field trains on, and stops a decompression bomb (a small file whose header claims 30000 x 30000)
# before a byte is decoded.
MAX_PIXELS = 64_000_000


def _heif_opener() -> bool:
    """Register pillow-heif's opener with Pillow, once; False where it is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _is_heif(path: Path | io.BytesIO) -> bool:
    if isinstance(path, Path):
        return path.suffix.lower() in HEIF_SUFFIXES
    head = bytes(path.getbuffer()[4:12])
    return head[:4] == b"ftyp" and head[4:8] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


def _open(path: Path | io.BytesIO, name: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The image, opened (its header read) and checked against ``max_pixels``; ``name`` in errors."""
    if isinstance(path, Path) and not path.is_file():
        raise ImageError(f"{name}: image file not found")
    if _is_heif(path) and not _heif_opener():
        raise ImageError(f"{name}: a HEIC/HEIF photo needs pillow-heif: pip install 'poseshift[heic]'")
    try:
        im = Image.open(path)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{name}: its header claims far more pixels than a photo "
                            f"(at most {max_pixels:,})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image") from None
    except Exception as err:  # a malformed file breaks PIL's parsers in many ways
        raise ImageError(f"{name}: not a readable image ({err.__class__.__name__})") from None
    w, h = im.size
    if w * h > max_pixels or w < 1 or h < 1:
        im.close()
        raise ImageTooLarge(f"{name}: {w}x{h} pixels is not a photo poseshift reads (at most {max_pixels:,} pixels)")
    return im


def _eight_bit(im: Image.Image) -> Image.Image:
    """A 16-bit or 32-bit grey image scaled to 8 bits (Pillow's convert would clip it)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(np.round(a / top * 255), 0, 255).astype(np.uint8))
    if im.mode == "P" and "transparency" in im.info:
        return im.convert("RGBA")
    return im


def _decode(im: Image.Image, name: str, mode: str = "RGB") -> np.ndarray:
    with im:
        try:
            upright = ImageOps.exif_transpose(im)
            return np.asarray(_eight_bit(upright).convert(mode), dtype=np.uint8).copy()
        except Exception as err:  # truncated data, bad chunks, impossible modes
            raise ImageError(f"{name}: not a readable image ({err.__class__.__name__})") from None


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """RGB uint8 [H,W,3] from an encoded image in memory (an upload), checked as :func:`read_image`."""
    return _decode(_open(io.BytesIO(data), name, max_pixels), name)


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 [H,W,3]; ``ImageError`` naming the file for anything that is not a readable image."""
    path = Path(path)
    return _decode(_open(path, str(path)), str(path))


def read_mask(path: str | Path) -> np.ndarray:
    """A stored person mask: grey uint8 [H,W], read as :func:`read_image` reads a photo."""
    path = Path(path)
    return _decode(_open(path, str(path)), str(path), "L")


def image_array(image) -> np.ndarray:
    """A photo as a path (read; ``ImageError`` naming the file) or an array -> uint8 [H,W,3]."""
    return read_image(image) if isinstance(image, (str, Path)) else np.asarray(image, dtype=np.uint8)


# EXIF orientations that turn the picture a quarter: its displayed width is the stored height.
_QUARTER_TURNS = (5, 6, 7, 8)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of the picture as displayed (EXIF orientation applied), from the file's
    header, without decoding the pixels."""
    path = Path(path)
    with _open(path, str(path)) as im:
        w, h = im.size
        try:
            turned = im.getexif().get(0x0112) in _QUARTER_TURNS
        except Exception:  # noqa: BLE001 - a malformed EXIF block: the stored size
            turned = False
    return (w, h) if turned else (h, w)


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write atomically (a temporary file beside ``path``, then a rename): a kill leaves either
    the old file or the new one, never half of one."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unknown image extension {path.suffix or '(none)'!r}")
    from poseshift.files import atomic_write

    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    atomic_write(path, lambda tmp: picture.save(tmp, format=fmt))
    return path


def resolve_by_stem(folder: Path, name: str) -> Path | None:
    """``x.jpg`` named in a CSV may be stored as ``x.png`` or ``x.jpg``: match by stem."""
    direct = folder / name
    if direct.is_file():
        return direct
    stem = Path(name).stem
    for suffix in IMAGE_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None



def image_paths(items: list[str]) -> list[Path]:
    """The photos named: files as given, folders' images in name order."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image or folder")
    if not paths:
        raise ValueError(f"no images in {' '.join(items)}")
    return paths


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 values (any shape) -> float in [-1, 1], the generator's tanh range."""
    return images.float().div(127.5).sub(1.0)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 [H,W,3] -> float [3,H,W] in [-1, 1] (the generator's tanh range). A read-only array
    (``np.asarray`` of a PIL image) is copied: torch.from_numpy warns on those."""
    arr = np.ascontiguousarray(image)
    if not arr.flags.writeable:
        arr = arr.copy()
    return to_unit(torch.from_numpy(arr).permute(2, 0, 1))


def to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """float [3,H,W] or [B,3,H,W] in [-1, 1] -> uint8 [H,W,3] or [B,H,W,3]."""
    t = tensor.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()
    return (t.permute(1, 2, 0) if t.ndim == 3 else t.permute(0, 2, 3, 1)).numpy()
