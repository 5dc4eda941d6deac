"""Video: flicker with the temporal loss against the same clip painted frame by frame, and seconds per frame.

    python benchmarks/video.py [--size 256] [--frames 12] [--strip docs/video-strip.png]

The sample clip made in code (a pan and zoom over the demo photo, a disk crossing it) and the bundled painting.
flicker = mean squared difference between each output frame and the previous output warped by the input's
flow, on reliable pixels, [0, 1] units. Prints a table and writes benchmarks/results/video-DATE.json.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
from pathlib import Path

from common import machine, save, table  # type: ignore[import-not-found]
from PIL import Image

from stylegram import Options
from stylegram.samples import procedural_painting, sample_clip
from stylegram.video import TEMPORAL_WEIGHT
from stylegram.video.frames import flicker, stylize_frames


def run(frames: list[Image.Image], style: Image.Image, size: int, weight: float) -> dict:
    outs, secs = [], []
    for _, img, s in stylize_frames(frames, style, Options(size=size), weight):
        outs.append(img)
        secs.append(s)
        print(f"  weight {weight:g}: frame {len(outs)} in {s:.1f} s", flush=True)
    return {"temporal_weight": weight, "flicker": flicker(outs, frames), "first_s": round(secs[0], 2),
            "later_s_median": round(statistics.median(secs[1:]), 2), "seconds": [round(s, 2) for s in secs],
            "images": outs}


def strip(rows: list[list[Image.Image]], path: Path, every: int) -> None:
    picked = [r[::every] for r in rows]
    w, h = picked[0][0].size
    out = Image.new("RGB", (w * len(picked[0]), h * len(picked)), "white")
    for i, row in enumerate(picked):
        for j, img in enumerate(row):
            out.paste(img, (j * w, i * h))
    out.save(path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--strip", type=Path, help="save a strip: input / frame by frame / with the temporal loss")
    p.add_argument("--gif", type=Path, help="save the painted clip (temporal loss) as an animated GIF")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    frames = sample_clip(args.frames, args.size)
    style = procedural_painting()
    alone = run(frames, style, args.size, 0.0)
    coherent = run(frames, style, args.size, TEMPORAL_WEIGHT)
    if args.strip:
        strip([frames, alone["images"], coherent["images"]], args.strip, max(1, args.frames // 4))
    if args.gif:
        imgs = coherent["images"]
        imgs[0].save(args.gif, save_all=True, append_images=imgs[1:], duration=1000 // 8, loop=0)
    result = {"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size,
              "frames": args.frames, "clip": "stylegram.samples.sample_clip x procedural_painting",
              "runs": [{k: v for k, v in r.items() if k != "images"} for r in (alone, coherent)]}
    result["flicker_ratio"] = alone["flicker"] / coherent["flicker"]
    result["later_over_first"] = coherent["later_s_median"] / coherent["first_s"]
    # one first frame is one sample of a noisy time; every frame painted alone is a full transfer too
    result["later_over_full_transfer"] = coherent["later_s_median"] / statistics.median(alone["seconds"])
    print(table(["run", "flicker", "first frame s", "later frames s (median)"],
                [[f"temporal weight {r['temporal_weight']:g}", f"{r['flicker']:.5f}", r["first_s"],
                  r["later_s_median"]] for r in (alone, coherent)]))
    print(f"flicker frame by frame / with the temporal loss: {result['flicker_ratio']:.1f}x (target >= 3); "
          f"later / first frame: {result['later_over_first']:.2f} (target <= 0.33); later / median full transfer "
          f"(frames alone): {result['later_over_full_transfer']:.2f}")
    save(result, args.out, "video")
    return 0


if __name__ == "__main__":
    sys.exit(main())
