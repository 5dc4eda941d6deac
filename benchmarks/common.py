"""What the benchmarks share: where the paper's images are, what machine this is, a plain-text table."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # as `import stylegram` does, for benchmarks that load torch first
import torch  # noqa: E402

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
# The defaults until 2026-11-28 (eq. 5 as written, start from the photo, average pooling): "before" in the tables.
BEFORE = {"normalization": "mean", "style_weight": 40.0, "init": "content", "pooling": "avg"}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_flags() -> list[str]:
    """The CPU's bf16 instructions (avx512_bf16, amx_bf16): what decides whether --precision auto picks bf16."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({f for f in text.split() if f in ("avx512_bf16", "amx_bf16", "avx_vnni", "amx_tile")})


def machine() -> dict[str, Any]:
    return {"cpu": cpu_model(), "bf16_flags": bf16_flags(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable in a terminal, pastable into the README)."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def save(result: dict[str, Any], out: Path, name: str) -> Path:
    """Print the machine and write benchmarks/results/NAME-DATE.json."""
    import json

    print(f"machine: {result['machine']}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{result['date']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def no_images() -> bool:
    """True, having said so, when ../shared/images is absent (a user's clone has no ../shared): skip cleanly."""
    if (IMAGES / "tubingen.jpg").is_file():
        return False
    print(f"skipped: {IMAGES} is absent (the paper's images are not part of a user's clone)")
    return True


def child_or_skip(spec: str | None, child: Any) -> bool:
    """A benchmark's --child SPEC runs one configuration here and prints its JSON; without the paper's images there
    is nothing to measure. True when the caller has nothing more to do."""
    import json

    if spec:
        print(json.dumps(child(json.loads(spec))))
        return True
    return no_images()
