"""`stylegram preview PHOTO PAINTING... -o OUT`: the one-pass AdaIN picture (see stylegram.preview)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import psutil

from ..files import check_writable
from ..images import output_format, save_image
from ..options import Options
from .flags import PROG, Parser, add_flags, options_from_args

# The settings that change a one-pass picture; the optimisation's own (iterations, weights of the loss, ...) do not.
FIELDS = ("size", "style_scale", "preserve_color", "style_blend", "mask", "strength", "device", "precision",
          "max_memory", "tile", "weights", "max_pixels", "alpha", "seamless")


def build_parser() -> Parser:
    p = Parser(prog=f"{PROG} preview", description="Paint a photo in a painting's style in one pass (AdaIN, Huang & "
               "Belongie 2017): a picture in about a second, to choose a painting before the full transfer.")
    p.add_argument("content", help="the photo")
    p.add_argument("style", nargs="+", help="the painting; several are blended (--style-blend) or placed (--mask)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    add_flags(p, Options, skip=[f for f in Options.__dataclass_fields__ if f not in FIELDS])
    return p


def main(argv: Sequence[str]) -> int:
    from ..preview import preview  # torch only once the arguments are good

    ns = build_parser().parse_args(list(argv))
    options = options_from_args(ns)
    output_format(ns.output)
    check_writable(ns.output, [ns.content, *ns.style, *([options.mask] if options.mask else [])])
    result = preview(ns.content, ns.style, options)
    save_image(result.image, ns.output)
    started = time.time() - psutil.Process().create_time()
    tiles = f", in {result.tiles} px tiles" if result.tiles else ""
    print(f"wrote {ns.output} ({result.seconds:.2f} s for the picture{tiles}; {started:.1f} s since the process "
          "started)")
    return 0
