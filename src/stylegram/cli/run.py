"""`stylegram CONTENT STYLE -o OUT [options]` and `stylegram --resume CKPT`: a Job with a progress bar."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from typing import Any

from tqdm import tqdm

from ..job import Job, Result, load_checkpoint
from ..options import Options, Outputs
from ..transfer import Iterate
from ..version import __version__
from .flags import PROG, Parser, add_flags, from_args, options_from_args


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Paint a photo in the style of a painting (Gatys, Ecker & Bethge 2015). "
        "Also: `stylegram demo` (bundled images) and `stylegram reproduce WHAT` (the paper's figures).",
    )
    p.add_argument("content", help="the photo (any image Pillow reads)")
    p.add_argument("style", nargs="+", help="the painting; several are blended (--style-blend) or placed (--mask)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    add_flags(p, Options)
    p.add_argument("--original-colors", dest="preserve_color", action="store_const", const="luminance",
                   default=argparse.SUPPRESS, help="alias of --preserve-color luminance")
    p.add_argument("--paper", action="store_true", help="start from the paper's configuration (Options.paper(): "
                   "white noise, one scale, 500 iterations, fp32, eq. 5 as written, average pooling); other flags "
                   "still apply on top")
    add_terminal_flags(p)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def add_terminal_flags(p: argparse.ArgumentParser) -> None:
    """The side files (Outputs) and --quiet."""
    add_flags(p, Outputs)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


ENDED = {"converged": "converged (--tol)", "iterations": "reached --iterations", "tiles": "visited every tile"}


class ProgressBar:
    """The job's on_iterate for a terminal: a tqdm bar, and a line every --print-every iterations. The bar
    appears at the first iteration, so an error in the inputs is the only line on stderr. Its total shrinks when
    --tol ends a scale early (so a finished run ends at 100 %), and a line says why each scale ended."""

    def __init__(self, job: Job, quiet: bool) -> None:
        self.job, self.quiet = job, quiet
        self.sizes = job.options.scale_sizes()
        self.bar: tqdm | None = None

    def __call__(self, it: Iterate) -> None:
        if self.bar is None:
            self.bar = tqdm(total=it.iterations, initial=len(self.job.trace) - 1, desc=PROG, unit="it",
                            disable=self.quiet, dynamic_ncols=True)
        loss, every = it.losses, self.job.outputs.print_every
        self.bar.total = it.iterations
        self.bar.update(1)
        tile = {"tile": f"{it.tile[0]}/{it.tile[1]}"} if it.tile else {}
        self.bar.set_postfix(**tile, content=f"{loss.content:.3g}", style=f"{loss.style:.3g}",
                             total=f"{loss.total:.4g}", refresh=False)
        if every and it.iteration % every == 0:
            self.bar.write(f"iteration {it.iteration}/{it.iterations}: content {loss.content:.4g} "
                           f"style {loss.style:.4g} total {loss.total:.4g} ({it.seconds:.1f} s)")
        if it.ended and not self.quiet:
            self.bar.write(f"scale {it.scale + 1}/{len(self.sizes)} ({self.sizes[it.scale]} px): "
                           f"{ENDED.get(it.ended, it.ended)} at step {it.iteration}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _on_signal(signum: int) -> None:
    print(f"\n{PROG}: {signal.Signals(signum).name}: saving after this iteration (Ctrl-C again to abort)",
          file=sys.stderr, flush=True)


def run_job(job: Job, quiet: bool = False, resume: Any = None) -> Result:
    """Run a job in the terminal: the bar appears with the first iteration, after Job.run's checks."""
    bar = ProgressBar(job, quiet)
    try:
        return job.run(bar, resume=resume, on_signal=_on_signal)
    finally:
        bar.close()


def finish(result: Result) -> int:
    """Tell the user how a run ended; the exit status."""
    if result.interrupted:
        how = (f" and {result.checkpoint}; continue with: {PROG} --resume {shlex.quote(result.checkpoint)}"
               if result.checkpoint else "")
        print(f"{PROG}: {result.interrupted}: saved {result.output}{how}", file=sys.stderr)
        return result.exit_status
    print(f"wrote {result.output} ({result.seconds:.1f} s)")
    return 0


def transfer_main(argv: list[str]) -> int:
    ns = build_parser().parse_args(argv)
    options = options_from_args(ns, Options.paper() if ns.paper else None)
    job = Job(ns.content, ns.style, ns.output, options, from_args(Outputs, ns))
    return finish(run_job(job, ns.quiet))


def resume_main(argv: list[str]) -> int:
    p = Parser(prog=f"{PROG} --resume", description="Continue an interrupted run from its checkpoint.")
    p.add_argument("--resume", required=True, metavar="CHECKPOINT")
    p.add_argument("--quiet", action="store_true")
    ns = p.parse_args(argv)
    job, progress = load_checkpoint(ns.resume)
    job.outputs.checkpoint = job.outputs.checkpoint or ns.resume
    return finish(run_job(job, ns.quiet, resume=progress))
