"""`stylegram batch CONTENT... --style STYLE... -o OUTDIR`: every photo in every painting's style (or the rows
of --pairs), resumable, on worker processes here or on a Ray cluster."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from ..batch.items import MANIFEST, plan
from ..batch.run import run_batch
from ..errors import StylegramError
from ..files import check_writable, same_file
from ..job import Interrupts
from ..options import Options
from ..parsers import integer
from .flags import PROG, Parser, add_flags, options_from_args
from .workers import add_pool_flags, bar_events, check_workers, open_pool


def build_parser() -> Parser:
    p = Parser(prog=f"{PROG} batch", description="Paint many photos in the style of many paintings; re-running "
               "the same command skips what is done.")
    p.add_argument("contents", nargs="*", metavar="CONTENT", help="photos: files, folders or globs")
    p.add_argument("--style", nargs="+", default=[], metavar="STYLE", help="paintings: files, folders or globs")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help=f"where <content>__<style>[__<options id>].png, its report and {MANIFEST} go (other "
                   "options, other files: nothing is painted over)")
    p.add_argument("--pairs", metavar="FILE.csv", help="rows of content,style[,option columns] instead of every "
                   "content x every style")
    add_pool_flags(p, "items")
    p.add_argument("--retries", type=integer, default=2, metavar="N",
                   help="tries again after a crash (not after a bad input; default: 2)")
    p.add_argument("--overwrite", action="store_true", help="paint again what is done (with the same options)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_flags(p, Options)
    return p


def main(argv: Sequence[str]) -> int:
    ns = build_parser().parse_args(list(argv))
    options = options_from_args(ns)
    check_workers(ns)
    if ns.retries < 0:
        raise StylegramError(f"--retries must be >= 0, got {ns.retries}")
    items = plan(ns.contents, ns.style, options, ns.pairs)
    out = Path(ns.output)
    check_writable(out / MANIFEST)
    for item in items:
        for given in (item.content, item.style):
            if same_file(out / item.name, given):
                raise StylegramError(f"output {out / item.name} is also an input; choose another OUTDIR")
    pool = open_pool(ns, use_gpu=options.device != "cpu")
    bar = tqdm(total=len(items), desc=f"{PROG} batch", unit="item", disable=ns.quiet)

    with Interrupts() as interrupts:
        summary = run_batch(items, out, pool, ns.retries, bar_events(bar),
                            stop=lambda: interrupts.signal is not None, overwrite=ns.overwrite)
    bar.close()
    parts = [f"{len(summary.done)} done", f"{len(summary.skipped)} already done", f"{len(summary.failed)} failed"]
    if summary.pending:
        parts.append(f"{len(summary.pending)} not started or stopped (the same command continues)")
    print(f"{PROG} batch: {', '.join(parts)} in {summary.seconds:.0f} s; see {out / MANIFEST}", file=sys.stderr)
    for name, error in summary.failed.items():
        print(f"  {name}: {error}", file=sys.stderr)
    if interrupts.signal is not None:
        return interrupts.exit_status
    return 1 if summary.failed else 0
