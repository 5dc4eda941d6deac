"""stylegram: neural style transfer by Gatys, Ecker & Bethge (2015), faithful to the paper and fast on a CPU."""

import os

# Before torch loads (it reads this once): back torch's large CPU tensors by 2 MB transparent huge pages. A
# large image's activations are allocated and freed every iteration; with 4 KB pages the kernel faulted and
# zeroed them page by page (1408 px, one forward+backward: 7.3 M page faults, 15 s of system time; with huge
# pages 0.14 M, 8 s, and 1.18x faster; docs/large.md). No effect if torch was imported first, or with
# THP_MEM_ALLOC_ENABLE=0.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import importlib
from typing import Any

from .errors import StylegramError
from .options import Options, Outputs
from .version import __version__

# The engine (torch) loads on first use, so parsing options or reading the version costs no torch import.
LAZY = {"Iterate": "transfer", "StyleTransfer": "transfer", "stylize": "transfer", "Job": "job", "Result": "job",
        "Losses": "losses", "load_image": "images", "save_image": "images"}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'stylegram' has no attribute {name!r}")


__all__ = [
    "Iterate",
    "Job",
    "Losses",
    "Options",
    "Outputs",
    "Result",
    "StyleTransfer",
    "StylegramError",
    "__version__",
    "load_image",
    "save_image",
    "stylize",
]
