"""A real two-node Ray cluster on this machine, as today's Ray sets one up (`ray start --head`, `ray start
--address`, 1 CPU each, token authentication) in a temp dir of its own, and exactly its processes stopped after:
for tests/test_batch_cluster.py and benchmarks (a Ray the user runs is left alone)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil

from .conftest import free_port

RAY = str(Path(sys.executable).parent / "ray")


def ours(temp: Path) -> list[psutil.Process]:
    """The processes of the cluster rooted in `temp`: those naming it (GCS, raylets, agents) and their children
    (the workers, whose titles no longer name it)."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid != os.getpid() and str(temp) in " ".join(proc.info["cmdline"] or []):
            found[proc.pid] = proc
            for child in proc.children(recursive=True):
                found[child.pid] = child
    return list(found.values())


def stop(temp: Path) -> None:
    procs = ours(temp)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=30)


@contextlib.contextmanager
def two_nodes(temp: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(port, env): the head's port and the environment that joins it (the token). Workers at niceness 0: Ray's
    default (15) starves them beside any busy program (docs/batch.md), and a test must pass on a busy laptop."""
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_worker_niceness": "0"}
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", "--port", str(port), "--temp-dir", str(temp),
                        "--include-dashboard=false", *common], env=env, check=True, capture_output=True, timeout=180)
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", *common], env=env, check=True,
                       capture_output=True, timeout=180)
        yield port, env
    finally:
        stop(temp)
