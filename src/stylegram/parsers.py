"""Parsers from text (a flag's value, a form field, a CSV cell) to a field's value. Each raises ValueError with the
line the user sees after the field's name."""

from __future__ import annotations

import math


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
