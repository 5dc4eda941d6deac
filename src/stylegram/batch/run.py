"""The loop that hands items to a pool of workers (local processes or Ray actors, see pool.py) with retries, and
the worker's side of one item. Nothing here prints: progress goes to the `on_event` callback.

The driver reads the inputs and writes the outputs; a worker gets bytes and returns bytes, so Ray nodes need no
shared file system, and an output appears (atomically) only once its item is done.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import StylegramError
from ..files import atomic_write, write_json
from ..options import Options
from .items import INPUT_FIELDS, Item, Manifest, is_done, payload


def paint(job: dict[str, Any]) -> dict[str, Any]:
    """Worker side: one item from bytes to PNG bytes and its report. Input errors come back as a failed result
    (not retried); anything else as a failed result that may be retried."""
    from ..job import Job

    t0 = time.perf_counter()
    where = {"pid": os.getpid(), "host": socket.gethostname()}
    with tempfile.TemporaryDirectory(prefix="stylegram-batch-") as tmp:
        paths = {}
        for key, (given, data) in job["files"].items():
            paths[key] = str(Path(tmp, key, Path(given).name))
            if data is not None:
                Path(paths[key]).parent.mkdir()
                Path(paths[key]).write_bytes(data)
        opts = {**job["options"], **{f: paths[f] for f in INPUT_FIELDS if f in paths}}
        try:
            result = Job(paths["content"], [paths["style"]], str(Path(tmp, "out.png")), Options(**opts)).run()
        except Exception as e:  # noqa: BLE001 (a worker reports, the driver decides)
            if not isinstance(e, StylegramError):  # not the input's fault: worth another try
                return {"status": "failed", "error": f"{type(e).__name__}: {e}", "retry": True, **where}
            message = str(e)
            for key, given in paths.items():  # the user's names, not the temp copies'
                message = message.replace(given, job["files"][key][0])
            return {"status": "failed", "error": message, "retry": False, **where, "peak_rss_mb": peak_rss_mb()}
        if result.interrupted:
            return {"status": "interrupted", **where}
        png = Path(tmp, "out.png").read_bytes()
    return {"status": "done", "png": png, "report": result.report, "seconds": round(time.perf_counter() - t0, 3),
            "losses": result.report["final"], "peak_rss_mb": peak_rss_mb(), **where}


def peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


class Pool(Protocol):
    """Workers that take payloads and give results: pool.LocalPool (processes) or pool.RayPool."""

    workers: int

    def ready(self) -> None: ...
    def submit(self, ticket: int, job: dict[str, Any]) -> None: ...
    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]: ...
    def close(self) -> None: ...


Event = Callable[[str, Item, dict[str, Any]], None]  # ("skipped"|"start"|"done"|"failed"|"retry", item, record)


@dataclass
class Summary:
    done: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    pending: list[str] = dataclasses.field(default_factory=list)  # not finished when the batch was stopped
    seconds: float = 0.0


def run_batch(items: Sequence[Item], outdir: str | os.PathLike, pool: Pool, retries: int = 2,
              on_event: Event | None = None, stop: Callable[[], bool] | None = None,
              overwrite: bool = False) -> Summary:
    """Paint every item not already done (every item: `overwrite`), `pool.workers` at a time; retry a crashed item
    up to `retries` times; write each output and report atomically as it comes back, and the manifest as items
    finish."""
    out, t0, event = Path(outdir), time.perf_counter(), on_event or (lambda *a: None)
    out.mkdir(parents=True, exist_ok=True)
    manifest, summary = Manifest(out), Summary()
    old = manifest.load()
    records = dict(old)  # items of other runs (other options, other inputs) stay in the manifest
    for item in items:
        if not overwrite and is_done(item, old.get(item.name), out):
            records[item.name] = old[item.name]
            summary.skipped.append(item.name)
            event("skipped", item, old[item.name])
        else:
            records[item.name] = item.record("pending", attempts=0)
    manifest.rewrite(records.values())
    queue = [i for i in items if i.name not in summary.skipped]
    attempts = {i.name: 0 for i in queue}
    running: dict[int, Item] = {}
    tickets = itertools.count()
    try:
        while queue or running:
            while queue and len(running) < pool.workers and not (stop and stop()):
                item = queue.pop(0)
                ticket = next(tickets)
                running[ticket] = item
                attempts[item.name] += 1
                pool.submit(ticket, payload(item))
                event("start", item, {"attempt": attempts[item.name]})
            if stop and stop():  # the items in flight stay pending (pool.close stops them)
                break
            for ticket, result in pool.wait(0.2):
                item = running.pop(ticket)
                if result.get("status") not in ("done", "interrupted") and result.get("retry", True) \
                        and attempts[item.name] <= retries:
                    queue.append(item)
                    event("retry", item, result)
                    continue
                rec = finish_item(item, result, attempts[item.name], out, summary)
                manifest.append(rec)
                records[item.name] = rec
                event(rec["status"] if rec["status"] != "pending" else "stopped", item, rec)
    finally:
        pool.close()
        summary.pending += [i.name for i in [*queue, *running.values()]]
        manifest.rewrite(records.values())
        summary.seconds = time.perf_counter() - t0
    return summary


def finish_item(item: Item, result: dict[str, Any], attempts: int, out: Path, summary: Summary) -> dict[str, Any]:
    """Write a done item's image and report (atomically); its manifest record, whatever the outcome."""
    status = result.get("status")
    if status == "done":
        atomic_write(out / item.name, lambda f, png=result["png"]: f.write(png))
        report = {**result["report"], "output": str(out / item.name), "content": item.content, "style": [item.style]}
        write_json(out / f"{Path(item.name).stem}.json", report)
        summary.done.append(item.name)
        return item.record("done", seconds=result["seconds"], losses=result["losses"], attempts=attempts,
                           worker=f"{result['host']}:{result['pid']}", peak_rss_mb=result["peak_rss_mb"])
    if status == "interrupted":
        summary.pending.append(item.name)
        return item.record("pending", attempts=attempts - 1)
    summary.failed[item.name] = result.get("error", "unknown error")
    return item.record("failed", error=summary.failed[item.name], attempts=attempts)
