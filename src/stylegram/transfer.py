"""One style transfer: the inputs, the per-scale state (targets, criterion, tile plan) and the coarse-to-fine pyramid.

`StyleTransfer.iterate()` yields an Iterate after each optimiser step (or tile visit); the command line, the Python
API and any other shell consume it. `prepare(size)` makes a scale's frozen `Scale`, the one owner of its state.
Nothing here prints.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from .adain import AdaIN, adain_core
from .color import ColorControl
from .errors import StylegramError
from .hardware import autocast, needs_checkpointing, resolve_device, resolve_precision
from .images import ImageLike, load_image, resize_dims, to_image, to_tensor, with_alpha
from .inputs import Inputs
from .losses import (
    ContentTerm,
    Criterion,
    GuidedStyleTerm,
    Losses,
    StyleTerm,
    TVTerm,
    active,
    evaluate,
    layers_of,
    masked_per_position,
    per_position,
    score,
    statistics,
    style_term,
)
from .network import VGG19, load_vgg19
from .optimize import LBFGS_FIRST_STEP, Progress, Step, optimise
from .options import Options
from .pieces import add, detached
from .tiles import BAND, MARGIN, Tiled, assemble, measure, pass_grids, plan_core, responses

NOISE_STD = 0.01  # faint white noise around mid-grey; strong noise stalls L-BFGS in high-frequency curvature
LATER_SCALE_STEP = 0.1  # first L-BFGS step at later scales, relative to LBFGS_FIRST_STEP


@dataclass
class Iterate:
    """One step of the optimisation as a shell sees it. `image()` renders x only when asked.

    `iterations` is the run's total as now known: when --tol ends a scale early, the steps it did not take are
    dropped from it, so the last Iterate has iteration == iterations. `ended` says, on a scale's last step, why it
    ended ("converged", "iterations", "tiles"); `tile` is (visit, visits) on a tiled scale."""

    iteration: int
    iterations: int
    seconds: float
    losses: Losses
    x: torch.Tensor = field(repr=False)
    scale: int = 0  # index of the scale, coarse to fine
    render: Callable[[torch.Tensor], Image.Image] = field(default=to_image, repr=False)
    ended: str | None = None
    tile: tuple[int, int] | None = None

    def image(self) -> Image.Image:
        return self.render(self.x)


# The callback of `run` may return True to stop early (e.g. a user pressed stop).
Callback = Callable[[Iterate], "bool | None"]


@dataclass(frozen=True)
class Scale:
    """One scale of the pyramid, made once by StyleTransfer.prepare: the photo and paintings at this size, what the
    network sees of them, the criterion (its terms hold the targets P and A and the layer weights) and the tile
    core when the scale is painted in tiles."""

    index: int
    size: int
    content_image: Image.Image
    style_images: tuple[Image.Image, ...]
    p_rgb: torch.Tensor = field(repr=False)  # the photo as given
    p: torch.Tensor = field(repr=False)  # the photo as the network sees it (colour control)
    a: torch.Tensor = field(repr=False)  # the first painting, for the palette and style starts
    criterion: tuple[tuple, ...] = field(repr=False)
    core: int | None = None

    @property
    def content(self) -> ContentTerm:
        return self.criterion[0][0]

    @property
    def style(self) -> StyleTerm:
        return self.criterion[1][0]


def plan_scales(options: Options, content_size: tuple[int, int]) -> dict[int, int | None]:
    """Each scale's tile core (None: whole), finest first so that a size that cannot fit is refused naming --size;
    an absent device is refused too. Every shell calls this (through StyleTransfer or before queueing a job)."""
    device = resolve_device(options.device)
    precision = resolve_precision(options.precision, device)
    plan = {}
    for s in reversed(options.scale_sizes()):
        plan[s] = plan_core(*resize_dims(content_size, s), options.size, precision, device, options.max_memory,
                            options.tile, options.content_layers)
    return dict(sorted(plan.items()))


class StyleTransfer:
    """The network, the scales (targets P for the photo and A for the paintings, the criterion) of one transfer.

    `style` is one image or a sequence of them: several styles are blended (`style_blend`) into one target A, or,
    with `mask`, each paints its own region (see losses.GuidedStyleTerm).
    """

    def __init__(self, content: ImageLike | None, style: ImageLike | Sequence[ImageLike],
                 options: Options | None = None, terms: Criterion | tuple = ()) -> None:
        """`terms` are (term, weight) pairs added to the criterion at the final scale (e.g. video's temporal)."""
        self.options = opts = options or Options()
        self.terms = list(terms)
        self.device = resolve_device(opts.device)
        self.color = ColorControl(opts.preserve_color)
        self.inputs = Inputs.load(content, style, opts)
        self.blend = list(self.inputs.blend)
        self.precision = resolve_precision(opts.precision, self.device)
        self.content_size = self.inputs.content.size
        self.plan = plan_scales(opts, self.content_size)  # before any large allocation
        self.net: VGG19 = load_vgg19(opts.weights, opts.weights_sha256, opts.pooling, str(self.device))
        self.progress = Progress()
        self.ended: dict[int, str] = {}  # why each scale ended, by index
        self.scale = self.prepare(opts.size)

    def scale_sizes(self) -> list[int]:
        """Long sides of the scales, coarse to fine, ending at options.size."""
        return self.options.scale_sizes()

    def features(self, x: torch.Tensor, layers: Sequence[str], wrap: bool | None = None) -> dict[str, torch.Tensor]:
        """The network's responses, in the run's precision (recomputed in backward for large images); on a torus
        with --seamless unless `wrap` says otherwise (a painting is not one)."""
        wrap = self.options.seamless if wrap is None else wrap
        with autocast(self.precision, self.device):
            return self.net(x.to(self.device), layers, checkpoint=needs_checkpointing(x.shape[-1] * x.shape[-2]),
                            wrap=wrap)

    @torch.no_grad()
    def prepare(self, size: int) -> Scale:
        """The Scale at `size`: photo, paintings (and mask) resized; targets P and A; the criterion. Whole images or,
        where the plan says so, tile by tile (the same statistics, added up)."""
        if getattr(self, "scale", None) is not None and self.scale.size == size:
            return self.scale
        opts, core = self.options, self.plan[size]
        content_image, style_images = self.inputs.at(size, opts.style_scale)
        p_rgb = self.inputs.photo_at(content_image, self.device, opts.seamless)
        p = self.color.photo(p_rgb)
        alphas = [self.inputs.alpha_at(img.size, self.device, a) if a is not None else None
                  for img, a in zip(style_images, self.inputs.style_alphas, strict=True)]
        flat = functools.partial(self.features, wrap=False)  # a painting is not a torus
        regions = [gram_targets(flat, self.color.painting(to_tensor(img).to(self.device), p_rgb), opts.style_layers,
                                core, alpha) for img, alpha in zip(style_images, alphas, strict=True)]
        # Blending the Gram matrices: sum_k w_k ||G - A_k||^2 = ||G - sum_k w_k A_k||^2 + const when the
        # weights sum to 1, so one blended target has the same gradient as blended losses, at 1/K the cost.
        A = {n: sum(w * t[n] for w, t in zip(self.blend, regions, strict=True)) for n in opts.style_layers}
        style = self._style_term(A, regions, content_image)
        P, photo = self._photo_statistics(p, style, core)
        if opts.normalization == "balanced":
            # each layer's E_l in units of the photo's own distance from the painting at that layer
            distance = style.layer_losses(photo)
            style = style.with_weights({n: w / max(distance[n], 1e-12) for n, w in style.layer_weights.items()})
        alpha = 0.0 if opts.texture else opts.content_weight  # a texture has no photo to keep
        criterion: list = [(ContentTerm(P, opts.normalization), alpha), (style, opts.style_weight)]
        if opts.tv_weight:
            criterion.append((TVTerm(), opts.tv_weight))
        if size == opts.size:
            criterion.extend(self.terms)
        index = self.scale_sizes().index(size)
        self.scale = Scale(index, size, content_image, style_images, p_rgb, p, to_tensor(style_images[0]).to(
            self.device), tuple(criterion), core)
        return self.scale

    def _photo_statistics(self, p: torch.Tensor, style: StyleTerm, core: int | None) -> tuple[dict, dict]:
        """One pass of the photo: its responses P at the content layers (kept whole, so that a tile cuts its target)
        and, for the balanced weights, the style term's statistics of the photo."""
        opts = self.options
        balanced = opts.normalization == "balanced"
        layers = tuple(dict.fromkeys(opts.content_layers + (opts.style_layers if balanced else ())))
        P: dict[str, torch.Tensor] = {}
        total = None
        for piece, feats in responses(self.features, p, layers, core, opts.seamless):
            assemble(P, piece, {n: feats[n] for n in opts.content_layers}, *p.shape[-2:])
            if balanced:
                s = detached(statistics([(style, 1.0)], feats, piece.window(p), piece)[0])
                total = s if total is None else add(total, s)
        return P, total or {}

    def _style_term(self, A: dict, regions: list[dict], content_image: Image.Image) -> StyleTerm:
        size = content_image.size
        return style_term(A, regions, self.options.layer_weights(), self.inputs.mask_at(size, self.device),
                          self.inputs.alpha_at(size, self.device))

    def render(self, x: torch.Tensor) -> Image.Image:
        """x as the picture the user gets (colour control's step after the transfer), with the photo's alpha."""
        return with_alpha(to_image(self.color.picture(x, self.scale.p_rgb)), self.inputs.alpha)

    def initial_image(self, scale: Scale | None = None) -> torch.Tensor:
        opts, sc = self.options, scale or self.scale
        if opts.init == "noise" or (opts.init == "palette" and opts.texture):
            gen = torch.Generator().manual_seed(opts.seed)
            x = 0.5 + NOISE_STD * torch.randn(sc.p.shape, generator=gen)
            if opts.init == "palette":  # a texture has no photo: white noise in the painting's colours
                x = self.color.palette(x, sc.a)
        elif opts.init == "content":
            x = sc.p.clone()
        elif opts.init == "palette":
            x = self.color.palette(sc.p, sc.a)  # a start from the photo itself keeps the photo's palette
        elif opts.init == "adain":
            size = sc.content_image.size
            x = AdaIN(self.device, self.precision, wrap=opts.seamless).picture(
                sc.p_rgb, sc.style_images, self.color, self.blend, opts.strength,
                self.inputs.mask_at(size, self.device), adain_core(size, self.device, opts))
        else:
            img = sc.style_images[0] if opts.init == "style" else self.inputs.init
            x = to_tensor(img.resize(sc.content_image.size, Image.Resampling.LANCZOS))
        return x.to(self.device)

    def losses(self, x: torch.Tensor, full: bool = False) -> tuple[torch.Tensor, Losses]:
        """The criterion of the current scale at a whole image x, with the parts as floats.

        A term whose weight is 0 is skipped (so a content-only run at conv2_1 stops the network there) unless
        `full` asks for every part, as the final evaluation does.
        """
        terms = active(list(self.scale.criterion), full)
        layers = layers_of(terms)
        return evaluate(terms, self.features(x, layers) if layers else {}, x, self.options.seamless)

    @torch.no_grad()
    def evaluate(self, image: ImageLike) -> Losses:
        """The losses of a finished image (e.g. as saved: clamped and quantised) at --size, tiled if that scale is."""
        sc = self.prepare(self.options.size)
        img = load_image(image, "image", self.options.max_pixels, alpha=True).convert("RGB")  # the colour as saved
        if img.size != sc.content_image.size:
            img = img.resize(sc.content_image.size, Image.Resampling.LANCZOS)
        x = self.color.photo(to_tensor(img).to(self.device))
        if sc.core is None:
            return self.losses(x, full=True)[1]
        terms = active(list(sc.criterion), True)
        return score(terms, measure(self.features, terms, x, sc.core, self.options.seamless), x.device)[1]

    def iterate(self, resume: Progress | None = None) -> Iterator[Iterate]:
        """Optimise x scale by scale (at most options.iterations each, fewer by --tol; tile visits on a tiled
        scale), yielding each step; leave the loop to stop. `resume` continues a run from its checkpointed Progress.

        With several scales, each starts from the previous result upsampled: the large structures are settled at
        low resolution, where an iteration costs a fraction, and the fine scale only refines.
        """
        sizes = self.scale_sizes()
        st = self.progress = resume or Progress()
        start = time.perf_counter() - st.seconds
        planned = [planned_steps(self.options, self.content_size, s, self.plan[s]) for s in sizes]
        while st.scale < len(sizes):
            sc = self.prepare(sizes[st.scale])
            if st.x is None:
                st.x = self.initial_image(sc)
            elif st.x.shape[-2:] != sc.p.shape[-2:]:
                st.x = upsample(st.x, sc.p, self.options.seamless)
            with contextlib.closing(self._steps(sc, st)) as steps:
                for step in steps:
                    st.seconds = time.perf_counter() - start
                    this = st.iteration if step.ended else planned[st.scale]
                    if step.ended:
                        self.ended[st.scale] = step.ended
                    yield Iterate(st.done + st.iteration, st.done + this + sum(planned[st.scale + 1:]), st.seconds,
                                  step.losses, st.x, st.scale, self.render, step.ended, step.tile)
            st.done += st.iteration
            st.scale, st.iteration, st.optimizer, st.loss_scale, st.history = st.scale + 1, 0, None, None, []

    def _steps(self, sc: Scale, st: Progress) -> Iterator[Step]:
        """A scale's steps: L-BFGS (or Adam) iterations over the whole image, or tile visits."""
        opts = self.options
        if sc.core is not None:
            return Tiled(self.features, active(list(sc.criterion)), sc.core, opts.tile_passes, opts.tile_iterations,
                         opts.seed, sc.index, opts.optimizer, opts.lr, opts.seamless).run(st)
        # an upsampled start is already close: a full first step there undid the coarse scale's work
        first = LBFGS_FIRST_STEP if sc.index == 0 else LBFGS_FIRST_STEP * LATER_SCALE_STEP
        return optimise(lambda x: self.losses(x), st, iterations=opts.iterations, tol=opts.tol,
                        optimizer=opts.optimizer, lr=opts.lr, first_step=first)

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
        if tuple(x.shape[-2:]) == tuple(reversed(resize_dims(self.content_size, self.options.size))):
            return x
        return upsample(x, self.prepare(self.options.size).p, self.options.seamless)

def gram_targets(forward: Callable, a: torch.Tensor, layers: Sequence[str], core: int | None,
                 alpha: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """A painting's Gram matrices per position at the style layers, whole or added up tile by tile; with its
    `alpha`, of its opaque pixels only (weighted as a --mask region)."""
    term = StyleTerm({}, dict.fromkeys(layers, 1.0)) if alpha is None else \
        GuidedStyleTerm([{}], dict.fromkeys(layers, 1.0), [alpha])
    total = None
    for piece, feats in responses(forward, a, layers, core):
        s = statistics([(term, 1.0)], feats, piece.window(a), piece)[0]
        total = s if total is None else add(total, s)
    return per_position(total) if alpha is None else masked_per_position(total)


def upsample(x: torch.Tensor, p: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """The previous scale's result at the size of the photo p, with the photo's detail that the coarse scale could
    not hold added back (a Laplacian-pyramid band): a plain upsampling is blurred, which costs the fine style layers
    so much that L-BFGS spent its first ~15 iterations at each scale undoing it. On a torus (`wrap`) the resampling
    sees each edge's neighbours across the wrap: both images tiled 3 x 3, resampled, the centre kept."""
    if wrap:
        H, W = p.shape[-2:]
        return upsample(x.repeat(1, 1, 3, 3), p.repeat(1, 1, 3, 3))[..., H:2 * H, W:2 * W].contiguous()
    size = p.shape[-2:]
    up = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
    low = F.interpolate(F.interpolate(p, size=x.shape[-2:], mode="area"), size=size, mode="bicubic",
                        align_corners=False)
    return (up + (p - low)).clamp_(0, 1)


def planned_steps(options: Options, content_size: tuple[int, int], size: int, core: int | None) -> int:
    """What a scale counts at most: iterations, or tile visits when it is tiled (core)."""
    if core is None:
        return options.iterations
    w, h = resize_dims(content_size, size)
    return sum(map(len, pass_grids(h, w, core, options.tile_passes, options.seed,
                                   options.scale_sizes().index(size))))


def describe(transfer: StyleTransfer) -> list[dict]:
    """The scales as planned and as run, for the report: size, whether tiled and how, why each ended."""
    opts, out = transfer.options, []
    for k, s in enumerate(opts.scale_sizes()):
        w, h = resize_dims(transfer.content_size, s)
        core = transfer.plan[s]
        tiles = None if core is None else {
            "core": core, "margin": MARGIN, "band": BAND, "passes": opts.tile_passes,
            "iterations_per_tile": opts.tile_iterations,
            "visits": planned_steps(opts, transfer.content_size, s, core)}
        out.append({"size": s, "width": w, "height": h, "tiles": tiles, "ended": transfer.ended.get(k)})
    return out


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
