"""A clip across workers: cut at shot changes, long shots split into chunks that overlap by a few frames, each
chunk painted on a worker with the temporal term (frames.stylize_frames), the overlaps cross-faded so a join does
not pop. A chunk is a batch item (batch.run.run_batch): retries, the manifest, Ctrl-C and --resume per chunk come
from there, and the same pools (local processes or Ray) run it."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..files import atomic_write, write_json
from ..options import Options
from . import CUT, OVERLAP

FRAME = "frame_{:05d}.png"  # frame k (from 0) of the clip is frame_{k+1}


def shot_cuts(frames: Sequence[Image.Image], threshold: float = CUT) -> list[int]:
    """The frames where a new shot starts: the grey-level histogram (of a 64 px thumbnail, 32 bins) differs from
    the frame before's by more than `threshold` (half the L1 distance: 0 same, 1 disjoint) and by over 3x the
    usual change around it. A histogram hardly changes in a pan, which moves every pixel."""
    hists = [np.histogram(np.asarray(f.convert("L").resize((64, 36))), bins=32, range=(0, 256))[0] / (64 * 36)
             for f in frames]
    d = [0.0] + [float(np.abs(b - a).sum() / 2) for a, b in zip(hists, hists[1:], strict=False)]
    cuts = []
    for k in range(1, len(d)):
        around = d[max(1, k - 5):k] + d[k + 1:k + 6]
        if d[k] > threshold and d[k] > 3 * (float(np.median(around)) if around else 0.0):
            cuts.append(k)
    return cuts


@dataclass(frozen=True)
class Chunk:
    """Frames start..end-1; the first `lead` of them are also the last of the chunk before (same shot)."""

    start: int
    end: int
    lead: int


def plan_chunks(n: int, cuts: Sequence[int], length: int, overlap: int = OVERLAP) -> list[Chunk]:
    """Each shot in chunks of at most `length` frames, each after the first starting `overlap` frames early."""
    length = max(length, overlap + 1)
    bounds, chunks = [0, *[c for c in cuts if 0 < c < n], n], []
    for a, b in zip(bounds, bounds[1:], strict=False):
        start = a
        while True:
            end = min(b, start + length)
            chunks.append(Chunk(start, end, 0 if start == a else overlap))
            if end >= b:
                break
            start = end - overlap
    return chunks


def chunk_length(n: int, workers: int, overlap: int = OVERLAP) -> int:
    """Frames per chunk so that `workers` chunks cover a shot of n frames (overlaps included)."""
    return max(2 * overlap + 1, math.ceil((n + (workers - 1) * overlap) / workers))


@dataclass
class ChunkItem:
    """One chunk of a clip as a batch item: its name is the report written last, once its frames are in place."""

    source: str
    styles: Sequence[str]
    options: Options
    temporal_weight: float
    chunk: Chunk

    @property
    def name(self) -> str:
        return f"chunk_{self.chunk.start:05d}_{self.chunk.end:05d}.json"

    @property
    def folder(self) -> str:
        return Path(self.name).stem

    @property
    def key(self) -> str:
        data = {"source": os.path.abspath(self.source), "styles": [os.path.abspath(s) for s in self.styles],
                "options": self.options.to_dict(), "temporal_weight": self.temporal_weight,
                "chunk": [self.chunk.start, self.chunk.end]}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def record(self, status: str, **extra: Any) -> dict[str, Any]:
        return {"item": self.name, "status": status, "frames": [self.chunk.start, self.chunk.end],
                "key": self.key, "options": self.options.to_dict(), **extra}


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # read back at once by a worker or the blend
    return buf.getvalue()


def chunk_payload(item: ChunkItem, frames: Sequence[Image.Image], styles: dict[str, bytes]) -> dict[str, Any]:
    """A worker's job: the chunk's frames and the paintings as bytes (a cluster needs no shared disk)."""
    c = item.chunk
    return {"task": f"{__name__}:paint_chunk", "name": item.name, "options": item.options.to_dict(),
            "temporal_weight": item.temporal_weight, "frames": [png(f) for f in frames[c.start:c.end]],
            "files": {f"style{k}": (path, styles[path]) for k, path in enumerate(item.styles)}}


def paint_chunk(job: dict[str, Any]) -> dict[str, Any]:
    """Worker side: the chunk's frames painted in order with the temporal term, as PNG bytes."""
    from ..errors import StylegramError
    from ..hardware import peak_rss_mb, worker_facts
    from ..images import load_image
    from .frames import stylize_frames

    t0, where = time.perf_counter(), worker_facts()
    try:
        frames = [Image.open(io.BytesIO(b)).convert("RGB") for b in job["frames"]]
        styles = [load_image(Image.open(io.BytesIO(data)), f"style {given}") for given, data in job["files"].values()]
        out = [png(img) for _, img, _ in stylize_frames(frames, styles, Options(**job["options"]),
                                                         job["temporal_weight"])]
    except StylegramError as e:
        return {"status": "failed", "error": str(e), "retry": False, **where}
    except Exception as e:  # noqa: BLE001 (a worker reports, the driver decides)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}", "retry": True, **where}
    seconds = round(time.perf_counter() - t0, 3)
    return {"status": "done", "frames": out, "seconds": seconds, "losses": None, "peak_rss_mb": peak_rss_mb(),
            "report": {"frames": len(out), "seconds": seconds}, **where}


def write_chunk(item: ChunkItem, result: dict[str, Any], out: Path) -> None:
    """A done chunk's frames into its folder, then its report (the file that says it is done)."""
    folder = out / item.folder
    folder.mkdir(exist_ok=True)
    for k, data in enumerate(result["frames"]):
        atomic_write(folder / FRAME.format(item.chunk.start + k + 1), lambda f, d=data: f.write(d))
    write_json(out / item.name, {**result["report"], "frames": [item.chunk.start, item.chunk.end]})


def blend(chunks: Sequence[Chunk], out: Path, work: Path) -> list[Path]:
    """The clip's frames from the chunks' folders in `out` into `work`: where two chunks overlap, a cross-fade
    from the earlier chunk's frame to the later one's over the overlap."""
    paths = []
    for i, c in enumerate(chunks):
        folder = out / f"chunk_{c.start:05d}_{c.end:05d}"
        first = c.start + c.lead
        prev = chunks[i - 1] if c.lead else None
        for k in range(c.start, c.end):
            if k < first or (i + 1 < len(chunks) and chunks[i + 1].lead and k >= chunks[i + 1].start):
                continue  # an overlap frame: written below, by the later chunk (where both are known)
            paths.append(work / FRAME.format(k + 1))
            data = (folder / FRAME.format(k + 1)).read_bytes()
            atomic_write(paths[-1], lambda f, d=data: f.write(d))
        if prev is not None:
            pfolder = out / f"chunk_{prev.start:05d}_{prev.end:05d}"
            for j in range(c.lead):
                k, w = c.start + j, (j + 1) / (c.lead + 1)
                a = Image.open(pfolder / FRAME.format(k + 1)).convert("RGB")
                b = Image.open(folder / FRAME.format(k + 1)).convert("RGB")
                paths.append(work / FRAME.format(k + 1))
                mixed = Image.blend(a, b, w)
                atomic_write(paths[-1], lambda f, img=mixed: img.save(f, format="PNG"))
    return sorted(paths)
