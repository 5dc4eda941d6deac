"""Many (photo, painting) pairs in one resumable run: the items, the manifest, and the loop that hands items to a
pool of workers (local processes or Ray actors, see pool.py) with retries. Nothing here prints: progress goes to
the `on_event` callback.

The driver reads the inputs and writes the outputs; a worker gets bytes and returns bytes, so Ray nodes need no
shared file system, and an output appears (atomically) only once its item is done.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import hashlib
import itertools
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .choices import INITS, READABLE
from .errors import StylegramError
from .files import atomic_write, write_json
from .options import Options

MANIFEST = "manifest.jsonl"
SEP = "__"  # OUTDIR/<content>__<style>.png
INPUT_FIELDS = ("mask", "init")  # options that name a file, shipped to the worker with the images


@dataclass
class Item:
    """One output: a photo in one painting's style, with its options."""

    content: str
    style: str
    options: Options

    @property
    def name(self) -> str:
        return f"{Path(self.content).stem}{SEP}{Path(self.style).stem}.png"

    @property
    def key(self) -> str:
        """Same key, same request: a done item with this key is not painted again."""
        data = {"content": os.path.abspath(self.content), "style": os.path.abspath(self.style),
                "options": self.options.to_dict()}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def record(self, status: str, **extra: Any) -> dict[str, Any]:
        return {"item": self.name, "status": status, "content": self.content, "style": self.style,
                "key": self.key, **extra}


def expand(specs: Iterable[str], what: str) -> list[str]:
    """Files as given; folders to the images in them (sorted); globs to their matches. A missing path, or a
    folder or glob with no image, is refused; a file that is not an image fails its items, with the reason."""
    found: list[str] = []
    for spec in specs:
        if Path(spec).is_dir():
            hits = sorted(str(p) for p in Path(spec).iterdir() if p.suffix.lower() in READABLE and p.is_file())
        elif glob.has_magic(spec):
            hits = sorted(p for p in glob.glob(spec) if Path(p).suffix.lower() in READABLE)
        elif Path(spec).exists():
            hits = [spec]
        else:
            raise StylegramError(f"{what} {spec}: no such file or folder")
        if not hits:
            raise StylegramError(f"{what} {spec}: no images found (looked for {', '.join(sorted(READABLE))})")
        found.extend(h for h in hits if h not in found)
    return found


def read_pairs(path: str, options: Options) -> list[Item]:
    """Rows of a CSV with a header: content, style, then any option columns (style_weight or --style-weight);
    an empty cell keeps the command's value. Relative paths are relative to the CSV's folder."""
    fields = {f.name: f for f in dataclasses.fields(Options)}
    base = Path(path).parent
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise StylegramError(f"--pairs {path}: cannot read it ({e})") from None
    items = []
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        changes: dict[str, Any] = {}
        for column, value in row.items():
            name = (column or "").strip().lstrip("-").replace("-", "_")
            if name in ("content", "style") or value is None or not value.strip():
                continue
            if name not in fields:
                raise StylegramError(f"--pairs {path}: unknown column {column!r} (content, style, or an option)")
            try:
                changes[name] = fields[name].metadata["parse"](value.strip())
            except ValueError as e:
                raise StylegramError(f"--pairs {path}, line {n}, {column}: {e}") from None
        content, style = ((row.get(k) or "").strip() for k in ("content", "style"))
        if not content or not style:
            raise StylegramError(f"--pairs {path}, line {n}: needs a content and a style")
        try:
            opts = options.replace(**changes)
        except StylegramError as e:
            raise StylegramError(f"--pairs {path}, line {n}: {e}") from None
        items.append(Item(str(base / content), str(base / style), opts))
    if not items:
        raise StylegramError(f"--pairs {path}: no rows (the first line is the header: content,style,...)")
    return items


