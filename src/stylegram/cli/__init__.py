"""The command line: `stylegram CONTENT STYLE -o OUT`, `stylegram demo`, `stylegram reproduce WHAT`,
`stylegram serve`, `stylegram video`, `stylegram batch`, `stylegram preview`, `stylegram texture`,
`stylegram --resume CKPT`. Argparse and the terminal only; the work is done by stylegram.job
and below. User errors become one line on stderr and exit status 2."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

from ..errors import StylegramError
from . import batch, demo, preview, reproduce, serve, texture, video
from .flags import PROG, options_from_args
from .run import build_parser, resume_main, transfer_main

__all__ = ["build_parser", "main", "options_from_args"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.formatwarning = lambda message, *args, **kwargs: f"{PROG}: warning: {message}\n"
    try:
        if argv and argv[0] == "preview":
            return preview.main(argv[1:])
        if argv and argv[0] == "demo":
            return demo.main(argv[1:])
        if argv and argv[0] == "reproduce":
            return reproduce.main(argv[1:])
        if argv and argv[0] == "serve":
            return serve.main(argv[1:])
        if argv and argv[0] == "video":
            return video.main(argv[1:])
        if argv and argv[0] == "batch":
            return batch.main(argv[1:])
        if argv and argv[0] == "texture":
            return texture.main(argv[1:])
        if "--resume" in argv:
            return resume_main(argv)
        return transfer_main(argv)
    except StylegramError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. an unwritable output directory: say which file, no traceback
        print(f"{PROG}: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C: abort at once
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse has printed its one line (or --help / --version)
        return e.code if isinstance(e.code, int) else 2
