"""Fuzzing the page's API (hypothesis, in process, 127.0.0.1 only): every endpoint with random ids, names, form
fields, files and methods answers below 500 in the one error shape, and the server still takes a job afterwards.
At least 1,000 requests in all (more by hand: STYLEGRAM_FUZZ_EXAMPLES=5000)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the web extra (pip install -e '.[web]')")
from fastapi.testclient import TestClient  # noqa: E402

import stylegram.web.app as web  # noqa: E402
from stylegram.options import Options  # noqa: E402

from .test_fuzz import SEEDS  # noqa: E402

EXAMPLES = max(500, int(os.environ.get("STYLEGRAM_FUZZ_EXAMPLES", "500")))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FIELDS = [name for name in Options.__dataclass_fields__] + ["demo", "reuse", "submission", "content", "style",
                                                             "mask", "token", "../x", ""]
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
value = st.one_of(text, st.sampled_from(["nan", "inf", "-1", "0", "1e309", "64", "1,2", "../../etc/passwd",
                                         "a" * 5000, "conv4_2", "none", "cuda", "1", "true"]))
seen = {"requests": 0}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    # no worker: submissions that pass stay queued, so the fuzz paints nothing
    app = web.create_app(Path(tmp_path_factory.mktemp("fuzz")) / "out", own_thread=False)
    with TestClient(app) as c:
        yield c


def answered(r) -> None:
    seen["requests"] += 1
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
        assert set(r.json()) == {"error", "fields"}, r.text[:300]


@FUZZ
@given(fields=st.lists(st.tuples(st.sampled_from(FIELDS), value), max_size=8),
       files=st.lists(st.tuples(st.sampled_from(["content", "style", "mask", "size", "other"]),
                                st.one_of(st.binary(max_size=300), st.sampled_from(SEEDS))), max_size=4))
def test_any_submission_is_answered_below_500(client, fields, files) -> None:
    data: dict[str, list[str]] = {}
    for k, v in fields:
        data.setdefault(k, []).append(v)
    upload = [(k, (f"f{i}.png", b, "image/png")) for i, (k, b) in enumerate(files)] or None
    answered(client.post("/api/jobs", data=data, files=upload))


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
       route=st.sampled_from(["", "/events", "/preview", "/stop", "/cancel", "/files/{name}"]),
       job_id=st.one_of(text, st.sampled_from(["0" * 32, "f" * 32, "..", "%2e%2e", "../../etc"])),
       name=st.one_of(text, st.sampled_from(["result.png", "report.json", "../job.json", "content.png", "%2F"])),
       query=st.one_of(st.just(""), text.map(lambda t: "?token=" + quote(t))))
def test_any_job_route_is_answered_below_500(client, method, route, job_id, name, query) -> None:
    part = lambda t: quote(t, safe="./%")  # noqa: E731  (what a browser would send for these characters)
    answered(client.request(method, "/api/jobs/" + part(job_id) + route.replace("{name}", part(name)) + query))


def test_the_server_still_takes_a_job_after_the_fuzz(client) -> None:
    client.cookies.clear()  # a new person: the fuzz may have filled its own share of the queue
    r = client.post("/api/jobs", data={"demo": "1", "size": "32", "iterations": "1"})
    assert r.status_code == 201, r.text
    assert seen["requests"] >= 1000 or seen["requests"] == 0  # 0: this test ran alone
