"""`stylegram serve`: the API in process (every bad input, the queue, downloads, the gallery after a restart) and
a real server (ten clients polling while a job runs; Ctrl-C saves the running job)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("fastapi", reason="the web extra (pip install -e '.[web]')")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

import stylegram.web.app as web  # noqa: E402
from stylegram import Options  # noqa: E402

from .conftest import ROOT, free_port, make_painting, make_photo  # noqa: E402
from .test_reliability import png_declaring  # noqa: E402

FAST = {"size": "32", "iterations": "2", "scales": "1"}


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def client(tmp_path: Path):
    with TestClient(web.create_app(tmp_path / "out")) as c:
        yield c


def submit(client: TestClient, data: dict | None = None, content: bytes | None = None,
           styles: list[bytes] | None = None) -> httpx.Response:
    files = []
    if content is not None:
        files.append(("content", ("photo.png", content, "image/png")))
    for k, s in enumerate(styles or []):
        files.append(("style", (f"paint{k}.png", s, "image/png")))
    return client.post("/api/jobs", data={**FAST, **(data or {})}, files=files or None)


def wait(client, job_id: str, states=("done", "stopped", "failed", "cancelled"), timeout: float = 120) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['state']}")


def test_the_form_is_options(client) -> None:
    fields = {f["name"]: f for f in client.get("/api/options").json()}
    expected = set(Options.__dataclass_fields__) - set(web.HIDDEN)
    assert set(fields) == expected
    assert fields["size"]["main"] and fields["size"]["default"] == "512" and not fields["seed"]["main"]
    assert fields["pooling"]["choices"] == ["avg", "max"] and "PATH" not in str(fields["init"]["choices"])
    assert client.get("/").status_code == 200 and "stylegram" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200


def test_a_job_runs_and_its_files_download(client) -> None:
    r = submit(client, {"style_weight": "30"}, png(make_photo()), [png(make_painting())])
    assert r.status_code == 201, r.text
    job = wait(client, r.json()["id"])
    assert job["state"] == "done" and job["result"] and job["options"]["style_weight"] == 30.0
    result = client.get(f"/api/jobs/{job['id']}/files/result.png")
    assert result.status_code == 200 and Image.open(io.BytesIO(result.content)).size == (32, 24)
    assert "attachment" in result.headers["content-disposition"]
    report = client.get(f"/api/jobs/{job['id']}/files/report.json").json()
    assert len(report["trace"]) == 2 and report["options"]["size"] == 32
    assert client.get(f"/api/jobs/{job['id']}/preview").content == result.content  # the final image
    for bad in ("job.json", "..%2Fjob.json", "style-0.png", "result.PNG"):
        assert client.get(f"/api/jobs/{job['id']}/files/{bad}").status_code == 404
    for bad_id in ("..%2F..", "0" * 31, "z" * 32, "0" * 32):
        assert client.get(f"/api/jobs/{bad_id}").status_code == 404


BAD_UPLOADS = [
    ({}, b"hello, not an image", [png(make_painting())], 400, "not an image"),
    ({}, png_declaring(20000, 20000), [png(make_painting())], 400, "max-pixels"),
    ({}, png(make_photo()), [b""], 400, "empty"),
    ({}, None, [png(make_painting())], 400, "choose a photo"),
    ({}, png(make_photo()), [], 400, "choose a photo"),
    ({}, png(make_photo()), [png(make_painting())] * 5, 400, "at most 4"),
    ({"style_blend": "1,2,3"}, png(make_photo()), [png(make_painting())] * 2, 422, "3 weights for 2"),
]


@pytest.mark.parametrize("data,content,styles,status,words", BAD_UPLOADS)
def test_bad_uploads_are_4xx_and_the_server_goes_on(client, data, content, styles, status, words) -> None:
    r = submit(client, data, content, styles)
    assert r.status_code == status and words in r.json()["error"], r.text
    assert "/tmp" not in r.json()["error"]  # the message names the upload, not a server path
    assert client.get("/api/jobs").json() == []  # nothing queued, nothing written
    assert submit(client, {"demo": "1"}).status_code == 201


@pytest.mark.parametrize("name,value,words", [
    ("size", "0", "--size must be"), ("size", "abc", "expected an integer"), ("iterations", "-1", "--iterations"),
    ("style_weight", "nan", "--style-weight"), ("tol", "1", "--tol"), ("pooling", "median", "--pooling"),
    ("init", "/etc/passwd", "--init must be one of"), ("style_layers", "conv9_9", "unknown layer"),
    ("scales", "64,32", "--scales"), ("weights", "/etc/passwd", "unknown option"),
    ("brush", "3", "unknown option 'brush'"), ("size", "100000", "--size 100000"),
    ("max_memory", "1K", "no --size fits"),
] + ([] if torch.cuda.is_available() else [("device", "cuda", "no CUDA device")]))
def test_bad_options_name_their_field_as_the_cli_does(client, name, value, words) -> None:
    r = submit(client, {"demo": "1", name: value})
    assert r.status_code == 422 and words in r.json()["error"], r.json()
    assert words in r.json()["fields"].get(name, ""), r.json()
    assert client.get("/api/jobs").json() == []  # refused at once, not when the job reaches the queue's front


def test_every_bad_field_is_named_at_once_and_the_flag_spelling_is_understood(client) -> None:
    r = submit(client, {"demo": "1", "size": "abc", "tol": "2", "pooling": "median"})
    assert r.status_code == 422 and set(r.json()["fields"]) == {"size", "tol", "pooling"}
    job = submit(client, {"demo": "1", "style-weight": "50", "--iterations": "2"}).json()
    assert job["options"]["style_weight"] == 50 and job["options"]["iterations"] == 2


def test_too_large_uploads_are_refused(client, monkeypatch) -> None:
    monkeypatch.setattr(web, "MAX_UPLOAD_BYTES", 1000)
    r = submit(client, {}, png(make_photo(200, 150)), [png(make_painting())])
    assert r.status_code in (400, 413) and ("larger than" in r.json()["error"] or "exceeded" in r.json()["error"])
    r = client.post("/api/jobs", content=b"x", headers={"content-length": str(10**10),
                                                           "content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413


def test_queue_positions_cancel_and_stop(client) -> None:
    slow = {"demo": "1", "size": "64", "iterations": "100000", "tol": "0"}  # they end only when stopped
    first = submit(client, slow).json()
    second, third = submit(client, slow).json(), submit(client, slow).json()
    wait(client, first["id"], states=("running",))
    assert client.get(f"/api/jobs/{second['id']}").json()["position"] == 1
    assert client.get(f"/api/jobs/{third['id']}").json()["position"] == 2
    assert client.post(f"/api/jobs/{third['id']}/cancel").json()["state"] == "cancelled"
    assert client.post(f"/api/jobs/{first['id']}/cancel").status_code == 409  # running: stop, not cancel
    assert client.delete(f"/api/jobs/{first['id']}").status_code == 409  # nor delete while it runs
    assert client.delete(f"/api/jobs/{third['id']}").status_code == 200
    assert client.get(f"/api/jobs/{third['id']}").status_code == 404
    assert client.get(f"/api/jobs/{second['id']}").json()["position"] == 1
    while not client.get(f"/api/jobs/{first['id']}").json()["progress"].get("iteration"):
        time.sleep(0.05)
    assert client.post(f"/api/jobs/{first['id']}/stop").status_code == 200
    stopped = wait(client, first["id"])
    assert stopped["state"] == "stopped" and stopped["result"]  # Stop keeps the current image
    assert stopped["progress"]["iteration"] < 100000
    client.post(f"/api/jobs/{wait(client, second['id'], states=('running',))['id']}/stop")
    assert wait(client, second["id"])["state"] == "stopped"


def test_gallery_survives_a_restart_and_runs_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with TestClient(web.create_app(out)) as c:
        job = wait(c, submit(c, {"demo": "1", "style_weight": "7"}).json()["id"])
        cookies = dict(c.cookies)  # the same browser comes back
    (out / "junk").mkdir()
    (out / "junk" / "job.json").write_text("{not json")
    with TestClient(web.create_app(out), cookies=cookies) as c:
        jobs = c.get("/api/jobs").json()
        assert [j["id"] for j in jobs] == [job["id"]] and jobs[0]["options"]["style_weight"] == 7.0
        again = submit(c, {"reuse": job["id"], "style_weight": "7"})
        assert again.status_code == 201 and again.json()["names"] == job["names"]
        assert wait(c, again.json()["id"])["state"] == "done"
        assert submit(c, {"reuse": "../" + job["id"]}).status_code == 404


@pytest.fixture
def server(tmp_path: Path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (open for the server's life)
    proc = subprocess.Popen([sys.executable, "-m", "stylegram", "serve", "--port", str(port), "--out",
                             str(tmp_path / "out")], cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    line = proc.stdout.readline()
    assert url in line, line + (tmp_path / "server.log").read_text()
    yield proc, url, tmp_path / "out"
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


def test_ten_clients_poll_while_a_job_runs(server) -> None:
    proc, url, _ = server
    r = httpx.post(f"{url}/api/jobs", timeout=30, data={"demo": "1", "size": "64", "iterations": "30", "tol": "0"})
    job, cookies = r.json(), dict(r.cookies)  # the same person's tabs: their own job
    seen: list[list[int]] = [[] for _ in range(10)]
    errors: list[str] = []

    def poll(k: int) -> None:  # until the job is done, however long the machine takes (bounded: 300 s)
        end = time.monotonic() + 300
        with httpx.Client(base_url=url, timeout=60, cookies=cookies) as c:
            while time.monotonic() < end:
                r = c.get(f"/api/jobs/{job['id']}")
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                seen[k].append(r.json()["progress"].get("iteration", 0))
                if r.json()["state"] == "done":
                    return
                time.sleep(0.05)
            errors.append(f"client {k}: the job was not done within 300 s")

    threads = [threading.Thread(target=poll, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    with httpx.stream("GET", f"{url}/api/jobs/{job['id']}/events", timeout=120, cookies=cookies) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    for t in threads:
        t.join()
    assert not errors
    steps = [e["progress"].get("iteration", 0) for e in events]
    assert events[-1]["state"] == "done" and steps == sorted(steps) and steps[-1] == 90  # up only, to the end
    assert all(s == sorted(s) and s[-1] == 90 for s in seen)  # each client saw the run advance to its end
    assert httpx.get(f"{url}/api/jobs/{job['id']}/files/result.png", cookies=cookies).status_code == 200
    assert httpx.get(f"{url}/api/jobs/{job['id']}/files/result.png").status_code == 404  # another person


def test_ctrl_c_stops_the_running_job_and_saves_it(server) -> None:
    proc, url, out = server
    r = httpx.post(f"{url}/api/jobs", timeout=30,
                   data={"demo": "1", "size": "96", "iterations": "100000", "tol": "0"})  # ends if stopped
    job = r.json()
    while not httpx.get(f"{url}/api/jobs/{job['id']}", timeout=30, cookies=r.cookies).json()["progress"].get(
            "iteration"):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130  # as the CLI's Ctrl-C
    assert "stopped" in proc.stdout.read()
    meta = json.loads((out / job["id"] / "job.json").read_text())
    assert meta["state"] == "stopped" and (out / job["id"] / "result.png").is_file()
    assert Image.open(out / job["id"] / "result.png").size == (96, 96)
