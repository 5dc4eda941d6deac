"""`stylegram demo`: the astronaut photo in the style of the bundled procedural painting.

Sized to finish in under two minutes on a 2-core CPU; every option flag still works on top of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..images import save_image
from ..job import Job
from ..options import Options, Outputs
from ..preview import preview
from ..samples import procedural_painting, sample_photo
from .flags import PROG, Parser, add_flags, from_args, options_from_args
from .run import add_terminal_flags, finish, run_job

# Starting from the photo (in the painting's colours, not noise) is what makes so few iterations enough.
DEMO_OPTIONS = Options(size=256, iterations=50)


def main(argv: Sequence[str]) -> int:
    p = Parser(prog=f"{PROG} demo", description="Stylize the bundled sample photo with the bundled painting.")
    p.add_argument("-o", "--output", default="out/demo.png", help="output image (default: out/demo.png)")
    add_flags(p, Options, skip=("init",), base=DEMO_OPTIONS)
    add_terminal_flags(p)
    ns = p.parse_args(list(argv))
    out = Path(ns.output)
    content, style = sample_photo(), procedural_painting()
    job = Job(content, [style], ns.output, options_from_args(ns, DEMO_OPTIONS), from_args(Outputs, ns))
    job.check()  # before the inputs are written beside the output
    # Show the user the two inputs and the one-pass preview beside the result.
    save_image(content, out.with_name(f"{out.stem}-content.png"))
    save_image(style, out.with_name(f"{out.stem}-style.png"))
    quick = preview(content, [style], job.options)
    save_image(quick.image, out.with_name(f"{out.stem}-preview.png"))
    result = run_job(job, ns.quiet)
    if result.interrupted:
        return finish(result)
    print(f"wrote {result.output} ({result.seconds:.1f} s); beside it the inputs ({out.stem}-content.png, "
          f"{out.stem}-style.png) and the one-pass preview ({out.stem}-preview.png, {quick.seconds:.1f} s)")
    return 0
