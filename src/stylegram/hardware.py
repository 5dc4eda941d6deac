"""What the machine can do: device, arithmetic (fp32/bf16/fp16) and whether a size fits in memory."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .choices import MIN_SIZE
from .errors import StylegramError

# Measured on a 2-core AMD EPYC, 2026-11-26 (fp32, VGG-19 to conv5_1 with autograd, peak RSS minus the process
# at rest; docs/benchmarks.md): bytes of activations and gradients per output pixel, without and with checkpointing.
BYTES_PER_PIXEL = 3300
BYTES_PER_PIXEL_CHECKPOINTED = 1500
BASE_BYTES = 900 * 2**20  # torch, the weights (80 MB) and the images
LBFGS_HISTORY_BYTES = 1 * 2**30  # the curvature pairs L-BFGS keeps; at most 100 pairs, at least 5
CHECKPOINT_ABOVE_PIXELS = 1_500_000  # recompute activations in backward above ~1400x1050 px


def resolve_device(device: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; asking for an absent device is an error, not a fallback."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise StylegramError("--device cuda: no CUDA device is available on this machine")
    if device == "mps" and not has_mps:
        raise StylegramError("--device mps: no Apple MPS device is available on this machine")
    return torch.device(device)


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: only there does oneDNN run bf16 convolutions faster than fp32.

    On a CPU without them (e.g. AVX2 only) bf16 is emulated and ~80x slower than fp32 (measured: docs/benchmarks.md).
    """
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None:
            with contextlib.suppress(Exception):
                if fn():
                    return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> bf16 where the hardware runs it fast, else fp32; an explicit choice is checked against the
    device (Options has already checked that it is one of the choices)."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        if device.type == "cpu":
            return "bf16" if cpu_has_fast_bf16() else "fp32"
        return "fp32"
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise StylegramError("--precision bf16: this GPU has no bf16; use fp16 or fp32")
    if precision != "fp32" and device.type == "mps":
        raise StylegramError(f"--precision {precision}: only fp32 is supported on mps")
    return precision


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The network's forward in `precision`; callers cast features to fp32 before Gram matrices and losses."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def lbfgs_history(pixels: int) -> int:
    """Curvature pairs to keep: 100 (the usual) while they fit in LBFGS_HISTORY_BYTES."""
    pair = 2 * 3 * pixels * 4  # s and y, fp32
    return max(5, min(100, LBFGS_HISTORY_BYTES // pair))


def needs_checkpointing(pixels: int) -> bool:
    return pixels > CHECKPOINT_ABOVE_PIXELS


def estimate_bytes(width: int, height: int, precision: str = "fp32") -> int:
    """Peak memory of one transfer at its finest scale: the network's activations, L-BFGS history, the rest."""
    pixels = width * height
    per = BYTES_PER_PIXEL_CHECKPOINTED if needs_checkpointing(pixels) else BYTES_PER_PIXEL
    if precision in ("bf16", "fp16"):
        per = per * 6 // 10  # activations in half precision, Gram matrices and gradients in fp32
    return BASE_BYTES + per * pixels + lbfgs_history(pixels) * 2 * 3 * pixels * 4


def available_bytes() -> int:
    """Free RAM (psutil)."""
    import psutil

    return int(psutil.virtual_memory().available)


def free_bytes(device: torch.device, budget: int | None = None) -> int:
    """What a run may use: `budget` (--max-memory) if given, else what the device has free."""
    if budget is not None:
        return budget
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return available_bytes()


def check_fits(width: int, height: int, long_side: int, precision: str, device: torch.device,
               available: int | None = None) -> None:
    """Refuse a size that would not fit, naming the estimate and the largest --size that would."""
    available = free_bytes(device, available)
    need = estimate_bytes(width, height, precision)
    if need <= available:
        return
    fit = long_side
    while fit >= MIN_SIZE and estimate_bytes(*_scaled(width, height, fit / long_side), precision) > available:
        fit = int(fit * 0.9)
    gib = 2**30
    raise StylegramError(
        f"--size {long_side} ({width}x{height}) needs about {need / gib:.1f} GiB but {available / gib:.1f} GiB is "
        f"available on {device.type}; " + (f"--size {fit} would fit" if fit >= MIN_SIZE else
                                           f"no --size from {MIN_SIZE} px fits: free memory or raise --max-memory")
    )


def _scaled(width: int, height: int, factor: float) -> tuple[int, int]:
    return max(1, round(width * factor)), max(1, round(height * factor))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def worker_facts() -> dict[str, object]:
    """Which process on which machine: what a batch or video worker reports with each result."""
    import os
    import socket

    return {"pid": os.getpid(), "host": socket.gethostname()}
