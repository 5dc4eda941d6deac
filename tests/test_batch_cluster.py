"""A real two-node Ray cluster on this machine, as today's Ray sets one up: `ray start --head` and `ray start
--address` with 1 CPU each and token authentication, in a temp dir of its own (a Ray the user runs is left alone).
A batch joins it with `--ray=127.0.0.1:PORT`, one worker is killed mid-item by its PID, every item ends done; a
batch without the token fails in one line naming the cause. Only the processes this test started are stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the batch extra (pip install -e '.[batch]')")
psutil = pytest.importorskip("psutil")

from stylegram.batch.items import Manifest  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .raycluster import ours, two_nodes  # noqa: E402
from .test_batch import TINY, named  # noqa: E402


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory):
    temp = Path(tmp_path_factory.mktemp("ray"))  # short enough for Ray's socket paths under /tmp
    with two_nodes(temp) as (port, env):
        yield port, env, temp
    assert not ours(temp), "a Ray process of the test's cluster outlived it"


def kill_a_painting_worker(temp: Path, killed: list[int], done: threading.Event) -> None:
    """Once one of this cluster's workers is inside Painter.paint (its title says so), SIGKILL it by PID."""
    while not done.is_set():
        for proc in ours(temp):
            try:
                if "ray::Painter.paint" in " ".join(proc.cmdline()):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
                    return
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)


def test_a_batch_on_a_two_node_cluster_with_token_auth(cluster, tmp_path: Path) -> None:
    port, env, temp = cluster
    nodes = subprocess.run([sys.executable, "-c", f"import ray; ray.init(address='127.0.0.1:{port}', "
                            "logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"],
                           env=env, capture_output=True, text=True, timeout=180)
    assert nodes.stdout.strip().splitlines()[-1] == "2", nodes.stderr[-2000:]
    photos = tmp_path / "in"
    photos.mkdir()
    from .conftest import make_painting, make_photo

    for k in range(3):
        make_photo(40, 30, seed=k).save(photos / f"p{k}.png")
    make_painting(32, 32).save(photos / "s0.png")
    slow = ["--size", "32", "--iterations", "150", "--tol", "0", "--scales", "1", "--precision", "fp32"]
    argv = [sys.executable, "-m", "stylegram", "batch", *(str(photos / f"p{k}.png") for k in range(3)), "--style",
            str(photos / "s0.png"), "-o", str(tmp_path / "out"), "--quiet", "--retries", "2", *slow]
    killed: list[int] = []
    done = threading.Event()
    killer = threading.Thread(target=kill_a_painting_worker, args=(temp, killed, done))
    killer.start()
    try:
        r = subprocess.run([*argv, f"--ray=127.0.0.1:{port}"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    finally:
        done.set()
        killer.join()
    assert r.returncode == 0, r.stderr[-3000:]
    assert killed, "no worker was seen painting"
    records = Manifest(tmp_path / "out").load()
    assert len(records) == 3 and all(rec["status"] == "done" for rec in records.values())
    assert sum(rec["attempts"] for rec in records.values()) == 4  # the killed item, once more
    assert len({rec["worker"] for rec in records.values()}) >= 1
    no_token = {k: v for k, v in env.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    r = subprocess.run([*argv[:-len(slow)], *TINY, f"--ray=127.0.0.1:{port}", "-o", str(tmp_path / "other")],
                       env=no_token, cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "token authentication" in lines[0], r.stderr[-2000:]
    assert not (tmp_path / "other" / named("p0__s0")).exists()
