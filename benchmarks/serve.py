"""The web page's numbers: first live image after Start, a job through the page against the same job on the
command line, the API's latency while a job runs, the memory of an idle server, and a load test: 50 clients (each
its own browser, its own cookie) polling and streaming while 5 jobs queue and run: API latency p50/p99, responses
>= 500 (must be 0), the server's peak memory.

    python benchmarks/serve.py [--size 256] [--repeats 3] [--clients 50] [--jobs 5]

Starts `stylegram serve` on a free 127.0.0.1 port (all traffic stays on this machine) and runs the CLI beside it;
Tübingen x Starry Night from ../shared/images when present, else the bundled demo pair. Prints a table and writes
benchmarks/results/serve-DATE.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import IMAGES, machine, save, table  # type: ignore[import-not-found]

from stylegram.web.queue import FINAL

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_job(url: str, files: list[tuple], data: dict, first_only: bool = False) -> dict:
    """POST a job, follow its events: seconds to the first live image and to the end, the API's latency."""
    with httpx.Client(base_url=url, timeout=600) as c:  # one browser: its cookie makes the job its own
        t0 = time.perf_counter()
        job = c.post("/api/jobs", data=data, files=files).json()
        first = None
        latencies: list[float] = []
        probed = 0.0
        with c.stream("GET", f"/api/jobs/{job['id']}/events") as events:
            for line in events.iter_lines():
                if not line.startswith("data: "):
                    continue
                state = json.loads(line[6:])
                if first is None and state["preview_version"] > 0:
                    first = time.perf_counter() - t0
                    if first_only:  # the first picture is what is measured: stop the job there
                        c.post(f"/api/jobs/{job['id']}/stop")
                if state["state"] in FINAL:
                    break
                if time.perf_counter() - probed >= 1:  # as a page would: not more than a request a second
                    probed = t1 = time.perf_counter()
                    c.get(f"/api/jobs/{job['id']}")
                    latencies.append(time.perf_counter() - t1)
        end = c.get(f"/api/jobs/{job['id']}").json()
        report = c.get(f"/api/jobs/{job['id']}/files/report.json").json()
    return {"first_image_s": round(first, 3), "wall_s": round(time.perf_counter() - t0, 2),
            "job_s": end["seconds"], "report_s": report["seconds"], "iterations": len(report["trace"]),
            "optimise_s": report["trace"][-1]["seconds"],
            "api_latency_median_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "api_latency_max_ms": round(1000 * max(latencies), 1) if latencies else None}

async def one_client(url: str, k: int, jobs: int, size: int, stop: asyncio.Event, out: dict) -> None:
    """One browser: the first `jobs` clients start a job and stream its events; every client polls the gallery, its
    job and the options about twice a second until every job is over."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        async def timed(method: str, path: str, **kw: object) -> httpx.Response:
            t0 = time.perf_counter()
            r = await c.request(method, path, **kw)  # type: ignore[arg-type]
            out["latency"].append(time.perf_counter() - t0)
            out["statuses"].append(r.status_code)
            return r

        await timed("GET", "/")
        job = None
        if k < jobs:
            r = await timed("POST", "/api/jobs", data={"demo": "1", "size": str(size), "iterations": "40",
                                                       "scales": "1", "submission": f"load-{k}"})
            job = r.json()["id"] if r.status_code in (200, 201) else None

        async def stream() -> None:
            async with c.stream("GET", f"/api/jobs/{job}/events") as events:
                async for line in events.aiter_lines():
                    if line.startswith("data: ") and json.loads(line[6:])["state"] in FINAL:
                        out["finished"] += 1
                        return

        streaming = asyncio.create_task(stream()) if job else None
        while not stop.is_set():
            await timed("GET", "/api/jobs")
            if job:
                await timed("GET", f"/api/jobs/{job}")
            await timed("GET", "/api/options")
            await asyncio.sleep(0.5)
        if streaming:
            await streaming


async def load_test(url: str, pid: int, clients: int, jobs: int, size: int) -> dict:
    out: dict = {"latency": [], "statuses": [], "finished": 0, "rss": []}
    stop = asyncio.Event()

    async def watch() -> None:  # until every job is over (bounded: 20 minutes), sampling the server's memory
        end = time.monotonic() + 1200
        while out["finished"] < jobs and time.monotonic() < end:
            out["rss"].append(rss_mb(pid))
            await asyncio.sleep(0.5)
        stop.set()

    t0 = time.perf_counter()
    await asyncio.gather(watch(), *(one_client(url, k, jobs, size, stop, out) for k in range(clients)))
    lat = sorted(out["latency"])
    pick = lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)  # noqa: E731
    return {"clients": clients, "jobs": jobs, "job_size": size, "seconds": round(time.perf_counter() - t0, 1),
            "requests": len(lat), "latency_p50_ms": pick(0.5), "latency_p99_ms": pick(0.99),
            "latency_max_ms": round(1000 * lat[-1], 1), "responses_5xx": sum(s >= 500 for s in out["statuses"]),
            "responses_4xx": sum(400 <= s < 500 for s in out["statuses"]), "jobs_finished": out["finished"],
            "server_rss_mb_max": round(max(out["rss"])), "server_rss_mb_start": round(out["rss"][0])}


def cli_job(content: str, style: str, size: int, out: Path) -> dict:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stylegram", content, style, "-o", str(out / "cli.png"), "--size", str(size),
                    "--report", str(out / "cli.json"), "--quiet"], check=True, cwd=ROOT)
    report = json.loads((out / "cli.json").read_text())
    return {"wall_s": round(time.perf_counter() - t0, 2), "report_s": report["seconds"],
            "iterations": len(report["trace"]), "optimise_s": report["trace"][-1]["seconds"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clients", type=int, default=50, help="the load test's browsers (0: no load test)")
    p.add_argument("--first-only", action="store_true", help="only the first live image: each job is stopped "
                   "there, no CLI runs, no load test")
    p.add_argument("--jobs", type=int, default=5, help="jobs the load test queues (one per client)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stylegram-serve-"))
    if (IMAGES / "tubingen.jpg").is_file():
        content, style = str(IMAGES / "tubingen.jpg"), str(IMAGES / "starry_night.jpg")
    else:
        subprocess.run([sys.executable, "-m", "stylegram", "demo", "-o", str(tmp / "demo.png"), "--iterations", "1",
                        "--size", "32", "--quiet"], check=True, cwd=ROOT)
        content, style = str(tmp / "demo-content.png"), str(tmp / "demo-style.png")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "stylegram", "serve", "--port", str(port), "--out",
                               str(tmp / "serve")], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        server.stdout.readline()
        time.sleep(1)
        idle_start = rss_mb(server.pid)
        web, cli = [], []
        for k in range(args.repeats):  # alternate, so drift on the machine falls on both
            with open(content, "rb") as c, open(style, "rb") as s:
                files = [("content", (Path(content).name, c.read())), ("style", (Path(style).name, s.read()))]
            web.append(web_job(url, files, {"size": str(args.size)}, args.first_only))
            if args.first_only:
                print(f"run {k + 1}: first image {web[-1]['first_image_s']} s", flush=True)
                continue
            cli.append(cli_job(content, style, args.size, tmp))
            print(f"run {k + 1}: page {web[-1]}, cli {cli[-1]}", flush=True)
        if args.first_only:
            firsts = [r["first_image_s"] for r in web]
            print(table(["measure", "value"], [[f"first live image after Start, {args.size} px (median; each run)",
                                                 f"{statistics.median(firsts):.2f} s ({firsts})"]]))
            save({"date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size, "web": web,
                  "first_image_s_median": statistics.median(firsts)}, args.out, "serve-first")
            return 0
        time.sleep(2)
        idle_after = rss_mb(server.pid)
        load = asyncio.run(load_test(url, server.pid, args.clients, args.jobs, 128)) if args.clients else None
        print(f"load: {load}", flush=True)
    finally:
        server.terminate()
        server.wait(60)
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    result = {
        "date": datetime.date.today().isoformat(), "machine": machine(), "size": args.size,
        "images": f"{Path(content).name} x {Path(style).name}", "web": web, "cli": cli,
        "first_image_s_median": med(web, "first_image_s"),
        "job_s_median_page": med(web, "report_s"), "job_s_median_cli": med(cli, "report_s"),
        # the optimisation alone (first to last iteration), where the page's extra work (previews, the server's
        # event loop) would show; the job's seconds also hold the weights' loading, which a warm server skips
        "optimise_s_median_page": med(web, "optimise_s"), "optimise_s_median_cli": med(cli, "optimise_s"),
        "page_over_cli": med(web, "optimise_s") / med(cli, "optimise_s"),
        "api_latency_median_ms": med(web, "api_latency_median_ms"),
        "api_latency_max_ms": max(r["api_latency_max_ms"] or 0 for r in web),
        "idle_rss_mb_start": round(idle_start), "idle_rss_mb_after_jobs": round(idle_after), "load": load,
    }
    print(table(["measure", "value"], [
        [f"first live image after Start, {args.size} px (median)", f"{result['first_image_s_median']:.2f} s"],
        ["job through the page / on the CLI (median, the reports' seconds)",
         f"{result['job_s_median_page']:.1f} / {result['job_s_median_cli']:.1f} s"],
        ["optimisation through the page / on the CLI (median)",
         f"{result['optimise_s_median_page']:.1f} / {result['optimise_s_median_cli']:.1f} s"],
        ["page / CLI (optimisation)", f"{result['page_over_cli']:.3f}"],
        ["API latency while a job runs (median / max)",
         f"{result['api_latency_median_ms']:.0f} / {result['api_latency_max_ms']:.0f} ms"],
        ["idle server RSS (start / after the jobs)", f"{idle_start:.0f} / {idle_after:.0f} MB"],
        *([[f"load: {load['clients']} clients, {load['jobs']} jobs of {load['job_size']} px: API latency p50 / p99",
            f"{load['latency_p50_ms']:.0f} / {load['latency_p99_ms']:.0f} ms ({load['requests']} requests)"],
           ["load: responses >= 500 / jobs finished", f"{load['responses_5xx']} / {load['jobs_finished']}"],
           ["load: server RSS start / peak", f"{load['server_rss_mb_start']} / {load['server_rss_mb_max']} MB"]]
          if load else []),
    ]))
    save(result, args.out, "serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
