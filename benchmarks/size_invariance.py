"""Does the balance of content and style stay put when only the size changes?

The same photo, painting and options at several sizes, in the default ("balanced") normalisation, in "mean"
(eq. 5 as written, with the beta and pooling of Options.paper()) and in the paper's (eq. 1 as printed, with
alpha chosen so it agrees with "mean" at the middle size). For each run: the final content and style losses of
the saved image and their ratio style/content. The default's ratio should stay within a factor of 2 across
sizes; with "paper" the content term's weight grows with the pixel count.

By default each size runs the tool's own defaults (coarse-to-fine, stopping by --tol), so each image is as
finished as a user's would be; `--iterations N` pins one scale and N iterations instead, `--tol T` tightens
the stop. Each row also has the per-layer style losses of the result and of the photo itself (how far apart
photo and painting are at that size) and the painting's Gram norms: where any drift comes from.

    python benchmarks/size_invariance.py [--sizes 256 512 768] [--iterations N]

Uses ../shared/images (Tuebingen x Starry Night) and skips cleanly when it is absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from pathlib import Path

import torch
from common import IMAGES, machine  # type: ignore[import-not-found]
from PIL import Image

from stylegram import Iterate, Options, StyleTransfer
from stylegram.images import to_image, to_tensor
from stylegram.losses import gram, layer_style_loss


def conv4_2_size(transfer: StyleTransfer) -> int:
    """N*M at conv4_2 for this run's content size: the factor between the two normalisations."""
    return transfer.scale.content.targets["conv4_2"][0].numel()


@torch.no_grad()
def style_per_layer(transfer: StyleTransfer, image: Image.Image) -> dict[str, float]:
    """E_l of eq. 4 per style layer (unweighted): which layers carry the style loss at this size."""
    x = to_tensor(image).to(transfer.device)
    feats = transfer.net(x, dict.fromkeys(transfer.options.style_layers))
    out = {}
    for name, F in feats.items():
        N, M = F.shape[1], F.shape[2] * F.shape[3]
        out[name] = float(layer_style_loss(gram(F), transfer.scale.style.targets[name] * M, N, M))
    return out


def run(size: int, options: Options, content: Path, style: Path) -> dict:
    t0 = time.perf_counter()
    transfer = StyleTransfer(content, style, options.replace(size=size))
    per_scale: dict[int, int] = {}

    def count(it: Iterate) -> bool:
        per_scale[it.scale] = per_scale.get(it.scale, 0) + 1
        return False

    image = to_image(transfer.run(count))
    final = transfer.evaluate(image)
    nm = conv4_2_size(transfer)
    # Losses in the size-independent units of "mean", whichever normalisation drove the run: their ratio is
    # the balance the image actually has.
    content_mean = final.content / nm if options.normalization == "paper" else final.content
    return {"size": size, "pixels": list(transfer.scale.content_image.size), "normalization": options.normalization,
            "content_weight": options.content_weight, "style_weight": options.style_weight,
            "content": final.content, "style": final.style, "total": final.total, "NM_conv4_2": nm,
            "content_mean_units": content_mean,
            "ratio_style_over_content": final.style / content_mean if content_mean else math.inf,
            "scale_sizes": transfer.scale_sizes(), "iterations_per_scale": [per_scale[k] for k in sorted(per_scale)],
            "seconds": round(time.perf_counter() - t0, 1),
            "style_per_layer": style_per_layer(transfer, image),
            # the photo's own distance from the painting: how much style there is to put in at this size
            "photo_style_per_layer": style_per_layer(transfer, transfer.scale.content_image),
            # how much texture the painting itself has at this size (Frobenius norm of A_l / M_l, over N_l)
            "painting_gram_norm": {n: float(a.norm()) / a.shape[-1] for n, a in transfer.scale.style.targets.items()}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 768])
    p.add_argument("--iterations", type=int, default=None,
                   help="one scale, this many iterations, no --tol (default: the tool's defaults)")
    p.add_argument("--tol", type=float, default=None, help="--tol of each run (default: the tool's)")
    p.add_argument("--normalizations", nargs="+", default=["balanced", "mean"],
                   choices=["balanced", "mean", "paper"])
    p.add_argument("--init", default=Options().init, help="start image (default: the tool's)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()
    content, style = IMAGES / "tubingen.jpg", IMAGES / "starry_night.jpg"
    if not (content.is_file() and style.is_file()):
        print(f"skipped: {IMAGES} not found (the benchmark needs the paper's images)")
        return 0
    base = Options(init=args.init)
    if args.iterations is not None:
        base = base.replace(iterations=args.iterations, scales=1, tol=0.0)
    if args.tol is not None:
        base = base.replace(tol=args.tol)
    mid = sorted(args.sizes)[len(args.sizes) // 2]
    paper = Options.paper()
    mean = base.replace(normalization="mean", style_weight=paper.style_weight, pooling=paper.pooling)
    runs = [base.replace(normalization="balanced")] if "balanced" in args.normalizations else []
    runs += [mean] if "mean" in args.normalizations else []
    if "paper" in args.normalizations:
        # The paper normalisation's alpha that equals "mean" at the middle size (one network load).
        nm_mid = conv4_2_size(StyleTransfer(content, style, mean.replace(size=mid, iterations=1, scales=1)))
        runs.append(mean.replace(normalization="paper", content_weight=mean.content_weight / nm_mid))
    rows = []
    for opts in runs:
        for size in args.sizes:
            rows.append(run(size, opts, content, style))
            r = rows[-1]
            print(f"  {r['normalization']:8} {size:4d} px  content {r['content']:.4g}  style {r['style']:.4g}"
                  f"  iterations {'+'.join(map(str, r['iterations_per_scale']))}  ({r['seconds']} s)",
                  file=sys.stderr)
    print("\nstyle/content: both losses in size-independent units (paper's content / N*M)")
    print(f"{'normalization':13} {'size':>5} {'content':>10} {'style':>10} {'style/content':>14} "
          f"{'vs ' + str(mid):>7} {'iterations':>12}")
    summary = {}
    for norm in args.normalizations:
        group = [r for r in rows if r["normalization"] == norm]
        ref = next(r for r in group if r["size"] == mid)["ratio_style_over_content"]
        for r in group:
            r["ratio_vs_middle"] = r["ratio_style_over_content"] / ref
            print(f"{norm:13} {r['size']:5d} {r['content']:10.4g} {r['style']:10.4g} "
                  f"{r['ratio_style_over_content']:14.4g} {r['ratio_vs_middle']:7.2f} "
                  f"{'+'.join(map(str, r['iterations_per_scale'])):>12}")
        ratios = [r["ratio_style_over_content"] for r in group]
        summary[norm] = max(ratios) / min(ratios)
    spreads = ", ".join(f"{norm} {v:.2f}" for norm, v in summary.items())
    print(f"\nspread of style/content across sizes (max/min): {spreads}; target for the default: <= 2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pinned = (f"-{args.iterations}its" if args.iterations is not None else "") + (
        f"-tol{args.tol:g}" if args.tol is not None else "")
    path = out / f"size-invariance-{datetime.date.today().isoformat()}{pinned}.json"
    path.write_text(json.dumps({
        "rows": rows, "spread": summary, "iterations": args.iterations or "defaults",
        "tol": base.tol, "init": args.init,
        "machine": machine(),
    }, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
