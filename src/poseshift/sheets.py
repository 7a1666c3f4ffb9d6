"""Contact sheets: rows of equally sized uint8 images with a thin gutter, and a header."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw


def grid(rows: Sequence[Sequence[np.ndarray]], header: Sequence[str] | None = None,
         gutter: int = 2, background: int = 255) -> np.ndarray:
    """rows of [H,W,3] uint8 images (all the same size) -> one [H',W',3] sheet."""
    if not rows or not rows[0]:
        raise ValueError("grid needs at least one image")
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    top = 14 if header else 0
    sheet = np.full((top + len(rows) * (h + gutter) + gutter, ncol * (w + gutter) + gutter, 3),
                    background, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            if image.shape[:2] != (h, w):
                image = np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC))
            y, x = top + gutter + r * (h + gutter), gutter + c * (w + gutter)
            sheet[y : y + h, x : x + w] = image
    if header:
        canvas = Image.fromarray(sheet)
        draw = ImageDraw.Draw(canvas)
        for c, text in enumerate(header):
            draw.text((gutter + c * (w + gutter) + 2, 1), text[: max(1, w // 6)], fill=(0, 0, 0))
        sheet = np.asarray(canvas)
    return sheet
