"""The quality benchmark's speckle measure (benchmarks/scoring.py) tells dots from strokes and from flat."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
scoring = pytest.importorskip("scoring")


def _image(pattern: np.ndarray) -> torch.Tensor:
    rgb = np.stack([0.8 * pattern, 0.5 * pattern, 0.3 * pattern], 0) + 0.1
    return torch.from_numpy(rgb.astype(np.float32))[None]


def test_speckle_scores_dots_far_above_strokes_and_flat() -> None:
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float32)
    photo = torch.full((1, 3, 128, 128), 0.5)  # flat everywhere: the whole image is measured
    dots = 0.5 + 0.25 * np.cos(2 * np.pi * xx / 8) * np.cos(2 * np.pi * yy / 8)
    strokes = 0.5 + 0.25 * np.cos(2 * np.pi * (yy + 0.2 * xx) / 8)
    flat = np.full_like(xx, 0.5)
    s_dots, s_strokes, s_flat = (scoring.speckle(_image(p), photo) for p in (dots, strokes, flat))
    assert s_dots > 3 * s_strokes
    assert s_flat < 1e-6 < s_strokes


def test_speckle_looks_only_where_the_photo_is_flat() -> None:
    yy, xx = np.mgrid[0:128, 0:128].astype(np.float32)
    dots = 0.5 + 0.25 * np.cos(2 * np.pi * xx / 8) * np.cos(2 * np.pi * yy / 8)
    out = _image(np.where(xx < 64, dots, 0.5))  # dots on the left half only
    busy = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    photo_left_busy = torch.where(torch.from_numpy(xx < 64), busy, torch.full_like(busy, 0.5))
    photo_right_busy = torch.where(torch.from_numpy(xx >= 64), busy, torch.full_like(busy, 0.5))
    assert scoring.speckle(out, photo_left_busy) < 0.2 * scoring.speckle(out, photo_right_busy)
