"""The web page's jobs: one worker runs them one at a time (a CPU has no room for two), each through the same
stylegram.Job as the command line, with a live preview taken from its iterates. Results live in OUT/<id>/
(inputs, result.png, report.json, job.json) and are found again after a restart.

`stylegram serve` runs the worker in the main thread and the web server in another: torch ran ~10 % slower in a
second thread (docs/serve.md), and in the main thread Ctrl-C reaches the running job exactly as in the CLI."""

from __future__ import annotations

import ctypes
import gc
import io
import json
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import StylegramError
from ..files import write_json
from ..job import Job
from ..options import Options, Outputs
from ..preview import preview
from ..transfer import Iterate
from .limits import Limits, QueueFull, expired

ID_PATTERN = r"^[0-9a-f]{32}$"
FINAL = ("done", "stopped", "failed", "cancelled")
PREVIEW_EVERY_S = 0.5  # at most two preview PNGs a second
PREVIEW_PNG_LEVEL = 1  # a live image is seen once: fast PNG (a 512 px one in ~5 ms instead of ~30)


@dataclass
class WebJob:
    """A job as the page sees it: its state, progress and the latest preview."""

    id: str
    dir: Path
    options: Options
    names: dict[str, Any]  # the uploads' own names, for display only
    styles: int = 1
    mask: bool = False
    state: str = "queued"  # queued -> running -> done | stopped | failed; queued -> cancelled
    created: float = field(default_factory=time.time)
    error: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    version: int = 0  # bumped at every change, so a listener knows when to send
    preview: bytes | None = field(default=None, repr=False)
    preview_version: int = 0
    stop_requested: bool = False
    owner: str | None = None  # the browser that submitted it (access.py); never sent to a page
    submission: str | None = None  # the page's key for one press of Start: a repeat returns this job
    images: tuple | None = field(default=None, repr=False)  # (photo, paintings) decoded at submission, for the preview

    def input_paths(self) -> tuple[str, list[str], str | None]:
        return (str(self.dir / "content.png"), [str(self.dir / f"style-{k + 1}.png") for k in range(self.styles)],
                str(self.dir / "mask.png") if self.mask else None)

    def summary(self) -> dict[str, Any]:
        """What a page sees: no owner, no server path."""
        return {"id": self.id, "state": self.state, "created": self.created, "error": self.error,
                "progress": self.progress, "seconds": self.seconds, "names": self.names, "styles": self.styles,
                "mask": self.mask, "options": self.options.to_dict(), "preview_version": self.preview_version,
                "result": (self.dir / "result.png").is_file(), "report": (self.dir / "report.json").is_file()}

    def save(self) -> None:
        meta = {k: v for k, v in self.summary().items() if k not in ("preview_version", "result", "report")}
        write_json(self.dir / "job.json", {**meta, "owner": self.owner, "submission": self.submission})

    @property
    def waiting(self) -> bool:
        return self.state in ("queued", "running")

    def touch(self) -> None:
        self.version += 1


