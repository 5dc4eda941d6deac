"""Speed on equal terms: how long each configuration takes to first reach the loss a textbook run ends at, on the
*default's own* objective (balanced normalisation, max pooling, beta 15), every image re-scored in fp32 with the same
code at the same size.

- textbook: fp32, white noise, one scale, L-BFGS, --iterations (500), no early stop, on the default objective;
- default, and --init adain with 1, 2 or 3 scales (and any --runs given), each in its own process;
- paper: `--paper`, a *different* objective (mean normalisation, average pooling, beta 40), scored in the default's
  units like the rest, for the record only.

Each run keeps its final scale's images as they were after each step (8-bit, as a file would be), with the seconds
since its process began work; the first one at or below the textbook's final loss is found by bisection (losses
fall nearly monotonically under L-BFGS) and its time reported. Prints a table and writes
benchmarks/results/equal-terms-<date>.json.

    python benchmarks/equal_terms.py [--size 512] [--iterations 500] [--runs default adain-1 adain-2 adain-3 paper]

Uses ../shared/images (Tuebingen x Starry Night) and skips cleanly when it is absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import IMAGES, child_or_skip, machine, save, table  # type: ignore[import-not-found]
from PIL import Image

from stylegram import Job, Options, StyleTransfer

RUNS = {
    "default": {},
    "adain-1": {"init": "adain", "scales": 1},
    "adain-2": {"init": "adain", "scales": 2},
    "adain-3": {"init": "adain", "scales": 3},
    "paper": "paper",
}


def textbook(size: int, iterations: int) -> Options:
    return Options(size=size, init="noise", scales=1, tol=0.0, iterations=iterations, precision="fp32")


def child(spec: dict) -> dict:
    """One run in this process: the job, and its final scale's images with the seconds since work began."""
    options = Options(**spec["options"])
    last = len(options.scale_sizes()) - 1
    frames, times = [], []
    t0 = time.perf_counter()

    def keep(it: object) -> None:
        if it.scale == last:  # type: ignore[attr-defined]
            times.append(time.perf_counter() - t0)
            frames.append(np.asarray(it.image()))  # type: ignore[attr-defined]

    result = Job(spec["content"], [spec["style"]], spec["output"], options).run(keep)
    np.savez(spec["frames"], frames=np.stack(frames), times=np.array(times))
    return {"wall_s": round(time.perf_counter() - t0, 2), "steps": len(result.report["trace"]),
            "final_scale_steps": len(frames)}


def spawn(name: str, options: Options, out: Path) -> dict:
    spec = {"options": options.to_dict(), "content": str(IMAGES / "tubingen.jpg"),
            "style": str(IMAGES / "starry_night.jpg"), "output": str(out / f"{name}.png"),
            "frames": str(out / f"{name}.npz")}
    r = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "frames": spec["frames"], "output": spec["output"]}


class Scorer:
    """The default objective in fp32 at one size: the same code for every image."""

    def __init__(self, size: int) -> None:
        self.t = StyleTransfer(IMAGES / "tubingen.jpg", IMAGES / "starry_night.jpg",
                               Options(size=size, precision="fp32"))

    def __call__(self, image: Image.Image | np.ndarray) -> float:
        img = image if isinstance(image, Image.Image) else Image.fromarray(image)
        return self.t.evaluate(img).total


def first_reaching(score: Scorer, frames: np.ndarray, target: float) -> int | None:
    """The first step whose image scores <= target (bisection), or None when even the last does not."""
    if score(frames[-1]) > target:
        return None
    lo, hi = 0, len(frames) - 1  # frames[hi] reaches it
    while lo < hi:
        mid = (lo + hi) // 2
        if score(frames[mid]) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--iterations", type=int, default=500, help="the textbook run's iterations")
    p.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if child_or_skip(args.child, child):
        return 0
    work = Path(tempfile.mkdtemp(prefix="equal-terms-"))
    runs = {"textbook": spawn("textbook", textbook(args.size, args.iterations), work)}
    print(f"textbook: {runs['textbook']['wall_s']} s", flush=True)
    for name in args.runs:
        spec = RUNS[name]
        options = Options.paper(size=args.size) if spec == "paper" else Options(size=args.size, **spec)
        runs[name] = spawn(name, options, work)
        print(f"{name}: {runs[name]['wall_s']} s", flush=True)
    score = Scorer(args.size)
    target = score(Image.open(runs["textbook"]["output"]))
    rows = []
    for name, r in runs.items():
        data = np.load(r["frames"])
        r["final_loss"] = score(Image.open(r["output"]))
        k = first_reaching(score, data["frames"], target)
        r["reaches_at_s"] = None if k is None else round(float(data["times"][k]), 2)
        r["ratio_to_textbook"] = None if k is None else round(r["reaches_at_s"] / runs["textbook"]["wall_s"], 4)
        rows.append([name + (" (other objective)" if name == "paper" else ""), r["wall_s"],
                     f"{r['final_loss']:.4g}", r["reaches_at_s"] if k is not None else "never",
                     f"1/{1 / r['ratio_to_textbook']:.1f}" if k is not None and r['ratio_to_textbook'] else "-"])
        print(f"{name}: final {r['final_loss']:.4g}, reaches {target:.4g} at {r['reaches_at_s']} s", flush=True)
    print(table(["run", "wall s", "final loss (fp32)", f"s to reach {target:.4g}", "vs textbook"], rows))
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size,
          "objective": "the default's (balanced, max pooling, beta 15), fp32 re-scored", "target": target,
          "textbook": textbook(args.size, args.iterations).to_dict(), "runs": runs}, args.out, "equal-terms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
