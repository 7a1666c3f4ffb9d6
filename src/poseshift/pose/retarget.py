"""Retargeting: a pose taken from another person, redrawn with this person's own proportions.

A target pose from someone else (a second photo, the web page's gallery, a video, a keypoint
file) carries that person's build and their place and size in their picture. Rendered as it is,
the person of the photo takes them on: a knee-cropped target enlarges them, a small gallery
skeleton shrinks them. :func:`retarget` keeps what the target means, its joint angles, and takes
the rest from the photo's own pose (the *source*):

* **Directions**: each bone of :data:`~poseshift.pose.schema.LIMBS` (a tree rooted at the neck)
  points where the target's points.
* **Lengths**: each bone has the source's own length; where the source lacks one of its two
  joints, its mirror bone's (left for right); else the target's bone, scaled by the ratio of
  the two people's :func:`body_size` (neck to mid-hip; where either lacks a torso, the median
  ratio of the bones both show).
* **Foreshortening** (``foreshortening=True``, the default): a target bone drawn shorter than
  :data:`FORESHORTENED` (70%) of this person's length for it, at the target's scale, is seen at
  an angle (a side view's shoulders, an arm pointing at the camera), not a shorter bone; it keeps
  that share below 70%, ramping down continuously, so a turned person is not drawn as wide as a
  front view, along a direction the short vector barely defines. Every other bone gets the
  source's exact length; ``foreshortening=False`` gives every bone its exact length.
* **Place**, each axis on its own. Vertically, where the source and the result both show an
  ankle, the result's lower ankle goes on the source's ground line (its lower ankle): a standing
  person stays standing, and a crouch crouches on the floor instead of hanging in the air. Else,
  and horizontally always, the mid-hip (both hips) goes on the source's, else the neck, else the
  nose, else the mean of the joints both have.

Joints missing from the target stay missing, and no joint is added. A joint whose chain of bones
to the neck is broken (the target's neck is missing) is placed as the target's, scaled by the
body-size ratio. A target equal to the source comes back unchanged.

:func:`retarget_sequence` does this for a motion: one body-size ratio for the whole sequence,
and the place moves as the target's moves from its first frame (scaled), so a walk across the
room or a jump is kept.

Pure numpy; poses are ``[18, 2]`` (x, y) arrays in pixels, NaN for a missing joint.
"""
from __future__ import annotations

import numpy as np

from poseshift.pose.schema import FLIP_PERM, LIMBS, NUM_JOINTS

__all__ = ["body_size", "bone_lengths", "retarget", "retarget_sequence"]

NECK, NOSE = 1, 0
HIPS = (8, 11)
ANKLES = (10, 13)
_BONE = {bone: i for i, bone in enumerate(LIMBS)}
# MIRROR[i]: the index of bone i's mirror image (itself for the neck-nose bone).
MIRROR: tuple[int, ...] = tuple(_BONE[(FLIP_PERM[a], FLIP_PERM[b])] for a, b in LIMBS)
TORSO = (NECK, *HIPS)  # neck to mid-hip: the measure of a person's size
FORESHORTENED = 0.7  # a target bone under this share of the person's length is seen at an angle
_X_ANCHORS = ("hips", "neck", "nose")
_Y_ANCHORS = ("ground", "hips", "neck", "nose")


def _pose(kp, what: str) -> np.ndarray:
    a = np.asarray(kp, dtype=np.float64)
    if a.shape != (NUM_JOINTS, 2):
        raise ValueError(f"{what} must be {NUM_JOINTS} (x, y) keypoints, got shape {list(a.shape)}")
    a = a.copy()
    a[~np.isfinite(a).all(axis=1)] = np.nan  # a joint is present with both coordinates or missing
    return a


def _present(kp: np.ndarray, j: int) -> bool:
    return bool(np.isfinite(kp[j]).all())


def _measure(kp: np.ndarray, joints: tuple[int, ...]) -> float:
    """The torso (``joints``: neck and hips): neck to the mid-point of the hips shown, the neck from
    the shoulders where it is missing; NaN without them."""
    neck = kp[NECK] if _present(kp, NECK) else (kp[2] + kp[5]) / 2  # NaN without both shoulders
    hips = [kp[h] for h in joints[1:] if _present(kp, h)]
    return float(np.linalg.norm(neck - np.mean(hips, axis=0))) if hips else float("nan")


