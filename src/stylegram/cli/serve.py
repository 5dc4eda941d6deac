"""`stylegram serve [--host 127.0.0.1] [--port 8000] [--out DIR]`: the web page (stylegram.web)."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import StylegramError
from .flags import PROG, Parser


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str]) -> int:
    p = Parser(prog=f"{PROG} serve", description="Serve the web page: upload a photo and paintings, watch the "
               "painting form, download it. Jobs run one at a time; results stay in --out.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--out", default="out/serve", metavar="DIR", help="results and the gallery (default: out/serve)")
    ns = p.parse_args(list(argv))
    try:
        import uvicorn

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
    app = create_app(out, own_thread=False)
    ready = threading.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets)
            ready.set()

    # a short grace for open live streams when stopping; the web server's thread installs no signal handlers
    server = Server(uvicorn.Config(app, host=ns.host, port=ns.port, log_level="warning", timeout_graceful_shutdown=3))
    thread = threading.Thread(target=server.run, name="stylegram-web", daemon=True)
    thread.start()
    while not ready.wait(0.1):
        if not thread.is_alive():
            raise StylegramError(f"the web server did not start on {ns.host}:{ns.port}")
    if not server.started:
        raise StylegramError(f"the web server did not start on {ns.host}:{ns.port}")
    print(f"{PROG}: serving on http://{ns.host}:{ns.port}/  (results in {out}; Ctrl-C stops)", flush=True)
    queue = app.state.queue
    signal.signal(signal.SIGTERM, _terminate)  # while no job runs; a running job's own handler saves it first
    try:
        queue.run_forever()  # returns when a signal stopped a job (its image saved, as in the CLI)
    except KeyboardInterrupt:  # Ctrl-C while no job runs
        pass
    finally:
        queue.shutdown()
        server.should_exit = True
        thread.join(10)
    print(f"{PROG}: stopped (a running job stopped after its iteration, its image saved)", flush=True)
    return 130
