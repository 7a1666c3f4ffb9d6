"""``poseshift pose VIDEO --out FILE``: the pose of every frame of a video, one row a frame
(``frame_000000``, ...), in the annotation CSV (or ``poseshift pose`` JSON) that ``animate
--poses`` reads. The command's other work is in :mod:`poseshift.cli`."""
from __future__ import annotations

import argparse
from pathlib import Path

from poseshift.cli_files import new_output


def wants_video(inputs: list[str]) -> bool:
    """Whether ``poseshift pose`` was given a video; a video mixed with other inputs is refused."""
    from poseshift.video import is_video

    videos = [i for i in inputs if is_video(i)]
    if videos and len(inputs) > 1:
        raise ValueError(f"{videos[0]}: a video is read alone; give it as the only input of poseshift pose")
    return bool(videos)


def cmd_pose_video(args: argparse.Namespace) -> int:
    from poseshift.detect import write_detections
    from poseshift.video import frame_name, video_poses

    video = Path(args.inputs[0])
    out = new_output(args.out, args.overwrite)
    if out.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"--out {out}: poses are written as .csv or .json")
    if out.resolve() == video.resolve():
        raise ValueError(f"--out {out} is the input video")
    if args.masks:
        raise ValueError("--masks: person masks are written for photos, not for a video")
    motion = video_poses(video, max_seconds=args.max_seconds, progress=not args.quiet)
    write_detections(out, {frame_name(k): kp for k, kp in enumerate(motion.poses)})
    # frames with nobody in them were told as a warning, with their count
    print(f"wrote {out}: {len(motion.poses)} frames at {motion.fps:g} fps; animate it with --poses {out} "
          f"--fps {motion.fps:g}")
    return 0
