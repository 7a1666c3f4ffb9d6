"""The image buffer that feeds D_I (section 5, after Shrivastava et al. [27]), written as
CycleGAN's ``ImagePool``: up to ``size`` earlier renders; each new render is, with
probability 1/2 once the buffer is full, swapped for a stored one that D sees instead."""
from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, size: int = 50, generator: torch.Generator | None = None):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = generator

    def _rand(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] (detached renders) -> [B,3,H,W] for D: half of them, on average,
        replaced by earlier renders once the buffer is full."""
        if self.size <= 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self._rand() < 0.5:
                j = int(torch.randint(0, self.size, (), generator=self.generator))
                out.append(self.images[j].clone())
                self.images[j] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_tensor(self) -> torch.Tensor | None:
        return torch.stack(self.images).contiguous() if self.images else None

    def load_state_tensor(self, tensor: torch.Tensor | None, device: torch.device) -> None:
        self.images = [] if tensor is None else [t.to(device) for t in tensor]
