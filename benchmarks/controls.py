"""The perceptual controls on the demo's own images: pictures for the README and what each costs in time.

    python benchmarks/controls.py [--size 192] [--iterations 40] [--docs docs/controls]

Every run has the default options at one scale; only the control differs. Prints a table of
seconds per iteration (median) against the plain run and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

from stylegram import Options, StyleTransfer
from stylegram.paper.figures import grid_figure
from stylegram.samples import procedural_painting, sample_photo


def figure_mask(size: int) -> Image.Image:
    """White over the astronaut (an ellipse), black on the background: two regions for two styles."""
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0.05 * size, 0.02 * size, 0.80 * size, 1.3 * size), fill=255)
    return mask


def timed(name: str, content, styles, options: Options) -> tuple[Image.Image, dict]:
    stamps: list[float] = []
    t0 = time.perf_counter()
    transfer = StyleTransfer(content, styles, options)
    x = transfer.run(lambda it: stamps.append(it.seconds))
    img = transfer.render(x)
    steps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    row = {"control": name, "seconds": round(time.perf_counter() - t0, 2),
           "seconds_per_iteration": round(statistics.median(steps), 4)}
    print(f"  {name:24} {row['seconds_per_iteration']:.3f} s/it  ({row['seconds']} s)", file=sys.stderr)
    return img, row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--docs", default="docs/controls", help="where the pictures go")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()
    content = sample_photo()
    night, ember = procedural_painting(512, 7, "night"), procedural_painting(512, 11, "ember")
    mask_path = Path(args.docs) / "mask.png"
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    figure_mask(256).save(mask_path)
    base = Options(size=args.size, iterations=args.iterations, scales=1, tol=0.0)
    runs = [
        ("plain", [night], base),
        ("preserve-color luminance", [night], base.replace(preserve_color="luminance")),
        ("preserve-color histogram", [night], base.replace(preserve_color="histogram")),
        ("two styles, blend 1,1", [night, ember], base),
        ("mask: figure/background", [night, ember], base.replace(mask=str(mask_path))),
        ("style-scale 0.5", [night], base.replace(style_scale=0.5)),
        ("style-scale 2", [night], base.replace(style_scale=2.0)),
    ]
    images, rows = {}, []
    for name, styles, opts in runs:
        images[name], row = timed(name, content, styles, opts)
        rows.append(row)
    plain = rows[0]["seconds_per_iteration"]
    print(f"\n{'control':26} {'s/it':>7} {'vs plain':>9}")
    for r in rows:
        r["ratio_vs_plain"] = round(r["seconds_per_iteration"] / plain, 3)
        print(f"{r['control']:26} {r['seconds_per_iteration']:7.3f} {r['ratio_vs_plain']:9.2f}")
    docs = Path(args.docs)
    small = content.resize((args.size, args.size))
    thumbs = [[small, night.resize(small.size), ember.resize(small.size),
               Image.open(mask_path).convert("RGB").resize(small.size)]]
    labels = ["photo", "style 1 (night)", "style 2 (ember)", "mask (white: 1)"]
    grid_figure(thumbs, col_labels=labels, title="Inputs").save(docs / "inputs.png")
    names = [r[0] for r in runs]
    cells = [[images[n] for n in names[:4]], [images[n] for n in names[4:]] + [None]]
    cols = ["plain | mask", "luminance | scale 0.5", "histogram | scale 2", "blend 1,1 |"]
    grid_figure(cells, col_labels=cols, title="Controls",
                caption=f"{args.size} px, {args.iterations} L-BFGS iterations, default start. Top: plain, "
                "--preserve-color luminance, --preserve-color histogram, two styles blended 1:1. Bottom: --mask "
                "(night inside the ellipse, ember outside), --style-scale 0.5, --style-scale 2."
                ).save(docs / "controls.png")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"controls-{datetime.date.today().isoformat()}.json"
    path.write_text(json.dumps({"rows": rows, "size": args.size, "iterations": args.iterations}, indent=2) + "\n")
    print(f"wrote {docs / 'controls.png'} and {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
