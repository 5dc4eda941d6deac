"""Is the default at least 10x faster than the textbook configuration, at an equal or lower loss?

In one run on one machine:
- baseline: the paper as usually implemented (fp32, one scale at 512 px, white noise, L-BFGS, 500 iterations);
- default: `stylegram` with its defaults at --size 512;
- before: the defaults until 2026-11-28 (common.BEFORE), for the time the new defaults cost (<= 1.3x).
Each runs in its own process (for an honest peak RSS). The saved images are then scored in fp32 at 512 px with
the same loss code, in the current default's units. Also: seconds per iteration vs a bare VGG-19 forward+backward
of the same size, and the default's peak RSS at 512, 1024 and 2048 px (a few iterations per scale; the estimate
adds the full L-BFGS history). Prints a table and writes benchmarks/results/speed-<date>.json.

    python benchmarks/speed.py [--baseline-iterations 500] [--rss-sizes 512 1024 2048] [--out DIR]

Uses ../shared/images (Tuebingen x Starry Night) and skips cleanly when it is absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import BEFORE, IMAGES, child_or_skip, machine, save, table  # type: ignore[import-not-found]

from stylegram import Options, StyleTransfer
from stylegram.hardware import estimate_bytes
from stylegram.images import resize_dims
from stylegram.job import Job
from stylegram.network import load_vgg19


def child(spec: dict) -> dict:
    """One configuration in this process: the job the CLI runs, then its own peak RSS."""
    options = Options(**spec["options"])
    t0 = time.perf_counter()
    data = Job(spec["content"], spec["style"], spec["output"], options).run().report
    wall = time.perf_counter() - t0
    per_scale: dict[int, int] = {}
    for t in data["trace"]:
        per_scale[t["scale"]] = per_scale.get(t["scale"], 0) + 1
    at_size = [t["seconds"] for t in data["trace"] if t["scale"] == max(per_scale)]
    steps = [b - a for a, b in zip(at_size, at_size[1:], strict=False)]
    return {"wall_s": round(wall, 2), "iterations_per_scale": [per_scale[k] for k in sorted(per_scale)],
            "scale_sizes": options.scale_sizes(), "size": data["size"],
            "s_per_iteration_final_scale": statistics.median(steps) if steps else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "output": data["output"]}


def spawn(name: str, options: Options, out: Path) -> dict:
    spec = {"options": options.to_dict(), "content": str(IMAGES / "tubingen.jpg"),
            "style": str(IMAGES / "starry_night.jpg"), "output": str(out / f"{name}.png")}
    r = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def score(path: str, size: int) -> dict:
    """The saved image's losses in fp32 at `size` with the default weights (the same code for both)."""
    t = StyleTransfer(IMAGES / "tubingen.jpg", IMAGES / "starry_night.jpg", Options(size=size, precision="fp32"))
    return t.evaluate(path).as_dict()


def bare_vgg(width: int, height: int, repeats: int = 5) -> float:
    """Median seconds of a VGG-19 forward (to conv5_1, as the losses need) + backward to the image."""
    net = load_vgg19()
    x = torch.rand(1, 3, height, width, requires_grad=True)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        feats = net(x, ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1"))
        sum(f.sum() for f in feats.values()).backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])  # the first includes one-off allocation


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--baseline-iterations", type=int, default=500)
    p.add_argument("--rss-sizes", type=int, nargs="*", default=[512, 1024, 2048])
    p.add_argument("--rss-iterations", type=int, default=2, help="iterations per scale of the RSS runs")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if child_or_skip(args.child, child):
        return 0
    images = args.out / "speed-images"
    images.mkdir(parents=True, exist_ok=True)
    runs = {"default": spawn("default", Options(size=args.size), images)}
    runs["before"] = spawn("before", Options(size=args.size, **BEFORE), images)
    print(f"default: {runs['default']['wall_s']} s, before: {runs['before']['wall_s']} s; now the baseline", flush=True)
    runs["baseline"] = spawn("baseline", Options.paper(size=args.size, iterations=args.baseline_iterations), images)
    for name, r in runs.items():
        r["final"] = score(r["output"], args.size)
        print(f"{name}: {r['wall_s']} s, iterations per scale {r['iterations_per_scale']}, "
              f"total loss {r['final']['total']:.4g}", flush=True)
    w, h = runs["baseline"]["size"]
    bare = bare_vgg(w, h)
    base, default = runs["baseline"], runs["default"]
    rss = []
    for size in args.rss_sizes:
        r = spawn(f"rss{size}", Options(size=size, iterations=args.rss_iterations, tol=0.0), images)
        dims = resize_dims(tuple(r["size"]), size)
        rss.append({"size": size, "pixels": r["size"], "peak_rss_mb": round(r["peak_rss_mb"]),
                    "estimate_mb": round(estimate_bytes(*dims) / 2**20), "wall_s": r["wall_s"]})
        print(f"rss {size}: {r['peak_rss_mb']:.0f} MB", flush=True)
    result = {
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "images": "tubingen.jpg x starry_night.jpg", "size": [w, h], "runs": runs,
        "time_ratio_default_over_baseline": default["wall_s"] / base["wall_s"],
        "loss_ratio_default_over_baseline": default["final"]["total"] / base["final"]["total"],
        "time_ratio_default_over_before": default["wall_s"] / runs["before"]["wall_s"],
        "bare_vgg_fwd_bwd_s": bare,
        "overhead_per_iteration": base["s_per_iteration_final_scale"] / bare - 1,
        "peak_rss": rss,
    }
    result["acceptance"] = (result["time_ratio_default_over_baseline"] <= 0.1
                            and result["loss_ratio_default_over_baseline"] <= 1.0
                            and result["time_ratio_default_over_before"] <= 1.3)
    rows = [[name, f"{r['wall_s']:.0f}", "+".join(map(str, r["iterations_per_scale"])),
             ",".join(map(str, r["scale_sizes"])), f"{r['final']['total']:.4g}", f"{r['final']['content']:.4g}",
             f"{r['final']['style']:.4g}", f"{r['peak_rss_mb']:.0f}"] for name, r in runs.items()]
    print(table(["run", "wall s", "iterations", "scales px", "total", "content", "style", "peak RSS MB"], rows))
    print(f"\ndefault / baseline: time {result['time_ratio_default_over_baseline']:.3f} "
          f"(1/{1 / result['time_ratio_default_over_baseline']:.1f}), "
          f"loss {result['loss_ratio_default_over_baseline']:.3f}; default / before (the defaults until 2026-11-28): "
          f"time {result['time_ratio_default_over_before']:.2f}; acceptance (time <= 0.1 and loss <= 1 of the "
          "baseline, time <= 1.3 of before): "
          f"{'PASS' if result['acceptance'] else 'FAIL'}")
    print(f"seconds per iteration at {w}x{h}: {base['s_per_iteration_final_scale']:.2f}; bare VGG-19 fwd+bwd "
          f"{bare:.2f}; overhead {100 * result['overhead_per_iteration']:.0f}%")
    print(table(["size", "pixels", "peak RSS MB", "estimate MB", "wall s"],
                [[r["size"], "x".join(map(str, r["pixels"])), r["peak_rss_mb"], r["estimate_mb"], r["wall_s"]]
                 for r in rss]))
    save(result, args.out, "speed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
