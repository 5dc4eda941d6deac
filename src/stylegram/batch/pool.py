"""Where batch items run: LocalPool (worker processes on this machine) or RayPool (Ray actors, on this machine or
a cluster). Each worker loads the network once (network.load_vgg19 caches it per process) and paints items one
after another; a worker that dies is replaced and its item comes back as a failed, retryable result."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..errors import StylegramError


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split(workers: int | None, cpus: int) -> tuple[int, int]:
    """(workers, torch threads each): one worker per two cores by default, workers x threads = cores."""
    n = workers or max(1, cpus // 2)
    return n, max(1, cpus // n)


READY = (-1, {"status": "ready"})


def _serve(conn: Connection, threads: int) -> None:
    """A worker process: load the network once, then paint what the pipe brings until it closes."""
    import signal

    import torch

    from ..network import load_vgg19
    from .run import paint

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's; a running Job handles it itself
    torch.set_num_threads(threads)
    _warm(load_vgg19)
    conn.send(READY)
    while True:
        try:
            ticket, job = conn.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        conn.send((ticket, {"status": "started", "pid": os.getpid()}))
        conn.send((ticket, paint(job)))


class LocalPool:
    """`workers` spawned processes (not forked: torch's threads do not survive a fork), each with `threads`."""

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        self.workers, auto = split(workers, cores())
        self.slots = self.workers
        self.threads = threads or auto
        self._ctx = mp.get_context("spawn")
        self._procs: list[tuple[Any, Connection]] = [self._start() for _ in range(self.workers)]
        self._busy: dict[int, int] = {}  # worker index -> ticket
        self._started: set[int] = set()  # workers whose READY was read
        self.on_started: Callable[[int, int], None] | None = None  # (ticket, pid) when a worker begins an item

    def _start(self) -> tuple[Any, Connection]:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(child, self.threads), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def ready(self) -> None:
        """Wait until every worker has loaded the network (for timing; work can be submitted before)."""
        for k, (_, conn) in enumerate(self._procs):
            if k not in self._started:
                conn.recv()
                self._started.add(k)

    def submit(self, ticket: int, job: dict[str, Any]) -> None:
        k = next(i for i in range(self.workers) if i not in self._busy)
        self._busy[k] = ticket
        self._procs[k][1].send((ticket, job))

    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        busy = {self._procs[k][1]: k for k in self._busy} | {self._procs[k][0].sentinel: k for k in self._busy}
        results = []
        for ready in wait(list(busy), timeout) if busy else []:
            k = busy[ready]
            if k not in self._busy:  # both its pipe and its sentinel were ready
                continue
            proc, conn = self._procs[k]
            try:
                message = conn.recv() if conn.poll() else _died(self._busy[k], proc)
                if message == READY:
                    self._started.add(k)
                    continue  # its result is still to come
                if message[1].get("status") == "started":  # the worker has the item: tell whoever listens
                    if self.on_started is not None:
                        self.on_started(message[0], message[1]["pid"])
                    continue
                results.append(message)
            except (EOFError, OSError):
                results.append(_died(self._busy[k], proc))
            del self._busy[k]
            if not proc.is_alive():
                proc.join()
                conn.close()
                self._procs[k] = self._start()
                self._started.discard(k)
        return results

    def close(self) -> None:
        for k, (proc, conn) in enumerate(self._procs):
            conn.close()  # an idle worker sees EOF and returns
            if k in self._busy:  # stopped mid-item: the item stays pending in the manifest
                proc.terminate()
        for proc, _ in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._busy.clear()


def _warm(load: Any) -> None:
    """The bundled weights, once per worker (other --weights are cached on first use); if they cannot be
    read, each item says why."""
    try:
        load()
    except Exception:  # noqa: BLE001, S110
        pass


def _died(ticket: int, proc: Any) -> tuple[int, dict[str, Any]]:
    proc.join(1)
    code = proc.exitcode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    return ticket, {"status": "failed", "error": f"the worker process died ({how})", "retry": True}


class Painter:
    """A Ray actor: one worker's network, loaded once; `paint` runs one item. It asks Ray for 1 CPU (any node can
    take it) and uses `threads`, or two of its node's CPUs (one, on a 1-CPU node)."""

    def __init__(self, threads: int | None) -> None:
        import ray
        import torch

        from ..network import load_vgg19

        if threads is None:
            here = ray.get_runtime_context().get_node_id()
            cpus = next((int(n["Resources"].get("CPU", 1)) for n in ray.nodes() if n["NodeID"] == here), 1)
            threads = max(1, cpus // per_node(cpus))
        torch.set_num_threads(threads)
        _warm(load_vgg19)

    def paint(self, job: dict[str, Any]) -> dict[str, Any]:
        import ray

        from .run import paint

        files = {k: (given, ray.get(data) if isinstance(data, ray.ObjectRef) else data)
                 for k, (given, data) in job["files"].items()}
        return paint({**job, "files": files})


def join_ray(address: str) -> None:
    """ray.init(address) with Ray's own messages in a log file, and a failure said in one line: its cause and fix."""
    import ray

    answers(address)
    log = Path(tempfile.gettempdir()) / f"stylegram-ray-{os.getpid()}.log"
    with open(log, "ab") as f, redirected(f.fileno()):
        try:
            ray.init(address=address, logging_level="ERROR")
            return
        except Exception as e:  # noqa: BLE001  (Ray raises several kinds; each is said in one line)
            error = f"{type(e).__name__}: {e}"
    raise StylegramError(f"--ray {address}: cannot join Ray: {join_cause(error + log.read_text(errors='replace'))} "
                         f"(Ray's messages: {log})")


def answers(address: str, timeout: float = 10.0) -> None:
    """Refuse at once a HOST:PORT where nothing listens: Ray itself retries such an address for ever."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return
    except ValueError:
        raise StylegramError(f"--ray {address}: expected HOST:PORT (the head's, e.g. 10.0.0.5:6379) or auto") from None
    except OSError as e:
        raise StylegramError(f"--ray {address}: cannot join Ray: nothing answers at that address ({e.strerror or e}): "
                             "check it (`ray status` on the head prints it) and that the head runs") from None


def join_cause(text: str) -> str:
    """What a failed join means, from Ray's error and log, in words a user can act on."""
    t = text.lower()
    if "authtoken" in t or "auth token" in t or "unauthenticated" in t or "authentication" in t:
        return ("the cluster uses token authentication: export RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=<the output of "
                "`ray get-auth-token` on the head node>")
    if "version" in t and ("mismatch" in t or "does not match" in t or "different" in t):
        return "this machine's Ray or Python version differs from the cluster's: install the cluster's"
    if any(w in t for w in ("failed to connect", "connection refused", "timed out", "unavailable", "could not find")):
        return "nothing answers at that address: check it (`ray status` on the head prints it) and that the head runs"
    return text.strip().splitlines()[0][:300]


@contextlib.contextmanager
def redirected(fd: int) -> Iterator[None]:
    """This process's stdout and stderr (Python's and native code's) into `fd` for the block."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for s in saved:
            os.close(s)


def per_node(cpus: int) -> int:
    """Workers on a node with `cpus` CPUs: one per two, at least one."""
    return max(1, cpus // 2)


def start_ray(num_cpus: int, object_store_mb: int = 512) -> None:
    """A local Ray of our own. Its workers run at the driver's priority: Ray's default (nice 15, to keep its own
    services responsive) left a batch on a busy machine about 30x slower than local worker processes."""
    import ray

    os.environ.setdefault("RAY_worker_niceness", "0")  # read by the raylet that ray.init starts
    # address="local": a Ray of our own even when one runs on this machine (joining it would refuse num_cpus)
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level="ERROR",
             object_store_memory=object_store_mb * 2**20)


class RayPool:
    """Ray actors: `address` None starts a local Ray (all this machine's cores), else joins that cluster
    ("auto" or HOST:PORT). One actor per `threads` CPUs of the cluster by default, or one per GPU when the
    cluster has GPUs and the device may be CUDA. A dead actor is replaced; its item comes back retryable."""

    def __init__(self, address: str | None = None, workers: int | None = None, threads: int | None = None,
                 use_gpu: bool = True) -> None:
        try:
            import ray
        except ImportError:
            raise StylegramError("--ray needs Ray: pip install 'stylegram[batch]' (or pip install ray)") from None
        self._ray = ray
        t0 = time.perf_counter()
        if not ray.is_initialized():
            if address is None:
                try:
                    start_ray(cores())
                except (ConnectionError, RuntimeError, ValueError) as e:
                    raise StylegramError(f"--ray: cannot start Ray: {e}") from None
            else:
                join_ray(address)
            self._owns = True
        else:
            self._owns = False
        self.startup_s = time.perf_counter() - t0
        gpus = int(ray.cluster_resources().get("GPU", 0)) if use_gpu else 0
        node_cpus = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
        if gpus:
            self.workers, self.threads = workers or gpus, threads or 1
            self._actor = ray.remote(Painter).options(num_cpus=1, num_gpus=1)
        else:  # sized per node: 1 CPU to be scheduled anywhere, spread over the nodes
            self.workers, self.threads = workers or sum(per_node(c) for c in node_cpus if c >= 1) or 1, threads
            self._actor = ray.remote(Painter).options(num_cpus=1, scheduling_strategy="SPREAD")
        self._actors = [self._actor.remote(self.threads) for _ in range(self.workers)]
        self.slots = 2 * self.workers  # each actor holds its next item while it paints: no wait on the driver between
        self._busy: dict[Any, tuple[int, int, Any]] = {}  # object ref -> (ticket, actor index, actor)
        self._stored: dict[str, Any] = {}  # input path -> its bytes in Ray's object store, put once
        self._victims: dict[int, tuple[int, Any]] = {}  # id(dead actor) -> (the ticket it was painting, it)
        self._check_schedulable(node_cpus, gpus)

    def _check_schedulable(self, node_cpus: list[int], gpus: int) -> None:
        """Refuse at once a cluster where no worker can ever be placed (Ray would wait forever). A worker that
        can be placed but loads slowly (a busy machine) is waited for, as the items are."""
        if not any(c >= 1 for c in node_cpus):
            self.close()
            raise StylegramError(f"--ray: no worker can start: each needs 1 CPU{' and 1 GPU' if gpus else ''}, the "
                                 f"cluster's nodes have {node_cpus or 'no'} CPUs; add a node with a free CPU "
                                 "(ray start --address ...) or run without --ray")

    def ready(self) -> None:
        """Wait until every actor has loaded the network."""
        self._ray.get([a.__ray_ready__.remote() for a in self._actors])

    def submit(self, ticket: int, job: dict[str, Any]) -> None:
        load = [0] * self.workers
        for _, k, _ in self._busy.values():
            load[k] += 1
        k = load.index(min(load))
        files = {}
        for key, (given, data) in job["files"].items():
            if given not in self._stored:
                self._stored[given] = self._ray.put(data)
            files[key] = (given, self._stored[given])
        self._busy[self._actors[k].paint.remote({**job, "files": files})] = (ticket, k, self._actors[k])

    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        if not self._busy:
            return []
        ray = self._ray
        first, rest = ray.wait(list(self._busy), num_returns=1, timeout=timeout)
        ready = first + (ray.wait(rest, num_returns=len(rest), timeout=0)[0] if first and rest else [])
        outcomes = []
        for ref in ready:
            ticket, k, actor = self._busy.pop(ref)
            try:
                outcomes.append((ticket, k, actor, ray.get(ref)))
            except ray.exceptions.RayActorError as e:  # the worker died: a new one takes its place
                if "No module named 'stylegram'" in str(e):
                    raise StylegramError("--ray: a node of the cluster has no stylegram: pip install "
                                         "'stylegram[batch]' on every node (the same version as here)") from None
                outcomes.append((ticket, k, actor, e))
            except ray.exceptions.RayError as e:
                outcomes.append((ticket, k, actor, {"status": "failed", "retry": True,
                                                    "error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}))
        return [(ticket, self._lost(ticket, k, actor, outcomes) if isinstance(out, Exception) else out)
                for ticket, k, actor, out in outcomes]

    def _lost(self, ticket: int, k: int, actor: Any, outcomes: list) -> dict[str, Any]:
        """An item of an actor that died: the one it was painting failed (an attempt); those queued behind it
        never started. An actor runs its calls in order, so it was painting its oldest item not done."""
        if self._actors[k] is actor:  # replaced once, though its queued item died with it too
            self._actors[k] = self._actor.remote(self.threads)
        if id(actor) not in self._victims:  # the handle is kept, so that its id is not reused
            unfinished = [t for t, _, a in self._busy.values() if a is actor]
            unfinished += [t for t, _, a, out in outcomes if a is actor and isinstance(out, Exception)]
            self._victims[id(actor)] = (min(unfinished), actor)
        if ticket != self._victims[id(actor)][0]:
            return {"status": "unstarted"}
        return {"status": "failed", "retry": True, "error": "the Ray worker died (ActorDiedError)"}

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._owns:
            self._ray.shutdown()
