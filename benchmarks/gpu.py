"""The CUDA path in one run of at most ~8 minutes (`make bench-gpu`): the tests marked for CUDA, the preview and the
default at 512 px, the textbook at 512 px, 2048 px whole, one pass over the tiles at 8192 px, and 64 video frames at
512 px; seconds and torch.cuda.max_memory_allocated for each. Without CUDA it says so in one line and exits 0.

    python benchmarks/gpu.py [--quick]     # --quick: smaller sizes, to try the script itself

Prints a table and writes benchmarks/results/gpu-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from common import machine, save, table  # type: ignore[import-not-found]

from stylegram import Options, StyleTransfer
from stylegram.optimize import Progress
from stylegram.preview import preview
from stylegram.samples import procedural_painting, sample_clip, sample_photo

ROOT = Path(__file__).resolve().parents[1]


DEVICE = "cuda"


def measured(name: str, fn: Callable[[], str]) -> dict:
    """Run fn on a clean CUDA memory count; its seconds, peak allocated memory and what it says of itself."""
    cuda = DEVICE == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    note = fn()
    if cuda:
        torch.cuda.synchronize()
    row = {"run": name, "seconds": round(time.perf_counter() - t0, 2),
           "max_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None, "note": note}
    print(f"  {row}", flush=True)
    return row


def transfer(size: int, **changes: object) -> Callable[[], str]:
    def run() -> str:
        t = StyleTransfer(sample_photo(), procedural_painting(), Options(size=size, device=DEVICE, **changes))
        x = t.run()
        return f"{t.progress.done} steps, loss {t.losses(x, full=True)[1].total:.4g}" if t.scale.core is None \
            else f"tiles of {t.scale.core} px"
    return run


def quick_preview(size: int) -> Callable[[], str]:
    def run() -> str:
        return f"{preview(sample_photo(), procedural_painting(), Options(size=size, device=DEVICE)).seconds:.3f} s " \
            "for the picture"
    return run


def tiled_pass(size: int) -> Callable[[], str]:
    def run() -> str:
        opts = Options(size=size, scales=1, device=DEVICE, tile_passes=1, tile_iterations=1, tile=size // 4)
        t = StyleTransfer(sample_photo(), procedural_painting(), opts)
        visits = sum(1 for _ in t.iterate(Progress(x=t.initial_image())))
        return f"{visits} visits of {t.scale.core} px tiles"
    return run


def video(frames: int, size: int) -> Callable[[], str]:
    def run() -> str:
        from stylegram.video.frames import stylize_frames

        clip = sample_clip(frames, size)
        times = [s for _, _, s in stylize_frames(clip, procedural_painting(), Options(size=size, device=DEVICE))]
        return f"first {times[0]:.2f} s, later median {sorted(times[1:])[len(times[1:]) // 2]:.2f} s"
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: try the script, not the GPU")
    ap.add_argument("--device", default="cuda", help="cpu: try the script on a machine without a GPU (with --quick)")
    ns = ap.parse_args()
    global DEVICE
    DEVICE = ns.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("gpu.py: no CUDA device on this machine; nothing to measure")
        return 0
    q = ns.quick
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    rows = [{"run": "pytest -m cuda", "seconds": None, "max_allocated_gib": None,
             "note": (tests.stdout.strip().splitlines() or ["?"])[-1]}]
    print(f"  {rows[0]}", flush=True)
    size, big, huge, frames = (128, 256, 1024, 8) if q else (512, 2048, 8192, 64)
    rows.append(measured(f"preview {size} px", quick_preview(size)))
    rows.append(measured(f"default {size} px", transfer(size)))
    rows.append(measured(f"textbook {size} px (default objective, fp32, noise, 1 scale, 500 its)",
                         transfer(size, init="noise", scales=1, tol=0.0, iterations=500, precision="fp32")))
    rows.append(measured(f"default {big} px whole", transfer(big, tile=0)))
    rows.append(measured(f"one tiled pass at {huge} px", tiled_pass(huge)))
    rows.append(measured(f"{frames} video frames at {size} px", video(frames, size)))
    print(table(["run", "s", "max allocated GiB", "note"],
                [[r["run"], r["seconds"], r["max_allocated_gib"], r["note"]] for r in rows]))
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else DEVICE
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "device": name, "quick": q,
          "rows": rows}, ROOT / "benchmarks" / "results", "gpu" if not q else "gpu-quick")
    return tests.returncode


if __name__ == "__main__":
    sys.exit(main())