def body_size(kp) -> float:
    """A robust measure of a person's size in pixels: neck to mid-hip (the neck from the shoulders
    where it is missing, one hip where only one shows); NaN where there is no torso."""
    return _measure(_pose(kp, "pose"), TORSO)


def _scale(source: np.ndarray, targets: np.ndarray) -> float:
    """source size / target size: by :func:`body_size` where both show a torso (the median over a
    sequence's frames); else the median ratio of the bones both show; else 1."""
    s = _measure(source, TORSO)
    t = np.array([_measure(kp, TORSO) for kp in targets])
    t = t[np.isfinite(t) & (t > 1e-6)]
    if np.isfinite(s) and s > 1e-6 and t.size:
        return float(s / np.median(t))
    ratios = []
    for a, b in LIMBS:
        s = np.linalg.norm(source[b] - source[a])
        t = np.linalg.norm(targets[:, b] - targets[:, a], axis=1)
        t = t[np.isfinite(t) & (t > 1e-6)]
        if np.isfinite(s) and s > 1e-6 and t.size:
            ratios.append(s / np.median(t))
    return float(np.median(ratios)) if ratios else 1.0


def bone_lengths(source, target=None, scale: float = 1.0) -> np.ndarray:
    """``float64 [len(LIMBS)]``: each bone's length for a result on ``source``: the source's own,
    else its mirror bone's, else ``target``'s scaled by ``scale`` (NaN where none is known)."""
    src = _pose(source, "source pose")
    own = np.array([np.linalg.norm(src[b] - src[a]) for a, b in LIMBS])
    out = np.where(np.isfinite(own), own, own[list(MIRROR)])
    if target is not None:
        tgt = _pose(target, "target pose")
        theirs = np.array([np.linalg.norm(tgt[b] - tgt[a]) for a, b in LIMBS]) * scale
        out = np.where(np.isfinite(out), out, theirs)
    return out


def _build(target: np.ndarray, lengths: np.ndarray, scale: float, foreshortening: bool) -> np.ndarray:
    """The target's bone directions with ``lengths``, from its neck at ``scale * neck``; a joint cut
    off from the neck at ``scale *`` its own place. Only the target's joints are present."""
    out = np.full((NUM_JOINTS, 2), np.nan)
    if _present(target, NECK):
        out[NECK] = target[NECK] * scale
    for (a, b), length in zip(LIMBS, lengths):
        if not _present(target, b):
            continue
        if not (_present(target, a) and _present(out, a)):
            out[b] = target[b] * scale
            continue
        d = target[b] - target[a]
        n = float(np.linalg.norm(d))
        if not (n > 1e-9 and np.isfinite(length) and length > 0):
            out[b] = out[a] + d * scale
            continue
        share = n * scale / length  # the target's bone, at this person's scale, over their own
        if foreshortening and share < FORESHORTENED:
            length *= share / FORESHORTENED
        out[b] = out[a] + d * (length / n)
    return out


def _anchor(kp: np.ndarray, kind: str, axis: int) -> float:
    if kind == "ground":  # the lower ankle: the larger y
        ys = [kp[j, 1] for j in ANKLES if _present(kp, j)]
        return float(max(ys)) if ys else float("nan")
    if kind == "hips":
        return float((kp[HIPS[0], axis] + kp[HIPS[1], axis]) / 2)
    return float(kp[NECK if kind == "neck" else NOSE, axis])


def _references(targets: np.ndarray) -> dict[tuple[str, int], float]:
    """Each anchor's value in the first frame of ``targets`` that shows it."""
    refs: dict[tuple[str, int], float] = {}
    for axis, kinds in ((0, _X_ANCHORS), (1, _Y_ANCHORS)):
        for kind in kinds:
            for kp in targets:
                v = _anchor(kp, kind, axis)
                if np.isfinite(v):
                    refs[kind, axis] = v
                    break
    return refs


