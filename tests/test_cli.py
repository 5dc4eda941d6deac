"""The command line as a user meets it: a run with a report, intermediate saves, and every error case."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from PIL import Image

from stylegram import Options
from stylegram.cli import main

from .conftest import ROOT, run_cli

TINY = ["--size", "32", "--iterations", "3"]


def test_run_writes_output_and_report(images, tmp_path: Path) -> None:
    content, style = images
    out, report = tmp_path / "o.png", tmp_path / "r.json"
    r = run_cli(str(content), str(style), "-o", str(out), "--report", str(report), "--save-every", "2",
                "--print-every", "1", *TINY)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (32, 24)
    assert (tmp_path / "o.iter0002.png").exists()
    assert "iteration 6/6" in r.stdout + r.stderr  # 3 iterations at each of the default scales, 16 and 32 px
    data = json.loads(report.read_text())
    assert {"options", "trace", "final", "seconds", "device", "versions"} <= set(data)
    assert [t["iteration"] for t in data["trace"]] == [1, 2, 3, 4, 5, 6]
    assert [t["scale"] for t in data["trace"]] == [0, 0, 0, 1, 1, 1]
    assert set(data["trace"][0]) >= {"iteration", "seconds", "content", "style", "total"}
    assert set(data["final"]) >= {"content", "style", "total"}
    assert data["options"]["size"] == 32 and data["device"] == "cpu"
    assert {"torch", "stylegram", "python"} <= set(data["versions"])


def test_paper_flag_starts_from_options_paper_and_other_flags_apply(images, tmp_path: Path) -> None:
    content, style = images
    report = tmp_path / "r.json"
    r = run_cli(str(content), str(style), "-o", str(tmp_path / "o.png"), "--paper", "--report", str(report),
                "--size", "32", "--iterations", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    opts = json.loads(report.read_text())["options"]
    paper = Options.paper(size=32, iterations=2).to_dict()
    assert {k: opts[k] for k in ("init", "normalization", "pooling", "style_weight", "tol", "scales", "size")} == {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in paper.items()
        if k in ("init", "normalization", "pooling", "style_weight", "tol", "scales", "size")}
    assert opts["normalization"] != Options().normalization


def test_jpeg_and_webp_outputs(images, tmp_path: Path) -> None:
    content, style = images
    for ext, fmt in (("jpg", "JPEG"), ("webp", "WEBP")):
        out = tmp_path / f"o.{ext}"
        assert run_cli(str(content), str(style), "-o", str(out), "--size", "32", "--iterations", "1").returncode == 0
        assert Image.open(out).format == fmt


BAD = [
    (["MISSING.png", "{style}"], "file not found"),
    (["{notimage}", "{style}"], "not an image"),
    (["{content}", "{style}", "--style-layers", "conv1_1,conv9_9"], "unknown layer"),
    (["{content}", "{style}", "--content-layers", "pool4"], "unknown layer"),
    (["{content}", "{style}", "--size", "0"], "--size"),
    (["{content}", "{style}", "--size", "-5"], "--size"),
    (["{content}", "{style}", "--size", "abc"], "integer"),
    (["{content}", "{style}", "--iterations", "0"], "--iterations"),
    (["{content}", "{style}", "--style-weight", "-1"], "--style-weight"),
    (["{content}", "{style}", "--content-weight", "nan"], "--content-weight"),
    (["{content}", "{style}", "--tv-weight", "-0.1"], "--tv-weight"),
    (["{content}", "{style}", "--style-layer-weights", "1,2"], "style-layer-weights"),
    (["{content}", "{style}", "--device", "cuda"], "cuda"),
    (["{content}", "{style}", "--optimizer", "sgd"], "optimizer"),
]


@pytest.mark.parametrize("args,words", BAD)
def test_bad_input_one_line_exit_2_nothing_written(images, tmp_path: Path, capsys, args, words) -> None:
    content, style = images
    notimage = tmp_path / "notes.jpg"
    notimage.write_text("hello")
    out = tmp_path / "never.png"
    argv = [a.format(content=content, style=style, notimage=notimage) for a in args]
    assert main([*argv[:2], "-o", str(out), *TINY, *argv[2:]]) == 2  # the bad flag last: it wins
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert not out.exists()


@pytest.mark.parametrize("args,words", [BAD[0], BAD[6], BAD[12]])
def test_bad_input_as_a_process_is_one_line_and_no_traceback(images, tmp_path: Path, args, words) -> None:
    content, style = images
    out = tmp_path / "never.png"
    r = run_cli(*[a.format(content=content, style=style) for a in args[:2]], "-o", str(out), *TINY,
                *args[2:])
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert words in r.stderr and not out.exists()


def test_output_equal_to_input_is_refused_and_input_untouched(images) -> None:
    content, style = images
    before = content.read_bytes()
    r = run_cli(str(content), str(style), "-o", str(content), *TINY)
    assert r.returncode == 2 and "also an input" in r.stderr
    assert content.read_bytes() == before


def test_output_under_a_file_is_refused_before_work(images, tmp_path: Path) -> None:
    content, style = images
    (tmp_path / "afile").write_text("x")
    r = run_cli(str(content), str(style), "-o", str(tmp_path / "afile" / "o.png"), *TINY)
    assert r.returncode == 2 and "not a directory" in r.stderr and "Traceback" not in r.stderr


def test_checkpoint_clashing_with_an_input_names_checkpoint(images, tmp_path: Path) -> None:
    content, style = images
    before = content.read_bytes()
    r = run_cli(str(content), str(style), "-o", str(tmp_path / "o.png"), "--checkpoint", str(content))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"stylegram: error: --checkpoint {content} is also an input or the output"]
    assert content.read_bytes() == before and not (tmp_path / "o.png").exists()


def test_missing_output_directory_is_created(images, tmp_path: Path) -> None:
    content, style = images
    r = run_cli(str(content), str(style), "-o", str(tmp_path / "new" / "dir" / "o.png"), "--size", "32",
                "--iterations", "1")
    assert r.returncode == 0 and (tmp_path / "new" / "dir" / "o.png").exists()


def test_unknown_output_extension(images, tmp_path: Path) -> None:
    content, style = images
    r = run_cli(str(content), str(style), "-o", str(tmp_path / "o.xyz"), *TINY)
    assert r.returncode == 2 and "extension" in r.stderr and not (tmp_path / "o.xyz").exists()


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [line.strip() for line in re.findall(r"^\s*(\.venv/bin/stylegram .+|stylegram .+)$", text, re.MULTILINE)]


def test_readme_demo_and_example_run(tmp_path: Path) -> None:
    commands = _readme_commands()
    demo = next(c for c in commands if c.split()[1] == "demo")
    example = next(c for c in commands if c.split()[1] != "demo" and " -o " in c)
    for cmd in (demo, example):
        argv = shlex.split(cmd)[1:] + TINY[:2] + ["--iterations", "2"]  # later flags win: keep it tiny
        r = run_cli(*argv, cwd=tmp_path)
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
    assert (tmp_path / "out" / "demo.png").exists()
    out = shlex.split(example)[shlex.split(example).index("-o") + 1]
    assert (tmp_path / out).exists()
