"""Everything a user can set, and all its validation: Options (the algorithm) and Outputs (a run's side files).

Each field carries its help, its parser from text and its choices, so the command line (cli.flags) is generated
from here and never guesses. Checks that need the machine (a CUDA device, free memory) or the files (paths that
clash) are made where those are known: hardware.py and files.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .choices import (
    ALPHAS,
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    DEVICES,
    MAX_PIXELS,
    MIN_SIZE,
    NORMALIZATIONS,
    OPTIMIZERS,
    PHOTO_INITS,
    POOLINGS,
    PRECISIONS,
    PRESERVE_COLOR,
    check_layers,
)
from .errors import StylegramError
from .parsers import (
    OptionErrors,
    boolean,
    default_text,
    field_name,
    flag,
    integer,
    memory_size,
    named_field,
    names,
    number,
    numbers,
    option,
    scales,
)

__all__ = ["OptionErrors", "Options", "Outputs", "build", "default_text", "field_name", "flag", "named_field",
           "parse_fields"]

CHECKPOINT_EVERY = 50  # iterations between checkpoints when --checkpoint is given without --checkpoint-every


@dataclass
class Options:
    """Settings of one style transfer. The defaults are the tool's (measured in docs/quality.md); Options.paper()
    is the paper's configuration."""

    size: int = option(512, "long side of the output in pixels", integer)
    style_scale: float = option(1.0, "style image long side = size x style_scale (larger: bigger brush strokes)",
                              number)
    iterations: int = option(500, "most optimiser iterations per scale (L-BFGS: one function evaluation each)",
                            integer)
    scales: int | tuple[int, ...] = option(
        3, "coarse-to-fine: N scales, each twice the size of the one before, or a comma-separated list of long "
        "sides ending at --size (1: the paper)", scales, metavar="N|S1,S2,...",
    )
    tol: float = option(1.5e-2, "stop a scale once the loss fell by less than this fraction per iteration over the "
                      "last 10 iterations (0: always run --iterations, as the paper)", number)
    precision: str = option("auto", "arithmetic of the network: auto (bf16 where the hardware runs it fast: AMX or "
                          "AVX512-BF16 CPUs, bf16 GPUs; else fp32), fp32 (the paper), bf16, fp16; Gram matrices, "
                          "losses and the optimiser stay fp32", choices=PRECISIONS)
    optimizer: str = option("lbfgs", "L-BFGS as in the paper, or Adam", choices=OPTIMIZERS)
    lr: float = option(0.02, "Adam step size, in pixel units of [0, 1] (L-BFGS uses its own step)", number)
    content_weight: float = option(1.0, "alpha of eq. 7 (see --normalization for its scale)", number,
                                  metavar="ALPHA")
    style_weight: float = option(15.0, "beta of eq. 7 (15 suits --normalization balanced; 40 suits mean, as in "
                                  "Options.paper())", number, metavar="BETA")
    tv_weight: float = option(0.0, "total-variation weight (not in the paper; 0 = off)", number)
    content_layers: tuple[str, ...] = option(DEFAULT_CONTENT_LAYERS, "comma-separated content layers", names)
    style_layers: tuple[str, ...] = option(DEFAULT_STYLE_LAYERS, "comma-separated style layers", names)
    style_layer_weights: tuple[float, ...] | None = option(
        None, "comma-separated w_l of eq. 5, one per style layer; normalised to sum 1 (default: equal)", numbers,
        metavar="W,...",
    )
    preserve_color: str = option(
        "none", "keep the photo's colours: luminance (transfer on luminance only) or histogram (recolour the "
        "painting to the photo's colour mean and covariance first)", choices=PRESERVE_COLOR,
    )
    style_blend: tuple[float, ...] | None = option(
        None, "comma-separated weights of several style images, one each; normalised to sum 1 (default: equal)",
        numbers, metavar="W,...",
    )
    mask: str | None = option(None, "image whose white regions take the first style and black the second; grey blends",
                            metavar="PATH")
    init: str = option("palette", "start image: palette (the photo recoloured to the painting's colour mean and "
                     "covariance), content (the photo), noise (the paper's white noise), style, adain (the one-pass "
                     "AdaIN picture, as `stylegram preview` paints it), or an image PATH",
                     metavar="palette|content|noise|style|adain|PATH")
    strength: float = option(1.0, "AdaIN's alpha for --init adain and `stylegram preview`: how far the photo's "
                           "responses move to the painting's statistics (0: the photo, 1: fully)", number)
    seed: int = option(0, "seed of the white-noise init (same seed, device and fp32: same image)", integer)
    pooling: str = option("max", "VGG pooling: max (sharper layout at the same style distance, measured in "
                        "docs/normalization.md) or avg (the paper's choice)", choices=POOLINGS)
    normalization: str = option(
        "balanced", "loss scale: balanced (each style layer's E_l relative to the photo's own, so no layer swamps the "
        "others), mean (eq. 4/5 as written, eq. 1 per position) or paper (eq. 1 as written)", choices=NORMALIZATIONS
    )
    device: str = option("auto", "compute device (auto: cuda, then mps, then cpu)", choices=DEVICES)
    max_memory: int | None = option(None, "memory a run may use, e.g. 16G (default: what the machine has free); "
                                  "scales that would need more are painted tile by tile", memory_size)
    tile: int | None = option(None, "tile side in pixels at scales larger than it (default: auto, tiles only when a "
                            "scale would not fit --max-memory; 0: never tile)", integer)
    tile_passes: int = option(3, "passes over the tiles at a tiled scale", integer)
    tile_iterations: int = option(10, "optimiser iterations per tile and pass", integer)
    weights: str = option("bundled", "VGG-19 weights: bundled, torchvision (download), a URL, or a .pth path",
                         metavar="bundled|torchvision|URL|PATH")
    weights_sha256: str | None = option(None, "expected SHA-256 of downloaded or local weights", metavar="HEX")
    seamless: bool = option(False, "an output that tiles without a seam: the image is a torus (the network's padding, "
                            "the pooling, --tv-weight, the pyramid's resampling and tiles wrap around)", boolean)
    alpha: str = option("keep", "an input's transparency: keep (the output has the photo's alpha in PNG and WebP, and "
                        "transparent pixels count in no Gram matrix) or flatten (composited over white)",
                        choices=ALPHAS)
    texture: bool = option(False, "no photo: grow a texture from the paintings (the 2015 texture paper); the canvas is "
                           "the first painting at --size, opaque", boolean, command="stylegram texture")
    max_pixels: int = option(MAX_PIXELS, "refuse input images that declare more pixels than this (decompression "
                           "bombs)", integer)

    def __post_init__(self) -> None:
        self.content_layers = tuple(self.content_layers)
        self.style_layers = tuple(self.style_layers)
        if self.style_layer_weights is not None:
            self.style_layer_weights = tuple(float(w) for w in self.style_layer_weights)
        if self.style_blend is not None:
            self.style_blend = tuple(float(w) for w in self.style_blend)
        if isinstance(self.scales, list):
            self.scales = tuple(self.scales)
        if isinstance(self.scales, tuple) and len(self.scales) == 1 and self.scales[0] == self.size:
            self.scales = 1
        self.validate()

    def validate(self) -> None:
        """Raise StylegramError naming the first bad setting."""
        for name in ("size", "iterations", "max_pixels", "tile_passes", "tile_iterations"):
            v = getattr(self, name)
            if not _integer(v) or v <= 0:
                raise StylegramError(f"{flag(name)} must be a positive integer, got {v!r}")
        if self.size < MIN_SIZE:
            raise StylegramError(f"--size must be at least {MIN_SIZE} pixels, got {self.size}")
        _check_scales(self)
        if not _finite(self.tol) or not 0 <= self.tol < 1:
            raise StylegramError(f"--tol must be a number in [0, 1), got {self.tol!r}")
        for name in ("style_scale", "lr"):
            v = getattr(self, name)
            if not _finite(v) or v <= 0:
                raise StylegramError(f"{flag(name)} must be a positive number, got {v!r}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            v = getattr(self, name)
            if not _finite(v) or v < 0:
                raise StylegramError(f"{flag(name)} must be a finite number >= 0, got {v!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise StylegramError(f"--seed must be a non-negative integer, got {self.seed!r}")
        _check_names(self)
        _check_rest(self)

    def scale_sizes(self) -> list[int]:
        """Long sides of the scales, coarse to fine, ending at size. N scales: each half the next (>= 16 px)."""
        if isinstance(self.scales, tuple):
            return list(self.scales)
        sizes = [max(MIN_SIZE, round(self.size / 2 ** (self.scales - 1 - k))) for k in range(self.scales)]
        return sorted(set(sizes))  # a small --size with many scales: no scale twice

    @classmethod
    def paper(cls, **changes: Any) -> Options:
        """The textbook configuration: white noise, one scale, fp32, a fixed 500 L-BFGS iterations, eq. 4/5 as
        written (mean normalisation, beta 40: the same alpha/beta as the paper's 1e-3, see reproduce.CALIBRATION),
        average pooling."""
        return cls(init="noise", scales=1, tol=0.0, precision="fp32", iterations=500, normalization="mean",
                   style_weight=40.0, pooling="avg").replace(**changes)

    @classmethod
    def texture_defaults(cls, **changes: Any) -> Options:
        """Texture synthesis: no photo, so no content term and white noise, as the texture paper; one scale (at a
        coarse 64 px conv5_1 sees the whole canvas and its Gram matrix redraws the source's layout, docs/texture.md);
        eq. 4 as normalised ("balanced" measures each layer against a photo)."""
        return cls(texture=True, content_weight=0.0, init="noise", scales=1, normalization="mean").replace(**changes)

    def blend_weights(self, n_styles: int) -> list[float]:
        """The weights of `n_styles` style images, normalised to sum 1 (default: equal)."""
        w = self.style_blend or (1.0,) * n_styles
        if n_styles < 1:
            raise StylegramError("at least one style image is needed")
        if len(w) != n_styles:
            raise StylegramError(f"--style-blend has {len(w)} weights for {n_styles} style images")
        if self.mask and n_styles > 2:
            raise StylegramError(f"--mask takes one or two styles (white: the first, black: the second), got "
                                 f"{n_styles}")
        return [x / sum(w) for x in w]

    def layer_weights(self) -> dict[str, float]:
        """The w_l of eq. 5 by layer name, summing to 1 (the paper: 1/5 each on conv1_1 ... conv5_1)."""
        w = self.style_layer_weights or (1.0,) * len(self.style_layers)
        s = sum(w)
        return {name: x / s for name, x in zip(self.style_layers, w, strict=True)}

    def replace(self, **changes: Any) -> Options:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_names(self: Options) -> None:
    for name, choices in (("optimizer", OPTIMIZERS), ("pooling", POOLINGS), ("alpha", ALPHAS),
                          ("normalization", NORMALIZATIONS), ("device", DEVICES), ("precision", PRECISIONS)):
        if getattr(self, name) not in choices:
            got = getattr(self, name)
            raise StylegramError(f"{flag(name)} must be one of {', '.join(choices)}, got {got!r}")
    if not self.content_layers:
        raise StylegramError("--content-layers needs at least one layer")
    if not self.style_layers:
        raise StylegramError("--style-layers needs at least one layer")
    for name in ("content_layers", "style_layers"):
        try:
            check_layers(getattr(self, name))
        except StylegramError as e:
            raise StylegramError(f"{flag(name)}: {e}") from None
    if len(set(self.style_layers)) != len(self.style_layers):
        raise StylegramError("--style-layers lists a layer twice")
    if self.style_layer_weights is not None:
        w = self.style_layer_weights
        if len(w) != len(self.style_layers):
            raise StylegramError(f"--style-layer-weights has {len(w)} values for {len(self.style_layers)} layers")
        if any(not _finite(x) or x < 0 for x in w) or sum(w) <= 0:
            raise StylegramError("--style-layer-weights must be finite, >= 0 and not all zero")

def _check_rest(self: Options) -> None:
    if self.preserve_color not in PRESERVE_COLOR:
        raise StylegramError(f"--preserve-color must be one of {', '.join(PRESERVE_COLOR)}, got "
                             f"{self.preserve_color!r}")
    if self.style_blend is not None and (
        any(not _finite(x) or x < 0 for x in self.style_blend) or sum(self.style_blend) <= 0
    ):
        raise StylegramError("--style-blend weights must be finite, >= 0 and not all zero")
    if not isinstance(self.init, str) or not self.init:
        raise StylegramError("--init must be palette, content, noise, style, adain or an image path")
    if not _finite(self.strength) or not 0 <= self.strength <= 1:
        raise StylegramError(f"--strength must be a number in [0, 1], got {self.strength!r}")
    if self.init == "adain" and self.weights != "bundled":
        raise StylegramError(f"--init adain needs --weights bundled: AdaIN's decoder fits only the normalised "
                             f"VGG-19 it was trained with, not {self.weights}")
    if self.tile is not None and (not _integer(self.tile) or self.tile < 0 or 0 < self.tile < 2 * MIN_SIZE):
        raise StylegramError(f"--tile must be 0 (never) or at least {2 * MIN_SIZE} pixels, got {self.tile!r}")
    if self.max_memory is not None and (not _integer(self.max_memory) or self.max_memory <= 0):
        raise StylegramError(f"--max-memory must be a positive number of bytes, got {self.max_memory!r}")
    for name in ("seamless", "texture"):
        if not isinstance(getattr(self, name), bool):
            raise StylegramError(f"{flag(name)} must be yes or no, got {getattr(self, name)!r}")
    if self.texture and self.init in PHOTO_INITS:
        raise StylegramError(f"--init {self.init} starts from a photo, and a texture has none: use noise, palette "
                             "(noise in the painting's colours), style or an image file")
    if self.texture and self.normalization == "balanced":
        raise StylegramError("--normalization balanced measures each layer against the photo, and a texture has "
                             "none: use mean or paper")
    if not self.content_weight and not self.style_weight:
        raise StylegramError("--content-weight and --style-weight are both 0: nothing to optimise")

def _check_scales(self: Options) -> None:
    v = self.scales
    if isinstance(v, tuple):
        if not v or not all(_integer(s) and s >= MIN_SIZE for s in v):
            raise StylegramError(f"--scales sizes must be integers >= {MIN_SIZE}, got {v!r}")
        if list(v) != sorted(set(v)) or v[-1] != self.size:
            raise StylegramError(f"--scales sizes must increase and end at --size {self.size}, got "
                                 f"{','.join(map(str, v))}")
    elif not _integer(v) or v <= 0:
        raise StylegramError(f"--scales must be a positive integer or a list of sizes, got {v!r}")


@dataclass
class Outputs:
    """What a run writes besides the image, and how often: progress lines, snapshots, report, checkpoints."""

    print_every: int = option(0, "print losses every N iterations", integer, metavar="N")
    save_every: int = option(0, "save the image every N iterations next to OUT (OUT_stem.iterNNNN.ext)", integer,
                           metavar="N")
    report: str | None = option(None, "write options, loss trace, final losses, timings", metavar="FILE.json")
    checkpoint: str | None = option(None, "save a checkpoint here every --checkpoint-every iterations and on "
                                  "interruption (default on interruption: OUT_stem.ckpt); continue with --resume PATH",
                                  metavar="PATH")
    checkpoint_every: int | None = option(None, "iterations between checkpoints (default: 0, only on interruption; "
                                        f"{CHECKPOINT_EVERY} with --checkpoint)", integer, metavar="N")

    def __post_init__(self) -> None:
        for name in ("print_every", "save_every", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and (not _integer(v) or v < 0):
                raise StylegramError(f"{flag(name)} must be an integer >= 0, got {v!r}")
        if self.checkpoint_every is None:
            self.checkpoint_every = CHECKPOINT_EVERY if self.checkpoint else 0
        if self.report and Path(self.report).suffix.lower() != ".json":
            raise StylegramError(f"--report {self.report}: the report file must end in .json")


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


T = TypeVar("T", "Options", "Outputs")


def build(cls: type[T], values: dict[str, Any], base: T | None = None) -> T:
    """An instance from parsed values over `base` (default: the class's defaults). Every bad value is found, not
    only the first: when the whole set is refused, each value is tried with the others that are good on their own
    (so a value that only makes sense with another, --style-layer-weights with --style-layers, is not blamed).
    A --scales list alone sets the size."""
    values = dict(values)
    if cls is Options and isinstance(values.get("scales"), tuple) and "size" not in values:
        values["size"] = values["scales"][-1]  # --scales 128,256,512 alone: the last is the size
    base = base if base is not None else cls()
    try:
        return dataclasses.replace(base, **values)
    except StylegramError as e:
        whole = str(e)

    def fails(changes: dict[str, Any]) -> str | None:
        try:
            dataclasses.replace(base, **changes)
            return None
        except StylegramError as e:
            return str(e)

    alone = {name: fails({name: value}) for name, value in values.items()}
    good = {name: values[name] for name, why in alone.items() if why is None}
    errors = {name: why for name, why in alone.items() if why and fails({**good, name: values[name]})}
    raise OptionErrors(errors or {named_field(whole): whole})


def parse_fields(texts: Mapping[str, Any], base: T | None = None, cls: type[T] | None = None,
                 hidden: Sequence[str] = (), choices: Mapping[str, Sequence[str]] | None = None) -> T:
    """The one parser from text to settings, for every shell (a form's fields, a CSV row's columns): each value by
    its field's own parser and choices, then `build`. An empty value keeps the base's; an unknown name, or one in
    `hidden` (a setting the shell does not offer), is refused naming it; `choices` narrows a field's (a page offers
    no --init PATH). Raises OptionErrors with every problem."""
    cls = cls or (type(base) if base is not None else Options)  # type: ignore[assignment]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in hidden}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, text in texts.items():
        name = field_name(str(key))
        if name not in fields:
            errors[name or str(key)] = f"unknown option {key!r}"
            continue
        if text is None or str(text).strip() == "":
            continue
        meta = fields[name].metadata
        try:
            values[name] = meta["parse"](str(text).strip())
        except ValueError as e:
            errors[name] = f"{flag(name)}: {e}"
            continue
        allowed = (choices or {}).get(name) or meta.get("choices")
        if allowed and values[name] not in allowed:
            errors[name] = f"{flag(name)} must be one of {', '.join(allowed)}, got {values[name]!r}"
    try:
        built = build(cls, values, base)  # type: ignore[arg-type]
    except OptionErrors as e:
        errors.update(e.fields)
    if errors:
        raise OptionErrors(errors)
    return built
