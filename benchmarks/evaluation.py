"""What the padding and Gram fixes buy per evaluation (eq. 7 and its gradient), before and after, in one process.

Before (until 2026-12-02): reflection padding inside CPU autocast (which runs it in fp32: a copy out of bf16 and one
back for each conv) and autograd's backward for F @ F^T (two products, one against a transposed F, and a sum).
After: network.pad in the tensor's own precision and losses.Gram's single product. The variants alternate round
by round on the same image (Tuebingen x Starry Night at --size, the default options: bf16 where the CPU has it), so
a busy moment hits both alike; medians, and the gradients' relative difference.

    python benchmarks/evaluation.py [--size 512] [--rounds 9]

Prints a table and writes benchmarks/results/evaluation-<date>.json. Skips when ../shared/images is absent.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import IMAGES, machine, no_images, save, table  # type: ignore[import-not-found]

import stylegram.losses as losses
import stylegram.network as network
from stylegram import Options, StyleTransfer


def padded_under_autocast(h: torch.Tensor) -> torch.Tensor:
    return F.pad(h, (1, 1, 1, 1), mode="reflect" if min(h.shape[-2:]) > 1 else "replicate")


def autograd_gram(Fe: torch.Tensor) -> torch.Tensor:
    Fm = Fe.reshape(*Fe.shape[:2], -1).float()
    return Fm @ Fm.transpose(1, 2)


VARIANTS = {
    "before": (padded_under_autocast, autograd_gram),
    "padding fixed": (network.pad, autograd_gram),
    "after (both)": (network.pad, losses.gram),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    if no_images():
        return 0
    t = StyleTransfer(IMAGES / "tubingen.jpg", IMAGES / "starry_night.jpg", Options(size=args.size))
    x = t.scale.p.clone().requires_grad_(True)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    grads: dict[str, torch.Tensor] = {}
    for _ in range(args.rounds + 1):  # the first round warms up and is dropped
        for name, (pad, gram) in VARIANTS.items():
            network.pad, losses.gram = pad, gram
            x.grad = None
            t0 = time.perf_counter()
            t.losses(x)[0].backward()
            times[name].append(time.perf_counter() - t0)
            grads[name] = x.grad.clone()
    base = statistics.median(times["before"][1:])
    rows, results = [], []
    for name, ts in times.items():
        med = statistics.median(ts[1:])
        diff = ((grads[name] - grads["before"]).norm() / grads["before"].norm()).item()
        rows.append([name, f"{med:.3f}", f"{base / med:.2f}x", f"{diff:.1e}"])
        results.append({"variant": name, "median_s": round(med, 4), "speedup": round(base / med, 3),
                        "grad_rel_diff": diff, "seconds": [round(s, 4) for s in ts[1:]]})
    print(f"{args.size} px, precision {t.precision}, {args.rounds} rounds")
    print(table(["variant", "median s", "vs before", "gradient vs before"], rows))
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size,
          "precision": t.precision, "results": results}, args.out, "evaluation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
