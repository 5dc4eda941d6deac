"""Fixed-seed fp32 runs whose outputs must not change when the code is reshaped: run it before and after, compare.

    python benchmarks/identity.py OUTDIR            # writes OUTDIR/*.png, *.json and OUTDIR/hashes.json
    python benchmarks/identity.py OUTDIR --compare BEFORE/hashes.json

Every control, both optimisers, --tol, several scales, snapshots; plus a tiled run (its loss, compared within 1 %)
and video frames with the temporal loss. Small images and few iterations: a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from stylegram.cli import main
from stylegram.samples import procedural_painting, sample_photo

RUNS = {
    "default": [],
    "paper": ["--paper", "--iterations", "12"],
    "two-scales": ["--scales", "2"],
    "adam": ["--optimizer", "adam", "--iterations", "12"],
    "tol": ["--tol", "0.05", "--iterations", "40"],
    "mean": ["--normalization", "mean", "--style-weight", "40"],
    "paper-norm": ["--normalization", "paper", "--style-weight", "1e-3"],
    "avg": ["--pooling", "avg"],
    "tv": ["--tv-weight", "5"],
    "luminance": ["--preserve-color", "luminance"],
    "histogram": ["--preserve-color", "histogram"],
    "blend": ["--style-blend", "2,1", "STYLE2"],
    "mask": ["--mask", "MASK", "STYLE2"],
    "init-content": ["--init", "content"],
    "init-style": ["--init", "style", "--style-scale", "0.7"],
    "layers": ["--content-layers", "conv3_2", "--style-layers", "conv1_1,conv2_1,conv3_1",
               "--style-layer-weights", "3,2,1"],
}
BASE = ["--size", "64", "--iterations", "15", "--tol", "0", "--precision", "fp32", "--seed", "3", "--quiet"]


def inputs(d: Path) -> dict[str, str]:
    d.mkdir(parents=True, exist_ok=True)
    files = {"CONTENT": d / "content.png", "STYLE": d / "style.png", "STYLE2": d / "style2.png",
             "MASK": d / "mask.png"}
    sample_photo().resize((96, 96)).save(files["CONTENT"])
    procedural_painting(80).save(files["STYLE"])
    procedural_painting(80, seed=3, palette="ember").save(files["STYLE2"])
    m = sample_photo().convert("L").resize((96, 96)).point(lambda v: 255 if v > 110 else 0)
    m.save(files["MASK"])
    return {k: str(v) for k, v in files.items()}


def run_all(out: Path) -> dict[str, object]:
    files = inputs(out / "in")
    result: dict[str, object] = {}
    for name, extra in RUNS.items():
        extra = [files.get(a, a) for a in extra]
        styles = [files["STYLE"]] + [a for a in extra if a == files["STYLE2"]]
        flags = [a for a in extra if a != files["STYLE2"]]
        png, report = out / f"{name}.png", out / f"{name}.json"
        args = [files["CONTENT"], *styles, "-o", str(png), *BASE, *flags, "--report", str(report)]
        if name == "two-scales":
            args += ["--save-every", "10"]
        assert main(args) == 0, name
        result[name] = hashlib.sha256(png.read_bytes()).hexdigest()
        result[f"{name}.losses"] = json.loads(report.read_text())["final"]
    tiled = out / "tiled.png"
    assert main([files["CONTENT"], files["STYLE"], "-o", str(tiled), *BASE, "--scales", "1", "--tile", "32",
                 "--tile-passes", "2", "--tile-iterations", "5", "--report", str(out / "tiled.json")]) == 0
    result["tiled.losses"] = json.loads((out / "tiled.json").read_text())["final"]
    frames = out / "frames"
    assert main(["video", "--demo", "-o", str(frames), "--frames", "0:3", "--size", "48", "--iterations", "8",
                "--precision", "fp32", "--quiet"]) == 0
    for p in sorted(frames.glob("*.png")):
        result[f"video/{p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return result


def compare(now: dict, before: dict) -> list[str]:
    bad = []
    for k, v in before.items():
        if k == "tiled.losses":
            if abs(now[k]["total"] - v["total"]) > 0.01 * v["total"]:
                bad.append(f"{k}: {now[k]['total']} vs {v['total']} (more than 1 %)")
        elif now.get(k) != v:
            bad.append(f"{k}: differs")
    return bad


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--compare", help="hashes.json of an earlier run")
    ns = ap.parse_args()
    out = Path(ns.out)
    hashes = run_all(out)
    (out / "hashes.json").write_text(json.dumps(hashes, indent=1))
    if ns.compare:
        bad = compare(hashes, json.loads(Path(ns.compare).read_text()))
        print("\n".join(bad) or f"all {len(hashes)} identical (tiled loss within 1 %)")
        sys.exit(1 if bad else 0)
    print(f"wrote {out / 'hashes.json'} ({len(hashes)} entries)")
