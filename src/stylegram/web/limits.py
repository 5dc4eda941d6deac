"""What a shared server allows: jobs waiting per person and in all, and how long results stay on its disk."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

RETRY_AFTER_S = 30  # what a refused submission is told to wait: about a short job at 256 px


@dataclass(frozen=True)
class Limits:
    """The defaults fit a class or a small studio on one machine that paints one job at a time."""

    queued_per_person: int = 3  # queued or running, per browser
    queued_total: int = 20  # queued or running, everyone's
    keep_days: float = 7.0  # finished jobs older than this are deleted (0: kept)
    max_disk: int | None = 2 * 2**30  # bytes for all results; the oldest finished go first (None: no budget)


class QueueFull(Exception):
    """A submission beyond the limits: 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Finished(Protocol):
    id: str
    dir: Path
    created: float


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def expired(finished: Iterable[Finished], limits: Limits, now: float | None = None) -> list[tuple[Finished, str]]:
    """The finished jobs to delete, oldest first, each with the reason: older than keep_days, then the oldest until
    the rest fit in max_disk."""
    now = time.time() if now is None else now
    jobs = sorted(finished, key=lambda j: j.created)
    out: list[tuple[Finished, str]] = []
    keep = []
    for job in jobs:
        if limits.keep_days and now - job.created > limits.keep_days * 86400:
            out.append((job, f"older than {limits.keep_days:g} days"))
        else:
            keep.append(job)
    if limits.max_disk is not None:
        sizes = {job.id: size_of(job.dir) for job in keep}
        total = sum(sizes.values())
        for job in keep:
            if total <= limits.max_disk:
                break
            out.append((job, f"the results took more than {limits.max_disk / 2**20:.0f} MB"))
            total -= sizes[job.id]
    return out
