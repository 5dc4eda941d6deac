"""--seamless and transparency, measured on real pictures.

    python benchmarks/seamless.py [--size 384] [--painting starry_night.jpg] [--docs]

Seams: the photo (tubingen.jpg) painted with and without --seamless, and a texture grown with --seamless; for
each, the squared colour change across the wrap lines over the mean change between neighbours inside, and over
the 8 + 8 lines nearest the wrap (images.seam_ratios; 1: no seam), beside the spread of that ratio for single
lines inside the image (5th-95th percentile), which is what "within 10 %" can mean for one line. Transparency: a
cut-out of the photo (soft-edged ellipse, white under alpha 0) painted; the brightness of its visible edge
against the ring just inside it (a white fringe would be lighter). --docs writes the pictures of
docs/seamless.md and the README. Prints a table and writes benchmarks/results/seamless-DATE.json.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import IMAGES, machine, no_images, save, table  # type: ignore[import-not-found]
from PIL import Image

from stylegram.cli import main as cli
from stylegram.images import resize_long_side, seam_ratios

DOCS = Path(__file__).parent.parent / "docs" / "seamless"
NEAR = 8  # the wrap line against the 2 x 8 lines nearest it: what the eye compares it with


def line_spread(img: Image.Image) -> list[float]:
    """5th and 95th percentile of one inside line's change over the mean (both directions pooled)."""
    a = np.asarray(img.convert("RGB"), np.float64) / 255
    cols = np.mean((a[:, 1:] - a[:, :-1]) ** 2, axis=(0, 2))
    rows = np.mean((a[1:] - a[:-1]) ** 2, axis=(1, 2))
    ratios = np.concatenate([cols / cols.mean(), rows / rows.mean()])
    return [round(float(v), 2) for v in np.percentile(ratios, [5, 95])]


def measured(name: str, seconds: float, img: Image.Image) -> dict:
    return {"run": name, "seconds": seconds, "seam": [round(v, 2) for v in seam_ratios(img)],
            "seam_near": [round(v, 2) for v in seam_ratios(img, NEAR)], "inside_lines": line_spread(img)}


def tiled(img: Image.Image, n: int = 2) -> Image.Image:
    out = Image.new(img.mode, (img.width * n, img.height * n))
    for i in range(n):
        for j in range(n):
            out.paste(img, (i * img.width, j * img.height))
    return out


def cutout(photo: Image.Image) -> Image.Image:
    """The photo inside a soft-edged ellipse, transparent around it, white under alpha 0."""
    w, h = photo.size
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (0.42 * w), (yy - h / 2) / (0.42 * h))
    alpha = np.clip((1 - r) * 120, 0, 1)
    rgb = np.asarray(photo.convert("RGB"), np.float64)
    rgb = np.where(alpha[..., None] > 0, rgb, 255)
    return Image.fromarray(np.dstack([rgb, alpha * 255]).round().astype(np.uint8), "RGBA")


def edge_fringe(out: Image.Image) -> float:
    """Brightness of the visible edge (alpha 30..225) less that of the opaque ring within 4 px inside it."""
    a = np.asarray(out.getchannel("A"), np.float64)
    v = np.asarray(out.convert("RGB"), np.float64).mean(-1) / 255
    near = np.zeros(a.shape, bool)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            near |= np.roll(np.roll(a < 255, dy, 0), dx, 1)
    return float(v[(a > 30) & (a < 225)].mean() - v[(a == 255) & near].mean())


def on_checks(img: Image.Image, cell: int = 12) -> Image.Image:
    """An RGBA image over a grey checkerboard, as image editors show transparency."""
    yy, xx = np.mgrid[0:img.height, 0:img.width]
    board = np.where(((yy // cell + xx // cell) % 2)[..., None] == 0, 200, 150).repeat(3, -1).astype(np.uint8)
    back = Image.fromarray(board).convert("RGBA")
    return Image.alpha_composite(back, img.convert("RGBA")).convert("RGB")


def run(args: list[str]) -> float:
    t0 = time.perf_counter()
    cli([*args, "--quiet"])
    return round(time.perf_counter() - t0, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--painting", default="starry_night.jpg")
    p.add_argument("--docs", action="store_true", help="write the pictures of docs/seamless.md")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    if no_images():
        return 0
    photo, painting = IMAGES / "tubingen.jpg", str(IMAGES / args.painting)
    size = ["--size", str(args.size)]
    rows, pictures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("photo", []), ("photo --seamless", ["--seamless"])):
            out = str(Path(tmp, "out.png"))
            seconds = run([str(photo), painting, "-o", out, *size, *extra])
            pictures[name] = Image.open(out).convert("RGB")
            rows.append(measured(name, seconds, pictures[name]))
        out = str(Path(tmp, "texture.png"))
        seconds = run(["texture", painting, "-o", out, "--size", str(args.size * 2 // 3), "--seamless"])
        pictures["texture --seamless"] = Image.open(out).convert("RGB")
        rows.append(measured("texture --seamless", seconds, pictures["texture --seamless"]))
        source = Path(tmp, "cutout.png")
        cut = cutout(resize_long_side(Image.open(photo), args.size))
        cut.save(source)
        out = str(Path(tmp, "cut-out.png"))
        seconds = run([str(source), painting, "-o", out, *size])
        pictures["cut-out"] = Image.open(out)
        fringe = round(edge_fringe(pictures["cut-out"]), 3)
        rows.append({"run": "cut-out (alpha kept)", "seconds": seconds, "edge_minus_inside": fringe})
    print(table(["run", "s", "seam / inside (x, y)", f"seam / {NEAR}+{NEAR} nearest", "one inside line 5-95 %",
                 "edge - inside"],
                [[r["run"], r["seconds"], r.get("seam", ""), r.get("seam_near", ""), r.get("inside_lines", ""),
                  r.get("edge_minus_inside", "")] for r in rows]))
    if args.docs:
        DOCS.mkdir(exist_ok=True)
        for name, file in (("photo", "plain-2x2.jpg"), ("photo --seamless", "seamless-2x2.jpg"),
                           ("texture --seamless", "texture-2x2.jpg")):
            tiled(resize_long_side(pictures[name], 256)).save(DOCS / file, quality=90)
        on_checks(cut).save(DOCS / "cutout-source.png")
        on_checks(pictures["cut-out"]).save(DOCS / "cutout-painted.png")
        w, h = pictures["cut-out"].size
        x0, y0 = int(w * 0.02), int(h * 0.3)  # the ellipse's left edge
        crop = on_checks(pictures["cut-out"]).crop((x0, y0, x0 + 100, y0 + 100))
        crop.resize((200, 200), Image.Resampling.NEAREST).save(DOCS / "cutout-edge-200.png")
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size,
          "painting": args.painting, "runs": rows}, args.out, "seamless")
    return 0


if __name__ == "__main__":
    sys.exit(main())
