"""stylegram batch on a Ray cluster started by the test (ray.init(num_cpus=2)): a 4-item batch, resume, a bad file
among good ones, and a worker process killed mid-item."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from stylegram.batch.items import MANIFEST, Manifest  # noqa: E402
from stylegram.batch.pool import start_ray  # noqa: E402
from stylegram.cli import main  # noqa: E402

from .test_batch import TINY, named  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def cluster():
    start_ray(2, object_store_mb=256)  # as `--ray` starts one: two CPUs, workers at the driver's priority
    yield
    ray.shutdown()


def test_ray_batch_of_four_then_resume_touches_nothing(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(inputs / "photos"), "--style", str(inputs / "paintings"), "-o", str(out), "--quiet", *TINY,
            "--ray"]
    assert main(argv) == 0
    records = Manifest(out).load()
    assert sorted(records) == [named("p0__s0"), named("p0__s1"), named("p1__s0"), named("p1__s1")]
    assert all(r["status"] == "done" and r["losses"]["total"] > 0 for r in records.values())
    assert all(Image.open(out / n).size == (32, 27) for n in records)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != MANIFEST}
    time.sleep(0.05)
    assert main(argv) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != MANIFEST} == mtimes


def test_ray_bad_file_among_good_ones(inputs: Path, tmp_path: Path) -> None:
    bad = inputs / "paintings" / "broken.jpg"
    bad.write_text("no picture here")
    out = tmp_path / "out"
    assert main(["batch", str(inputs / "photos" / "p0.png"), "--style", str(inputs / "paintings"), "-o", str(out),
                 "--quiet", *TINY, "--ray"]) == 1
    records = Manifest(out).load()
    statuses = [records[named(n)]["status"] for n in ("p0__broken", "p0__s0", "p0__s1")]
    assert statuses == ["failed", "done", "done"]
    assert str(bad) in records[named("p0__broken")]["error"] and not (out / named("p0__broken")).exists()


def _kill_first_painting_worker(killed: list[int], stop: threading.Event) -> None:
    """Wait until a Ray worker is inside Painter.paint (its process title says so), then SIGKILL it."""
    while not stop.is_set():
        for proc in psutil.process_iter(["cmdline"]):
            if "ray::Painter.paint" in " ".join(proc.info["cmdline"] or []):  # the item has begun: kill it now
                proc.kill()
                killed.append(proc.pid)
                return
        time.sleep(0.05)


def test_ray_worker_killed_mid_item_the_batch_still_completes(inputs: Path, tmp_path: Path) -> None:
    out, killed, stop = tmp_path / "out", [], threading.Event()
    killer = threading.Thread(target=_kill_first_painting_worker, args=(killed, stop), daemon=True)
    killer.start()
    slow = ["--size", "32", "--iterations", "300", "--tol", "0", "--scales", "1", "--precision", "fp32"]
    try:
        status = main(["batch", str(inputs / "photos"), "--style", str(inputs / "paintings" / "s0.png"), "-o",
                       str(out), "--quiet", *slow, "--ray"])
    finally:
        stop.set()
    assert killed, "no worker was seen painting"
    assert status == 0
    records = Manifest(out).load()
    assert all(r["status"] == "done" for r in records.values()) and len(records) == 2
    assert sorted(r["attempts"] for r in records.values()) == [1, 2]  # the killed item once more, the other once
    assert all(Image.open(out / n).size == (32, 27) for n in records)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
