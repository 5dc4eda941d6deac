"""`stylegram texture PAINTING... -o OUT --size N`: texture synthesis, the paper's sibling (Gatys, Ecker & Bethge,
"Texture Synthesis Using Convolutional Neural Networks", 2015): no photo; white noise optimised until its Gram
matrices at conv1_1...conv5_1 match the painting's. The main command's Job with the content weight 0, so the
pyramid, tiles, precision, progress bar, report, Ctrl-C and --resume are the same."""

from __future__ import annotations

from collections.abc import Sequence

from ..job import Job
from ..options import Options, Outputs
from .flags import PROG, Parser, add_flags, from_args, options_from_args
from .run import add_terminal_flags, finish, run_job

TEXTURE_OPTIONS = Options.texture_defaults()


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
    options = options_from_args(ns, TEXTURE_OPTIONS)  # --init content|adain refused there, in one line
    # no photo: the canvas is the first painting at --size (its aspect)
    job = Job(None, list(ns.paintings), ns.output, options, from_args(Outputs, ns))
    return finish(run_job(job, ns.quiet))
