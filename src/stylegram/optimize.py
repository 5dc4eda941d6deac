"""The optimisation of the image x (eq. 7) by L-BFGS or Adam. Reports through a callback, never prints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from PIL import Image

from .color import luminance, match_histogram, match_luminance, with_content_chroma
from .errors import StylegramError
from .hardware import autocast, check_fits, lbfgs_history, needs_checkpointing, resolve_device, resolve_precision
from .images import ImageLike, load_image, resize_dims, resize_long_side, to_image, to_tensor
from .losses import content_losses, gram_per_position, guided_style_loss, style_loss, total_loss, tv_loss
from .network import VGG19, load_vgg19
from .options import INITS, MIN_SIZE, Options

NOISE_STD = 0.01  # faint white noise around mid-grey; strong noise stalls L-BFGS in high-frequency curvature
LBFGS_FIRST_STEP = 0.05  # largest pixel change of an L-BFGS step without curvature information ([0, 1] units)
LATER_SCALE_STEP = 0.1  # first L-BFGS step at later scales, relative to LBFGS_FIRST_STEP
TOL_WINDOW = 10  # iterations over which --tol measures the loss's relative fall
MAX_FAILURES = 3  # non-finite losses survived (each: back to the last good iterate, fresh optimiser, half step)


@dataclass
class Losses:
    content: float
    style: float
    tv: float
    total: float

    def as_dict(self) -> dict[str, float]:
        return {"content": self.content, "style": self.style, "tv": self.tv, "total": self.total}


@dataclass
class Iterate:
    """One step of the optimisation as passed to the callback. `image()` renders x only when asked."""

    iteration: int
    iterations: int
    seconds: float
    losses: Losses
    x: torch.Tensor = field(repr=False)
    scale: int = 0  # index of the scale, coarse to fine
    render: Callable[[torch.Tensor], Image.Image] = field(default=to_image, repr=False)

    def image(self) -> Image.Image:
        return self.render(self.x)


# The callback may return True to stop early (e.g. a user pressed stop in the web page).
Callback = Callable[[Iterate], "bool | None"]


class NonFiniteLoss(StylegramError):
    """The loss stayed NaN/Inf after MAX_FAILURES recoveries; `x` is the last iterate with a finite loss."""

    def __init__(self, message: str, x: torch.Tensor) -> None:
        super().__init__(message)
        self.x = x


@dataclass
class Progress:
    """Where a run is: everything a checkpoint needs to continue it exactly."""

    scale: int = 0  # index of the current scale
    iteration: int = 0  # iterations done at this scale
    done: int = 0  # iterations done at earlier scales
    x: torch.Tensor | None = field(default=None, repr=False)
    optimizer: dict | None = field(default=None, repr=False)  # the optimiser's state_dict
    loss_scale: float | None = None  # the constant factor L-BFGS sees (see _lbfgs_scale)
    history: list[float] = field(default_factory=list)  # total loss per iteration at this scale
    failures: int = 0
    seconds: float = 0.0


class StyleTransfer:
    """Holds the network and the targets (P for the photo, A for the paintings) for one transfer.

    `style` is one image or a sequence of them: several styles are blended (`style_blend`) into one target,
    or, with `mask`, each paints its own region (see losses.guided_style_loss).
    """

    def __init__(self, content: ImageLike, style: ImageLike | Sequence[ImageLike],
                 options: Options | None = None) -> None:
        self.options = opts = options or Options()
        self.device = resolve_device(opts.device)
        if not opts.content_weight and not opts.style_weight:
            raise StylegramError("--content-weight and --style-weight are both 0: nothing to optimise")
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise StylegramError("at least one style image is needed")
        self.blend = style_blend_weights(opts, len(styles))
        self._content_source = load_image(content, "content", opts.max_pixels)
        self._style_sources = [load_image(s, f"style {k + 1}" if len(styles) > 1 else "style", opts.max_pixels)
                               for k, s in enumerate(styles)]
        self._mask_source = load_image(opts.mask, "mask", opts.max_pixels).convert("L") if opts.mask else None
        self._init_source = load_image(opts.init, "init", opts.max_pixels) if opts.init not in INITS else None
        self.precision = resolve_precision(opts.precision, self.device)
        w, h = resize_dims(self._content_source.size, opts.size)
        for what, img, long_side in [("content", self._content_source, opts.size)] + [
                (f"style {k + 1}", s, round(opts.size * opts.style_scale)) for k, s in enumerate(self._style_sources)]:
            sw, sh = resize_dims(img.size, long_side)
            if min(sw, sh) < MIN_SIZE:
                raise StylegramError(
                    f"{what}: a {img.width}x{img.height} image becomes {sw}x{sh} at long side {long_side}; its short "
                    f"side must be at least {MIN_SIZE} px (aspect ratio up to {long_side // MIN_SIZE}:1 here)")
        check_fits(w, h, opts.size, self.precision, self.device)  # before any large allocation
        self.net: VGG19 = load_vgg19(opts.weights, opts.weights_sha256, opts.pooling, str(self.device))
        self.layer_weights = opts.layer_weights()
        self.progress = Progress()
        self.prepare(opts.size)

    def scale_sizes(self) -> list[int]:
        """Long sides of the scales, coarse to fine, ending at options.size."""
        return self.options.scale_sizes()

    @torch.no_grad()
    def prepare(self, size: int) -> None:
        """Resize photo, paintings (and mask) for one scale and compute the targets P and A once."""
        opts = self.options
        self.content_image = resize_long_side(self._content_source, size)
        style_long = max(1, round(size * opts.style_scale))
        self.style_images = [resize_long_side(s, style_long) for s in self._style_sources]
        self.style_image = self.style_images[0]
        self.p_rgb = to_tensor(self.content_image).to(self.device)
        self.p = luminance(self.p_rgb) if opts.preserve_color == "luminance" else self.p_rgb
        self.a = to_tensor(self.style_image).to(self.device)
        per_style = []
        for img in self.style_images:
            a = to_tensor(img).to(self.device)
            if opts.preserve_color == "histogram":
                a = match_histogram(a, self.p_rgb)
            elif opts.preserve_color == "luminance":
                a = match_luminance(a, self.p_rgb)
            with autocast(self.precision, self.device):
                feats = self.net(a, opts.style_layers)
            per_style.append({n: gram_per_position(f) for n, f in feats.items()})
        balanced = opts.normalization == "balanced"
        with autocast(self.precision, self.device):
            photo = self.net(self.p, opts.content_layers + (opts.style_layers if balanced else ()))
        self.P = {n: photo[n].float() for n in opts.content_layers}
        if self._mask_source is not None:
            m = to_tensor(self._mask_source.resize(self.content_image.size, Image.Resampling.BILINEAR))
            m = m[:, :1].to(self.device)
            self.masks = [m, 1 - m][: len(per_style)]
            self.A_regions = per_style
        else:
            self.masks = []
            # Blending the Gram matrices: sum_k w_k ||G - A_k||^2 = ||G - sum_k w_k A_k||^2 + const when the
            # weights sum to 1, so one blended target has the same gradient as blended losses, at 1/K the cost.
            self.A = {n: sum(w * t[n] for w, t in zip(self.blend, per_style, strict=True))
                      for n in opts.style_layers}
        if balanced:
            # each layer's E_l in units of the photo's own distance from the painting at that layer
            self.layer_weights = {n: w / max(float(self._style_loss(photo, {n: 1.0})), 1e-12)
                                  for n, w in opts.layer_weights().items()}

    def _style_loss(self, feats: dict[str, torch.Tensor], layer_weights: dict[str, float]) -> torch.Tensor:
        if self.masks:
            return guided_style_loss(feats, self.A_regions, self.masks, layer_weights)
        return style_loss(feats, self.A, layer_weights)

    def render(self, x: torch.Tensor) -> Image.Image:
        """x as the picture the user gets: with --preserve-color luminance, the photo's chroma restored."""
        if self.options.preserve_color == "luminance":
            x = with_content_chroma(x.detach().clamp(0, 1), self.p_rgb)
        return to_image(x)

    def initial_image(self) -> torch.Tensor:
        opts = self.options
        if opts.init == "noise":
            gen = torch.Generator().manual_seed(opts.seed)
            x = 0.5 + NOISE_STD * torch.randn(self.p.shape, generator=gen)
        elif opts.init == "content":
            x = self.p.clone()
        elif opts.init == "palette":
            # the photo in the painting's colours: a start from the photo otherwise keeps its palette
            x = self.p.clone() if opts.preserve_color != "none" else match_histogram(self.p, self.a).clamp(0, 1)
        else:
            img = self.style_image if opts.init == "style" else self._init_source
            x = to_tensor(img.resize(self.content_image.size, Image.Resampling.LANCZOS))
        return x.to(self.device)

    def losses(self, x: torch.Tensor, full: bool = False) -> tuple[torch.Tensor, Losses]:
        """Eq. 7 at x, with the parts as floats.

        A term whose weight is 0 is skipped (so a content-only run at conv2_1 stops the network there)
        unless `full` asks for every part, as the final evaluation does.
        """
        opts = self.options
        want_c, want_s = full or opts.content_weight > 0, full or opts.style_weight > 0
        layers = (opts.content_layers if want_c else ()) + (opts.style_layers if want_s else ())
        with autocast(self.precision, self.device):
            feats = self.net(x, dict.fromkeys(layers), checkpoint=needs_checkpointing(x.shape[-1] * x.shape[-2]))
        zero = torch.zeros((), device=x.device)
        lc = content_losses(feats, self.P, opts.content_layers, opts.normalization) if want_c else zero
        ls = self._style_loss(feats, self.layer_weights) if want_s else zero
        ltv = tv_loss(x) if opts.tv_weight else torch.zeros((), device=x.device)
        loss = total_loss(lc, ls, opts.content_weight, opts.style_weight, ltv, opts.tv_weight)
        return loss, Losses(*(float(t.detach()) for t in (lc, ls, ltv, loss)))

    @torch.no_grad()
    def evaluate(self, image: ImageLike) -> Losses:
        """The losses of a finished image (e.g. as saved: clamped and quantised), at the content's size."""
        img = load_image(image, "image", self.options.max_pixels)
        if img.size != self.content_image.size:
            img = img.resize(self.content_image.size, Image.Resampling.LANCZOS)
        x = to_tensor(img).to(self.device)
        if self.options.preserve_color == "luminance":
            x = luminance(x)  # the losses were defined on luminance
        return self.losses(x, full=True)[1]

    def run(self, callback: Callback | None = None, resume: Progress | None = None) -> torch.Tensor:
        """Optimise x scale by scale (at most options.iterations each, fewer by --tol or if the callback asks
        to stop) and return it. `resume` continues a run from its checkpointed Progress.

        With several scales, each starts from the previous result upsampled: the large structures are
        settled at low resolution, where an iteration costs a fraction, and the fine scale only refines.
        """
        sizes = self.scale_sizes()
        st = self.progress = resume or Progress()
        start = time.perf_counter() - st.seconds
        total = self.options.iterations * len(sizes)
        while st.scale < len(sizes):
            self.prepare(sizes[st.scale])
            if st.x is None:
                st.x = self.initial_image()
            elif st.x.shape[-2:] != self.p.shape[-2:]:
                st.x = self.upsample(st.x)
            if self._optimise(callback, start, total):
                break
            st.done += st.iteration
            st.scale, st.iteration, st.optimizer, st.loss_scale, st.history = st.scale + 1, 0, None, None, []
        return st.x

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
        tol = self.options.tol
        if not tol or len(history) <= TOL_WINDOW:
            return False
        old, new = history[-1 - TOL_WINDOW], history[-1]
        return old - new < tol * TOL_WINDOW * abs(new)

    def _new_optimizer(self, x: torch.Tensor) -> torch.optim.Optimizer:
        if self.options.optimizer == "adam":
            return torch.optim.Adam([x], lr=self.options.lr)
        # max_iter=1 per step() call: one function evaluation per iteration, history kept in the state
        return torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=lbfgs_history(x[0, 0].numel()),
                                 tolerance_grad=0, tolerance_change=0)

    def _optimise(self, callback: Callback | None, start: float, total: int) -> bool:
        """Iterate at the current scale until --iterations, --tol or the callback stops it; True if stopped."""
        opts, st = self.options, self.progress
        x = st.x.detach().contiguous().requires_grad_(True)
        opt = self._new_optimizer(x)
        if st.optimizer is not None:
            opt.load_state_dict(st.optimizer)
        current: list[Losses] = []  # the losses of each evaluation within one step
        good = x.detach().clone()  # the last iterate whose loss was finite

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            loss, parts = self.losses(x)
            current.append(parts)
            loss.backward()
            if opts.optimizer == "adam":
                return loss
            if st.loss_scale is None:
                # torch's L-BFGS takes a unit step along the gradient when it has no curvature pairs and
                # rejects pairs with s.y < 1e-10: both absolute. Scaling the loss so that the first gradient's
                # largest pixel is LBFGS_FIRST_STEP makes those steps visible; L-BFGS is scale-invariant after.
                top = float(x.grad.abs().max())
                # an upsampled start is already close: a full first step there undid the coarse scale's work
                first = LBFGS_FIRST_STEP if st.scale == 0 else LBFGS_FIRST_STEP * LATER_SCALE_STEP
                st.loss_scale = first / top if top > 0 and math.isfinite(top) else 1.0
            x.grad.mul_(st.loss_scale)
            return loss.detach() * st.loss_scale

        stopped = False
        while st.iteration < opts.iterations and not self._converged(st.history):
            before = x.detach().clone()
            current.clear()
            opt.step(closure)
            st.iteration += 1
            parts = current[0]
            if not math.isfinite(parts.total):
                st.failures += 1
                with torch.no_grad():
                    x.copy_(good)
                if st.failures >= MAX_FAILURES:
                    st.x = good
                    raise NonFiniteLoss(f"the loss became {parts.total} {st.failures} times (last good iterate kept); "
                                        "try a smaller --style-weight, --lr or --precision fp32", good)
                opt = self._new_optimizer(x)  # its history led here: start afresh, with half the step
                if st.loss_scale is not None:
                    st.loss_scale /= 2
                continue
            good = before
            if opts.optimizer == "adam":
                with torch.no_grad():
                    x.clamp_(0, 1)  # projected gradient: Adam's steps may leave the valid range
            st.history.append(parts.total)
            st.x, st.seconds = x.detach(), time.perf_counter() - start
            st.optimizer = opt.state_dict()
            if callback is not None:
                it = Iterate(st.done + st.iteration, total, st.seconds, parts, st.x, st.scale, self.render)
                if callback(it):
                    stopped = True
                    break
        if not torch.isfinite(x).all():  # the very last step went astray: keep the last good iterate
            with torch.no_grad():
                x.copy_(good)
        st.x = x.detach()
        return stopped


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


def style_blend_weights(options: Options, n_styles: int) -> list[float]:
    """The blend weights of the styles, normalised to sum 1 (default: equal)."""
    w = options.style_blend or (1.0,) * n_styles
    if len(w) != n_styles:
        raise StylegramError(f"--style-blend has {len(w)} weights for {n_styles} style images")
    if options.mask and n_styles > 2:
        raise StylegramError(f"--mask takes one or two styles (white: the first, black: the second), got {n_styles}")
    return [x / sum(w) for x in w]
