"""Texture synthesis (`stylegram texture`) checked as the texture paper's Fig. 2 does: the Gram matrices of the
synthesized texture against the source's at every style layer, and whether it is a copy.

    python benchmarks/texture.py [--size 256] [--painting starry_night.jpg]

Per layer: |G - A| / |A| of the Gram matrices per position, for the texture and for its white-noise start.
Copy check: for each 32 px patch of the output (every 16 px), the mean squared error of the closest 32 px patch
anywhere in the source (step 2), against the same for a crop of the source (a copy: 0). Prints a table and
writes benchmarks/results/texture-DATE.json.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import IMAGES, machine, save, table  # type: ignore[import-not-found]
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from stylegram.choices import DEFAULT_STYLE_LAYERS
from stylegram.cli import main as cli
from stylegram.images import resize_long_side, to_tensor
from stylegram.losses import gram
from stylegram.network import load_vgg19
from stylegram.samples import procedural_painting


def gram_errors(img: Image.Image, source: Image.Image) -> dict[str, float]:
    net = load_vgg19()
    f, a = net(to_tensor(img), DEFAULT_STYLE_LAYERS), net(to_tensor(source), DEFAULT_STYLE_LAYERS)
    out = {}
    for layer in DEFAULT_STYLE_LAYERS:
        g, t = (gram(x[layer])[0] / x[layer][0, 0].numel() for x in (f, a))
        out[layer] = round(float((g - t).norm() / t.norm()), 3)
    return out


def best_match(img: Image.Image, source: Image.Image, patch: int = 32) -> float:
    o, s = (np.asarray(x.convert("RGB"), dtype=np.float32) / 255 for x in (img, source))
    cands = sliding_window_view(s, (patch, patch, 3))[::2, ::2].reshape(-1, patch * patch * 3)
    errs = [((cands - o[y:y + patch, x:x + patch].reshape(-1)) ** 2).mean(1).min()
            for y in range(0, o.shape[0] - patch + 1, 16) for x in range(0, o.shape[1] - patch + 1, 16)]
    return float(np.mean(errs))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--painting", default="starry_night.jpg", help="a file in ../shared/images (the procedural "
                   "painting too, always)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    sources = {"procedural": procedural_painting()}
    if (IMAGES / args.painting).is_file():
        sources[args.painting] = Image.open(IMAGES / args.painting).convert("RGB")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, img in sources.items():
            src = resize_long_side(img, args.size)
            src.save(Path(tmp, "src.png"))
            t0 = time.perf_counter()
            cli(["texture", str(Path(tmp, "src.png")), "-o", str(Path(tmp, "t.png")), "--size", str(args.size),
                 "--quiet"])
            seconds = time.perf_counter() - t0
            texture = Image.open(Path(tmp, "t.png")).convert("RGB")
            rng = np.random.default_rng(0)
            noise = Image.fromarray((rng.normal(0.5, 0.1, (src.height, src.width, 3)).clip(0, 1) * 255)
                                    .astype(np.uint8))
            crop = src.crop((8, 8, src.width - 8, src.height - 8))
            rows.append({"painting": name, "seconds": round(seconds, 1), "texture": gram_errors(texture, src),
                         "noise": gram_errors(noise, src), "best_match_texture": round(best_match(texture, src), 4),
                         "best_match_copy": round(best_match(crop, src), 4)})
            print(rows[-1], flush=True)
    print(table(["painting", "s", *(f"{la} (noise)" for la in DEFAULT_STYLE_LAYERS), "best match", "copy's"],
                [[r["painting"], r["seconds"], *(f"{r['texture'][la]} ({r['noise'][la]})" for la in
                  DEFAULT_STYLE_LAYERS), r["best_match_texture"], r["best_match_copy"]] for r in rows]))
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size, "runs": rows},
         args.out, "texture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