def _place(built: np.ndarray, source: np.ndarray, target: np.ndarray, refs: dict, scale: float) -> np.ndarray:
    """``built`` moved onto the source (see the module's docstring), plus the target's own move
    from its reference anchors, scaled."""
    shift = np.zeros(2)
    for axis, kinds in ((0, _X_ANCHORS), (1, _Y_ANCHORS)):
        for kind in kinds:
            s, r = _anchor(source, kind, axis), _anchor(built, kind, axis)
            if np.isfinite(s) and np.isfinite(r):
                t, t0 = _anchor(target, kind, axis), refs.get((kind, axis), np.nan)
                moved = scale * (t - t0) if np.isfinite(t) and np.isfinite(t0) else 0.0
                shift[axis] = s + moved - r
                break
        else:
            both = np.isfinite(built[:, axis]) & np.isfinite(source[:, axis])
            if both.any():  # the joints both show
                shift[axis] = source[both, axis].mean() - built[both, axis].mean()
            else:  # nothing in common: where the target was
                mine = np.isfinite(built[:, axis])
                shift[axis] = target[mine, axis].mean() - built[mine, axis].mean() if mine.any() else 0.0
    return built + shift


def retarget(target, source, reference=None, scale: float | None = None, foreshortening: bool = True
             ) -> np.ndarray:
    """``target``'s joint angles on ``source``'s body, at ``source``'s place: ``float32 [18, 2]``,
    present exactly where ``target`` is (see the module's docstring).

    ``reference``: another pose of the target's motion (its first frame): the result's place
    then moves from the source's as the target's moves from ``reference``'s, times the body-size
    ratio. ``scale``: that ratio, source / target (default: measured on these two poses).
    ``foreshortening``: bones the target shows much shorter than this person's keep that share
    (see the module's docstring)."""
    tgt, src = _pose(target, "target pose"), _pose(source, "source pose")
    if np.isfinite(src).all(axis=1).sum() < 2 or not np.isfinite(tgt).any():
        return tgt.astype(np.float32)  # no body to measure, or nothing to move
    if scale is None:
        scale = _scale(src, tgt[None])
    refs = _references((tgt if reference is None else _pose(reference, "reference pose"))[None])
    built = _build(tgt, bone_lengths(src, tgt, scale), scale, foreshortening)
    return _place(built, src, tgt, refs, scale).astype(np.float32)


def _interpolated(seq: np.ndarray) -> np.ndarray:
    """``seq`` with each joint, where a frame lacks it, interpolated between the frames that show it
    (held at the ends); frames with nobody stay empty."""
    out = seq.copy()
    idx = np.arange(len(seq))
    someone = np.isfinite(seq).all(axis=2).any(axis=1)
    for j in range(NUM_JOINTS):
        ok = np.isfinite(seq[:, j]).all(axis=1)
        if ok.any() and (someone & ~ok).any():
            for c in range(2):
                out[someone & ~ok, j, c] = np.interp(idx[someone & ~ok], idx[ok], seq[ok, j, c])
    return out


def retarget_sequence(poses, source, foreshortening: bool = True) -> np.ndarray:
    """Each frame of ``poses`` (``[T, 18, 2]``) retargeted onto ``source``: one body-size ratio for
    the whole motion (the median of its frames'), and the place moving with the motion's own
    from its first frame. The places are found on the motion with each joint a frame lacks
    interpolated from the frames around it, so that a joint hidden for a moment (a hip behind an
    arm) does not make the person jump; the joints each frame lacks stay missing in the result.
    -> ``float32 [T, 18, 2]``."""
    seq = np.asarray(poses, dtype=np.float64)
    if seq.ndim != 3 or seq.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"poses must be [T, {NUM_JOINTS}, 2] keypoints, got shape {list(seq.shape)}")
    src = _pose(source, "source pose")
    if not len(seq) or np.isfinite(src).all(axis=1).sum() < 2:
        return seq.astype(np.float32)
    seq = np.stack([_pose(kp, "pose") for kp in seq])
    full = _interpolated(seq)
    scale = _scale(src, seq)
    refs = _references(full)
    lengths = bone_lengths(src)
    out = np.full_like(seq, np.nan)
    for k, tgt in enumerate(full):
        if not np.isfinite(tgt).any():
            continue
        theirs = np.array([np.linalg.norm(tgt[b] - tgt[a]) for a, b in LIMBS]) * scale
        built = _build(tgt, np.where(np.isfinite(lengths), lengths, theirs), scale, foreshortening)
        out[k] = _place(built, src, tgt, refs, scale)
    out[~np.isfinite(seq).all(axis=2)] = np.nan  # a joint the frame lacks stays missing
    return out.astype(np.float32)
