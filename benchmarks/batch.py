"""Batch: 8 items at 128 px with 1 local worker, 2 local workers, and Ray with 2 CPUs (1 or 2 actors).

    python benchmarks/batch.py [--items 8] [--size 128]

Items per minute (wall clock, start-up included), the pool's start-up (spawning workers, or ray.init), the
per-item overhead (wall clock per item beyond the painting the workers report, with the workers busy in
parallel; also on trivial items, 1 iteration at 32 px, where nothing else is left), the driver's own work per
item (reading inputs, submitting, taking results: what caps how many workers one driver can feed), and the peak
memory of a worker. Prints a table and writes benchmarks/results/batch-DATE.json.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import machine, save, table  # type: ignore[import-not-found]

from stylegram import Options
from stylegram.batch.items import plan
from stylegram.batch.pool import LocalPool, RayPool
from stylegram.batch.run import run_batch
from stylegram.samples import procedural_painting, sample_clip


def inputs(folder: Path, items: int, size: int) -> tuple[list[str], list[str]]:
    """items/4 photos (frames of the sample clip) x 4 paintings (the procedural painting, turned)."""
    photos, paintings = [], []
    for k, frame in enumerate(sample_clip(max(1, items // 4), size)):
        photos.append(str(folder / f"photo{k}.png"))
        frame.save(photos[-1])
    for k in range(4):
        paintings.append(str(folder / f"painting{k}.png"))
        procedural_painting().rotate(90 * k).save(paintings[-1])
    return photos, paintings


def run(name: str, make_pool, photos: list[str], paintings: list[str], options: Options, out: Path) -> dict:
    t0 = time.perf_counter()
    pool = make_pool()
    pool.ready()  # workers spawned (or Ray started) and the network loaded in each
    startup = time.perf_counter() - t0
    records = []
    summary = run_batch(plan(photos, paintings, options), out, pool,
                        on_event=lambda kind, item, rec: records.append(rec) if kind == "done" else None)
    wall = time.perf_counter() - t0
    n, workers = len(summary.done), pool.workers
    painting = sum(r["seconds"] for r in records)
    return {"run": name, "workers": workers, "items": n, "failed": len(summary.failed), "wall_s": round(wall, 2),
            "items_per_min": round(60 * n / wall, 2), "startup_s": round(startup, 2),
            "item_s_median": round(statistics.median(r["seconds"] for r in records), 2),
            "overhead_per_item_s": round((wall - startup - painting / workers) / n, 3),
            "driver_per_item_s": round(summary.driver_s / n, 4),
            "peak_worker_mb": max(r["peak_rss_mb"] for r in records)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=8)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    options = Options(size=args.size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos, paintings = inputs(Path(tmp), args.items, args.size)
        pools = [("1 local worker (2 threads)", lambda: LocalPool(1, 2)),
                 ("2 local workers (1 thread each)", lambda: LocalPool(2, 1)),
                 ("Ray, 2 CPUs: 1 actor (2 threads)", lambda: RayPool(None, use_gpu=False)),
                 ("Ray, 2 CPUs: 2 actors (1 thread each)", lambda: RayPool(None, 2, 1, use_gpu=False))]
        for k, (name, make) in enumerate(pools):
            rows.append(run(name, make, photos, paintings, options, Path(tmp) / f"run{k}"))
            print(f"  {name}: {rows[-1]}", flush=True)
        # what a cluster's scaling hangs on: the cost of an item that does (almost) nothing
        trivial = Options(size=32, iterations=1, scales=1)
        for k, (name, make) in enumerate([pools[0], pools[2]]):
            rows.append(run(f"{name}, trivial items", make, photos, paintings, trivial, Path(tmp) / f"t{k}"))
            print(f"  {rows[-1]['run']}: {rows[-1]}", flush=True)
    print(table(["run", "workers", "items/min", "start-up s", "item s (median)", "overhead/item s", "driver/item s",
                 "peak MB/worker"],
                [[r["run"], r["workers"], r["items_per_min"], r["startup_s"], r["item_s_median"],
                  r["overhead_per_item_s"], r["driver_per_item_s"], r["peak_worker_mb"]] for r in rows]))
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size, "items": args.items,
          "options": "defaults", "runs": rows}, args.out, "batch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
