"""`stylegram reproduce WHAT --out DIR`: one of the paper's figures (see stylegram.paper.reproduce)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from ..options import Options
from ..paper.reproduce import DEFAULTS, WHATS, reproduce
from .flags import PROG, Parser, add_flags, options_from_args


def main(argv: Sequence[str]) -> int:
    p = Parser(prog=f"{PROG} reproduce", description="Render one of the paper's figures.")
    p.add_argument("what", choices=WHATS, help="which figure")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the figure, cells and results.json")
    p.add_argument("--content", metavar="PATH", help="the photo (default: the bundled astronaut; the paper: Tuebingen)")
    p.add_argument("--styles", nargs="+", default=[], metavar="PATH",
                   help="paintings (default: the bundled procedural paintings); fig2 uses all, others the first")
    p.add_argument("--resume", action="store_true", help="skip cells already in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_flags(p, Options, skip=("seamless", "alpha"))  # the paper's figures have neither
    ns = p.parse_args(list(argv))
    size, iterations = getattr(ns, "size", None), getattr(ns, "iterations", None)
    base = options_from_args(ns, Options.paper(scales=DEFAULTS[ns.what][2], precision="auto"))
    t0 = time.perf_counter()
    bar = tqdm(desc=ns.what, unit="cell", disable=ns.quiet)

    def on_cell(done: int, total: int) -> None:
        bar.total = total
        bar.update(1)

    try:
        fig = reproduce(ns.what, ns.out, ns.content, ns.styles, size, iterations, ns.resume, base, on_cell)
    finally:
        bar.close()
    print(f"wrote {fig} and {Path(ns.out) / 'results.json'} ({time.perf_counter() - t0:.0f} s)")
    return 0
