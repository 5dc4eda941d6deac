"""`stylegram serve [--host 127.0.0.1] [--port 8000] [--out DIR] [--token T | --no-auth] [limits]`: the web page
(stylegram.web). A server others can reach needs a token (web/access.py); the limits are web/limits.py's."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import StylegramError
from ..parsers import integer, memory_size, number
from ..web.access import TOKEN_ENV, is_loopback, new_token
from ..web.limits import Limits
from .flags import PROG, Parser

LIMITS = Limits()


def access_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--token", help=f"the token a browser needs (default: ${TOKEN_ENV}, else one made at start when "
                   "--host is not loopback; none on 127.0.0.1)")
    p.add_argument("--no-auth", action="store_true", help="no token even when others can reach the port (warned "
                   "at every start)")
    p.add_argument("--shared-gallery", action="store_true", help="every browser sees every job (only its owner "
                   "stops or deletes one)")
    p.add_argument("--proxy-headers", nargs="?", const="127.0.0.1", metavar="IPS", help="trust X-Forwarded-For/"
                   "-Proto from these proxy addresses (default when given: 127.0.0.1): behind a reverse proxy")


def limit_flags(p: argparse.ArgumentParser) -> None:
    d = LIMITS
    p.add_argument("--max-queued-per-person", type=positive, default=d.queued_per_person, metavar="N",
                   help=f"jobs queued or running per browser (default: {d.queued_per_person}); more: 429")
    p.add_argument("--max-queued", type=positive, default=d.queued_total, metavar="N",
                   help=f"jobs queued or running in all (default: {d.queued_total}); more: 429")
    p.add_argument("--keep-days", type=number, default=d.keep_days, metavar="DAYS",
                   help=f"delete finished jobs older than this (default: {d.keep_days:g}; 0 keeps them)")
    p.add_argument("--max-disk", type=memory_size, default=d.max_disk, metavar="SIZE",
                   help=f"disk for all results; the oldest finished go first (default: {d.max_disk // 2**30}G; 0: "
                   "no budget)")


def positive(text: str) -> int:
    n = integer(text)
    if n < 1:
        raise ValueError(f"expected a positive whole number, got {text!r}")
    return n


def access_token(ns: argparse.Namespace) -> str | None:
    """--token, else $STYLEGRAM_TOKEN, else a new one when others can reach the port; --no-auth: none, warned."""
    given = ns.token or os.environ.get(TOKEN_ENV) or None
    if ns.no_auth:
        if given:
            raise StylegramError("--no-auth and a token (--token or $STYLEGRAM_TOKEN) contradict each other")
        print(f"{PROG} serve: WARNING: --no-auth: anyone who can reach {ns.host}:{ns.port} can use this server",
              file=sys.stderr, flush=True)
        return None
    return given or (None if is_loopback(ns.host) else new_token())


def start_server(app: object, ns: argparse.Namespace) -> tuple:
    """uvicorn in a thread of its own, started (or a clear line why not)."""
    import uvicorn

    ready = threading.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets)
            ready.set()

    # a short grace for open live streams when stopping; the web server's thread installs no signal handlers.
    # X-Forwarded-* are trusted only when asked (behind a reverse proxy; docs/serve.md), from the proxy's address
    server = Server(uvicorn.Config(app, host=ns.host, port=ns.port, log_level="warning", timeout_graceful_shutdown=3,
                                   proxy_headers=ns.proxy_headers is not None,
                                   forwarded_allow_ips=ns.proxy_headers or "127.0.0.1"))
    thread = threading.Thread(target=server.run, name="stylegram-web", daemon=True)
    thread.start()
    while not ready.wait(0.1):
        if not thread.is_alive():
            raise StylegramError(f"the web server did not start on {ns.host}:{ns.port}")
    if not server.started:
        raise StylegramError(f"the web server did not start on {ns.host}:{ns.port}")
    return server, thread


def serve_parser() -> Parser:
    p = Parser(prog=f"{PROG} serve", description="Serve the web page: upload a photo and paintings, watch the "
               "painting form, download it. Jobs run one at a time; results stay in --out.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--out", default="out/serve", metavar="DIR", help="results and the gallery (default: out/serve)")
    access_flags(p)
    limit_flags(p)
    return p


def main(argv: Sequence[str]) -> int:
    ns = serve_parser().parse_args(list(argv))
    try:
        import uvicorn  # noqa: F401  (start_server's; missing, it is said here)

        from ..web.access import Access
        from ..web.app import create_app
    except ImportError as e:
        raise StylegramError(f"serve needs the web extra ({e.name} is missing): pip install 'stylegram[web]'") \
            from None
    with socket.socket() as s:  # a clear line now, rather than uvicorn's log after start-up
        try:
            s.bind((ns.host, ns.port))
        except OSError as e:
            raise StylegramError(f"cannot listen on {ns.host}:{ns.port}: {e.strerror or e}") from None
    out = Path(ns.out)
    if out.exists() and not out.is_dir():
        raise StylegramError(f"--out {out} is not a directory")
    token = access_token(ns)
    limits = Limits(ns.max_queued_per_person, ns.max_queued, ns.keep_days, ns.max_disk or None)
    app = create_app(out, own_thread=False, access=Access(token, ns.shared_gallery), limits=limits,
                     log=lambda line: print(line, flush=True))
    server, thread = start_server(app, ns)
    address = f"http://{ns.host}:{ns.port}/" + (f"?token={token}" if token else "")
    print(f"{PROG}: serving on {address}  (results in {out}; Ctrl-C stops)", flush=True)
    queue = app.state.queue
    # While no job runs, Ctrl-C and SIGTERM close the queue; a running job's own handlers save it first. (Raising
    # KeyboardInterrupt from the handler was lost when it landed in a garbage collector's callback.)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: queue.close_soon())
    interrupted = False
    try:
        interrupted = queue.run_forever()  # returns when a signal stopped a job (its image saved, as in the CLI)
    except KeyboardInterrupt:  # Ctrl-C while no job runs
        pass
    finally:
        queue.shutdown()
        server.should_exit = True
        thread.join(10)
    print(f"{PROG}: stopped" + (" (the running job stopped after its iteration, its image saved)" if interrupted
                                  else ""), flush=True)
    return 130
