"""Colour control of Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer").

- luminance: transfer on luminance only. Y of YIQ (the NTSC weights, as in the 2017 paper); the style's Y is
  first matched to the content's mean and standard deviation; the result keeps the content's I and Q.
- histogram: recolour the style so its RGB mean and covariance equal the content's, by the linear map
  x' = Sigma_c^(1/2) Sigma_s^(-1/2) (x - mu_s) + mu_c, with the *symmetric* (eigen-decomposition) square root.
  The Cholesky root would do as well for the covariance, but it depends on the order of the channels and
  rotates colours needlessly; the symmetric root gives the map closest to the identity, so hues move least.
All functions work on tensors (B, 3, H, W) in [0, 1]. `ColorControl` is the one place a transfer asks about
colour: what the network sees of the photo and of the paintings before, and the picture the user gets after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_RGB_TO_YIQ = torch.tensor([
    [0.299, 0.587, 0.114],
    [0.595716, -0.274453, -0.321263],
    [0.211456, -0.522591, 0.311135],
], dtype=torch.float64)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(x.dtype).to(x.device), x)


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB_TO_YIQ, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    return _apply(_YIQ_TO_RGB, x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Y as a grey RGB image (the network expects three channels)."""
    return rgb_to_yiq(x)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance as grey RGB, shifted and scaled to the content's luminance mean and std."""
    ys, yc = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    y = (ys - ys.mean()) / ys.std().clamp_min(1e-6) * yc.std() + yc.mean()
    return y.expand(-1, 3, -1, -1).contiguous()


def with_content_chroma(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The result's luminance with the content's I and Q: the colours of the photo, the strokes of the style."""
    yiq = rgb_to_yiq(content.to(result.dtype))
    yiq[:, :1] = rgb_to_yiq(result)[:, :1]
    return yiq_to_rgb(yiq)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    d = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag(d) @ vecs.T


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = x[0].reshape(3, -1).double()
    mu = pixels.mean(1, keepdim=True)
    centred = pixels - mu
    return mu, centred @ centred.T / pixels.shape[1]


def match_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style recoloured so its colour mean and covariance equal the content's (not clamped: exact)."""
    mu_s, cov_s = _stats(style)
    mu_c, cov_c = _stats(content)
    A = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    pixels = style[0].reshape(3, -1).double()
    out = A @ (pixels - mu_s) + mu_c
    return out.reshape(style.shape).to(style.dtype)


@dataclass(frozen=True)
class ColorControl:
    """--preserve-color as steps before the transfer (photo, paintings, start image) and after it (the picture)."""

    mode: str = "none"

    def photo(self, rgb: torch.Tensor) -> torch.Tensor:
        """What the content loss sees of the photo, or of any finished image: with luminance, its Y as grey."""
        return luminance(rgb) if self.mode == "luminance" else rgb

    def painting(self, a: torch.Tensor, photo_rgb: torch.Tensor) -> torch.Tensor:
        """The painting as the style loss sees it: recoloured to the photo (histogram) or its luminance matched."""
        if self.mode == "histogram":
            return match_histogram(a, photo_rgb)
        if self.mode == "luminance":
            return match_luminance(a, photo_rgb)
        return a

    def palette(self, p: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The palette start: the photo in the painting's colours, or the photo itself when its colours are kept."""
        return p.clone() if self.mode != "none" else match_histogram(p, a).clamp(0, 1)

    def picture(self, x: torch.Tensor, photo_rgb: torch.Tensor) -> torch.Tensor:
        """x as the user gets it: with luminance, the photo's chroma restored."""
        if self.mode == "luminance":
            return with_content_chroma(x.detach().clamp(0, 1), photo_rgb)
        return x
