"""A page a studio can share: the token, each person's own jobs, the limits, one shape for every refusal, and no
server path in anything served. In process (jobs stay queued: no worker runs them) except where a job must run."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra (pip install -e '.[web]')")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import stylegram.web.app as web  # noqa: E402
from stylegram.cli.serve import access_token  # noqa: E402
from stylegram.web.access import OWNER_COOKIE, TOKEN_COOKIE, Access  # noqa: E402
from stylegram.web.limits import Limits  # noqa: E402

from .conftest import ROOT, free_port  # noqa: E402
from .test_serve import FAST, wait  # noqa: E402

DEMO = {**FAST, "demo": "1"}


def app(tmp_path: Path, worker: bool = False, **kw: object) -> TestClient:
    return TestClient(web.create_app(tmp_path / "out", own_thread=worker, **kw))  # type: ignore[arg-type]


def shaped(r: httpx.Response, status: int) -> dict:
    """Every refusal has one shape: {"error": text, "fields": {name: text}}."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "fields"} and isinstance(body["error"], str) and body["error"], body
    return body


def test_a_token_guards_every_route_and_becomes_a_cookie(tmp_path: Path) -> None:
    with app(tmp_path, access=Access("s3cret-token")) as c:
        for path in ("/", "/api/jobs", "/api/options", "/static/app.js", "/api/jobs/" + "0" * 32):
            assert "token" in shaped(c.get(path), 401)["error"]
        shaped(c.get("/?token=wrong"), 401)
        first = c.get("/?token=s3cret-token", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/"  # the token leaves the address bar
        cookie = first.headers.get_list("set-cookie")
        assert any(h.startswith(f"{TOKEN_COOKIE}=s3cret-token") and "HttpOnly" in h for h in cookie)
        assert c.get("/").status_code == 200 and c.get("/api/jobs").status_code == 200
    with app(tmp_path, access=Access("s3cret-token")) as c:  # a script: the header instead of the cookie
        assert c.get("/api/jobs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        shaped(c.get("/api/jobs", headers={"Authorization": "Bearer s3cret-tokem"}), 401)


def test_each_person_sees_and_changes_only_their_own_jobs(tmp_path: Path) -> None:
    with app(tmp_path) as c:
        job = c.post("/api/jobs", data=DEMO).json()
        anna = c.cookies.get(OWNER_COOKIE)
        assert anna and [j["id"] for j in c.get("/api/jobs").json()] == [job["id"]]
        c.cookies.clear()  # another browser
        assert c.get("/api/jobs").json() == []
        for r in (c.get(f"/api/jobs/{job['id']}"), c.get(f"/api/jobs/{job['id']}/files/content.png"),
                  c.get(f"/api/jobs/{job['id']}/events"), c.delete(f"/api/jobs/{job['id']}"),
                  c.post(f"/api/jobs/{job['id']}/cancel"), c.post("/api/jobs", data={**DEMO, "reuse": job["id"]})):
            shaped(r, 404)  # not even confirmed to exist
        c.cookies.set(OWNER_COOKIE, anna)
        assert c.post(f"/api/jobs/{job['id']}/cancel").json()["state"] == "cancelled"
    with app(tmp_path, access=Access(shared_gallery=True)) as c:  # the same gallery, shared
        assert [j["id"] for j in c.get("/api/jobs").json()] == [job["id"]]
        assert c.get(f"/api/jobs/{job['id']}/files/content.png").status_code == 200
        shaped(c.delete(f"/api/jobs/{job['id']}"), 403)  # seen by all, changed by its owner only
        c.cookies.set(OWNER_COOKIE, anna)
        assert c.delete(f"/api/jobs/{job['id']}").status_code == 200
        assert not (tmp_path / "out" / job["id"]).exists() and c.get("/api/jobs").json() == []


def test_queue_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    with app(tmp_path, limits=Limits(queued_per_person=2, queued_total=3)) as c:
        assert [c.post("/api/jobs", data=DEMO).status_code for _ in range(2)] == [201, 201]
        r = c.post("/api/jobs", data=DEMO)
        assert "at most 2" in shaped(r, 429)["error"] and int(r.headers["retry-after"]) > 0
        c.cookies.clear()
        assert c.post("/api/jobs", data=DEMO).status_code == 201
        c.cookies.clear()
        assert "at most 3" in shaped(c.post("/api/jobs", data=DEMO), 429)["error"]


def test_a_repeated_press_of_start_is_one_job(tmp_path: Path) -> None:
    with app(tmp_path) as c:
        once = c.post("/api/jobs", data={**DEMO, "submission": "press-1"})
        again = c.post("/api/jobs", data={**DEMO, "submission": "press-1"})
        assert (once.status_code, again.status_code) == (201, 200) and once.json()["id"] == again.json()["id"]
        assert len(c.get("/api/jobs").json()) == 1
        assert c.post("/api/jobs", data={**DEMO, "submission": "press-2"}).status_code == 201


def test_every_bad_field_and_missing_input_at_once(tmp_path: Path) -> None:
    with app(tmp_path) as c:
        body = shaped(c.post("/api/jobs", data={"size": "-3", "style_weight": "nan"}), 422)
        assert {"size", "style_weight", "content", "style"} <= set(body["fields"])
        shaped(c.get("/api/jobs/" + "f" * 32), 404)
        shaped(c.get("/api/nothing"), 404)
        shaped(c.post("/api/options"), 405)


def test_finished_jobs_expire_by_age_then_by_disk_oldest_first(tmp_path: Path) -> None:
    said: list[str] = []
    with app(tmp_path, limits=Limits(keep_days=1, max_disk=None), log=said.append) as c:
        ids = [c.post("/api/jobs", data=DEMO).json()["id"] for _ in range(3)]
        queue = c.app.state.queue  # type: ignore[attr-defined]
        for k, job_id in enumerate(ids):
            queue.cancel(job_id)
            queue.jobs[job_id].created = time.time() - 86400 * (3 - k) + 3600  # 2.04, 1.04, 0.04 days old
        queue.prune()
        assert sorted(queue.jobs) == [ids[2]] and not (tmp_path / "out" / ids[0]).exists()
        assert len(said) == 2 and all("older than 1 days" in line for line in said)
        newer = c.post("/api/jobs", data=DEMO).json()["id"]
        queue.cancel(newer)
        queue.limits = Limits(keep_days=0, max_disk=1)  # room for nothing: the older goes first
        queue.prune()
        assert sorted(queue.jobs) == [] and "more than" in said[-1]


def test_nothing_served_holds_a_server_path(tmp_path: Path) -> None:
    with app(tmp_path, worker=True) as c:
        job = wait(c, c.post("/api/jobs", data=DEMO).json()["id"])
        assert job["state"] == "done"
        served = [c.get("/api/jobs").text, c.get(f"/api/jobs/{job['id']}").text,
                  c.get(f"/api/jobs/{job['id']}/files/report.json").text]
        assert all(str(tmp_path) not in text for text in served)
        assert json.loads(served[2])["trace"] and (tmp_path / "out" / job["id"] / "report.json").is_file()


def test_token_choice_at_start(monkeypatch, capsys) -> None:
    ns = lambda host, **kw: argparse.Namespace(host=host, port=8000, **{"token": None, "no_auth": False, **kw})  # noqa: E731
    monkeypatch.delenv("STYLEGRAM_TOKEN", raising=False)
    assert access_token(ns("127.0.0.1")) is None and access_token(ns("::1")) is None
    made = access_token(ns("0.0.0.0"))
    assert made and len(made) >= 24 and made != access_token(ns("0.0.0.0"))
    assert access_token(ns("127.0.0.1", token="mine")) == "mine"
    monkeypatch.setenv("STYLEGRAM_TOKEN", "from-env")
    assert access_token(ns("0.0.0.0")) == "from-env"
    monkeypatch.delenv("STYLEGRAM_TOKEN")
    assert access_token(ns("0.0.0.0", no_auth=True)) is None
    assert "WARNING: --no-auth" in capsys.readouterr().err


def test_a_reachable_server_prints_its_token_and_stops_quietly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "STYLEGRAM_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "stylegram", "serve", "--host", "0.0.0.0", "--port", str(port),
                             "--out", str(tmp_path / "out")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**env, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert f":{port}/?token=" in line, line
        token = line.split("?token=")[1].split()[0]
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/jobs", timeout=30).status_code == 401
        with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as c:
            assert c.get(f"/?token={token}").status_code == 200  # redirected, the cookie kept
            assert c.get("/api/jobs").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130
        rest = proc.stdout.read()  # type: ignore[union-attr]
        assert "stopped" in rest and "running job" not in rest  # nothing ran: nothing to say about a job
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_failed_job_says_why_without_server_paths(tmp_path: Path, monkeypatch) -> None:
    import stylegram.web.queue as queue_module
    from stylegram.errors import StylegramError

    class Broken:  # a job that fails naming its input, as a real one would
        def __init__(self, content: str, *args: object) -> None:
            self.content = content

        def run(self, on_iterate: object) -> None:
            raise StylegramError(f"photo {self.content}: damaged")

    monkeypatch.setattr(queue_module, "Job", Broken)
    with app(tmp_path, worker=True) as c:
        job = wait(c, c.post("/api/jobs", data=DEMO).json()["id"])
        assert job["state"] == "failed" and job["error"] == "photo content.png: damaged"