def plan(contents: Sequence[str], styles: Sequence[str], options: Options, pairs: str | None = None) -> list[Item]:
    """Every content x every style (or the rows of `pairs`), refusing two items that would share an output."""
    if pairs:
        items = read_pairs(pairs, options)
    else:
        if not contents or not styles:
            raise StylegramError("batch: give at least one CONTENT and one --style (or --pairs FILE.csv)")
        items = [Item(c, s, options) for c in expand(contents, "content") for s in expand(styles, "style")]
    seen: dict[str, Item] = {}
    for item in items:
        if item.name in seen and seen[item.name].key != item.key:
            other = seen[item.name]
            raise StylegramError(f"{other.content} x {other.style} and {item.content} x {item.style} would both "
                                 f"write {item.name}; rename one of them")
        seen[item.name] = item
    return list(seen.values())


class Manifest:
    """OUTDIR/manifest.jsonl: one JSON line per item event, the last line of an item wins. Appending is crash
    safe (a torn last line is ignored); the file is compacted to one line per item at the start and the end."""

    def __init__(self, outdir: Path) -> None:
        self.path = outdir / MANIFEST

    def load(self) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return records
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "item" in rec:
                records[rec["item"]] = rec
        return records

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, default=str) + "\n" for r in records)
        atomic_write(self.path, lambda f: f.write(text.encode()))


def is_done(item: Item, record: dict[str, Any] | None, outdir: Path) -> bool:
    return bool(record and record.get("status") == "done" and record.get("key") == item.key
                and (outdir / item.name).is_file())


def payload(item: Item) -> dict[str, Any]:
    """What a worker needs: the options and the input files' bytes (unread files fail in the worker)."""
    files = {"content": item.content, "style": item.style}
    files.update({f: getattr(item.options, f) for f in INPUT_FIELDS
                  if getattr(item.options, f) and getattr(item.options, f) not in INITS})
    return {"name": item.name, "options": item.options.to_dict(),
            "files": {k: (p, _read(p)) for k, p in files.items()}}


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None  # the worker's load_image says why, in the words of a single run


def paint(job: dict[str, Any]) -> dict[str, Any]:
    """Worker side: one item from bytes to PNG bytes and its report. Input errors come back as a failed result
    (not retried); anything else as a failed result that may be retried."""
    from .job import Job

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
              on_event: Event | None = None, stop: Callable[[], bool] | None = None) -> Summary:
    """Paint every item not already done, `pool.workers` at a time; retry a crashed item up to `retries` times;
    write each output and report atomically as it comes back, and the manifest as items finish."""
    out, t0, event = Path(outdir), time.perf_counter(), on_event or (lambda *a: None)
    out.mkdir(parents=True, exist_ok=True)
    manifest, summary = Manifest(out), Summary()
    old = manifest.load()
    records = {}
    for item in items:
        if is_done(item, old.get(item.name), out):
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
                status = result.get("status")
                if status == "done":
                    atomic_write(out / item.name, lambda f, png=result["png"]: f.write(png))
                    report = {**result["report"], "output": str(out / item.name), "content": item.content,
                              "style": [item.style]}
                    write_json(out / f"{Path(item.name).stem}.json", report)
                    rec = item.record("done", seconds=result["seconds"], losses=result["losses"],
                                      attempts=attempts[item.name], worker=f"{result['host']}:{result['pid']}",
                                      peak_rss_mb=result["peak_rss_mb"])
                    summary.done.append(item.name)
                elif status == "interrupted":
                    rec = item.record("pending", attempts=attempts[item.name] - 1)
                    summary.pending.append(item.name)
                elif result.get("retry", True) and attempts[item.name] <= retries:
                    queue.append(item)
                    event("retry", item, result)
                    continue
                else:
                    rec = item.record("failed", error=result.get("error", "unknown error"),
                                      attempts=attempts[item.name])
                    summary.failed[item.name] = rec["error"]
                manifest.append(rec)
                records[item.name] = rec
                event(rec["status"] if rec["status"] != "pending" else "stopped", item, rec)
    finally:
        pool.close()
        summary.pending += [i.name for i in [*queue, *running.values()]]
        manifest.rewrite(records.values())
        summary.seconds = time.perf_counter() - t0
    return summary
