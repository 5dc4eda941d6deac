"""The test suite on a busy machine: every core kept busy by a CPU hog that this script starts and stops itself,
the whole suite run N times in a row (default 2). Tests must wait on events, not on the clock; this shows they do.

    python benchmarks/under_load.py [--runs 2] [--hogs N] [-- PYTEST ARGS]

Prints a table and writes benchmarks/results/under-load-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from common import cpu_model, table

ROOT = Path(__file__).resolve().parents[1]


def hog(stop: mp.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 1103515245 + 12345) % 2**31


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="busy processes (default: one per core)")
    ap.add_argument("pytest", nargs="*", help="arguments for pytest (after --)")
    ns = ap.parse_args()
    stop = mp.Event()
    hogs = [mp.Process(target=hog, args=(stop,), daemon=True) for _ in range(ns.hogs)]
    for p in hogs:
        p.start()
    rows, runs = [], []
    try:
        for k in range(ns.runs):
            t0 = time.perf_counter()
            # pyproject's addopts already has -q: a second one would drop the "N passed" line
            r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *ns.pytest], cwd=ROOT,
                               capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            last = next((line for line in reversed(r.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", line)),
                        "")
            counts = {m[1]: int(m[0]) for m in re.findall(r"(\d+) (passed|failed|errors?|skipped)", last)}
            runs.append({"run": k + 1, "seconds": round(seconds, 1), "exit": r.returncode, **counts, "summary": last})
            rows.append([k + 1, f"{seconds / 60:.1f} min", counts.get("passed", 0), counts.get("failed", 0),
                         counts.get("error", 0) + counts.get("errors", 0), counts.get("skipped", 0)])
            if r.returncode:
                print(r.stdout[-4000:], r.stderr[-2000:], sep="\n")
    finally:
        stop.set()
        for p in hogs:
            p.join(5)
            if p.is_alive():
                p.kill()
    print(f"{cpu_model()}, {os.cpu_count()} cores, {ns.hogs} busy-loop processes beside the suite")
    print(table(["run", "time", "passed", "failed", "errors", "skipped"], rows))
    out = ROOT / "benchmarks" / "results" / f"under-load-{date.today()}.json"
    out.write_text(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count(), "hogs": ns.hogs, "runs": runs}, indent=1))
    print(f"wrote {out}")
    return max(r["exit"] for r in runs)


if __name__ == "__main__":
    sys.exit(main())
