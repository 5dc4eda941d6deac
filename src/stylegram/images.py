"""Images in and out: any Pillow-readable file, PIL image or uint8 array <-> RGB tensors in [0, 1]."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .choices import MAX_PIXELS, WITH_ALPHA, WRITABLE
from .errors import StylegramError
from .files import atomic_write

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]  # noqa: UP007 (a runtime alias)


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa") or (img.mode == "P" and "transparency" in img.info)


def to_rgb(img: Image.Image, alpha: bool = False) -> Image.Image:
    """Any mode to RGB, or to RGBA with `alpha` when some pixel is not opaque. Without `alpha`, transparent pixels
    are composited over white, as a viewer would show them."""
    if has_alpha(img):
        rgba = img.convert("RGBA")
        if alpha:
            return rgba if rgba.getchannel("A").getextrema()[0] < 255 else rgba.convert("RGB")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's 16-bit greyscale -> 8 bit by scaling, not by clipping at 255
        arr = np.asarray(img, dtype=np.float64) / 65535.0 * 255.0
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")  # L, P, CMYK, YCbCr, I;16 ... all handled by Pillow


def load_image(source: ImageLike, name: str = "image", max_pixels: int = MAX_PIXELS, alpha: bool = False
               ) -> Image.Image:
    """Read a path, PIL image or HxWx3 (HxWx4, HxW) uint8 array as an RGB PIL image, EXIF orientation applied; RGBA
    with `alpha` when the image has transparent pixels.

    A file declaring more than max_pixels pixels is refused before it is decoded (a decompression bomb).
    An animated image gives its first frame.
    """
    if isinstance(source, Image.Image):
        return to_rgb(ImageOps.exif_transpose(source), alpha)
    if isinstance(source, np.ndarray):
        arr = source
        if arr.dtype != np.uint8:
            raise StylegramError(f"{name}: numpy arrays must be uint8, got {arr.dtype}")
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise StylegramError(f"{name}: expected an HxWx3 array, got shape {arr.shape}")
        return to_rgb(Image.fromarray(arr), alpha)
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
                return to_rgb(img, alpha)
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


def split_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """An RGB(A) image as (RGB, alpha or None). Where the image is transparent the colour is pulled in from the
    nearest opaque pixels (push-pull over an image pyramid), so the network sees no edge where the alpha ends and
    no stray colour (what a PNG keeps under alpha 0 is often black or white) bleeds into strokes at the edge."""
    if img.mode != "RGBA":
        return img.convert("RGB"), None
    x = to_tensor(img.convert("RGB"))
    a = torch.from_numpy(np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0)[None, None]
    levels = [(x * a, a)]
    while max(levels[-1][1].shape[-2:]) > 1:  # down to 1 x 1: the image's mean colour under its alpha
        c, w = levels[-1]
        k = tuple(min(2, n) for n in w.shape[-2:])
        levels.append((F.avg_pool2d(c, k, ceil_mode=True), F.avg_pool2d(w, k, ceil_mode=True)))
    c, w = levels[-1]
    fill = c / w.clamp(min=1e-6)
    for c, w in reversed(levels[:-1]):  # premultiplied colour over the coarser level's estimate, level by level
        fill = c + (1 - w) * F.interpolate(fill, size=c.shape[-2:], mode="bilinear", align_corners=False)
    return to_image(fill), img.getchannel("A")


def with_alpha(img: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """img with `alpha` (resized to it) as its transparency; img itself when alpha is None."""
    if alpha is None:
        return img
    out = img.convert("RGBA")
    out.putalpha(alpha if alpha.size == img.size else alpha.resize(img.size, Image.Resampling.LANCZOS))
    return out


def periodic(x: torch.Tensor) -> torch.Tensor:
    """The periodic component of an image (Moisan's periodic-plus-smooth decomposition, 2011): x less the smooth
    image whose Laplacian is x's jumps across the wrap. Its edges meet when tiled, its inside keeps x's detail; the
    photo of a --seamless run, so the content term does not ask for the seam."""
    x64 = x.double()
    h, w = x.shape[-2:]
    v = torch.zeros_like(x64)
    v[..., 0, :] += x64[..., -1, :] - x64[..., 0, :]
    v[..., -1, :] -= x64[..., -1, :] - x64[..., 0, :]
    v[..., :, 0] += x64[..., :, -1] - x64[..., :, 0]
    v[..., :, -1] -= x64[..., :, -1] - x64[..., :, 0]
    q = torch.arange(h, dtype=torch.float64, device=x.device)[:, None]
    r = torch.arange(w, dtype=torch.float64, device=x.device)[None, :]
    denominator = 2 * torch.cos(2 * math.pi * q / h) + 2 * torch.cos(2 * math.pi * r / w) - 4
    denominator[0, 0] = 1.0  # the mean: kept (the smooth part has none)
    smooth_hat = torch.fft.fft2(v) / denominator
    smooth_hat[..., 0, 0] = 0
    return (x64 - torch.fft.ifft2(smooth_hat).real).clamp(0, 1).to(x.dtype)


def seam_ratios(img: Image.Image, near: int | None = None) -> tuple[float, float]:
    """The squared colour change across the wrap lines (last column to first, last row to first) over the mean
    squared change between neighbours inside the image (or, with `near`, between the 2 x near pairs of neighbours
    nearest the wrap), left-right and top-bottom: about 1 where the image tiles without a seam, well above 1 where
    its edges do not meet."""
    a = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    ratios = []
    for b in (a, a.transpose(1, 0, 2)):  # columns, then rows
        inside = np.mean((b[:, 1:] - b[:, :-1]) ** 2, axis=(0, 2))
        if near:
            inside = np.concatenate([inside[:near], inside[-near:]])
        ratios.append(float(np.mean((b[:, 0] - b[:, -1]) ** 2) / max(inside.mean(), 1e-12)))
    return ratios[0], ratios[1]


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
    `compress_level` (PNG): 1 writes ~10x faster, larger, for files the program itself reads back. An RGBA image
    is flattened over white for a format with no alpha (JPEG)."""
    fmt = output_format(path)
    if img.mode == "RGBA" and fmt not in WITH_ALPHA:
        img = to_rgb(img)
    # exact: WebP keeps the colour under transparent pixels (the losses of the file as written are measured on it)
    kwargs = {"JPEG": {"quality": quality}, "WEBP": {"quality": quality, "exact": True},
              "PNG": {"compress_level": compress_level}}.get(fmt, {})
    return atomic_write(path, lambda f: img.save(f, format=fmt, **kwargs))
