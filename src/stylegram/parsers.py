"""Parsers from text (a flag's value, a form field, a CSV cell) to a field's value. Each raises ValueError with the
line the user sees after the field's name. And the field machinery options.py builds on: `option` (a field with its
help and parser), its flag, its default as text, the names a message is about."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import field
from typing import Any

from .errors import StylegramError


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def boolean(text: str) -> bool:
    """yes/no, true/false, on/off, 1/0 (a form's checkbox sends "on")."""
    t = text.strip().lower()
    if t in ("yes", "true", "on", "1"):
        return True
    if t in ("no", "false", "off", "0"):
        return False
    raise ValueError(f"expected yes or no, got {text!r}")


def _items(text: str, kind: type, what: str) -> tuple:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return tuple(kind(p) for p in parts)
    except ValueError:
        raise ValueError(f"expected comma-separated {what}, got {text!r}") from None


def numbers(text: str) -> tuple[float, ...]:
    return _items(text, float, "float values")


def names(text: str) -> tuple[str, ...]:
    return _items(text, str, "str values")


def scales(text: str) -> int | tuple[int, ...]:
    """N scales, or the list of their long sides."""
    try:
        sizes = int(text) if "," not in text else _items(text, int, "")
    except ValueError:
        sizes = ()
    if sizes == ():
        raise ValueError(f"expected a number of scales or comma-separated sizes, got {text!r}")
    return sizes


_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_size(text: str) -> int:
    """Bytes from 16G, 512M, 1.5GiB, 8GB or a plain number of bytes (binary units)."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"expected a size such as 16G or 512M, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"expected a positive size such as 16G or 512M, got {text!r}")
    return int(value)


METAVARS = {integer: "N", number: "X", numbers: "X,...", names: "LAYER,...", memory_size: "SIZE", boolean: "yes|no"}


def option(default: Any, help: str, parse: Callable[[str], Any] = str, **meta: Any) -> Any:
    """A dataclass field carrying its help, its parser from text (and choices/metavar): each option in one place."""
    meta = {"help": help, "parse": parse, **meta}
    if "choices" not in meta:
        meta.setdefault("metavar", METAVARS.get(parse, "TEXT"))
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def flag(name: str) -> str:
    """The command-line flag of a field: --content-weight for content_weight."""
    return "--" + name.replace("_", "-")


def default_text(f: dataclasses.Field, base: Any = None) -> str:
    """A field's default (or `base`'s value) as help and forms show it ("" for None: its help says what None
    means)."""
    if base is not None:
        default = getattr(base, f.name)
    else:
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    if default is None:
        return ""
    if isinstance(default, bool):
        return "yes" if default else "no"
    return ",".join(map(str, default)) if isinstance(default, tuple) else str(default)


class OptionErrors(StylegramError):
    """Bad settings, every one found: `fields` maps each field's name to its message (the first is the text)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(next(iter(fields.values())))
        self.fields = fields


def field_name(key: str) -> str:
    """A field's name however it is written: style_weight, style-weight or --style-weight."""
    return key.strip().lstrip("-").replace("-", "_")


def named_field(message: str) -> str:
    """The field a message is about, from the flag it names first ("" if none)."""
    m = re.search(r"--([a-z][a-z0-9-]*)", message)
    return field_name(m.group(1)) if m else ""
