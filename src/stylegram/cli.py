"""The command line: `stylegram CONTENT STYLE -o OUT [options]`, `stylegram demo`.

Flags for the algorithm are generated from the Options dataclass; this module adds only what is about
files and the terminal (output, progress, report). User errors become one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
import typing
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import PIL
import torch
from tqdm import tqdm

from . import __version__
from .checkpoint import Interrupts, Job, default_checkpoint_path, load_checkpoint, save_checkpoint
from .errors import StylegramError
from .files import write_json
from .images import output_format, save_image
from .optimize import Iterate, NonFiniteLoss, Progress, StyleTransfer
from .options import INITS, Options

PROG = "stylegram"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage + message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _comma(kind: type) -> Any:
    def parse(text: str) -> tuple:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            return tuple(kind(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__} values, got {text!r}") from None
    parse.__name__ = f"list of {kind.__name__}"
    return parse


def _scalar(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


def _scales(text: str) -> int | tuple[int, ...]:
    try:
        sizes = int(text) if "," not in text else _comma(int)(text)
        if sizes == ():
            raise ValueError
        return sizes
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected a number of scales or comma-separated sizes, got {text!r}") \
            from None


_scales.__name__ = "scales"


def add_option_flags(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """One flag per Options field: --content-weight for content_weight, with the field's help and default."""
    hints = typing.get_type_hints(Options)
    for f in dataclasses.fields(Options):
        if f.name in skip:
            continue
        hint = hints[f.name]
        args = typing.get_args(hint)
        if f.name == "scales":
            kind = _scales
        elif hint in (int, float):
            kind = _scalar(hint)
        elif float in [a for arg in args for a in typing.get_args(arg)] or (args and args[0] is float):
            kind = _comma(float)
        elif args and args[0] is str and len(args) == 2 and args[1] is Ellipsis:
            kind = _comma(str)
        else:
            kind = str
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=argparse.SUPPRESS,
            choices=f.metadata.get("choices"), metavar=f.metadata.get("metavar"),
            help=f"{f.metadata['help']} (default: {shown})",
        )


def options_from_args(ns: argparse.Namespace, base: Options | None = None) -> Options:
    names = {f.name for f in dataclasses.fields(Options)}
    given = {k: v for k, v in vars(ns).items() if k in names}
    if isinstance(given.get("scales"), tuple) and "size" not in given:
        given["size"] = given["scales"][-1]  # --scales 128,256,512 alone: the last is the size
    return (base or Options()).replace(**given) if given else (base or Options())


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Paint a photo in the style of a painting (Gatys, Ecker & Bethge 2015). "
        "Also: `stylegram demo` (bundled images) and `stylegram reproduce WHAT` (the paper's figures).",
    )
    p.add_argument("content", help="the photo (any image Pillow reads)")
    p.add_argument("style", nargs="+", help="the painting; several are blended (--style-blend) or placed (--mask)")
    p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .webp)")
    add_option_flags(p)
    p.add_argument("--original-colors", dest="preserve_color", action="store_const", const="luminance",
                   default=argparse.SUPPRESS, help="alias of --preserve-color luminance")
    p.add_argument("--paper", action="store_true", help="start from the paper's configuration (Options.paper(): "
                   "white noise, one scale, 500 iterations, fp32, eq. 5 as written, average pooling); other flags "
                   "still apply on top")
    add_output_flags(p)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return p


