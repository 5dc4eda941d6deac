"""Optical flow for video (Ruder, Dosovitskiy & Brox 2016): DIS flow from OpenCV, warping, and the mask of
pixels where the flow can be trusted (forward-backward consistency, no motion boundary)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

MISMATCH = 0.1  # mean absolute difference ([0, 1] units) above which a warped input pixel is not the same point


def optical_flow(a: Image.Image, b: Image.Image) -> np.ndarray:
    """Flow (H, W, 2) in pixels such that a(x) ~ b(x + flow(x)): DIS, no weights to download."""
    import cv2  # optional: the video extra

    grey = [np.asarray(img.convert("L"), dtype=np.uint8) for img in (a, b)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(grey[0], grey[1], None)


def sources(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) in pixels of the point each pixel came from, for a flow (H, W, 2)."""
    h, w = flow.shape[:2]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                            torch.arange(w, dtype=flow.dtype, device=flow.device), indexing="ij")
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(x: torch.Tensor, flow: np.ndarray) -> torch.Tensor:
    """x (B, C, H, W) sampled at position + flow: the image that `flow` says each pixel came from."""
    h, w = x.shape[-2:]
    sx, sy = sources(torch.as_tensor(flow, dtype=x.dtype, device=x.device))
    gx = sx / max(w - 1, 1) * 2 - 1  # grid_sample's [-1, 1], align_corners=True
    gy = sy / max(h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], -1).unsqueeze(0).expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def reliable(backward: np.ndarray, forward: np.ndarray, frame: torch.Tensor | None = None,
             previous: torch.Tensor | None = None) -> torch.Tensor:
    """Ruder et al.'s weights c (1, 1, H, W): 0 where frame t's pixel was occluded in t-1 (the backward flow
    t -> t-1 and the forward flow t-1 -> t do not cancel), came from outside t-1's frame (a pan's new edge: the
    warp would smear the border into it) or lies on a motion boundary, else 1.

    Given the input frames (t and t-1, [0, 1]), also 0 where frame t-1 warped does not look like frame t (what
    a smooth flow dragged across an object's edge), and the unreliable region grows by a pixel.
    """
    b = torch.as_tensor(backward).permute(2, 0, 1).unsqueeze(0).float()
    f = torch.as_tensor(forward).permute(2, 0, 1).unsqueeze(0).float()
    f_at = warp(f, backward)  # the forward flow at the point each pixel came from
    bad = ((b + f_at) ** 2).sum(1) > 0.01 * ((b ** 2).sum(1) + (f_at ** 2).sum(1)) + 0.5
    h, w = b.shape[-2:]
    sx, sy = sources(b[0].permute(1, 2, 0))  # where each pixel was in t-1: outside the frame, newly in view
    bad |= ((sx < 0) | (sx > w - 1) | (sy < 0) | (sy > h - 1)).unsqueeze(0)
    gy, gx = torch.gradient(b[0], dim=(1, 2))
    bad |= (gx ** 2 + gy ** 2).sum(0, keepdim=True) > 0.01 * (b ** 2).sum(1) + 0.002  # motion boundary
    if frame is not None and previous is not None:
        bad |= (frame.float() - warp(previous.float(), backward)).abs().mean(1).cpu() > MISMATCH
        bad = F.max_pool2d(bad.float().unsqueeze(1), 3, 1, 1).squeeze(1) > 0
    return (~bad).float().unsqueeze(1)
