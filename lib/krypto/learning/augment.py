"""Batch augmentations on uint8 images ``[B, 3, H, W]``, on their device without per-image
Python: cutout of one face part (landmarks ``[B, 10]`` in [0, 1], NaN: no cutout), horizontal flip.
"""

import torch

from krypto import constants as C

PART_POINTS = {  # the two landmarks a part's box spans
    "mouth": ("mouth_left", "mouth_right"),
    "nose": ("nose", "nose"),
    "eyes": ("left_eye", "right_eye"),
}
CUTOUT_PARTS = ("none", *PART_POINTS)
_POINT = {name: i for i, name in enumerate(C.LANDMARK_POINTS)}


def part_boxes(landmarks: torch.Tensor, part: str) -> torch.Tensor:
    """Boxes ``[B, 4]`` (x0, y0, x1, y1 in [0, 1]) around a face part: the box of its two
    points (:data:`PART_POINTS`) widened on every side by 0.3 times the eye distance."""
    if part not in PART_POINTS:
        raise ValueError(f"unknown cutout part {part!r}; choose one of {CUTOUT_PARTS}")
    pts = landmarks.view(-1, 5, 2)
    a, b = (pts[:, _POINT[name]] for name in PART_POINTS[part])
    eye_dist = (pts[:, _POINT["right_eye"]] - pts[:, _POINT["left_eye"]]).norm(dim=1)
    pad = (0.3 * eye_dist)[:, None]
    lo, hi = torch.minimum(a, b) - pad, torch.maximum(a, b) + pad
    return torch.cat([lo, hi], dim=1)


def cutout(
    images: torch.Tensor,
    landmarks: torch.Tensor,
    part: str,
    p: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Zero the box of ``part`` in each image with probability ``p`` (in place; returned)."""
    if part == "none" or p <= 0:
        return images
    b, _, h, w = images.shape
    boxes = part_boxes(landmarks.float(), part)
    chosen = (torch.rand(b, generator=generator) < p).to(images.device)
    ys = (torch.arange(h, device=images.device) + 0.5) / h
    xs = (torch.arange(w, device=images.device) + 0.5) / w
    # [B, W] and [B, H]; a NaN box (unknown landmarks) holds no pixel
    inside_x = (xs[None] >= boxes[:, 0:1]) & (xs[None] <= boxes[:, 2:3])
    inside_y = (ys[None] >= boxes[:, 1:2]) & (ys[None] <= boxes[:, 3:4])
    mask = inside_y[:, :, None] & inside_x[:, None, :] & chosen[:, None, None]
    images.masked_fill_(mask[:, None], 0)
    return images


def random_flip(
    images: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5
) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = (torch.rand(images.shape[0], generator=generator) < p).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)
