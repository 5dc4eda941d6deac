"""The flags that say where many pictures are painted (--workers, --ray), shared by `batch` and `video`, and the
pool they open."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..errors import StylegramError
from ..parsers import integer


def add_pool_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--workers", type=integer, metavar="N", help=f"{what} painted at once (default: one per two "
                   "cores, or per two of the cluster's CPUs, or one per GPU)")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS", help="run on Ray: alone, a local Ray; with "
                   "ADDRESS (HOST:PORT or auto), join that cluster")


def check_workers(ns: argparse.Namespace) -> None:
    if ns.workers is not None and ns.workers < 1:
        raise StylegramError(f"--workers must be >= 1, got {ns.workers} (leave it out for one per two cores)")


def open_pool(ns: argparse.Namespace, use_gpu: bool) -> Any:
    """Local worker processes, or Ray actors with --ray (a local Ray, or the cluster at its ADDRESS)."""
    from ..batch.pool import LocalPool, RayPool

    check_workers(ns)
    return RayPool(ns.ray or None, ns.workers, use_gpu=use_gpu) if ns.ray is not None else LocalPool(ns.workers)


def bar_events(bar: Any) -> Callable[[str, Any, dict[str, Any]], None]:
    """run_batch's events on a tqdm bar: one step per item ended (or skipped), a line per retry."""

    def event(kind: str, item: Any, record: dict[str, Any]) -> None:
        if kind in ("skipped", "done", "failed"):
            bar.update(1)
        if kind == "retry":
            bar.write(f"{item.name}: {record.get('error')}; trying again", file=sys.stderr)

    return event
