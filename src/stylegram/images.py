"""Images in and out: any Pillow-readable file, PIL image or uint8 array <-> RGB tensors in [0, 1]."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .choices import MAX_PIXELS, WRITABLE
from .errors import StylegramError
from .files import atomic_write

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]  # noqa: UP007 (a runtime alias)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any mode to RGB. Transparent pixels are composited over white, as a viewer would show them."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's 16-bit greyscale -> 8 bit by scaling, not by clipping at 255
        arr = np.asarray(img, dtype=np.float64) / 65535.0 * 255.0
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")  # L, P, CMYK, YCbCr, I;16 ... all handled by Pillow


def load_image(source: ImageLike, name: str = "image", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Read a path, PIL image or HxWx3 (or HxW) uint8 array as an RGB PIL image, EXIF orientation applied.

    A file declaring more than max_pixels pixels is refused before it is decoded (a decompression bomb).
    An animated image gives its first frame.
    """
    if isinstance(source, Image.Image):
        return to_rgb(ImageOps.exif_transpose(source))
    if isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            raise StylegramError(f"{name}: numpy arrays must be uint8, got {arr.dtype}")
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise StylegramError(f"{name}: expected an HxWx3 array, got shape {arr.shape}")
        return to_rgb(Image.fromarray(arr))
    path = Path(source)
    if not path.exists():
        raise StylegramError(f"{name}: file not found: {path}")
    if path.is_dir():
        raise StylegramError(f"{name}: {path} is a directory, not an image")
    if path.stat().st_size == 0:
        raise StylegramError(f"{name}: {path} is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies below
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise StylegramError(f"{name}: {path} declares {w}x{h} = {w * h:,} pixels, more than --max-pixels "
                                         f"{max_pixels:,} (a decompression bomb, or raise --max-pixels)")
                frames = getattr(img, "n_frames", 1)
                if frames > 1:
                    warnings.warn(f"{name}: {path} is animated ({frames} frames); using the first frame",
                                  stacklevel=2)
                img.load()
                img = ImageOps.exif_transpose(img)
                return to_rgb(img)
    except Image.DecompressionBombError as e:
        raise StylegramError(f"{name}: {path} declares more pixels than --max-pixels {max_pixels:,} allows (a "
                             f"decompression bomb; Pillow: {e})") from None
    except UnidentifiedImageError:
        raise StylegramError(f"{name}: {path} is not an image Pillow can read (unknown or unsupported format)") \
            from None
    except StylegramError:
        raise
    except MemoryError:
        raise StylegramError(f"{name}: {path} is too large to decode in the memory available") from None
    except Exception as e:  # Pillow's decoders raise many kinds for a corrupt file (fuzzing found TypeError)
        raise StylegramError(f"{name}: cannot read {path} (truncated or corrupt?): {type(e).__name__}: {e}") \
            from None


def resize_dims(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(w, h) scaled so the long side is long_side, keeping the aspect ratio (each side at least 1)."""
    w, h = size
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def resize_long_side(img: Image.Image, size: int) -> Image.Image:
    """Scale so the long side is `size` pixels (Lanczos), keeping the aspect ratio."""
    new = resize_dims(img.size, size)
    return img if new == img.size else img.resize(new, Image.Resampling.LANCZOS)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 tensor (1, 3, H, W) in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_image(x: torch.Tensor) -> Image.Image:
    """Tensor (1, 3, H, W) -> RGB PIL image, clamped to [0, 1] and rounded to 8 bits."""
    arr = x.detach().float().clamp(0, 1)[0].permute(1, 2, 0).mul(255).round().byte().cpu().numpy()
    return Image.fromarray(arr, "RGB")


def output_format(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext not in WRITABLE:
        raise StylegramError(
            f"output {path}: unsupported extension {ext or '(none)'!r}; use one of {', '.join(sorted(WRITABLE))}"
        )
    return WRITABLE[ext]


def save_image(img: Image.Image, path: str | os.PathLike, quality: int = 95, compress_level: int = 6) -> Path:
    """Write atomically: a temp file in the same directory, then rename, so no half-written output exists.
    `compress_level` (PNG): 1 writes ~10x faster, larger, for files the program itself reads back."""
    fmt = output_format(path)
    kwargs = {"JPEG": {"quality": quality}, "WEBP": {"quality": quality},
              "PNG": {"compress_level": compress_level}}.get(fmt, {})
    return atomic_write(path, lambda f: img.save(f, format=fmt, **kwargs))