def add_output_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--print-every", type=_scalar(int), default=0, metavar="N", help="print losses every N iterations")
    p.add_argument("--save-every", type=_scalar(int), default=0, metavar="N",
                   help="save the image every N iterations next to OUT (OUT_stem.iterNNNN.ext)")
    p.add_argument("--report", metavar="FILE.json", help="write options, loss trace, final losses, timings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint", metavar="PATH", help="save a checkpoint here every --checkpoint-every iterations "
                   "and on interruption (default on interruption: OUT_stem.ckpt); continue with --resume PATH")
    p.add_argument("--checkpoint-every", type=_scalar(int), default=None, metavar="N",
                   help="iterations between checkpoints (default: 0, only on interruption; 50 with --checkpoint)")


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve() or (Path(b).exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output(output: str, inputs: Sequence[str | os.PathLike]) -> None:
    """Refuse before any work: unknown format, or a path that is one of the inputs."""
    output_format(output)
    for name in inputs:
        if isinstance(name, (str, os.PathLike)) and _same_file(output, name):
            raise StylegramError(f"output {output} is also an input; choose another name (inputs are never "
                                 "overwritten)")
    if Path(output).is_dir():
        raise StylegramError(f"output {output} is a directory")
    ancestor = Path(output).absolute().parent
    while not ancestor.exists():  # missing directories are created (below), so check the first that exists
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StylegramError(f"output {output}: {ancestor} is a file, not a directory")
    parent = Path(output).absolute().parent
    try:  # a real write, not os.access: root, read-only mounts and /proc answer access() wrongly
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise StylegramError(f"output {output}: cannot write in {parent}: {e.strerror or e}") from None


def _intermediate_path(output: str, iteration: int) -> Path:
    out = Path(output)
    return out.with_name(f"{out.stem}.iter{iteration:04d}{out.suffix}")


def versions() -> dict[str, str]:
    return {"stylegram": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "pillow": PIL.__version__, "numpy": np.__version__}


def run_transfer(
    content: Any, style: Any, output: str, options: Options, *, print_every: int = 0, save_every: int = 0,
    report: str | None = None, quiet: bool = False, inputs: Sequence[str] = (), checkpoint: str | None = None,
    checkpoint_every: int = 0, resume: tuple[Job, Progress] | None = None,
) -> dict[str, Any]:
    """Everything a command-line run does: transfer with a progress bar, save atomically, write the report;
    checkpoints every `checkpoint_every` iterations; on SIGINT/SIGTERM save image, report and checkpoint."""
    for flag, v in (("--print-every", print_every), ("--save-every", save_every),
                    ("--checkpoint-every", checkpoint_every)):
        if v < 0:
            raise StylegramError(f"{flag} must be >= 0, got {v}")
    extra = ([options.init] if options.init not in INITS else []) + ([options.mask] if options.mask else [])
    check_output(output, [*inputs, *extra])
    if report:
        if Path(report).suffix.lower() != ".json":
            raise StylegramError(f"--report {report}: the report file must end in .json")
        check_output_json(report, [*inputs, output], "--report")
    if checkpoint:
        check_output_json(checkpoint, [*inputs, output, *([report] if report else [])], "--checkpoint")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    resumable = all(isinstance(s, (str, os.PathLike)) for s in [content, *styles])  # a checkpoint names files
    if checkpoint and not resumable:
        raise StylegramError("--checkpoint needs the content and style given as files")
    job, progress = resume or (Job(str(content), [str(s) for s in styles], output, options.to_dict(), report,
                                   checkpoint, checkpoint_every, print_every, save_every), None)
    t0 = time.perf_counter()
    transfer = StyleTransfer(content, style, options)
    trace = job.trace
    bar = tqdm(total=options.iterations * len(options.scale_sizes()), initial=len(trace), desc=PROG, unit="it",
               disable=quiet, dynamic_ncols=True)

    def callback(it: Iterate) -> bool:
        loss = it.losses
        trace.append({"iteration": it.iteration, "scale": it.scale, "seconds": round(it.seconds, 4),
                      **_rounded(loss.as_dict())})
        bar.update(1)
        bar.set_postfix(content=f"{loss.content:.3g}", style=f"{loss.style:.3g}", total=f"{loss.total:.4g}",
                        refresh=False)
        if print_every and it.iteration % print_every == 0:
            bar.write(f"iteration {it.iteration}/{it.iterations}: content {loss.content:.4g} "
                      f"style {loss.style:.4g} total {loss.total:.4g} ({it.seconds:.1f} s)")
        if save_every and it.iteration % save_every == 0:
            save_image(it.image(), _intermediate_path(output, it.iteration))
        if checkpoint and checkpoint_every and it.iteration % checkpoint_every == 0:
            save_checkpoint(checkpoint, job, transfer.progress)
        return interrupts.signal is not None

    failure: NonFiniteLoss | None = None
    with Interrupts() as interrupts:
        try:
            x = transfer.run(callback, resume=progress)
        except NonFiniteLoss as e:
            failure, x = e, e.x
        finally:
            bar.close()
        path = save_image(transfer.render(x), output)
        final = transfer.evaluate(path)  # the losses of the file as written: clamped and quantised
        data = {
            "options": options.to_dict(), "content": _describe(content),
            "style": [_describe(s) for s in style] if isinstance(style, (list, tuple)) else _describe(style),
            "output": str(path), "size": list(transfer.content_image.size), "trace": trace,
            "final": _rounded(final.as_dict()), "seconds": round(time.perf_counter() - t0, 3),
            "device": str(transfer.device), "precision": transfer.precision, "threads": torch.get_num_threads(),
            "versions": versions(),
        }
        if interrupts.signal is not None:
            data.update(interrupted=signal.Signals(interrupts.signal).name, exit_status=interrupts.exit_status)
            if resumable:
                data["checkpoint"] = checkpoint or default_checkpoint_path(output)
                save_checkpoint(data["checkpoint"], job, transfer.progress)
        if report:
            write_json(report, data)
    if failure is not None:
        raise StylegramError(f"{failure}; the last good image is saved to {path}")
    return data


def check_output_json(path: str, inputs: Sequence[Any], flag: str = "--report") -> None:
    """Refuse a side file (report, checkpoint) that is one of the inputs or outputs, naming its own flag."""
    for name in inputs:
        if isinstance(name, (str, os.PathLike)) and _same_file(path, name):
            raise StylegramError(f"{flag} {path} is also an input or the output")


def _describe(x: Any) -> str:
    return str(x) if isinstance(x, (str, os.PathLike)) else type(x).__name__


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.6g}") for k, v in d.items()}


