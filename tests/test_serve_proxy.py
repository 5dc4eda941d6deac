"""HTTPS behind nginx: the site in docs/serve.md, run as written (a self-signed certificate, free ports on
127.0.0.1), in front of `stylegram serve --proxy-headers --token`: the token becomes a Secure cookie, a job's live
events arrive through the proxy. Without --proxy-headers a forged X-Forwarded-Proto changes nothing."""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra (pip install -e '.[web]')")
import httpx  # noqa: E402

from .conftest import ROOT, free_port  # noqa: E402
from .test_serve import server  # noqa: E402, F401  (the fixture)

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
OPENSSL = shutil.which("openssl")
needs_nginx = pytest.mark.skipif((NGINX is None or OPENSSL is None) and not os.environ.get("CI"),
                                 reason="nginx and openssl are not installed (apt-get install nginx-light openssl)")


def site_from_docs(cert: Path, key: Path, listen: int, upstream: int) -> str:
    text = (ROOT / "docs" / "serve.md").read_text()
    site = re.search(r"<!-- nginx-site -->\n```nginx\n(.*?)```", text, re.S)
    assert site, "docs/serve.md lost its nginx site"
    return (site.group(1).replace("listen 443 ssl", f"listen 127.0.0.1:{listen} ssl")
            .replace("/etc/ssl/studio.pem", str(cert)).replace("/etc/ssl/studio.key", str(key))
            .replace("127.0.0.1:8000", f"127.0.0.1:{upstream}"))


def nginx_conf(tmp: Path, site: str) -> Path:
    user = "user root;\n" if os.geteuid() == 0 else ""  # as root, workers would otherwise be nobody
    temp = "".join(f"    {k}_temp_path {tmp / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp / "nginx.conf"
    conf.write_text(f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
                    f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n{temp}{site}\n}}\n")
    return conf


def wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    end = time.monotonic() + 60  # a bound on start-up, not a pace
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode} before listening")
        try:
            httpx.get(f"https://127.0.0.1:{port}/", verify=False, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port} within 60 s")


@needs_nginx
def test_the_documented_nginx_site_serves_https_with_secure_cookies(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    upstream, listen = free_port(), free_port()
    app = subprocess.Popen([sys.executable, "-m", "stylegram", "serve", "--port", str(upstream), "--out",
                            str(tmp_path / "out"), "--proxy-headers", "--token", "t0ken-for-the-proxy"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proxy = subprocess.Popen([NGINX or "nginx", "-c", str(nginx_conf(tmp_path, site_from_docs(cert, key, listen,
                              upstream))), "-p", str(tmp_path), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        assert "serving on" in app.stdout.readline()  # type: ignore[union-attr]
        wait_for_port(listen, proxy, "nginx")
        with httpx.Client(base_url=f"https://127.0.0.1:{listen}", verify=ssl.create_default_context(cafile=str(cert)),
                          timeout=60) as c:
            assert c.get("/api/jobs").status_code == 401
            first = c.get("/?token=t0ken-for-the-proxy")
            assert first.status_code == 303
            cookies = first.headers.get_list("set-cookie")
            assert len(cookies) == 2 and all("Secure" in h for h in cookies)  # the proxy said https
            job = c.post("/api/jobs", data={"demo": "1", "size": "32", "iterations": "2", "scales": "1"}).json()
            with c.stream("GET", f"/api/jobs/{job['id']}/events") as events:
                states = [line for line in events.iter_lines() if line.startswith("data: ")]
            assert '"state": "done"' in states[-1]
            assert c.get(f"/api/jobs/{job['id']}/files/result.png").status_code == 200
    finally:
        for proc in (proxy, app):
            proc.terminate()
            proc.wait(60)


def test_forwarded_headers_are_ignored_unless_asked(server) -> None:  # noqa: F811
    _, url, _ = server
    r = httpx.get(f"{url}/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    cookies = r.headers.get_list("set-cookie")
    assert r.status_code == 200 and cookies and not any("Secure" in h for h in cookies)
