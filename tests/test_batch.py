"""stylegram batch on local worker processes: planning, the manifest, resume, bad inputs, a killed worker.
(The same on a Ray cluster: test_batch_ray.py.)"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from stylegram import Options
from stylegram.batch.items import MANIFEST, Manifest, options_id, plan
from stylegram.batch.pool import LocalPool, split
from stylegram.batch.run import run_batch
from stylegram.cli import main
from stylegram.errors import StylegramError

from .conftest import make_photo

TINY = ["--size", "32", "--iterations", "4", "--scales", "1", "--precision", "fp32"]
TINY_OPTIONS = Options(size=32, iterations=4, scales=1, precision="fp32")


def named(stem: str, options: Options = TINY_OPTIONS) -> str:
    """An output's name: <content>__<style>__<options id>.png (options other than the defaults)."""
    return f"{stem}__{options_id(options)}.png"


def manifest(out: Path) -> dict[str, dict]:
    return Manifest(out).load()


def test_plan_expands_folders_and_globs_and_refuses_clashes(inputs: Path) -> None:
    items = plan([str(inputs / "photos")], [str(inputs / "paintings" / "s*.png")], Options())
    assert sorted(i.name for i in items) == ["p0__s0.png", "p0__s1.png", "p1__s0.png", "p1__s1.png"]
    assert len({i.key for i in items}) == 4
    small = plan([str(inputs / "photos")], [str(inputs / "paintings" / "s*.png")], Options(size=32))
    assert sorted(i.name for i in small) == [named(f"p{i}__s{j}", Options(size=32)) for i in (0, 1) for j in (0, 1)]
    other = inputs / "other"
    other.mkdir()
    make_photo().save(other / "p0.png")
    with pytest.raises(StylegramError, match="would both write p0__s0.png"):
        plan([str(inputs / "photos" / "p0.png"), str(other / "p0.png")], [str(inputs / "paintings" / "s0.png")],
             Options())
    with pytest.raises(StylegramError, match="no such file"):
        plan([str(inputs / "nope.png")], [str(inputs / "paintings")], Options())
    with pytest.raises(StylegramError, match="no images"):
        plan([str(inputs / "photos" / "*.jpg")], [str(inputs / "paintings")], Options())


def test_pairs_csv_rows_with_their_own_options(inputs: Path) -> None:
    csv = inputs / "pairs.csv"
    csv.write_text("content,style,--style-weight,iterations\nphotos/p0.png,paintings/s1.png,1e4,\n"
                   "photos/p1.png,paintings/s0.png,,7\n")
    a, b = plan([], [], Options(size=32, iterations=3), str(csv))
    assert (a.content, a.style) == (str(inputs / "photos/p0.png"), str(inputs / "paintings/s1.png"))
    assert (a.options.style_weight, a.options.iterations) == (1e4, 3)  # empty cell: the command's value
    assert (b.options.style_weight, b.options.iterations) == (Options().style_weight, 7)
    csv.write_text("content,style,brush\nphotos/p0.png,paintings/s1.png,3\n")
    with pytest.raises(StylegramError, match="unknown column 'brush'"):
        plan([], [], Options(), str(csv))
    csv.write_text("content,style,size\nphotos/p0.png,paintings/s1.png,-3\n")
    with pytest.raises(StylegramError, match="line 2"):
        plan([], [], Options(), str(csv))


def test_workers_split_the_cores() -> None:
    assert split(None, 2) == (1, 2) and split(None, 16) == (8, 2) and split(2, 2) == (2, 1) and split(3, 8) == (3, 2)


def test_batch_writes_outputs_reports_and_manifest_then_resume_skips(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(inputs / "photos"), "--style", str(inputs / "paintings"), "-o", str(out), "--workers", "2",
            "--quiet", *TINY]
    assert main(argv) == 0
    records = manifest(out)
    tiny = Options(size=32, iterations=4, scales=1, precision="fp32")
    oid = options_id(tiny)  # not the defaults: the options' id is in each name
    assert sorted(records) == [f"p{i}__s{j}__{oid}.png" for i in (0, 1) for j in (0, 1)]
    assert all(r["options"]["iterations"] == 4 for r in records.values())
    for name, rec in records.items():
        assert rec["status"] == "done" and rec["seconds"] > 0 and rec["losses"]["total"] > 0 and rec["attempts"] == 1
        assert Image.open(out / name).size == (32, 27)
        report = json.loads((out / name).with_suffix(".json").read_text())
        assert report["output"] == str(out / name) and report["final"] == rec["losses"]
    assert len({r["worker"] for r in records.values()}) == 2  # both workers painted
    assert len((out / MANIFEST).read_text().splitlines()) == 4  # compacted: one line per item
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    time.sleep(0.05)
    assert main(argv) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != MANIFEST} == \
        {k: v for k, v in mtimes.items() if k != MANIFEST}  # nothing painted again
    first, second = f"p0__s0__{oid}.png", f"p0__s1__{oid}.png"
    (out / first).unlink()  # an output gone: that item alone is painted again
    assert main(argv) == 0
    assert (out / first).stat().st_mtime_ns > mtimes[second]
    assert (out / second).stat().st_mtime_ns == mtimes[second]
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main([*argv, "--iterations", "5"]) == 0  # other options: other files, the earlier ones kept
    five = options_id(tiny.replace(iterations=5))
    assert all((out / n).stat().st_mtime_ns == mtimes[n] for n in records)
    assert all(json.loads((out / n.replace(oid, five)).with_suffix(".json").read_text())["options"]["iterations"]
               == 5 for n in records)
    assert len(manifest(out)) == 8
    assert main([*argv, "--overwrite"]) == 0  # on purpose: painted again
    assert all((out / n).stat().st_mtime_ns > mtimes[n] for n in records)
    assert plan([str(inputs / "photos" / "p0.png")], [str(inputs / "paintings" / "s0.png")],
                Options(device="cpu", max_memory=2**30))[0].name == "p0__s0.png"  # where it runs: not the picture


