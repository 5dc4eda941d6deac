"""A transfer's inputs, loaded and checked once: the photo, the paintings, the mask and an init image, with the
paintings' blend weights. The optimisation (transfer.py) and the one-pass preview (preview.py) both start here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from .choices import INITS, MIN_SIZE
from .errors import StylegramError
from .images import ImageLike, load_image, resize_dims, resize_long_side, to_tensor
from .options import Options


@dataclass(frozen=True)
class Inputs:
    content: Image.Image
    styles: tuple[Image.Image, ...]
    blend: tuple[float, ...]  # the paintings' weights, summing to 1
    mask: Image.Image | None = None  # greyscale: white takes the first painting, black the second
    init: Image.Image | None = None  # an --init PATH image

    @classmethod
    def load(cls, content: ImageLike, style: ImageLike | Sequence[ImageLike], opts: Options) -> Inputs:
        """Every input decoded (bombs and non-images refused in one line) and checked against the options."""
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = tuple(opts.blend_weights(len(styles)))
        inputs = cls(load_image(content, "content", opts.max_pixels),
                     tuple(load_image(s, f"style {k + 1}" if len(styles) > 1 else "style", opts.max_pixels)
                           for k, s in enumerate(styles)), blend,
                     load_image(opts.mask, "mask", opts.max_pixels).convert("L") if opts.mask else None,
                     load_image(opts.init, "init", opts.max_pixels) if opts.init not in INITS else None)
        inputs.check_sizes(opts)
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
        if self.mask is None:
            return None
        return to_tensor(self.mask.resize(size, Image.Resampling.BILINEAR))[:, :1].to(device)
