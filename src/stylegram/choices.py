"""The names and limits a user can choose among, with no torch (or PIL) to import: options.py parses against
these, so a form or a CSV row is checked without loading the engine. Each list exists here once."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import StylegramError

# VGG-19's conv layers by the paper's names: blocks of 2, 2, 4, 4, 4 convs, a pool after each block.
BLOCKS = (2, 2, 4, 4, 4)
CONV_LAYERS: tuple[str, ...] = tuple(f"conv{b + 1}_{i + 1}" for b, n in enumerate(BLOCKS) for i in range(n))
DEFAULT_CONTENT_LAYERS = ("conv4_2",)
DEFAULT_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
POOLINGS = ("avg", "max")
NORMALIZATIONS = ("balanced", "mean", "paper")
PRESERVE_COLOR = ("none", "luminance", "histogram")
OPTIMIZERS = ("lbfgs", "adam")
DEVICES = ("auto", "cpu", "cuda", "mps")
INITS = ("noise", "content", "palette", "style", "adain")
PHOTO_INITS = ("content", "adain")  # starts made from the photo: none for a texture (its palette start is noise)
ALPHAS = ("keep", "flatten")  # what becomes of an input's transparency
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

MIN_SIZE = 16  # below this conv5_1 sees less than one pixel; see docs/robustness.md
MAX_PIXELS = 100_000_000  # an input declaring more is refused (decompression bombs)

# File extensions, by what we do with them. Pillow reads more; these are the ones a folder is searched for.
WRITABLE = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
WITH_ALPHA = ("PNG", "WEBP")  # the writable formats that keep transparency
READABLE = (*WRITABLE, ".bmp", ".tif", ".tiff", ".gif")
VIDEO_OUT = {".mp4": "libx264", ".webm": "libvpx-vp9"}


def check_layers(names: Iterable[str]) -> None:
    for name in names:
        if name not in CONV_LAYERS:
            raise StylegramError(f"unknown layer {name!r}; known: {', '.join(CONV_LAYERS)}")


def channels(layer: str) -> int:
    """N_l: the filters of a layer (64 in block 1, doubling to 512)."""
    return (64, 128, 256, 512, 512)[int(layer[4]) - 1]


def downsampling(layer: str) -> int:
    """How many image pixels one position of `layer` spans per side: conv3_x sees the image at 1/4."""
    return 2 ** (int(layer[4]) - 1)
