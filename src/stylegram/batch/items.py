"""The items of a batch (photo x painting with options, or the rows of a --pairs CSV), their names and keys, the
manifest that says which are done, and the payload a worker gets (bytes, so a cluster needs no shared disk)."""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..choices import INITS, READABLE
from ..errors import StylegramError
from ..files import atomic_write
from ..images import load_image
from ..inputs import read_input
from ..options import OptionErrors, Options, parse_fields

MANIFEST = "manifest.jsonl"
SEP = "__"  # OUTDIR/<content>__<style>.png, or <content>__<style>__<options id>.png
# Options that do not change the picture: where it runs and the checks around it. Every other option is part of an
# item's identity, so that a run with other options writes other files instead of painting over earlier ones.
NOT_PICTURE = ("device", "max_memory", "max_pixels", "weights_sha256")
INPUT_FIELDS = ("mask", "init")  # options that name a file, shipped to the worker with the images


@dataclass
class Item:
    """One output: a photo in one painting's style, with its options."""

    content: str
    style: str
    options: Options

    @property
    def name(self) -> str:
        """<content>__<style>.png with the default options; with others, their short id added."""
        suffix = "" if self.options_id == options_id(Options()) else f"{SEP}{self.options_id}"
        return f"{Path(self.content).stem}{SEP}{Path(self.style).stem}{suffix}.png"

    @property
    def options_id(self) -> str:
        return options_id(self.options)

    @property
    def key(self) -> str:
        """Same key, same request: a done item with this key is not painted again."""
        data = {"content": os.path.abspath(self.content), "style": os.path.abspath(self.style),
                "options": self.options.to_dict()}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def record(self, status: str, **extra: Any) -> dict[str, Any]:
        return {"item": self.name, "status": status, "content": self.content, "style": self.style,
                "key": self.key, "options": self.options.to_dict(), **extra}


def options_id(options: Options) -> str:
    """8 hex digits naming the options that change the picture (the same options, the same id, on any machine)."""
    picture = {k: v for k, v in options.to_dict().items() if k not in NOT_PICTURE}
    return hashlib.sha256(json.dumps(picture, sort_keys=True, default=str).encode()).hexdigest()[:8]


def expand(specs: Iterable[str], what: str) -> list[str]:
    """Files as given; folders to the images in them (sorted); globs to their matches. A missing path, or a
    folder or glob with no image, is refused; a file that is not an image fails its items, with the reason."""
    found: list[str] = []
    for spec in specs:
        if Path(spec).is_dir():
            hits = sorted(str(p) for p in Path(spec).iterdir() if p.suffix.lower() in READABLE and p.is_file())
        elif glob.has_magic(spec):
            hits = sorted(p for p in glob.glob(spec) if Path(p).suffix.lower() in READABLE)
        elif Path(spec).exists():
            hits = [spec]
        else:
            raise StylegramError(f"{what} {spec}: no such file or folder")
        if not hits:
            raise StylegramError(f"{what} {spec}: no images found (looked for {', '.join(sorted(READABLE))})")
        found.extend(h for h in hits if h not in found)
    return found


def read_pairs(path: str, options: Options) -> list[Item]:
    """Rows of a CSV with a header: content, style, then any option columns (style_weight or --style-weight),
    parsed by options.parse_fields; an empty cell keeps the command's value. Relative paths are relative to the
    CSV's folder."""
    base = Path(path).parent
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise StylegramError(f"--pairs {path}: cannot read it ({e})") from None
    items = []
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        cells = {(k or "").strip(): v for k, v in row.items()}
        content, style = ((cells.pop(k, None) or "").strip() for k in ("content", "style"))
        try:
            opts = parse_fields(cells, options)
        except OptionErrors as e:
            if str(e).startswith("unknown option"):
                raise StylegramError(f"--pairs {path}, line {n}: unknown column {str(e).split(' ', 2)[2]} (content, "
                                     "style, or an option)") from None
            raise StylegramError(f"--pairs {path}, line {n}, {next(iter(e.fields))}: {e}") from None
        if not content or not style:
            raise StylegramError(f"--pairs {path}, line {n}: needs a content and a style")
        items.append(Item(str(base / content), str(base / style), opts))
    if not items:
        raise StylegramError(f"--pairs {path}: no rows (the first line is the header: content,style,...)")
    return items


def plan(contents: Sequence[str], styles: Sequence[str], options: Options, pairs: str | None = None) -> list[Item]:
    """Every content x every style (or the rows of `pairs`), refusing two items that would share an output."""
    if pairs:
        items = read_pairs(pairs, options)
    else:
        if not contents or not styles:
            raise StylegramError("batch: give at least one CONTENT and one --style (or --pairs FILE.csv)")
        items = [Item(c, s, options) for c in expand(contents, "content") for s in expand(styles, "style")]
    seen: dict[str, Item] = {}
    for item in items:
        if item.name in seen and seen[item.name].key != item.key:
            other = seen[item.name]
            raise StylegramError(f"{other.content} x {other.style} and {item.content} x {item.style} would both "
                                 f"write {item.name}; rename one of them")
        seen[item.name] = item
    return list(seen.values())


class Manifest:
    """OUTDIR/manifest.jsonl: one JSON line per item event, the last line of an item wins. Appending is crash
    safe (a torn last line is ignored); the file is compacted to one line per item at the start and the end."""

    def __init__(self, outdir: Path) -> None:
        self.path = outdir / MANIFEST

    def load(self) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return records
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "item" in rec:
                records[rec["item"]] = rec
        return records

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, default=str) + "\n" for r in records)
        atomic_write(self.path, lambda f: f.write(text.encode()))


def is_done(item: Item, record: dict[str, Any] | None, outdir: Path) -> bool:
    return bool(record and record.get("status") == "done" and record.get("key") == item.key
                and (outdir / item.name).is_file())


class Inputs:
    """The driver's copy of the input files: each read and checked once however many items use it, so a file that
    is not an image fails its items here, whatever the workers (or a cluster that cannot place any), and the same
    bytes object comes back each time (a pool may ship it once)."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str, int, bool], bytes | StylegramError] = {}

    def read(self, path: str, name: str, max_pixels: int, alpha: bool = False) -> bytes:
        """`alpha`: a photo or painting, read as a run reads it (all-transparent refused)."""
        key = (path, name, max_pixels, alpha)
        if key not in self._files:
            try:  # the single run's checks and words
                read_input(path, name, max_pixels, True) if alpha else load_image(path, name, max_pixels)
                self._files[key] = Path(path).read_bytes()
            except StylegramError as e:
                self._files[key] = e
            except OSError as e:
                self._files[key] = StylegramError(f"{name}: cannot read {path}: {e.strerror or e}")
        found = self._files[key]
        if isinstance(found, StylegramError):
            raise found
        return found

    def payload(self, item: Item) -> dict[str, Any]:
        """What a worker needs: the options and the input files' bytes. Raises StylegramError for a bad file."""
        files = {"content": item.content, "style": item.style}
        files.update({f: getattr(item.options, f) for f in INPUT_FIELDS
                      if getattr(item.options, f) and getattr(item.options, f) not in INITS})
        return {"name": item.name, "options": item.options.to_dict(),
                "files": {k: (p, self.read(p, k, item.options.max_pixels, k in ("content", "style") and
                                           item.options.alpha == "keep")) for k, p in files.items()}}