def test_a_bad_file_fails_its_items_not_the_batch(inputs: Path, tmp_path: Path, capsys) -> None:
    bad = inputs / "photos" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    out = tmp_path / "out"
    style = str(inputs / "paintings" / "s0.png")
    status = main(["batch", str(inputs / "photos" / "p0.png"), str(bad), "--style", style, "-o", str(out), "--quiet",
                   *TINY])
    assert status == 1
    records = manifest(out)
    assert records[named("p0__s0")]["status"] == "done" and (out / named("p0__s0")).is_file()
    assert records[named("broken__s0")]["status"] == "failed" and records[named("broken__s0")]["attempts"] == 1
    assert str(bad) in records[named("broken__s0")]["error"]  # the user's path, not the worker's temp copy
    assert not (out / named("broken__s0")).exists()
    err = capsys.readouterr().err
    assert "1 done" in err and "1 failed" in err and f"{named('broken__s0')}: content: {bad}" in err
    assert "Traceback" not in err


def test_batch_input_errors_are_one_line_and_write_nothing(inputs: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["batch", str(inputs / "missing"), "--style", str(inputs / "paintings"), "-o", str(out)]) == 2
    assert main(["batch", "--style", str(inputs / "paintings"), "-o", str(out)]) == 2
    assert main(["batch", str(inputs / "photos"), "--style", str(inputs / "paintings"), "-o", str(out),
                 "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("stylegram") for line in err)
    assert not out.exists()


class KillingPool(LocalPool):
    """Kills the worker painting the first item, once, as soon as it says it has begun the item."""

    killed: int | None = None

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.on_started = self.kill_first

    def kill_first(self, ticket: int, pid: int) -> None:
        if self.killed is None:
            self.killed = pid
            os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_costs_one_retry(inputs: Path, tmp_path: Path) -> None:
    slow = Options(size=32, iterations=300, tol=0.0, scales=1, precision="fp32")
    items = plan([str(inputs / "photos")], [str(inputs / "paintings" / "s0.png")], slow)
    out, pool = tmp_path / "out", KillingPool(1)
    events: list[tuple[str, str]] = []
    summary = run_batch(items, out, pool, retries=2, on_event=lambda k, item, r: events.append((k, item.name)))
    assert pool.killed is not None
    assert sorted(summary.done) == [named("p0__s0", slow), named("p1__s0", slow)] and not summary.failed
    records = manifest(out)
    assert records[named("p0__s0", slow)]["attempts"] == 2 and records[named("p1__s0", slow)]["attempts"] == 1
    assert ("retry", named("p0__s0", slow)) in events
    assert all(Image.open(out / name).size == (32, 27) for name in records)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_ray_join_failures_are_said_by_cause() -> None:
    from stylegram.batch.pool import join_cause, per_node

    assert "RAY_AUTH_MODE=token" in join_cause("ConnectionError: ... InvalidAuthToken: the token is missing")
    assert "version" in join_cause("RuntimeError: Version mismatch: the cluster runs 2.59.0")
    assert "nothing answers" in join_cause("ConnectionError: Failed to connect to GCS at 127.0.0.1:6390")
    assert join_cause("ValueError: something else\nmore") == "ValueError: something else"
    assert [per_node(c) for c in (1, 2, 3, 16)] == [1, 1, 1, 8]  # a 1-CPU node still takes a worker


def test_native_output_goes_to_the_log_while_joining(tmp_path: Path, capfd) -> None:
    from stylegram.batch.pool import redirected

    log = tmp_path / "ray.log"
    with open(log, "wb") as f, redirected(f.fileno()):
        os.write(2, b"a minute of warnings\n")
        os.write(1, b"and more\n")
    os.write(2, b"after\n")
    assert "a minute of warnings" in log.read_text() and "and more" in log.read_text()
    assert capfd.readouterr().err == "after\n"
