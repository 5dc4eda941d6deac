"""One style transfer: the inputs, per-scale targets, the criterion (eq. 7) and the coarse-to-fine pyramid.

`StyleTransfer.iterate()` yields an Iterate after each optimiser step; the command line, the Python API and
any other shell consume it. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from .color import ColorControl
from .errors import StylegramError
from .hardware import autocast, check_fits, needs_checkpointing, resolve_device, resolve_precision
from .images import ImageLike, load_image, resize_dims, resize_long_side, to_image, to_tensor
from .losses import (
    ContentTerm,
    Criterion,
    GuidedStyleTerm,
    Losses,
    StyleTerm,
    TVTerm,
    active,
    evaluate,
    gram_per_position,
)
from .network import VGG19, load_vgg19
from .optimize import LBFGS_FIRST_STEP, Progress, converged, optimise
from .options import INITS, MIN_SIZE, Options
from .tiles import Tiled, pass_grids, plan_core

NOISE_STD = 0.01  # faint white noise around mid-grey; strong noise stalls L-BFGS in high-frequency curvature
LATER_SCALE_STEP = 0.1  # first L-BFGS step at later scales, relative to LBFGS_FIRST_STEP


@dataclass
class Iterate:
    """One step of the optimisation as a shell sees it. `image()` renders x only when asked."""

    iteration: int
    iterations: int
    seconds: float
    losses: Losses
    x: torch.Tensor = field(repr=False)
    scale: int = 0  # index of the scale, coarse to fine
    render: Callable[[torch.Tensor], Image.Image] = field(default=to_image, repr=False)

    def image(self) -> Image.Image:
        return self.render(self.x)


# The callback of `run` may return True to stop early (e.g. a user pressed stop).
Callback = Callable[[Iterate], "bool | None"]


class StyleTransfer:
    """The network, the targets (P for the photo, A for the paintings) and the criterion of one transfer.

    `style` is one image or a sequence of them: several styles are blended (`style_blend`) into one target A,
    or, with `mask`, each paints its own region (A_regions, see losses.GuidedStyleTerm).
    """

    def __init__(self, content: ImageLike, style: ImageLike | Sequence[ImageLike],
                 options: Options | None = None, terms: Criterion | tuple = ()) -> None:
        """`terms` are (term, weight) pairs added to the criterion at the final scale (e.g. video's temporal)."""
        self.options = opts = options or Options()
        self.terms = list(terms)
        self.device = resolve_device(opts.device)
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        self.blend = opts.blend_weights(len(styles))
        self.color = ColorControl(opts.preserve_color)
        self._content_source = load_image(content, "content", opts.max_pixels)
        self._style_sources = [load_image(s, f"style {k + 1}" if len(styles) > 1 else "style", opts.max_pixels)
                               for k, s in enumerate(styles)]
        self._mask_source = load_image(opts.mask, "mask", opts.max_pixels).convert("L") if opts.mask else None
        self._init_source = load_image(opts.init, "init", opts.max_pixels) if opts.init not in INITS else None
        self.precision = resolve_precision(opts.precision, self.device)
        _check_sizes(self._content_source, self._style_sources, opts)
        # before any large allocation: a scale that does not fit is tiled (tiles.py), or refused with --tile 0
        if opts.tile == 0:
            check_fits(*resize_dims(self._content_source.size, opts.size), opts.size, self.precision, self.device,
                       opts.max_memory)
        self.cores = {s: plan_core(*resize_dims(self._content_source.size, s), self.precision, self.device,
                                   opts.max_memory, opts.tile) for s in self.scale_sizes()}
        self.tiled: Tiled | None = None
        self.net: VGG19 = load_vgg19(opts.weights, opts.weights_sha256, opts.pooling, str(self.device))
        self.progress = Progress()
        self._prepared: int | None = None
        self.prepare(opts.size)

    def scale_sizes(self) -> list[int]:
        """Long sides of the scales, coarse to fine, ending at options.size."""
        return self.options.scale_sizes()

    @torch.no_grad()
    def prepare(self, size: int) -> None:
        """Resize photo, paintings (and mask) for one scale; compute the targets P and A and the criterion."""
        if size == self._prepared:  # e.g. __init__ prepared the only scale that iterate() then asks for
            return
        self._prepared = size
        opts = self.options
        self.content_image = resize_long_side(self._content_source, size)
        style_long = max(1, round(size * opts.style_scale))
        self.style_images = [resize_long_side(s, style_long) for s in self._style_sources]
        self.style_image = self.style_images[0]
        self.p_rgb = to_tensor(self.content_image).to(self.device)
        self.p = self.color.photo(self.p_rgb)
        self.a = to_tensor(self.style_image).to(self.device)
        self.tiled = Tiled(self, self.cores[size]) if self.cores.get(size) else None
        if self.tiled is not None:  # the targets from tiles; each tile makes its own criterion
            self.tiled.prepare()
            return
        self.A_regions = []  # one target per painting
        for img in self.style_images:
            a = self.color.painting(to_tensor(img).to(self.device), self.p_rgb)
            with autocast(self.precision, self.device):
                feats = self.net(a, opts.style_layers)
            self.A_regions.append({n: gram_per_position(f) for n, f in feats.items()})
        # Blending the Gram matrices: sum_k w_k ||G - A_k||^2 = ||G - sum_k w_k A_k||^2 + const when the
        # weights sum to 1, so one blended target has the same gradient as blended losses, at 1/K the cost.
        self.A = {n: sum(w * t[n] for w, t in zip(self.blend, self.A_regions, strict=True))
                  for n in opts.style_layers}
        balanced = opts.normalization == "balanced"
        with autocast(self.precision, self.device):
            photo = self.net(self.p, opts.content_layers + (opts.style_layers if balanced else ()))
        self.P = {n: photo[n].float() for n in opts.content_layers}
        style = self._style_term()
        if balanced:
            # each layer's E_l in units of the photo's own distance from the painting at that layer
            style = style.with_weights({n: w / max(float(style.with_weights({n: 1.0})(photo, self.p)), 1e-12)
                                        for n, w in style.layer_weights.items()})
        self.layer_weights = style.layer_weights
        self.criterion: Criterion = [(ContentTerm(self.P, opts.normalization), opts.content_weight),
                                     (style, opts.style_weight)]
        if opts.tv_weight:
            self.criterion.append((TVTerm(), opts.tv_weight))
        if size == opts.size:
            self.criterion.extend(self.terms)

    def _style_term(self) -> StyleTerm:
        if self._mask_source is None:
            return StyleTerm(self.A, self.options.layer_weights())
        m = to_tensor(self._mask_source.resize(self.content_image.size, Image.Resampling.BILINEAR))
        m = m[:, :1].to(self.device)
        masks = [m, 1 - m][: len(self.A_regions)]
        return GuidedStyleTerm(self.A_regions, self.options.layer_weights(), masks)

    def render(self, x: torch.Tensor) -> Image.Image:
        """x as the picture the user gets (colour control's step after the transfer)."""
        return to_image(self.color.picture(x, self.p_rgb))

    def initial_image(self) -> torch.Tensor:
        opts = self.options
        if opts.init == "noise":
            gen = torch.Generator().manual_seed(opts.seed)
            x = 0.5 + NOISE_STD * torch.randn(self.p.shape, generator=gen)
        elif opts.init == "content":
            x = self.p.clone()
        elif opts.init == "palette":
            x = self.color.palette(self.p, self.a)  # a start from the photo itself keeps the photo's palette
        else:
            img = self.style_image if opts.init == "style" else self._init_source
            x = to_tensor(img.resize(self.content_image.size, Image.Resampling.LANCZOS))
        return x.to(self.device)

    def losses(self, x: torch.Tensor, full: bool = False) -> tuple[torch.Tensor, Losses]:
        """The criterion at x, with the parts as floats.

        A term whose weight is 0 is skipped (so a content-only run at conv2_1 stops the network there)
        unless `full` asks for every part, as the final evaluation does.
        """
        terms = active(self.criterion, full)
        layers = dict.fromkeys(layer for term, _ in terms for layer in term.layers)
        feats = {}
        if layers:
            with autocast(self.precision, self.device):
                feats = self.net(x, layers, checkpoint=needs_checkpointing(x.shape[-1] * x.shape[-2]))
        return evaluate(terms, feats, x)

    @torch.no_grad()
    def evaluate(self, image: ImageLike) -> Losses:
        """The losses of a finished image (e.g. as saved: clamped and quantised), at the content's size."""
        img = load_image(image, "image", self.options.max_pixels)
        if img.size != self.content_image.size:
            img = img.resize(self.content_image.size, Image.Resampling.LANCZOS)
        x = self.color.photo(to_tensor(img).to(self.device))
        return self.tiled.losses(x) if self.tiled is not None else self.losses(x, full=True)[1]

    def iterate(self, resume: Progress | None = None) -> Iterator[Iterate]:
        """Optimise x scale by scale (at most options.iterations each, fewer by --tol), yielding each iteration;
        leave the loop to stop. `resume` continues a run from its checkpointed Progress.

        With several scales, each starts from the previous result upsampled: the large structures are
        settled at low resolution, where an iteration costs a fraction, and the fine scale only refines.
        """
        opts, sizes = self.options, self.scale_sizes()
        st = self.progress = resume or Progress()
        start = time.perf_counter() - st.seconds
        total = sum(self._steps(s) for s in sizes)
        while st.scale < len(sizes):
            self.prepare(sizes[st.scale])
            if st.x is None:
                st.x = self.initial_image()
            elif st.x.shape[-2:] != self.p.shape[-2:]:
                st.x = self.upsample(st.x)
            if self.tiled is not None:  # tile visits instead of iterations over the whole
                for parts in self.tiled.passes(st):
                    st.seconds = time.perf_counter() - start
                    yield Iterate(st.done + st.iteration, total, st.seconds, parts, st.x, st.scale, self.render)
                st.done += st.iteration
                st.scale, st.iteration, st.optimizer, st.loss_scale, st.history = st.scale + 1, 0, None, None, []
                continue
            # an upsampled start is already close: a full first step there undid the coarse scale's work
            first = LBFGS_FIRST_STEP if st.scale == 0 else LBFGS_FIRST_STEP * LATER_SCALE_STEP
            steps = optimise(lambda x: self.losses(x), st, iterations=opts.iterations, tol=opts.tol,
                             optimizer=opts.optimizer, lr=opts.lr, first_step=first)
            with contextlib.closing(steps):
                for parts in steps:
                    st.seconds = time.perf_counter() - start
                    yield Iterate(st.done + st.iteration, total, st.seconds, parts, st.x, st.scale, self.render)
            st.done += st.iteration
            st.scale, st.iteration, st.optimizer, st.loss_scale, st.history = st.scale + 1, 0, None, None, []

    def _steps(self, size: int) -> int:
        """What a scale counts: iterations, or tile visits when it is tiled."""
        core = self.cores.get(size)
        if not core:
            return self.options.iterations
        w, h = resize_dims(self._content_source.size, size)
        opts = self.options
        return sum(map(len, pass_grids(h, w, core, opts.tile_passes, opts.seed, self.scale_sizes().index(size))))

    def run(self, callback: Callback | None = None, resume: Progress | None = None) -> torch.Tensor:
        """Run `iterate` to the end, or until the callback returns True; return x."""
        with contextlib.closing(self.iterate(resume)) as steps:
            for it in steps:
                if callback is not None and callback(it):
                    break
        return self.progress.x

    @torch.no_grad()
    def at_full_size(self, x: torch.Tensor) -> torch.Tensor:
        """x of a run stopped at a coarser scale, brought to --size (the size the user asked for)."""
        if self.content_image.size == resize_dims(self._content_source.size, self.options.size):
            return x
        self.prepare(self.options.size)
        return self.upsample(x)

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """The previous scale's result at this scale, with the photo's detail that the coarse scale could not
        hold added back (a Laplacian-pyramid band): a plain upsampling is blurred, which costs the fine style
        layers so much that L-BFGS spent its first ~15 iterations at each scale undoing it."""
        size = self.p.shape[-2:]
        up = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
        low = F.interpolate(F.interpolate(self.p, size=x.shape[-2:], mode="area"), size=size, mode="bicubic",
                            align_corners=False)
        return (up + (self.p - low)).clamp_(0, 1)

    def _converged(self, history: list[float]) -> bool:
        return converged(history, self.options.tol)


def _check_sizes(content: Image.Image, styles: list[Image.Image], opts: Options) -> None:
    """Refuse an input whose short side would fall below MIN_SIZE at its working size."""
    for what, img, long_side in [("content", content, opts.size)] + [
            (f"style {k + 1}", s, round(opts.size * opts.style_scale)) for k, s in enumerate(styles)]:
        sw, sh = resize_dims(img.size, long_side)
        if min(sw, sh) < MIN_SIZE:
            raise StylegramError(
                f"{what}: a {img.width}x{img.height} image becomes {sw}x{sh} at long side {long_side}; its short "
                f"side must be at least {MIN_SIZE} px (aspect ratio up to {long_side // MIN_SIZE}:1 here)")


def stylize(
    content: ImageLike,
    style: ImageLike | Sequence[ImageLike],
    options: Options | None = None,
    callback: Callback | None = None,
    **overrides: object,
) -> Image.Image:
    """Paint `content` in the style of `style` (paths, PIL images or HxWx3 uint8 arrays) and return the image.

    `style` may be a list of images: blended by `style_blend`, or placed by `mask`.

    `overrides` replace single fields of `options`, e.g. ``stylize(a, b, size=256, iterations=100)``.
    """
    options = options or Options()
    if overrides:
        unknown = set(overrides) - set(options.to_dict())
        if unknown:
            raise StylegramError(f"unknown option(s): {', '.join(sorted(unknown))}")
        options = options.replace(**overrides)
    transfer = StyleTransfer(content, style, options)
    return transfer.render(transfer.run(callback))
