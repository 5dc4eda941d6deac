"""One run as a shell asks for it: inputs, the output file and its side files (snapshots, report, checkpoints),
and what happens on SIGINT/SIGTERM. Shared by the command line and any other front end; it prints nothing:
progress goes to the `on_iterate` callback, signals to `on_signal`.
"""

from __future__ import annotations

import io
import platform
import signal
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import PIL
import torch

from .choices import INITS, WITH_ALPHA
from .errors import StylegramError
from .files import atomic_write, check_side_file, check_writable, is_path, sha256_of, write_json
from .images import ImageLike, output_format, save_image
from .losses import Losses
from .optimize import NonFiniteLoss, Progress
from .options import Options, Outputs
from .transfer import Iterate, StyleTransfer, describe
from .version import __version__
from .weights import read_torch_file

CHECKPOINT_FORMAT = "stylegram-checkpoint-1"


@dataclass
class Result:
    """How a Job ended: the image written, the report's data, and whether (and by what) it was interrupted."""

    output: Path
    report: dict[str, Any]
    interrupted: str | None = None  # "SIGINT" or "SIGTERM"
    exit_status: int = 0  # 128 + the signal when interrupted
    checkpoint: str | None = None  # where an interrupted run was checkpointed, to --resume

    @property
    def seconds(self) -> float:
        return float(self.report["seconds"])


@dataclass
class Job:
    """What to paint, where to write it, and the side files; enough to start it again from a checkpoint."""

    content: ImageLike | None  # None with --texture: no photo
    style: list[ImageLike]
    output: str
    options: Options = field(default_factory=Options)
    outputs: Outputs = field(default_factory=Outputs)
    trace: list[dict[str, float]] = field(default_factory=list)  # losses per iteration, kept across a resume

    def __post_init__(self) -> None:
        if not isinstance(self.style, list):
            self.style = list(self.style) if isinstance(self.style, tuple) else [self.style]

    @property
    def resumable(self) -> bool:
        """A checkpoint names its inputs by path, so only a run from files can be continued."""
        return all(is_path(x) for x in self.inputs)

    @property
    def inputs(self) -> list[ImageLike]:
        """The photo (none for a texture) and the paintings."""
        return [x for x in [self.content, *self.style] if x is not None]

    def check(self) -> None:
        """Refuse before any work: an unknown output format, or a file that would overwrite an input."""
        opts, out = self.options, self.outputs
        inputs = self.inputs
        extra = ([opts.init] if opts.init not in INITS else []) + ([opts.mask] if opts.mask else [])
        output_format(self.output)
        check_writable(self.output, [*inputs, *extra])
        if out.report:
            check_side_file(out.report, [*inputs, self.output], "--report")
        if out.checkpoint:
            check_side_file(out.checkpoint, [*inputs, self.output, *([out.report] if out.report else [])],
                            "--checkpoint")
            if not self.resumable:
                raise StylegramError("--checkpoint needs the content and style given as files")

    def run(self, on_iterate: Callable[[Iterate], bool | None] | None = None, resume: Progress | None = None,
            on_signal: Callable[[int], None] | None = None) -> Result:
        """Transfer, save atomically, write the report; checkpoint every checkpoint_every iterations and, on
        SIGINT/SIGTERM (or when on_iterate returns True), stop after the iteration and save everything."""
        self.check()
        t0 = time.perf_counter()
        transfer = StyleTransfer(self.content, self.style, self.options)
        if transfer.inputs.alpha is not None and output_format(self.output) not in WITH_ALPHA:
            warnings.warn(f"{self.output}: {output_format(self.output)} has no transparency, so the photo's "
                          "transparent parts are flattened over white (write .png or .webp to keep them)", stacklevel=2)
        failure: NonFiniteLoss | None = None
        with Interrupts(on_signal) as interrupts:
            try:
                x = transfer.run(self._step(transfer, on_iterate, interrupts), resume=resume)
            except NonFiniteLoss as e:
                failure, x = e, e.x
            path = save_image(transfer.render(transfer.at_full_size(x)), self.output)
            final = transfer.evaluate(path)  # the losses of the file as written: clamped and quantised
            result = Result(path, self._report(transfer, path, final, t0))
            if interrupts.signal is not None:
                result.interrupted, result.exit_status = signal.Signals(interrupts.signal).name, interrupts.exit_status
                result.report.update(interrupted=result.interrupted, exit_status=result.exit_status)
                if self.resumable:
                    result.checkpoint = self.outputs.checkpoint or default_checkpoint_path(self.output)
                    result.report["checkpoint"] = result.checkpoint
                    save_checkpoint(result.checkpoint, self, transfer.progress)
            if self.outputs.report:
                write_json(self.outputs.report, result.report)
        if failure is not None:
            raise StylegramError(f"{failure}; the last good image is saved to {path}")
        return result

    def _step(self, transfer: StyleTransfer, on_iterate: Callable[[Iterate], bool | None] | None,
              interrupts: Interrupts) -> Callable[[Iterate], bool]:
        """The transfer's callback: trace, snapshots, checkpoints; True to stop."""
        out = self.outputs

        def step(it: Iterate) -> bool:
            self.trace.append({"iteration": it.iteration, "scale": it.scale, "seconds": round(it.seconds, 4),
                               **_rounded(it.losses.as_dict())})
            stop = bool(on_iterate(it)) if on_iterate is not None else False
            if out.save_every and it.iteration % out.save_every == 0:
                save_image(it.image(), snapshot_path(self.output, it.iteration))
            if out.checkpoint and out.checkpoint_every and it.iteration % out.checkpoint_every == 0:
                save_checkpoint(out.checkpoint, self, transfer.progress)
            return stop or interrupts.signal is not None

        return step

    def _report(self, transfer: StyleTransfer, path: Path, final: Losses, t0: float) -> dict[str, Any]:
        return {
            "options": self.options.to_dict(), "content": _describe(self.content),
            "style": [_describe(s) for s in self.style], "output": str(path),
            "size": list(transfer.scale.content_image.size), "scales": describe(transfer), "trace": self.trace,
            "final": _rounded(final.as_dict()), "seconds": round(time.perf_counter() - t0, 3),
            "device": str(transfer.device), "precision": transfer.precision, "threads": torch.get_num_threads(),
            "versions": versions(),
        }

    def record(self) -> dict[str, Any]:
        """The job as plain data (paths, numbers), as a checkpoint stores it."""
        return {"content": None if self.content is None else str(self.content), "style": [str(s) for s in self.style],
                "output": self.output,
                "options": self.options.to_dict(), **asdict(self.outputs), "trace": self.trace}

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Job:
        names = set(Outputs.__dataclass_fields__)
        return cls(data["content"], list(data["style"]), data["output"], Options(**data["options"]),
                   Outputs(**{k: v for k, v in data.items() if k in names}), list(data.get("trace", [])))


