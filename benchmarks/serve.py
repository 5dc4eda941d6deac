"""The web page's numbers: first live image after Start, a job through the page against the same job on the
command line, the API's latency while a job runs, and the memory of an idle server.

    python benchmarks/serve.py [--size 256] [--repeats 3]

Starts `stylegram serve` on a free 127.0.0.1 port (all traffic stays on this machine) and runs the CLI beside it;
Tübingen x Starry Night from ../shared/images when present, else the bundled demo pair. Prints a table and writes
benchmarks/results/serve-DATE.json.
"""

from __future__ import annotations

import argparse
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


def web_job(url: str, files: list[tuple], data: dict) -> dict:
    """POST a job, follow its events: seconds to the first live image and to the end, the API's latency."""
    t0 = time.perf_counter()
    job = httpx.post(f"{url}/api/jobs", data=data, files=files, timeout=60).json()
    first = None
    latencies: list[float] = []
    probed = 0.0
    with httpx.stream("GET", f"{url}/api/jobs/{job['id']}/events", timeout=600) as events:
        for line in events.iter_lines():
            if not line.startswith("data: "):
                continue
            state = json.loads(line[6:])
            if first is None and state["preview_version"] > 0:
                first = time.perf_counter() - t0
            if state["state"] in ("done", "failed", "stopped", "cancelled"):
                break
            if time.perf_counter() - probed >= 1:  # as a page would: not more than a request a second
                probed = t1 = time.perf_counter()
                httpx.get(f"{url}/api/jobs/{job['id']}", timeout=60)
                latencies.append(time.perf_counter() - t1)
    end = httpx.get(f"{url}/api/jobs/{job['id']}", timeout=60).json()
    report = httpx.get(f"{url}/api/jobs/{job['id']}/files/report.json", timeout=60).json()
    return {"first_image_s": round(first, 3), "wall_s": round(time.perf_counter() - t0, 2),
            "job_s": end["seconds"], "report_s": report["seconds"], "iterations": len(report["trace"]),
            "optimise_s": report["trace"][-1]["seconds"],
            "api_latency_median_ms": round(1000 * statistics.median(latencies), 1),
            "api_latency_max_ms": round(1000 * max(latencies), 1)}


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
            web.append(web_job(url, files, {"size": str(args.size)}))
            cli.append(cli_job(content, style, args.size, tmp))
            print(f"run {k + 1}: page {web[-1]}, cli {cli[-1]}", flush=True)
        time.sleep(2)
        idle_after = rss_mb(server.pid)
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
        "api_latency_max_ms": max(r["api_latency_max_ms"] for r in web),
        "idle_rss_mb_start": round(idle_start), "idle_rss_mb_after_jobs": round(idle_after),
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
    ]))
    save(result, args.out, "serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
