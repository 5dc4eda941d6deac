"""Run the command line (python tests/paused.py ARGS...) with the engine paused until a signal arrives, so that a test
can send SIGINT/SIGTERM mid-run with no race against the clock:

- STYLEGRAM_PAUSE_AT=N: pause after the N-th optimiser step of the process;
- STYLEGRAM_PAUSE_WHEN=PATH: pause at the first step after PATH exists (e.g. a video's first frame).

At the pause it prints "paused" on stdout, then waits (at most 300 s) until a SIGINT/SIGTERM handler has run; the
command then goes on and handles the signal as it would in a terminal."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from stylegram import transfer
from stylegram.cli import main

arrived = threading.Event()
install = signal.signal


def chained(sig: int, handler: object) -> object:
    """signal.signal that also notes when the program's own SIGINT/SIGTERM handler has run."""
    if sig in (signal.SIGINT, signal.SIGTERM) and callable(handler):
        def noted(signum: int, frame: object) -> None:
            try:
                handler(signum, frame)
            finally:
                arrived.set()
        return install(sig, noted)
    return install(sig, handler)


signal.signal = chained
at, when = int(os.environ.get("STYLEGRAM_PAUSE_AT", "0")), os.environ.get("STYLEGRAM_PAUSE_WHEN")
steps = [0]
iterate = transfer.StyleTransfer.iterate


def paused(self: transfer.StyleTransfer, resume: object = None):  # noqa: ANN201
    for it in iterate(self, resume):
        yield it
        steps[0] += 1
        if not arrived.is_set() and (steps[0] == at or (when and Path(when).exists())):
            print("paused", flush=True)
            if not arrived.wait(300):
                print("paused.py: no signal came within 300 s", file=sys.stderr)
                sys.exit(3)


transfer.StyleTransfer.iterate = paused
sys.exit(main(sys.argv[1:]))
