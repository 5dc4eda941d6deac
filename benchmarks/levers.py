"""What each speed lever buys per iteration (loss + gradient), measured in one process on this machine.

    python benchmarks/levers.py [--size 256] [--repeats 5]

Levers: channels_last, activation checkpointing (its cost), 1 vs all threads, torch.compile (with its
compile time), bf16 autocast (at a quarter of the pixels when the CPU has no fast bf16: it is emulated
there). Each row is the median seconds of one L-BFGS-style evaluation of eq. 7 and its gradient. Uses the
bundled demo images. Writes benchmarks/results/levers-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from common import machine, table  # type: ignore[import-not-found]

from stylegram import Options, StyleTransfer
from stylegram.hardware import cpu_has_fast_bf16
from stylegram.samples import procedural_painting, sample_photo


def timed(step: Callable[[], None], repeats: int) -> tuple[float, float]:
    """(first call, median of the next `repeats`) in seconds."""
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def evaluation(t: StyleTransfer, memory_format: torch.memory_format = torch.contiguous_format,
               checkpoint: bool | None = None) -> Callable[[], None]:
    x = t.scale.p.clone().to(memory_format=memory_format).requires_grad_(True)
    if checkpoint is not None:
        import stylegram.transfer as opt
        opt.needs_checkpointing = lambda pixels: checkpoint  # type: ignore[assignment]

    def step() -> None:
        x.grad = None
        loss, _ = t.losses(x)
        loss.backward()
    return step


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    photo, painting = sample_photo(), procedural_painting(512, seed=7, palette="night")
    base = Options(size=args.size, precision="fp32")
    rows: list[dict] = []

    def row(name: str, size: int, first: float, median: float, note: str = "") -> None:
        rows.append({"lever": name, "size": size, "first_s": round(first, 3), "median_s": round(median, 4),
                     "note": note})
        print(f"{name:28} {size:4d} px  {median:.3f} s  (first {first:.2f} s) {note}", flush=True)

    t = StyleTransfer(photo, painting, base)
    row("fp32 (default)", args.size, *timed(evaluation(t), args.repeats))
    row("fp32 checkpointing", args.size, *timed(evaluation(t, checkpoint=True), args.repeats))
    evaluation(t, checkpoint=False)
    t.net.to(memory_format=torch.channels_last)
    row("fp32 channels_last", args.size, *timed(evaluation(t, torch.channels_last), args.repeats))
    t.net.to(memory_format=torch.contiguous_format)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    row("fp32 1 thread", args.size, *timed(evaluation(t), args.repeats), f"of {threads}")
    torch.set_num_threads(threads)
    net = t.net
    try:
        t.net = torch.compile(net)  # type: ignore[assignment]
        row("fp32 torch.compile", args.size, *timed(evaluation(t), args.repeats), "first = compile + 1 step")
    except Exception as e:  # a compiler missing or failing is a result too
        row("fp32 torch.compile", args.size, float("nan"), float("nan"), f"failed: {type(e).__name__}")
    t.net = net
    small = args.size if cpu_has_fast_bf16() else args.size // 2
    t32 = StyleTransfer(photo, painting, base.replace(size=small))
    row("fp32 (reference for bf16)", small, *timed(evaluation(t32), args.repeats))
    tb = StyleTransfer(photo, painting, base.replace(size=small, precision="bf16"))
    row("bf16 autocast", small, *timed(evaluation(tb), max(1, args.repeats // 2)),
        "" if cpu_has_fast_bf16() else "no AMX/AVX512-BF16 here: emulated")
    ref = rows[0]["median_s"]
    print(table(["lever", "size px", "median s", "vs fp32", "first s", "note"],
                [[r["lever"], r["size"], r["median_s"], f"{r['median_s'] / ref:.2f}" if r["size"] == args.size else
                  f"{r['median_s'] / rows[-2]['median_s']:.2f} (vs fp32 at {r['size']})", r["first_s"], r["note"]]
                 for r in rows]))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"levers-{datetime.date.today().isoformat()}.json"
    path.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
