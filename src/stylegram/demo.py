"""`stylegram demo`: the astronaut photo in the style of the bundled procedural painting.

Sized to finish in under two minutes on a 2-core CPU; every option flag still works on top of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .cli import (
    PROG,
    _Parser,
    add_option_flags,
    add_output_flags,
    check_output,
    finish,
    options_from_args,
    run_transfer,
)
from .images import save_image
from .options import Options
from .samples import procedural_painting, sample_photo

# Starting from the photo (in the painting's colours, not noise) is what makes so few iterations enough.
DEMO_OPTIONS = Options(size=256, iterations=50)


def main(argv: Sequence[str]) -> int:
    p = _Parser(prog=f"{PROG} demo", description="Stylize the bundled sample photo with the bundled painting.")
    p.add_argument("-o", "--output", default="out/demo.png", help="output image (default: out/demo.png)")
    add_option_flags(p, skip=("init",))
    add_output_flags(p)
    ns = p.parse_args(list(argv))
    options = options_from_args(ns, DEMO_OPTIONS)
    check_output(ns.output, [])
    out = Path(ns.output)
    content, style = sample_photo(), procedural_painting()
    # Show the user the two inputs beside the result.
    save_image(content, out.with_name(f"{out.stem}-content.png"))
    save_image(style, out.with_name(f"{out.stem}-style.png"))
    data = run_transfer(content, style, ns.output, options, print_every=ns.print_every,
                        save_every=ns.save_every, report=ns.report, quiet=ns.quiet)
    if "interrupted" in data:
        return finish(data)
    print(f"wrote {data['output']} ({data['seconds']:.1f} s); inputs beside it as "
          f"{out.stem}-content.png and {out.stem}-style.png")
    return 0
