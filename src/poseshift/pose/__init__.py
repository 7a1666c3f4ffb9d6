"""Pose: the COCO-18 schema, keypoint files, belief maps, flips, skeleton drawings, retargeting
and smoothing over time."""
from poseshift.pose.draw import draw_skeleton
from poseshift.pose.heatmaps import belief_maps, flip_keypoints, flip_maps, sigma_pixels, visible
from poseshift.pose.keypoints_io import (
    KeypointFormatError,
    read_annotations_csv,
    read_keypoints,
    read_keypoints_json,
    read_openpose_json,
    write_annotations_csv,
    write_keypoints,
    write_keypoints_json,
    write_openpose_json,
)
from poseshift.pose.retarget import body_size, retarget, retarget_sequence
from poseshift.pose.schema import (
    BODY25_TO_COCO18,
    FLIP_PERM,
    JOINTS,
    LEFT_RIGHT_PAIRS,
    LIMBS,
    NUM_JOINTS,
)

__all__ = [
    "BODY25_TO_COCO18", "FLIP_PERM", "JOINTS", "LEFT_RIGHT_PAIRS", "LIMBS", "NUM_JOINTS",
    "KeypointFormatError", "read_annotations_csv", "write_annotations_csv", "read_openpose_json",
    "write_openpose_json", "read_keypoints_json", "write_keypoints_json", "read_keypoints", "write_keypoints",
    "belief_maps", "sigma_pixels", "flip_keypoints", "flip_maps", "visible", "draw_skeleton",
    "retarget", "retarget_sequence", "body_size",
]
