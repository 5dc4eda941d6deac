"""Pieces of an image and the statistics they add up: the whole image is one piece, a tiled scale many. With
`--seamless` the image is a torus: a piece's window may run over an edge and go on at the opposite one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

Stats = dict[str, Any]  # a term's statistics: tensors and counts, possibly nested by layer; they add up over pieces


@dataclass(frozen=True)
class Piece:
    """A part of an h x w image: its core (y0:y1, x0:x1), whose statistics it adds, and the window around the core
    that it is computed in (context for the network's receptive field). The cores of a tiled scale partition the
    image; the whole image is one piece whose window is its core. On a torus (`wrap`) the window's bounds may lie
    outside 0..h and 0..w: they are read modulo the image's size."""

    y0: int
    y1: int
    x0: int
    x1: int
    wy0: int
    wy1: int
    wx0: int
    wx1: int
    h: int
    w: int
    wrap: bool = False

    @classmethod
    def whole(cls, x: torch.Tensor, wrap: bool = False) -> Piece:
        return cls.of_size(*x.shape[-2:], wrap=wrap)

    @classmethod
    def of_size(cls, h: int, w: int, wrap: bool = False) -> Piece:
        """The whole h x w image as one piece: core and window are all of it."""
        return cls(0, h, 0, w, 0, h, 0, w, h, w, wrap)

    @property
    def outside(self) -> bool:
        """Whether the window runs over an edge of the torus."""
        return self.wy0 < 0 or self.wx0 < 0 or self.wy1 > self.h or self.wx1 > self.w

    def _index(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.arange(self.wy0, self.wy1, device=device) % self.h
        cols = torch.arange(self.wx0, self.wx1, device=device) % self.w
        return rows[:, None], cols[None, :]

    def window(self, image: torch.Tensor) -> torch.Tensor:
        """An image-sized tensor cut to this piece's window (a copy where it wraps, else a view)."""
        if self.outside:
            rows, cols = self._index(image.device)
            return image[..., rows, cols]
        return image[..., self.wy0:self.wy1, self.wx0:self.wx1]

    def blend_into(self, image: torch.Tensor, values: torch.Tensor, weight: torch.Tensor) -> None:
        """image's window <- (1 - weight) * window + weight * values, in place (through the wrap on a torus)."""
        if self.outside:
            rows, cols = self._index(image.device)
            image[..., rows, cols] = image[..., rows, cols] * (1 - weight) + values * weight
        else:
            self.window(image).mul_(1 - weight).add_(values * weight)

    def core(self, t: torch.Tensor, k: int = 1) -> torch.Tensor:
        """A tensor of the whole image at 1/k of its size (a layer's responses, a target) cut to the core."""
        return t[..., self.y0 // k:math.ceil(self.y1 / k), self.x0 // k:math.ceil(self.x1 / k)]

    def core_of_window(self, t: torch.Tensor, k: int = 1) -> torch.Tensor:
        """A tensor of the window at 1/k (the window's responses, x itself) cut to the core."""
        return t[..., (self.y0 - self.wy0) // k:math.ceil((self.y1 - self.wy0) / k),
                 (self.x0 - self.wx0) // k:math.ceil((self.x1 - self.wx0) / k)]


def add(a: Stats | None, b: Stats, sign: int = 1) -> Stats:
    """a + b (or a - b), key by key, through nested dicts; a None is zero."""
    if a is None:
        return b if sign == 1 else {k: (add(None, v, -1) if isinstance(v, dict) else -v) for k, v in b.items()}
    return {k: add(a[k], v, sign) if isinstance(v, dict) else a[k] + sign * v for k, v in b.items()}


def detached(s: Stats) -> Stats:
    return {k: detached(v) if isinstance(v, dict) else v.detach() if torch.is_tensor(v) else v
            for k, v in s.items()}
