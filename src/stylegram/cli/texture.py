"""`stylegram texture PAINTING... -o OUT --size N`: texture synthesis, the paper's sibling (Gatys, Ecker & Bethge,
"Texture Synthesis Using Convolutional Neural Networks", 2015): no photo; white noise optimised until its Gram
matrices at conv1_1...conv5_1 match the painting's. The main command's Job with the content weight 0, so the
pyramid, tiles, precision, progress bar, report, Ctrl-C and --resume are the same."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import StylegramError
from ..job import Job
from ..options import Options, Outputs
from .flags import PROG, Parser, add_flags, from_args, options_from_args
from .run import add_terminal_flags, finish, run_job

# No photo: nothing for the content term (alpha = 0) and no photo to start from, so white noise, as the paper.
# One scale: at a coarse scale's 64 px, conv5_1 sees the whole canvas and matching its Gram matrix redraws the
# source's layout (docs/texture.md shows it), so the texture grows at its own size, as in the paper. Eq. 4 as
# normalised ("mean"): "balanced" divides each layer by the photo's own E_l, and here the canvas is the painting.
TEXTURE_OPTIONS = Options(content_weight=0.0, init="noise", scales=1, normalization="mean")
NEED_A_PHOTO = ("content", "palette", "adain")  # starts made from the photo


def build_parser() -> Parser:
    p = Parser(prog=f"{PROG} texture", description="Grow a new texture from a painting (or a photo of a surface): "
               "no photo to paint, the painting's style statistics from white noise.")
    p.add_argument("paintings", nargs="+", metavar="PAINTING", help="the source texture; several are blended")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    add_flags(p, Options, skip=("content_weight", "content_layers", "preserve_color", "mask"), base=TEXTURE_OPTIONS)
    add_terminal_flags(p)
    return p


def main(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    options = options_from_args(ns, TEXTURE_OPTIONS)
    if options.init in NEED_A_PHOTO:
        raise StylegramError(f"texture: --init {options.init} starts from a photo, and a texture has none: use "
                             "noise, style or an image file")
    # The canvas is the first painting at --size (its aspect); with alpha = 0 only its size counts.
    job = Job(ns.paintings[0], list(ns.paintings), ns.output, options, from_args(Outputs, ns))
    return finish(run_job(job, ns.quiet))
