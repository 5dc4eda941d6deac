"""The loop that hands items to a pool of workers (local processes or Ray actors, see pool.py) with retries, and
the worker's side of one item. Nothing here prints: progress goes to the `on_event` callback.

The driver reads the inputs and writes the outputs; a worker gets bytes and returns bytes, so Ray nodes need no
shared file system, and an output appears (atomically) only once its item is done.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import StylegramError
from ..files import atomic_write, write_json
from ..hardware import peak_rss_mb, worker_facts
from ..options import Options
from .items import INPUT_FIELDS, Inputs, Item, Manifest, is_done


def paint(job: dict[str, Any]) -> dict[str, Any]:
    """Worker side: one item from bytes to PNG bytes and its report. Input errors come back as a failed result
    (not retried); anything else as a failed result that may be retried."""
    from ..job import Job

    if "task" in job:  # another feature's work on the same pools: the function the job names
        return task(job["task"])(job)
    t0, where = time.perf_counter(), worker_facts()
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


def task(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """"stylegram.MODULE:FUNCTION", imported in the worker (a feature does not import another)."""
    module, _, function = name.partition(":")
    if not module.startswith("stylegram."):
        raise ValueError(f"not a stylegram task: {name}")
    return getattr(importlib.import_module(module), function)


class Pool(Protocol):
    """Workers that take payloads and give results: pool.LocalPool (processes) or pool.RayPool."""

    workers: int
    slots: int  # items it takes at once: workers, or more when a worker queues its next item while it paints

    def ready(self) -> None: ...
    def submit(self, ticket: int, job: dict[str, Any]) -> None: ...
    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]: ...
    def close(self) -> None: ...


class Work(Protocol):
    """What the loop needs of an item: batch.items.Item (a picture) or video.chunks.ChunkItem (a clip's chunk)."""

    @property
    def name(self) -> str: ...  # its output file in OUTDIR, and its manifest line
    @property
    def key(self) -> str: ...  # the same key, the same request: done once
    def record(self, status: str, **extra: Any) -> dict[str, Any]: ...


Event = Callable[[str, Any, dict[str, Any]], None]  # ("skipped"|"start"|"done"|"failed"|"retry", item, record)


@dataclass
class Summary:
    done: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    pending: list[str] = dataclasses.field(default_factory=list)  # not finished when the batch was stopped
    seconds: float = 0.0
    driver_s: float = 0.0  # the loop's own work (inputs, submitting, results), not its waits: 1/this per item is
    # the most items a second this machine can hand out


def run_batch(items: Sequence[Work], outdir: str | os.PathLike, pool: Pool, retries: int = 2,
              on_event: Event | None = None, stop: Callable[[], bool] | None = None,
              overwrite: bool = False, payload: Callable[[Any], dict[str, Any]] | None = None,
              write: Callable[[Any, dict[str, Any], Path], None] | None = None) -> Summary:
    """Paint every item not already done (every item: `overwrite`), `pool.slots` at a time; retry a crashed item
    up to `retries` times; write each output (`write`, default: the image and its report) as it comes back, and
    the manifest as items finish. `payload(item)`: the worker's job (default: the item's options and files)."""
    run = Run(items, Path(outdir), on_event, overwrite, payload or Inputs().payload, write or write_outputs)
    stopped = stop or (lambda: False)
    try:
        while run.queue or run.running:
            busy = time.perf_counter()
            while run.queue and len(run.running) < pool.slots and not stopped():
                run.submit(pool)
            if stopped():  # the items in flight stay pending (pool.close stops them)
                break
            run.summary.driver_s += time.perf_counter() - busy
            results = pool.wait(0.2)
            busy = time.perf_counter()
            for ticket, result in results:
                run.take(ticket, result, retries)
            run.summary.driver_s += time.perf_counter() - busy
    finally:
        pool.close()
        run.close()
    return run.summary


class Run:
    """One batch run's state: what is queued, running and recorded; outputs written by a thread of their own, in
    order, off the loop."""

    def __init__(self, items: Sequence[Work], out: Path, on_event: Event | None, overwrite: bool,
                 payload: Callable[[Any], dict[str, Any]], write: Callable[[Any, dict[str, Any], Path], None]) -> None:
        self.t0, self.out, self.payload, self.write = time.perf_counter(), out, payload, write
        self.event: Event = on_event or (lambda *a: None)
        out.mkdir(parents=True, exist_ok=True)
        self.manifest, self.summary = Manifest(out), Summary()
        old = self.manifest.load()
        self.records = dict(old)  # items of other runs (other options, other inputs) stay in the manifest
        for item in items:
            if not overwrite and is_done(item, old.get(item.name), out):
                self.records[item.name] = old[item.name]
                self.summary.skipped.append(item.name)
                self.event("skipped", item, old[item.name])
            else:
                self.records[item.name] = item.record("pending", attempts=0)
        self.manifest.rewrite(self.records.values())
        self.queue = [i for i in items if i.name not in self.summary.skipped]
        self.attempts = {i.name: 0 for i in self.queue}
        self.running: dict[int, Work] = {}
        self.tickets = itertools.count()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="stylegram-writer")
        self.writes: list[Future[None]] = []

    def submit(self, pool: Pool) -> None:
        item = self.queue.pop(0)
        self.attempts[item.name] += 1
        try:
            job = self.payload(item)
        except StylegramError as e:  # a bad file: no worker needed to say so
            self.finish(item, {"status": "failed", "error": str(e), "retry": False})
            return
        ticket = next(self.tickets)
        self.running[ticket] = item
        pool.submit(ticket, job)
        self.event("start", item, {"attempt": self.attempts[item.name]})

    def take(self, ticket: int, result: dict[str, Any], retries: int) -> None:
        item = self.running.pop(ticket)
        if result.get("status") == "unstarted":  # queued on a worker that died: first in line again
            self.attempts[item.name] -= 1
            self.queue.insert(0, item)
        elif result.get("status") not in ("done", "interrupted") and result.get("retry", True) \
                and self.attempts[item.name] <= retries:
            self.queue.append(item)
            self.event("retry", item, result)
        else:
            self.finish(item, result)

    def finish(self, item: Work, result: dict[str, Any]) -> None:
        rec = finish_item(item, result, self.attempts[item.name], self.summary)
        self.records[item.name] = rec
        if rec["status"] == "done":
            self.writes.append(self.writer.submit(self.write, item, result, self.out))
        self.writes.append(self.writer.submit(self.manifest.append, rec))
        self.writer.submit(self.event, rec["status"] if rec["status"] != "pending" else "stopped", item, rec)

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.summary.pending += [i.name for i in [*self.queue, *self.running.values()]]
        self.manifest.rewrite(self.records.values())
        self.summary.seconds = time.perf_counter() - self.t0
        failed = next((f.exception() for f in self.writes if f.exception() is not None), None)
        if failed is not None:  # a full disk, a folder gone: those items stay to do (is_done wants the file)
            raise StylegramError(f"batch: cannot write to {self.out}: {failed}")


def finish_item(item: Work, result: dict[str, Any], attempts: int, summary: Summary) -> dict[str, Any]:
    """A finished item's manifest record, whatever the outcome."""
    status = result.get("status")
    if status == "done":
        summary.done.append(item.name)
        return item.record("done", seconds=result["seconds"], losses=result["losses"], attempts=attempts,
                           worker=f"{result['host']}:{result['pid']}", peak_rss_mb=result["peak_rss_mb"])
    if status == "interrupted":
        summary.pending.append(item.name)
        return item.record("pending", attempts=attempts - 1)
    summary.failed[item.name] = result.get("error", "unknown error")
    return item.record("failed", error=summary.failed[item.name], attempts=attempts)


def write_outputs(item: Item, result: dict[str, Any], out: Path) -> None:
    """A done item's image and report, each written atomically."""
    atomic_write(out / item.name, lambda f: f.write(result["png"]))
    report = {**result["report"], "output": str(out / item.name), "content": item.content, "style": [item.style]}
    write_json((out / item.name).with_suffix(".json"), report)
