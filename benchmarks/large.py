"""Large prints: tiled against whole at a size that fits both ways, and the cost of a pass over the tiles.

    python benchmarks/large.py compare [--size 1024] [--tile 512]     # losses, side by side, 200 % crops
    python benchmarks/large.py passes [--sizes 1024,2048,4096,8192] [--tile 512] [--tile-iterations 1]

The demo pair (the astronaut, the procedural painting). `compare` paints it whole and tiled with the defaults,
scores both whole (the same evaluator), and writes docs/large-compare.png and docs/large-crops.png (200 % crops
where the last pass's tile borders cross). `passes` runs one pass at each size in its own process (planned for
--max-memory) and reports seconds per pass and per tile visit, and the process's peak memory (on a GPU: the
most memory torch allocated there). Each prints a table and writes benchmarks/results/large-*.json.
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

from common import machine, save, table  # type: ignore[import-not-found]
from PIL import Image

from stylegram import Options, StyleTransfer
from stylegram.images import resize_dims
from stylegram.optimize import Progress
from stylegram.parsers import memory_size
from stylegram.samples import procedural_painting, sample_photo
from stylegram.tiles import pass_grids

DOCS = Path(__file__).resolve().parents[1] / "docs"


def paint(size: int, tile: int) -> tuple[Image.Image, float, dict[int, int | None]]:
    t0 = time.perf_counter()
    t = StyleTransfer(sample_photo(), procedural_painting(), Options(size=size, tile=tile))
    img = t.render(t.at_full_size(t.run()))
    return img, time.perf_counter() - t0, t.plan


def compare(args: argparse.Namespace) -> dict:
    judge = StyleTransfer(sample_photo(), procedural_painting(), Options(size=args.size, tile=0))
    rows, images = [], {}
    for name, tile in (("whole", 0), (f"tiled ({args.tile} px tiles)", args.tile)):
        img, secs, cores = paint(args.size, tile)
        images[name] = img
        parts = judge.evaluate(img)
        rows.append({"run": name, "seconds": round(secs, 1), "cores": cores, **parts.as_dict()})
        print(f"  {rows[-1]}", flush=True)
    whole, tiled = images.values()
    w, h = whole.size
    both = Image.new("RGB", (2 * w + 16, h), "white")
    both.paste(whole, (0, 0))
    both.paste(tiled, (w + 16, 0))
    both.resize((both.width // 2, both.height // 2), Image.Resampling.LANCZOS).save(DOCS / "large-compare.png")
    last = pass_grids(h, w, args.tile, Options().tile_passes, 0, len(Options(size=args.size).scale_sizes()) - 1)[-1]
    inner = [t for t in last if t.y0 > 0 and t.x0 > 0]
    y, x = (inner[0].y0, inner[0].x0) if inner else (h // 2, w // 2)  # where four tiles' cores meet
    box = (max(0, x - 50), max(0, y - 50), max(0, x - 50) + 100, max(0, y - 50) + 100)
    crops = Image.new("RGB", (416, 200), "white")
    for k, img in enumerate((whole, tiled)):
        crops.paste(img.crop(box).resize((200, 200), Image.Resampling.NEAREST), (k * 216, 0))
    crops.save(DOCS / "large-crops.png")
    ratio = rows[1]["total"] / rows[0]["total"]
    print(table(["run", "seconds", "content", "style", "total"],
                [[r["run"], r["seconds"], f"{r['content']:.4g}", f"{r['style']:.4g}", f"{r['total']:.4g}"]
                 for r in rows]))
    print(f"tiled / whole total loss: {ratio:.3f}; crops at x={x}, y={y} (a corner of the last pass's tiles)")
    return {"size": args.size, "tile": args.tile, "runs": rows, "tiled_over_whole": ratio, "crop_at": [x, y]}


def one_pass(size: int, tile: int, iterations: int, max_memory: str, device: str) -> dict:
    """In a child process: one pass over the tiles at `size`, from the photo recoloured (the default start)."""
    import torch

    t0 = time.perf_counter()
    t = StyleTransfer(sample_photo(), procedural_painting(),
                      Options(size=size, scales=1, tile=tile, tile_passes=1, tile_iterations=iterations,
                              max_memory=memory_size(max_memory), device=device))
    setup = time.perf_counter() - t0  # the painting's Grams and the layer weights, in tiles
    t1 = time.perf_counter()
    stamps = [t1]
    for _ in t.iterate(Progress(x=t.initial_image())):
        stamps.append(time.perf_counter())
    visits = [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]
    w, h = resize_dims(sample_photo().size, size)
    cuda = t.device.type == "cuda"
    return {"size": size, "pixels": w * h, "tile": t.plan[size], "tiles": len(stamps) - 1,
            "setup_s": round(setup, 1), "pass_s": round(stamps[-1] - t1, 1),
            "measure_s": round(stamps[1] - t1 - statistics.median(visits), 1) if visits else None,
            "visit_s": round(statistics.median(visits), 2) if visits else None,
            "peak_gb": round((torch.cuda.max_memory_allocated() if cuda else
                              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**30, 2),
            "memory": "GPU allocated" if cuda else "peak RSS"}


def passes(args: argparse.Namespace) -> dict:
    rows = []
    for size in map(int, args.sizes.split(",")):
        cmd = [sys.executable, __file__, "_pass", str(size), str(args.tile), str(args.tile_iterations),
               args.max_memory, args.device]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]}", flush=True)
    base = rows[0]
    for r in rows:
        r["time_per_pixel_vs_first"] = round(r["pass_s"] / r["pixels"] / (base["pass_s"] / base["pixels"]), 2)
    print(table(["size", "tile", "tiles", "setup s", "pass s", "s/visit", "peak GiB", "s/pixel vs first"],
                [[r["size"], r["tile"], r["tiles"], r["setup_s"], r["pass_s"], r["visit_s"], r["peak_gb"],
                  r["time_per_pixel_vs_first"]] for r in rows]))
    return {"tile": args.tile, "tile_iterations": args.tile_iterations, "max_memory": args.max_memory,
            "runs": rows}


def main() -> int:
    if sys.argv[1:2] == ["_pass"]:
        size, tile, iterations = map(int, sys.argv[2:5])
        print(json.dumps(one_pass(size, tile, iterations, *sys.argv[5:7])))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("compare", "passes"))
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--sizes", default="1024,2048,4096,8192")
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--tile-iterations", type=int, default=1)
    p.add_argument("--max-memory", default="16G", help="the budget each size is planned for (passes)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    result = compare(args) if args.what == "compare" else passes(args)
    save({"date": datetime.date.today().isoformat(), "machine": machine(), **result}, args.out, f"large-{args.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