def snapshot_path(output: str, iteration: int) -> Path:
    """Where --save-every writes: OUT_stem.iterNNNN.ext."""
    out = Path(output)
    return out.with_name(f"{out.stem}.iter{iteration:04d}{out.suffix}")


def default_checkpoint_path(output: str) -> str:
    out = Path(output)
    return str(out.with_name(f"{out.stem}.ckpt"))


def save_checkpoint(path: str, job: Job, progress: Progress) -> None:
    """Image, optimiser state, RNG state, scale, iteration, options and inputs' hashes, written atomically."""
    state = {
        "format": CHECKPOINT_FORMAT, "job": job.record(), "progress": asdict(progress),
        "rng": torch.get_rng_state(), "inputs": {p: sha256_of(Path(p)) for p in job.inputs},
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def load_checkpoint(path: str) -> tuple[Job, Progress]:
    """The job and where it stopped; refuses a file that is not a checkpoint or inputs that changed since."""
    p = Path(path)
    if not p.is_file():
        raise StylegramError(f"--resume {path}: no such checkpoint file")
    state = read_torch_file(p, f"--resume {path}: not a stylegram checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise StylegramError(f"--resume {path}: not a stylegram checkpoint")
    job = Job.from_record(state["job"])
    for name, digest in state["inputs"].items():
        if not Path(name).is_file():
            raise StylegramError(f"--resume {path}: input {name} is gone")
        if sha256_of(Path(name)) != digest:
            raise StylegramError(f"--resume {path}: input {name} changed since the checkpoint; the result would "
                                 "not be the run's")
    torch.set_rng_state(state["rng"])
    return job, Progress(**state["progress"])


class Interrupts:
    """SIGINT/SIGTERM set `signal` so the run stops after the current iteration and saves; a second SIGINT
    aborts at once (KeyboardInterrupt). The previous handlers come back on exit."""

    def __init__(self, on_signal: Callable[[int], None] | None = None) -> None:
        self.signal: int | None = None
        self._on_signal = on_signal
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        if self._on_signal is not None:
            self._on_signal(signum)

    def __enter__(self) -> Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. a web server's worker): no handlers
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    @property
    def exit_status(self) -> int:
        return 128 + (self.signal or 0)


def versions() -> dict[str, str]:
    return {"stylegram": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "pillow": PIL.__version__, "numpy": np.__version__}


def _describe(x: Any) -> str | None:
    return None if x is None else str(x) if is_path(x) else type(x).__name__


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.6g}") for k, v in d.items()}