def new_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    def __init__(self, out: Path, own_thread: bool = True, limits: Limits | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.out = out
        self.limits = limits or Limits()
        self.log = log
        self.own_thread = own_thread  # False: the caller runs the worker (run_forever)
        self.jobs: dict[str, WebJob] = {}
        self.pending: deque[str] = deque()
        self.lock = threading.Condition()
        self.closing = False
        self.interrupted = False  # a signal stopped a running job (its image saved)
        self.load()
        self.worker = threading.Thread(target=self._work, name="stylegram-worker", daemon=True)

    def load(self) -> None:
        """The gallery of earlier runs. A job that was queued or running when the server stopped is not run
        again by itself: it is marked so, and "run again" starts it anew."""
        for meta_path in sorted(self.out.glob("*/job.json"), key=lambda p: p.stat().st_mtime):
            try:
                meta = json.loads(meta_path.read_text())
                job = WebJob(meta["id"], meta_path.parent, Options(**meta["options"]), meta.get("names", {}),
                             meta.get("styles", 1), meta.get("mask", False), meta["state"], meta["created"],
                             meta.get("error"), meta.get("progress", {}), meta.get("seconds"),
                             owner=meta.get("owner"), submission=meta.get("submission"))
            except (OSError, ValueError, KeyError, TypeError, StylegramError):
                continue  # not ours, or damaged: leave it alone
            if job.id != meta_path.parent.name:
                continue
            if job.state not in FINAL:
                job.state, job.error = "cancelled", "the server stopped before this job finished"
            self.jobs[job.id] = job

    def start(self) -> None:
        if self.own_thread:
            self.worker.start()

    def run_forever(self) -> bool:
        """The worker in the calling thread, until shutdown() or a job interrupted by a signal (then True)."""
        self._work()
        return self.interrupted

    def submitted(self, owner: str, submission: str | None) -> WebJob | None:
        """The job this person's page already made for this press of Start, if any."""
        if not submission:
            return None
        with self.lock:
            return next((j for j in self.jobs.values() if j.owner == owner and j.submission == submission), None)

    def check_room(self, owner: str) -> None:
        """QueueFull when this person, or everyone together, already has as many jobs waiting as allowed."""
        with self.lock:
            waiting = [j for j in self.jobs.values() if j.waiting]
            mine = sum(j.owner == owner for j in waiting)
        if mine >= self.limits.queued_per_person:
            raise QueueFull(f"you have {mine} jobs queued or running (at most {self.limits.queued_per_person} "
                            f"each): wait for one to finish, or cancel one")
        if len(waiting) >= self.limits.queued_total:
            raise QueueFull(f"the server has {len(waiting)} jobs queued or running (at most "
                            f"{self.limits.queued_total}): try again in a while")

    def submit(self, job: WebJob) -> None:
        with self.lock:
            self.jobs[job.id] = job
            self.pending.append(job.id)
            job.save()
            self._bump_queue()
            self.lock.notify_all()

    def position(self, job_id: str) -> int | None:
        """1 for the next job to run; None when it is not waiting."""
        with self.lock:
            return self.pending.index(job_id) + 1 if job_id in self.pending else None

    def cancel(self, job_id: str) -> bool:
        with self.lock:
            if job_id not in self.pending:
                return False
            self.pending.remove(job_id)
            job = self.jobs[job_id]
            job.state = "cancelled"
            job.save()
            job.touch()
            self._bump_queue()
            return True

    def delete(self, job_id: str) -> bool:
        """Remove a job and its files; a queued one is cancelled first. False while it runs (stop it first)."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.state == "running":
                return False
            if job_id in self.pending:
                self.cancel(job_id)
            del self.jobs[job_id]
        shutil.rmtree(job.dir, ignore_errors=True)
        return True

    def prune(self) -> None:
        """Delete the finished jobs the limits no longer keep (oldest first), saying so in the log."""
        with self.lock:
            finished = [j for j in self.jobs.values() if j.state in FINAL]
        for job, why in expired(finished, self.limits):
            if self.delete(job.id):
                self.log(f"stylegram serve: deleted job {job.id[:8]} ({why})")

    def stop(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state != "running":
            return False
        job.stop_requested = True
        return True

    def close_soon(self) -> None:
        """From a signal handler: the worker loop returns at its next look (no exception raised into the thread)."""
        with self.lock:
            self.closing = True
            self.lock.notify_all()

    def shutdown(self, timeout: float = 60.0) -> None:
        """Stop the running job as Ctrl-C stops the CLI (its image is saved) and cancel the waiting ones."""
        with self.lock:
            self.closing = True
            for job_id in list(self.pending):
                self.cancel(job_id)
            for job in self.jobs.values():
                if job.state == "running":
                    job.stop_requested = True
            self.lock.notify_all()
        if self.own_thread and self.worker.is_alive():
            self.worker.join(timeout)

    def _bump_queue(self) -> None:
        for job_id in self.pending:  # their positions moved
            self.jobs[job_id].touch()

    def _work(self) -> None:
        self.prune()
        warm()
        while True:
            with self.lock:
                while not self.pending and not self.closing:
                    self.lock.wait()
                if self.closing:
                    return
                job = self.jobs[self.pending.popleft()]
                job.state = "running"
                self._bump_queue()
            self._run(job)

    def _run(self, job: WebJob) -> None:
        job.save()
        job.touch()
        t0 = time.perf_counter()
        content, styles, mask = job.input_paths()
        options = job.options.replace(mask=mask) if mask else job.options
        last = [0.0]
        images, job.images = job.images, None  # the uploads as decoded at submission: not decoded again
        previewed = not options.texture and \
            quick_picture(job, images[0] if images else content, images[1] if images else styles, options)

        def on_iterate(it: Iterate) -> bool:
            elapsed = time.perf_counter() - t0
            done = it.iteration
            job.progress = {
                "iteration": done, "iterations": it.iterations, "scale": it.scale + 1,
                "scales": len(options.scale_sizes()), "losses": it.losses.as_dict(), "elapsed": round(elapsed, 2),
                # an upper bound: --tol usually ends each scale before --iterations
                "eta": round(elapsed / done * (it.iterations - done), 1) if done else None,
                "tile": list(it.tile) if it.tile else None,
            }
            now = time.perf_counter()
            coarse = previewed and it.scale < len(options.scale_sizes()) - 1
            if (job.preview is None or now - last[0] >= PREVIEW_EVERY_S) and not coarse:  # the preview stays up
                # until the final scale's own image, sharper than the coarse scales' (their progress still shows)
                job.preview, job.preview_version, last[0] = png_bytes(it.image()), job.preview_version + 1, now
            job.touch()
            return job.stop_requested

        try:
            result = Job(content, styles, str(job.dir / "result.png"), options,
                         Outputs(report=str(job.dir / "report.json"))).run(on_iterate)
            job.state = "stopped" if job.stop_requested or result.interrupted else "done"
            if result.interrupted:  # Ctrl-C or SIGTERM reached the job (worker in the main thread): leave
                with self.lock:
                    self.closing = self.interrupted = True
        except Exception as e:  # a failed job must not take the server down; it says why on the page
            why = str(e) if isinstance(e, StylegramError) else f"{type(e).__name__}: {e}"
            # the page is told what went wrong with its files, never where the server keeps them
            job.state, job.error = "failed", why.replace(f"{job.dir}/", "").replace(str(self.out), "<results>")
        job.seconds = round(time.perf_counter() - t0, 2)
        if (job.dir / "result.png").is_file():
            job.preview = (job.dir / "result.png").read_bytes()
            job.preview_version += 1
        job.save()
        job.touch()
        self.prune()
        _release_memory()


def quick_picture(job: WebJob, content: Any, styles: list, options: Options) -> bool:
    """The one-pass AdaIN picture first (well under a second at 512 px), before the optimisation starts."""
    try:
        quick = preview(content, styles, options)
    except StylegramError:  # the transfer will say what is wrong
        return False
    job.preview, job.preview_version = png_bytes(quick.image), job.preview_version + 1
    job.progress = {"iteration": 0, "stage": "preview", "preview_seconds": round(quick.seconds, 3)}
    job.touch()
    return True


def png_bytes(img: Image.Image) -> bytes:
    """A live image as a fast PNG: it is seen once."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=PREVIEW_PNG_LEVEL)
    return buf.getvalue()


def warm() -> None:
    """The network and the AdaIN decoder loaded (and cached), and one tiny picture painted, before the first job:
    its first picture then follows Start at once (the first conv of a process pays a one-time set-up)."""
    try:
        tiny = Image.new("RGB", (64, 48), "gray")
        preview(tiny, tiny, Options(size=64))
    except Exception:  # noqa: BLE001, S110  (a warm-up must never stop the worker; a job will say what is wrong)
        pass


def _release_memory() -> None:
    """Hand the freed heap back to the system after a job, so an idle server stays small (glibc only)."""
    try:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
