"""Output files: refused before any work when they would clash with an input or cannot be written, then written
atomically (a temp file beside the target, then a rename), so a reader never sees half a file."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from .errors import StylegramError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permissions a new file gets under the current umask (mkstemp makes 0600)."""
    return 0o666 & ~_umask()


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call write(f) on a temp file in path's directory, then rename it onto path."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    text = json.dumps(data, indent=2, allow_nan=False, default=str) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode()))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve() or (Path(b).exists() and os.path.samefile(a, b))
    except OSError:
        return False


def is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def check_writable(output: str | os.PathLike, inputs: Sequence[Any] = ()) -> None:
    """Refuse before any work: a path that is one of the inputs, a directory, or a place that cannot be written.
    Missing directories are created."""
    for name in inputs:
        if is_path(name) and same_file(output, name):
            raise StylegramError(f"output {output} is also an input; choose another name (inputs are never "
                                 "overwritten)")
    if Path(output).is_dir():
        raise StylegramError(f"output {output} is a directory")
    ancestor = Path(output).absolute().parent
    while not ancestor.exists():  # missing directories are created (below), so check the first that exists
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StylegramError(f"output {output}: {ancestor} is a file, not a directory")
    parent = Path(output).absolute().parent
    try:  # a real write, not os.access: root, read-only mounts and /proc answer access() wrongly
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise StylegramError(f"output {output}: cannot write in {parent}: {e.strerror or e}") from None


def check_side_file(path: str, others: Sequence[Any], flag: str) -> None:
    """Refuse a side file (report, checkpoint) that is one of the inputs or outputs, naming its own flag."""
    for name in others:
        if is_path(name) and same_file(path, name):
            raise StylegramError(f"{flag} {path} is also an input or the output")


def sha256_of(path: str | os.PathLike) -> str:
    """The file's SHA-256, read in blocks (weights are 80 MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
