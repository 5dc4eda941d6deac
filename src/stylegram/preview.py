"""`stylegram preview`: the one-pass AdaIN picture (adain.py) of a photo in a painting's style, from the same inputs,
options and checks as a transfer, in well under a second at 512 px where a transfer takes a minute."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from .adain import AdaIN, adain_core
from .color import ColorControl
from .errors import StylegramError
from .hardware import resolve_device, resolve_precision
from .images import ImageLike, to_image, with_alpha
from .inputs import Inputs
from .options import Options


@dataclass
class Preview:
    image: Image.Image
    seconds: float  # the picture itself: encode, AdaIN, decode (not loading the files or the weights)
    tiles: int | None  # the tile core when it was painted in tiles


def preview(content: ImageLike, style: ImageLike | Sequence[ImageLike], options: Options | None = None) -> Preview:
    """The AdaIN picture at options.size, with --style-blend, --mask, --preserve-color, --strength, --style-scale,
    --seamless (whole pictures; tiles are decoded as a plain image's) and the photo's alpha."""
    opts = options or Options()
    if opts.weights != "bundled":
        raise StylegramError(f"preview needs --weights bundled: AdaIN's decoder fits only the normalised VGG-19 it "
                             f"was trained with, not {opts.weights}")
    inputs = Inputs.load(content, style, opts)
    device = resolve_device(opts.device)
    model = AdaIN(device, resolve_precision(opts.precision, device), wrap=opts.seamless)
    photo, paintings = inputs.at(opts.size, opts.style_scale)
    color = ColorControl(opts.preserve_color)
    core = adain_core(photo.size, device, opts)
    t0 = time.perf_counter()
    p_rgb = inputs.photo_at(photo, device, opts.seamless)
    x = model.picture(p_rgb, paintings, color, inputs.blend, opts.strength, inputs.mask_at(photo.size, device), core)
    image = with_alpha(to_image(color.picture(x, p_rgb)), inputs.alpha)  # the photo's transparency kept
    return Preview(image, time.perf_counter() - t0, core)