def finish(data: dict[str, Any]) -> int:
    """Tell the user how a run_transfer ended; the exit status."""
    if "interrupted" in data:
        how = (f" and {data['checkpoint']}; continue with: {PROG} --resume {shlex.quote(data['checkpoint'])}"
               if "checkpoint" in data else "")
        print(f"{PROG}: {data['interrupted']}: saved {data['output']}{how}", file=sys.stderr)
        return int(data["exit_status"])
    print(f"wrote {data['output']} ({data['seconds']:.1f} s)")
    return 0


def _resume(argv: list[str]) -> int:
    p = _Parser(prog=f"{PROG} --resume", description="Continue an interrupted run from its checkpoint.")
    p.add_argument("--resume", required=True, metavar="CHECKPOINT")
    p.add_argument("--quiet", action="store_true")
    ns = p.parse_args(argv)
    job, progress = load_checkpoint(ns.resume)
    options = Options(**job.options)
    data = run_transfer(job.content, job.style if len(job.style) > 1 else job.style[0], job.output, options,
                        print_every=job.print_every, save_every=job.save_every, report=job.report, quiet=ns.quiet,
                        inputs=[job.content, *job.style], checkpoint=job.checkpoint or ns.resume,
                        checkpoint_every=job.checkpoint_every, resume=(job, progress))
    return finish(data)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.formatwarning = lambda message, *args, **kwargs: f"{PROG}: warning: {message}\n"
    try:
        if argv and argv[0] == "demo":
            from .demo import main as demo_main
            return demo_main(argv[1:])
        if argv and argv[0] == "reproduce":
            from .reproduce import main as reproduce_main
            return reproduce_main(argv[1:])
        if "--resume" in argv:
            return _resume(argv)
        ns = build_parser().parse_args(argv)
        options = options_from_args(ns, Options.paper() if ns.paper else None)
        data = run_transfer(ns.content, ns.style, ns.output, options, print_every=ns.print_every,
                            save_every=ns.save_every, report=ns.report, quiet=ns.quiet,
                            inputs=[ns.content, *ns.style], checkpoint=ns.checkpoint,
                            checkpoint_every=50 if ns.checkpoint_every is None and ns.checkpoint else
                            ns.checkpoint_every or 0)
        return finish(data)
    except StylegramError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. an unwritable output directory: say which file, no traceback
        print(f"{PROG}: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C: abort at once
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse has printed its one line (or --help / --version)
        return e.code if isinstance(e.code, int) else 2
