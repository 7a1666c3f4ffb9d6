"""Inference: load a checkpoint's generator once, then render people in new poses.

Example::

    >>> from poseshift import Reposer
    >>> reposer = Reposer.from_checkpoint("runs/tiny/checkpoints/last.safetensors")
    >>> out = reposer("person.jpg", "target_pose.json")   # uint8 [S, S, 3]

The image may have any size: it is fitted into the checkpoint's square frame as in
training (pad or resize, DataConfig.fit) and the target pose, given in the pixel frame
of that image, is moved with it. ``__call__`` answers in the checkpoint's square frame,
``render_in_frame`` (what ``poseshift transfer`` writes by default) in the photo's own.

A pose is an [18, 2] array, any keypoint file poseshift reads (annotation CSV, with ``name``
for a multi-row one; OpenPose JSON; a plain JSON list; what ``poseshift pose`` writes), or a
photo, whose pose is detected (MediaPipe, the ``pose`` extra).

A generator that warps the source (``model.g_arch: warp``) also needs the source photo's own
pose: pass ``source_pose`` (a keypoint file or an [18, 2] array in the photo's pixel frame), or
leave it out and it is detected (MediaPipe, the ``pose`` extra).

Retargeting (on by default: ``Reposer.retarget``, or ``retarget=`` on a call): a target pose
from another person is redrawn on the photo's person before rendering
(:func:`poseshift.pose.retarget.retarget`: the target's joint angles, the person's own bone
lengths, where the person stands), so a render keeps the person's proportions and place. It
needs the photo's own pose: the source pose given, else detected (once per photo; a generator
that needs no source pose renders the target as it is, with a warning, where nobody is
detected). ``retarget=False`` renders the pose as given, as evaluation does
(:func:`render_pairs`: a pair's target pose is its ground truth).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from poseshift.config import Config
from poseshift.devices import resolve_bf16, select_device
from poseshift.images import IMAGE_SUFFIXES, image_array, read_image, to_tensor, to_uint8
from poseshift.letterbox import fit_to_frame, plan_fit
from poseshift.loading import load_inference_generator
from poseshift.pose.heatmaps import belief_maps, sigma_pixels
from poseshift.pose.keypoints_io import read_keypoints
from poseshift.pose.retarget import retarget as retarget_pose
from poseshift.scenes import PhotoScenes

log = logging.getLogger(__name__)

ImageLike = str | Path | np.ndarray
PoseLike = str | Path | np.ndarray


# The most photo pixels one batch of full-resolution renders holds at once (about 100 bytes a
# pixel: the photo, its mask, scene and the warp's part shares): small photos share G's pass,
# large ones go one at a time.
PHOTO_PIXELS = 4_000_000


@dataclass
class Prepared:
    """One photo and pose ready for G, in the model's square frame: ``image`` [1,3,S,S] in [-1,1],
    the target's belief ``maps`` [1,18,S,S], the source and target keypoints [1,18,2] (``kp_src``
    None where the generator needs none), the ``fit`` (poseshift.letterbox.FrameFit) that put the
    photo there, and the photo itself (``photo`` uint8 [H, W, 3])."""

    image: torch.Tensor
    maps: torch.Tensor
    kp_src: torch.Tensor | None
    kp_tgt: torch.Tensor
    fit: object
    photo: np.ndarray

    def __iter__(self):  # x, maps, kp_o, kp_f, fit = reposer.prepare(...) still reads
        return iter((self.image, self.maps, self.kp_src, self.kp_tgt, self.fit))

    @property
    def pixels(self) -> int:
        return self.photo.shape[0] * self.photo.shape[1]


class Reposer:
    """G(I | p_f) from a checkpoint, ready to call. Every render goes one way (``_render``): a list
    of :class:`Prepared`, G once a group, in the model's frame or the photo's."""

    def __init__(self, generator: torch.nn.Module, config: Config, device: torch.device,
                 full_resolution: bool = True, bf16: bool = False):
        self.G = _Autocast(generator.eval().to(device), device, resolve_bf16(bf16, device, "--bf16"))
        # A warping G's render in the photo's own frame: G.render_photo (its answers upsampled,
        # the warp redone on the full-resolution photo); False: the model-frame render, resized.
        self.full_resolution = full_resolution
        self.config = config
        self.device = device
        self.size = config.model.image_size
        self.sigma = sigma_pixels(self.size, config.pose.sigma_frac)
        self.needs_source_pose = bool(getattr(generator, "needs_source_pose", False))
        self._detector = None
        # The last photo's mask, scene and source parts at its resolution (poseshift.scenes).
        self._scenes = PhotoScenes(self.size, config.data.fit, config.data.pad_value, device)
        self.retarget = True  # target poses redrawn on the photo's person (a call's retarget= overrides)
        self._own_memo = None  # (pixel key, detected pose or None) of the last photo retargeted onto
        # --adapt STEPS: G fine-tuned on each photo before it is rendered (poseshift.adapt); needs
        # the checkpoint's file (for its critics), set by from_checkpoint.
        self.adapt_steps = 0
        self.checkpoint_path: Path | None = None
        self._adapter = None
        self._adapted = None

    def detect(self, image: np.ndarray, what: str) -> np.ndarray:
        """The pose of the person in ``image`` (its pixel frame), detected."""
        if self._detector is None:
            from poseshift.detect import PoseDetector

            self._detector = PoseDetector()
        kp = self._detector(image)
        if np.isnan(kp).all():
            raise ValueError(f"no person was detected in {what}")
        return kp

    def keypoints(self, pose: PoseLike, what: str = "pose", name: str | None = None,
                  frame_of: tuple[int, int] | None = None) -> np.ndarray:
        """[18, 2] from an array, a keypoint file (``name``: its row or entry) or a photo. A photo's
        pose is detected in its own frame and, given ``frame_of`` (the source photo's height and
        width), moved into that frame the way both photos are fitted into the model's square: the
        person keeps their place and size relative to the picture."""
        if isinstance(pose, (str, Path)) and Path(pose).suffix.lower() in IMAGE_SUFFIXES:
            photo = read_image(pose)
            kp = self.detect(photo, f"{pose} ({what})")
            if frame_of is None or tuple(frame_of) == photo.shape[:2]:
                return kp
            mode, S = self.config.data.fit, self.size
            square = plan_fit(*photo.shape[:2], S, S, mode).apply(kp)
            return plan_fit(*frame_of, S, S, mode).invert(square).astype(np.float32)
        if isinstance(pose, (str, Path)):
            return _keypoints(read_keypoints(pose, name), what)
        return _keypoints(pose, what)

    def source_keypoints(self, image: np.ndarray, source_pose: PoseLike | None) -> np.ndarray | None:
        """The source photo's pose in its pixel frame: given, detected where the generator needs
        one and none was given, else None."""
        if source_pose is not None:
            return self.keypoints(source_pose, "source pose")
        if not self.needs_source_pose:
            return None
        return self.detect(image, "the source image; pass its pose (--source-pose)")

    def own_pose(self, image: np.ndarray) -> np.ndarray | None:
        """The photo's own pose to retarget onto where none was given: detected (remembered for the
        same pixels); None, with a warning, where nobody is found or detection is not installed."""
        from poseshift.silhouette import pixel_key

        key = pixel_key(image)
        if self._own_memo is None or self._own_memo[0] != key:
            try:
                kp = self.detect(image, "the photo")
            except (ValueError, ImportError) as err:
                log.warning("%s: the target pose is rendered as it is, not retargeted", err)
                kp = None
            self._own_memo = (key, kp)
        return self._own_memo[1]

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", full_resolution: bool = True,
                        bf16: bool = False, adapt: int = 0) -> Reposer:
        """``path``: a checkpoint file or a packaged model's name (``synthetic-64``); ``bf16``: run G
        under bfloat16 autocast (faster on CPUs and GPUs with bf16 units;
        renders differ by 0.3 uint8 levels on average, 7 at most, measured in docs/inference.md);
        ``adapt``: fine-tune a copy of G on each photo for this many steps first (poseshift.adapt)."""
        from poseshift.packaged import resolve_checkpoint

        if adapt < 0:
            raise ValueError(f"--adapt must be >= 0 steps, got {adapt}")
        resolved = resolve_checkpoint(path)
        generator, ckpt = load_inference_generator(resolved)
        reposer = cls(generator, ckpt.config, select_device(device), full_resolution, bf16)
        reposer.adapt_steps, reposer.checkpoint_path = int(adapt), Path(resolved)
        return reposer

    def generator_for(self, x: torch.Tensor, kp_o, kp_f) -> torch.nn.Module:
        """G itself, or with ``adapt_steps``, a copy fine-tuned on this photo (model frame)."""
        if not self.adapt_steps or kp_o is None:
            return self.G
        key = hash((x.cpu().numpy().tobytes(), kp_o.cpu().numpy().tobytes(), kp_f.cpu().numpy().tobytes()))
        if self._adapted is not None and self._adapted[0] == key:  # the same photo and pose again
            return self._adapted[1]
        if self._adapter is None:
            if self.checkpoint_path is None:
                raise ValueError("adaptation needs a Reposer made by Reposer.from_checkpoint")
            from poseshift.adapt import Adapter

            self._adapter = Adapter(str(self.checkpoint_path), self.config, self.device)
        with torch.enable_grad():
            tuned = self._adapter.adapt(self.G.inner, x, kp_o, kp_f, self.adapt_steps)
        self._adapted = (key, _Autocast(tuned, self.device, self.G.bf16))
        return self._adapted[1]

    def prepare(self, image: ImageLike, pose: PoseLike, source_pose: PoseLike | None = None,
                retarget: bool | None = None) -> Prepared:
        """The photo and pose in the training frame (:class:`Prepared`). ``retarget`` (None:
        ``self.retarget``): the target pose redrawn on the photo's person first."""
        arr = image_array(image)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"image must be RGB [H, W, 3], got shape {arr.shape}")
        kp = self.keypoints(pose, "pose", frame_of=arr.shape[:2])
        src_kp = self.source_keypoints(arr, source_pose)
        if src_kp is None and self.adapt_steps:  # adaptation renders the photo back into its own pose
            src_kp = self.own_pose(arr)
            if src_kp is None:
                raise ValueError("--adapt needs the photo's own pose and nobody was detected in it; "
                                 "pass --source-pose FILE")
        if self.retarget if retarget is None else retarget:
            own = src_kp if src_kp is not None else self.own_pose(arr)
            if own is not None:
                kp = retarget_pose(kp, own)
        framed, fit = fit_to_frame(arr, self.size, self.size, self.config.data.fit, self.config.data.pad_value)
        kp_f = torch.from_numpy(fit.apply(kp))[None].to(self.device)
        kp_o = None if src_kp is None else torch.from_numpy(fit.apply(src_kp))[None].to(self.device)
        maps = belief_maps(kp_f, self.size, self.size, self.sigma)
        return Prepared(to_tensor(framed)[None].to(self.device), maps, kp_o, kp_f, fit, arr)

    @torch.no_grad()
    def __call__(self, image: ImageLike, pose: PoseLike, source_pose: PoseLike | None = None,
                 retarget: bool | None = None) -> np.ndarray:
        """Render the person of ``image`` in ``pose`` -> uint8 [S, S, 3]."""
        return self._render([self.prepare(image, pose, source_pose, retarget)], "model")[0]

    @torch.no_grad()
    def render_in_frame(self, image: np.ndarray, pose: np.ndarray, source_pose: PoseLike | None = None,
                        retarget: bool | None = None) -> np.ndarray:
        """Like ``__call__`` but the render is in ``image``'s own size and frame: a warping G's at the
        photo's resolution, another's with the letterbox undone."""
        return self._render([self.prepare(image, pose, source_pose, retarget)], "photo")[0]

    @torch.no_grad()
    def render_batch(self, images: list[ImageLike], poses: list[PoseLike], source_poses: list | None = None,
                     frame: str = "photo", retarget: bool | None = None) -> list[np.ndarray]:
        """Many renders in one pass of G: each image in its pose, in the photo's own frame
        (``frame="photo"``) or the model's square one (``"model"``)."""
        if frame not in ("photo", "model"):
            raise ValueError(f"frame must be 'photo' or 'model', got {frame!r}")
        if len(images) != len(poses) or (source_poses is not None and len(source_poses) != len(images)):
            raise ValueError(f"{len(images)} images need as many poses (got {len(poses)})")
        sources = source_poses or [None] * len(images)
        if len({s is None for s in sources}) > 1 and not self.needs_source_pose:
            raise ValueError("give a source pose for every image or for none")
        return self._render([self.prepare(a, p, s, retarget) for a, p, s in zip(images, poses, sources)], frame)

    def _groups(self, items: list[Prepared], photo_frame: bool) -> list[list[int]]:
        """Which items share G's pass: all of them, except that with --adapt each photo has its own G,
        and a warping G's full-resolution renders hold at most PHOTO_PIXELS photo pixels at once."""
        groups: list[list[int]] = []
        held = 0                                    # photo pixels in the last group
        for i, item in enumerate(items):
            if not groups or self.adapt_steps or (photo_frame and held + item.pixels > PHOTO_PIXELS):
                groups.append([])
                held = 0
            groups[-1].append(i)
            held += item.pixels
        return groups

    def _render(self, items: list[Prepared], frame: str) -> list[np.ndarray]:
        """The one render path: G once a group (``_groups``) -> uint8 renders, in the model's frame
        (``"model"``) or the photo's (``"photo"``: a warping G at the photo's own resolution, its
        warp redone on the full-resolution photo, poseshift.nets.warping; another G's render with
        the letterbox undone, unless ``full_resolution`` is off)."""
        at_photo = frame == "photo" and self.full_resolution and self.needs_source_pose
        renders: list = [None] * len(items)
        for group in self._groups(items, at_photo):
            part = [items[i] for i in group]
            x, maps, kp_f = (torch.cat([getattr(q, k) for q in part]) for k in ("image", "maps", "kp_tgt"))
            kp_o = None if part[0].kp_src is None else torch.cat([q.kp_src for q in part])
            G = self.generator_for(x, kp_o, kp_f)
            if at_photo:
                inputs = [self._scenes.photo(q.photo, q.fit, q.kp_src, q.kp_tgt) for q in part]
                sil_m, scene_m = torch.cat([s[0] for s in inputs]), torch.cat([s[1] for s in inputs])
                outs = G.render_photos(x, maps, kp_o, kp_f, sil_m, scene_m, [s[2] for s in inputs])
                outs = [to_uint8(o[0]) for o in outs]
            else:
                outs = [to_uint8(o) for o in G(x, maps, kp_o, kp_f)]
                if frame == "photo":
                    outs = [q.fit.unfit(o) for q, o in zip(part, outs)]
            for i, out in zip(group, outs):
                renders[i] = out
        return renders

    @torch.no_grad()
    def render_tensor(self, images: torch.Tensor, maps: torch.Tensor, kp_src: torch.Tensor | None = None,
                      kp_tgt: torch.Tensor | None = None) -> torch.Tensor:
        """Batched G on tensors already in the training frame: [B,3,S,S], [B,18,S,S], and the
        keypoints [B,18,2] that a warping generator needs."""
        dev = self.device
        return self.G(images.to(dev), maps.to(dev), None if kp_src is None else kp_src.to(dev),
                      None if kp_tgt is None else kp_tgt.to(dev))

    def scene(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The photo's person mask (float32 [H, W], poseshift.silhouette, cached by content) and
        its scene with the person inpainted (uint8 [H, W, 3]), at the photo's own resolution."""
        return self._scenes.scene(image)

    def close(self) -> None:
        self._scenes.close()
        if self._detector is not None:
            self._detector.close()
            self._detector = None


class _Autocast(torch.nn.Module):
    """G, optionally under bfloat16 autocast, answering float32; its own attributes (``render_photos``,
    ``needs_source_pose``) pass through."""

    def __init__(self, generator: torch.nn.Module, device: torch.device, bf16: bool):
        super().__init__()
        self.inner, self.device_type, self.bf16 = generator, device.type, bf16

    def forward(self, *args):
        if not self.bf16:
            return self.inner(*args)
        with torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            return self.inner(*args).float()

    def render_photos(self, *args):
        """The inner G's photo-resolution renders of a batch, under the same autocast as ``forward``."""
        if not self.bf16:
            return self.inner.render_photos(*args)
        with torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            return [r.float() for r in self.inner.render_photos(*args)]

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)


def _keypoints(pose: PoseLike, what: str) -> np.ndarray:
    kp = read_keypoints(pose) if isinstance(pose, (str, Path)) else np.asarray(pose, dtype=np.float32)
    if kp.shape != (18, 2):
        raise ValueError(f"{what} must be 18 (x, y) keypoints, got shape {kp.shape}")
    return kp
