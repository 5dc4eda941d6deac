"""Long runs survive: checkpoints that continue a run exactly, and Ctrl-C / SIGTERM that save before leaving."""

from __future__ import annotations

import io
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from .errors import StylegramError
from .files import atomic_write
from .optimize import Progress
from .weights import sha256_of

FORMAT = "stylegram-checkpoint-1"


@dataclass
class Job:
    """What a command-line run was asked to do: enough to start it again from a checkpoint."""

    content: str
    style: list[str]
    output: str
    options: dict[str, Any]
    report: str | None = None
    checkpoint: str | None = None
    checkpoint_every: int = 0
    print_every: int = 0
    save_every: int = 0
    trace: list[dict[str, float]] = field(default_factory=list)


def default_checkpoint_path(output: str) -> str:
    out = Path(output)
    return str(out.with_name(f"{out.stem}.ckpt"))


def save_checkpoint(path: str, job: Job, progress: Progress) -> None:
    """Image, optimiser state, RNG state, scale, iteration, options and inputs' hashes, written atomically."""
    state = {
        "format": FORMAT, "job": asdict(job), "progress": asdict(progress),
        "rng": torch.get_rng_state(), "inputs": {p: sha256_of(Path(p)) for p in [job.content, *job.style]},
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def load_checkpoint(path: str) -> tuple[Job, Progress]:
    """The job and where it stopped; refuses a file that is not a checkpoint or inputs that changed since."""
    p = Path(path)
    if not p.is_file():
        raise StylegramError(f"--resume {path}: no such checkpoint file")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a file that is not its own
        raise StylegramError(f"--resume {path}: not a stylegram checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StylegramError(f"--resume {path}: not a stylegram checkpoint")
    job = Job(**state["job"])
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

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\nstylegram: {signal.Signals(signum).name}: saving after this iteration (Ctrl-C again to abort)",
              file=sys.stderr, flush=True)

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

