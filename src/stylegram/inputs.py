"""A transfer's inputs, loaded and checked once: the photo, the paintings, the mask and an init image, with the
paintings' blend weights and their transparency. The optimisation (transfer.py) and the one-pass preview
(preview.py) both start here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from .choices import INITS, MIN_SIZE
from .errors import StylegramError
from .images import ImageLike, load_image, periodic, resize_dims, resize_long_side, split_alpha, to_tensor
from .options import Options

MASK_WRAP = 0.1  # --seamless --mask: the most the mask's opposite edges may differ on average (0..1)


@dataclass(frozen=True)
class Inputs:
    content: Image.Image  # RGB; with --texture, the first painting (the canvas)
    styles: tuple[Image.Image, ...]
    blend: tuple[float, ...]  # the paintings' weights, summing to 1
    mask: Image.Image | None = None  # greyscale: white takes the first painting, black the second
    init: Image.Image | None = None  # an --init PATH image
    alpha: Image.Image | None = None  # the photo's transparency (--alpha keep): the output's alpha, the style's weight
    style_alphas: tuple[Image.Image | None, ...] = ()  # each painting's: only its opaque pixels make its Grams

    @classmethod
    def load(cls, content: ImageLike | None, style: ImageLike | Sequence[ImageLike], opts: Options) -> Inputs:
        """Every input decoded (bombs and non-images refused in one line) and checked against the options."""
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = tuple(opts.blend_weights(len(styles)))
        paintings = [read_input(s, f"style {k + 1}" if len(styles) > 1 else "style", opts.max_pixels,
                                opts.alpha == "keep") for k, s in enumerate(styles)]
        if opts.texture:
            photo, alpha = paintings[0][0], None  # the canvas: the first painting's size, opaque
        elif content is None:
            raise StylegramError("content: a photo is needed (or `stylegram texture`, to grow a texture with none)")
        else:
            photo, alpha = read_input(content, "content", opts.max_pixels, opts.alpha == "keep")
        inputs = cls(photo, tuple(p for p, _ in paintings), blend,
                     load_image(opts.mask, "mask", opts.max_pixels).convert("L") if opts.mask else None,
                     load_image(opts.init, "init", opts.max_pixels) if opts.init not in INITS else None,
                     alpha, tuple(a for _, a in paintings))
        inputs.check_sizes(opts)
        if opts.seamless and inputs.mask is not None:
            check_wraps(inputs.mask)
        return inputs

    def check_sizes(self, opts: Options) -> None:
        """Refuse an input whose short side would fall below MIN_SIZE at its working size."""
        for what, img, long_side in [("content", self.content, opts.size)] + [
                (f"style {k + 1}", s, round(opts.size * opts.style_scale)) for k, s in enumerate(self.styles)]:
            sw, sh = resize_dims(img.size, long_side)
            if min(sw, sh) < MIN_SIZE:
                raise StylegramError(
                    f"{what}: a {img.width}x{img.height} image becomes {sw}x{sh} at long side {long_side}; its "
                    f"short side must be at least {MIN_SIZE} px (aspect ratio up to {long_side // MIN_SIZE}:1 here)")

    def at(self, size: int, style_scale: float = 1.0) -> tuple[Image.Image, tuple[Image.Image, ...]]:
        """The photo at long side `size`, the paintings at size x style_scale."""
        style_long = max(1, round(size * style_scale))
        return resize_long_side(self.content, size), tuple(resize_long_side(s, style_long) for s in self.styles)

    def mask_at(self, size: tuple[int, int], device: torch.device) -> torch.Tensor | None:
        """The mask as a (1, 1, H, W) tensor at the photo's size, or None."""
        return _tensor_at(self.mask, size, device)

    def alpha_at(self, size: tuple[int, int], device: torch.device, alpha: Image.Image | None = None
                 ) -> torch.Tensor | None:
        """The photo's alpha (or a painting's, `alpha`) as a (1, 1, H, W) tensor of `size`, or None if opaque."""
        return _tensor_at(self.alpha if alpha is None else alpha, size, device)

    def photo_at(self, photo: Image.Image, device: torch.device, seamless: bool) -> torch.Tensor:
        """The photo (at a scale's size) as a tensor; with --seamless its periodic component, whose edges meet, so
        neither the content term nor the one-pass picture asks for the photo's own seam."""
        p = to_tensor(photo).to(device)
        return periodic(p) if seamless else p


def _tensor_at(img: Image.Image | None, size: tuple[int, int], device: torch.device) -> torch.Tensor | None:
    """A greyscale image (mask, alpha) as a (1, 1, H, W) tensor of `size`, or None."""
    if img is None:
        return None
    return to_tensor(img.resize(size, Image.Resampling.BILINEAR))[:, :1].to(device)


def read_input(source: ImageLike, what: str, max_pixels: int, keep_alpha: bool = True
               ) -> tuple[Image.Image, Image.Image | None]:
    """A photo or painting as RGB and its alpha (None: opaque, or not kept); an all-transparent one refused."""
    rgb, alpha = split_alpha(load_image(source, what, max_pixels, alpha=keep_alpha))
    if alpha is not None and alpha.getextrema()[1] == 0:
        purpose = "paint" if what == "content" else "learn from"
        raise StylegramError(f"{what}: every pixel is transparent: nothing to {purpose} (or --alpha flatten)")
    return rgb, alpha


def check_wraps(mask: Image.Image) -> None:
    """--seamless --mask: the mask's regions must meet across the wrap (its left edge like its right, top like
    bottom), or a region would end in a seam."""
    m = to_tensor(mask)[0, 0]
    gaps = {"left and right": (m[:, 0] - m[:, -1]).abs().mean(), "top and bottom": (m[0] - m[-1]).abs().mean()}
    for edges, gap in gaps.items():
        if gap > MASK_WRAP:
            raise StylegramError(f"--seamless --mask: the mask's {edges} edges differ by {float(gap):.2f} on average "
                                 f"(at most {MASK_WRAP}), so its regions cannot meet across the wrap; make them match "
                                 "or drop --seamless")
