"""`stylegram reproduce`: every figure at 32 px, its grid, its JSON, and --resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from stylegram.paper.reproduce import CALIBRATION, PAPER_RATIOS, reproduce

from .conftest import make_painting, make_photo, run_cli

GRIDS = {"fig2": (1, 2), "fig3": (5, 4), "content-reconstructions": (1, 5), "style-reconstructions": (1, 5)}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, list[Path]]:
    d = tmp_path_factory.mktemp("in")
    make_photo(48, 36).save(d / "photo.png")
    make_painting(40, 40, seed=1).save(d / "a.png")
    make_painting(40, 40, seed=2).save(d / "b.png")
    return d / "photo.png", [d / "a.png", d / "b.png"]


@pytest.mark.parametrize("what", list(GRIDS))
def test_each_figure_renders_with_its_grid_and_json(what: str, inputs, tmp_path: Path) -> None:
    content, styles = inputs
    fig = reproduce(what, tmp_path, content, styles, size=32, iterations=2)
    rows, cols = GRIDS[what]
    data = json.loads((tmp_path / "results.json").read_text())
    assert (data["rows"], data["cols"]) == (rows, cols)
    assert len(data["cells"]) == rows * cols and data["figure"] == f"{what}.png"
    for cell in data["cells"]:
        assert Image.open(tmp_path / cell["file"]).size == (32, 24)
        assert cell["options"]["size"] == 32 and cell["options"]["iterations"] == 2
        assert set(cell["final"]) == {"content", "style", "total"}
    img = Image.open(fig)
    assert img.width >= cols * 32 and img.height >= rows * 24


def test_fig3_cells_carry_the_paper_settings(inputs, tmp_path: Path) -> None:
    content, styles = inputs
    reproduce("fig3", tmp_path, content, styles[:1], size=32, iterations=1)
    cells = {c["name"]: c for c in json.loads((tmp_path / "results.json").read_text())["cells"]}
    assert cells["r1_c1"]["options"]["style_layers"] == ["conv1_1"]
    assert cells["r5_c4"]["options"]["style_layers"] == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    for j, ratio in enumerate(PAPER_RATIOS):
        o = cells[f"r2_c{j + 1}"]["options"]
        assert o["content_weight"] / o["style_weight"] == pytest.approx(ratio * CALIBRATION)


def test_reconstructions_use_one_loss_only(inputs, tmp_path: Path) -> None:
    content, styles = inputs
    reproduce("content-reconstructions", tmp_path, content, styles, size=32, iterations=1)
    cells = json.loads((tmp_path / "results.json").read_text())["cells"]
    assert [c["options"]["content_layers"] for c in cells] == [[n] for n in
                                                              ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")]
    assert all(c["options"]["style_weight"] == 0 for c in cells)


def test_resume_skips_written_cells(inputs, tmp_path: Path) -> None:
    content, styles = inputs
    reproduce("style-reconstructions", tmp_path, content, styles, size=32, iterations=2)
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("upto_*.png")}
    (tmp_path / "upto_conv3_1.png").unlink()
    reproduce("style-reconstructions", tmp_path, content, styles, size=32, iterations=2, resume=True)
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("upto_*.png")}
    assert set(after) == set(stamps)
    changed = {n for n in after if after[n] != stamps[n]}
    assert changed == {"upto_conv3_1.png"}


def test_cli_reproduce_and_bad_figure(inputs, tmp_path: Path) -> None:
    content, styles = inputs
    r = run_cli("reproduce", "content-reconstructions", "--out", str(tmp_path / "o"), "--content", str(content),
                "--size", "32", "--iterations", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "content-reconstructions.png").exists()
    r = run_cli("reproduce", "fig9", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
