"""Large prints: a scale too large for memory is optimised tile by tile, against the whole image's statistics.

The style loss (eq. 5) depends on the image only through its Gram matrices G_l, which are sums over positions:
G_l = sum over tiles of the tile cores' Grams, when the cores partition the image. So a tile is optimised for the
*global* loss with the rest of the image held fixed: G_l = G_rest + G_core(x_tile), where G_rest is the rest of
the image's sum (block coordinate descent on eq. 7). The content loss (eq. 1) is a sum over positions too, so a
tile's share is exact. Each tile is cut with a margin of MARGIN px of its neighbours, so its core's responses are
those of the whole image (conv4_2 sees 84 px); only core positions count. A pass visits every tile; the tile
grid moves by a random offset each pass, so tile borders never settle in one place; a tile's result is blended
back with weights that fall from 1 in its core to 0 at the edge of its margin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .errors import StylegramError
from .hardware import autocast, check_fits, estimate_bytes, needs_checkpointing
from .losses import Losses, gram, layer_style_loss, tv_loss
from .optimize import LBFGS_FIRST_STEP, Progress, optimise

ALIGN = 16  # conv5_1 is 1/16 of the image: tiles start on multiples of 16 so their responses align with the whole's
MARGIN = 64  # > conv4_2's receptive half-width (42 px), a multiple of ALIGN
BAND = 16  # px beyond the core that a tile may change, blended with falling weights (the rest: fixed context)
KEEP_FACTOR = 8  # the photo's responses are kept at content layers of 1/8 of the image or less (conv4_x, conv5_x)
# full-size RGB float images a tiled run keeps (x, photo, painting, blends, rendering), and the photo's conv4_2
# responses (512 channels at 1/8: 8 values per pixel, up to 3 images' worth in fp32)
IMAGE_COPIES = 11
PLAN_SHARE = 0.9  # of --max-memory that the estimate may fill: 4096 px planned for the whole 8 GiB peaked at 8.4


@dataclass(frozen=True)
class Tile:
    """A core (y0:y1, x0:x1) that the tiles partition, and its window: the core with MARGIN around it."""

    y0: int
    y1: int
    x0: int
    x1: int
    wy0: int
    wy1: int
    wx0: int
    wx1: int

    def window(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., self.wy0:self.wy1, self.wx0:self.wx1]


def grid(h: int, w: int, core: int, offset: tuple[int, int] = (0, 0)) -> list[Tile]:
    """Tiles of `core` px (a multiple of ALIGN) covering h x w, the grid shifted by offset (multiples of ALIGN)."""
    def cuts(n: int, off: int) -> list[int]:
        inner = list(range(off % core or core, n, core)) if n > core else []
        return [0, *[c for c in inner if 0 < c < n], n]

    tiles = []
    ys, xs = cuts(h, offset[0]), cuts(w, offset[1])
    for y0, y1 in zip(ys, ys[1:], strict=False):
        for x0, x1 in zip(xs, xs[1:], strict=False):
            tiles.append(Tile(y0, y1, x0, x1, max(0, y0 - MARGIN), min(h, y1 + MARGIN), max(0, x0 - MARGIN),
                              min(w, x1 + MARGIN)))
    return tiles


def pass_grids(h: int, w: int, core: int, passes: int, seed: int, scale: int) -> list[list[Tile]]:
    """The tiles of each pass: the grid shifted by a random offset (seeded, so a resume sees the same)."""
    out = []
    for k in range(passes):
        gen = torch.Generator().manual_seed(seed * 1000 + scale * 100 + k)
        dy, dx = (int(v) * ALIGN for v in torch.randint(0, max(1, core // ALIGN), (2,), generator=gen))
        out.append(grid(h, w, core, (dy, dx)))
    return out


def _factor(layer: str) -> int:
    return 2 ** (int(layer[4]) - 1)  # conv3_x is 1/4 of the image


def core_of(features: dict[str, torch.Tensor], t: Tile) -> dict[str, torch.Tensor]:
    """The responses at the core's positions, from responses of the tile's window."""
    out = {}
    for name, f in features.items():
        k = _factor(name)
        out[name] = f[..., (t.y0 - t.wy0) // k:math.ceil((t.y1 - t.wy0) / k),
                      (t.x0 - t.wx0) // k:math.ceil((t.x1 - t.wx0) / k)]
    return out


def feather(t: Tile, band: int = BAND) -> torch.Tensor:
    """Blend weights over a tile's window: 1 on the core, falling linearly to 0 over `band` px beyond it."""
    def ramp(a0: int, a1: int, w0: int, w1: int) -> torch.Tensor:
        pos = torch.arange(w0, w1, dtype=torch.float32)
        outside = torch.clamp(torch.maximum(a0 - pos, pos - (a1 - 1)), min=0)
        return (1 - outside / (band + 1)).clamp(0, 1)

    return ramp(t.y0, t.y1, t.wy0, t.wy1)[:, None] * ramp(t.x0, t.x1, t.wx0, t.wx1)[None, :]


class Tiled:
    """The targets and per-tile objectives of one tiled scale of a StyleTransfer."""

    def __init__(self, transfer: Any, core: int) -> None:
        """`transfer`: the StyleTransfer whose scale this is (its network, photo, paintings, options; not
        imported here, so that transfer.py may import this module)."""
        if transfer._mask_source is not None or transfer.terms:
            raise StylegramError("--mask (and video's temporal loss) cannot be tiled yet: lower --size, or give "
                                 "more --max-memory")
        self.t, self.core = transfer, core
        opts = transfer.options
        self.layers = dict.fromkeys([*opts.content_layers, *opts.style_layers])
        self.P: dict[str, torch.Tensor] = {}  # the photo's responses at deep content layers, whole (prepare)
        self.positions: dict[str, int] = {}

    @torch.no_grad()
    def grams(self, image: torch.Tensor, layers: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """The image's Gram sums and position counts per layer, tile by tile (forward passes only)."""
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        for t in grid(*image.shape[-2:], self.core):
            _add_grams(sums, counts, core_of(self._forward(t.window(image), layers), t), layers)
        return sums, counts

    def _forward(self, x: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        t = self.t
        with autocast(t.precision, t.device):
            return t.net(x.to(t.device), layers, checkpoint=needs_checkpointing(x.shape[-1] * x.shape[-2]))

    def style(self, G: dict[str, torch.Tensor], M: dict[str, int]) -> torch.Tensor:
        """Eq. 5 at the Gram sums G (of M positions per layer), against the painting's A."""
        t = self.t
        return sum(w * layer_style_loss(G[n], t.A[n] * M[n], G[n].shape[-1], M[n])  # type: ignore[misc]
                   for n, w in t.layer_weights.items())

    @torch.no_grad()
    def measure(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, int], float]:
        """The whole image's Gram sums and position counts per style layer and its content loss, tile by tile
        (one forward of x per tile; the content targets cut from the photo's kept responses)."""
        content = 0.0
        G: dict[str, torch.Tensor] = {}
        M: dict[str, int] = {}
        for tile in grid(*x.shape[-2:], self.core):
            feats = core_of(self._forward(tile.window(x), tuple(self.layers)), tile)
            content += float(self._content(feats, self._target(tile)))
            _add_grams(G, M, feats, self.t.options.style_layers)
        return G, M, content

    def losses(self, x: torch.Tensor) -> Losses:
        """The criterion of the whole image, tile by tile (forward passes only)."""
        opts = self.t.options
        G, M, content = self.measure(x)
        with torch.no_grad():
            style = float(self.style(G, M)) if opts.style_weight else 0.0
            tv = float(tv_loss(x)) if opts.tv_weight else 0.0
        total = opts.content_weight * content + opts.style_weight * style + opts.tv_weight * tv
        return Losses(content=content, style=style, tv=tv, total=total)

    @torch.no_grad()
    def _target(self, tile: Tile) -> dict[str, torch.Tensor]:
        """P at the core: cut from the photo's stored responses, or the photo's window run through the network."""
        out = {n: P[..., tile.y0 // k:math.ceil(tile.y1 / k), tile.x0 // k:math.ceil(tile.x1 / k)].float()
               for n, P in self.P.items() for k in [_factor(n)]}
        rest = tuple(n for n in self.t.options.content_layers if n not in out)
        if rest:
            out.update({n: f.float() for n, f in core_of(self._forward(tile.window(self.t.p), rest), tile).items()})
        return out

    @torch.no_grad()
    def _photo_responses(self, style_layers: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """One pass of the photo through the network, tile by tile: its responses at the deep content layers
        (conv4_x and below: at most 8 values per pixel) kept whole, so that a visit cuts its target instead of
        running the photo again; the content layers' position counts; and its Gram sums at `style_layers`."""
        t = self.t
        content = tuple(t.options.content_layers)
        self.P, self.positions = {}, {}
        G: dict[str, torch.Tensor] = {}
        M: dict[str, int] = {}
        for tile in grid(*t.p.shape[-2:], self.core):
            feats = core_of(self._forward(tile.window(t.p), tuple(dict.fromkeys(content + style_layers))), tile)
            _add_grams(G, M, feats, style_layers)
            for n in content:
                f, k = feats[n], _factor(n)
                self.positions[n] = self.positions.get(n, 0) + f.shape[2] * f.shape[3]
                if k < KEEP_FACTOR:
                    continue
                if n not in self.P:
                    h, w = (math.ceil(v / k) for v in t.p.shape[-2:])
                    self.P[n] = torch.empty((*f.shape[:2], h, w), dtype=f.dtype, device=f.device)
                self.P[n][..., tile.y0 // k:tile.y0 // k + f.shape[2], tile.x0 // k:tile.x0 // k + f.shape[3]] = f
        return G, M

    def _content(self, feats: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
        """This core's share of eq. 1 (its sum, over the whole image's N_l M_l for "mean")."""
        t, opts = self.t, self.t.options
        total = torch.zeros((), device=t.device)
        for n in opts.content_layers:
            F, P = feats[n].float(), target[n].float()
            part = 0.5 * (F - P).pow(2).sum()
            if opts.normalization != "paper":
                part = part / (F.shape[1] * self.positions[n])
            total = total + part
        return total

    def prepare(self) -> None:
        """A and the balanced layer weights at this scale, from tiles (the photo's Gram sums, the painting's)."""
        t, opts = self.t, self.t.options
        t.A_regions = []
        for img in t.style_images:
            a = t.color.painting(_tensor(img).to(t.device), t.p_rgb)
            G, M = self.grams(a, tuple(opts.style_layers))
            t.A_regions.append({n: G[n] / M[n] for n in G})
        t.A = {n: sum(w * r[n] for w, r in zip(t.blend, t.A_regions, strict=True)) for n in opts.style_layers}
        balanced = opts.normalization == "balanced"
        Gp, Mp = self._photo_responses(tuple(opts.style_layers) if balanced else ())
        weights = opts.layer_weights()
        if balanced:
            weights = {n: w / max(float(layer_style_loss(Gp[n], t.A[n] * Mp[n], Gp[n].shape[-1], Mp[n])), 1e-12)
                       for n, w in weights.items()}
        t.layer_weights = weights

    def passes(self, st: Progress) -> Iterator[Losses]:
        """Optimise st.x tile by tile for options.tile_passes passes; yield the whole image's losses after each
        tile. st.iteration counts tile visits, so a checkpoint resumes at the next tile.

        The Gram sums G are measured at the start of each pass, then kept up to date by each visit (they are sums
        over positions on any grid); the content loss, which only the progress shows, is measured once."""
        opts, x = self.t.options, st.x
        h, w = x.shape[-2:]
        G, M, content = self.measure(x)
        done = 0
        for k, tiles in enumerate(pass_grids(h, w, self.core, opts.tile_passes, opts.seed, st.scale)):
            if st.iteration >= done + len(tiles):
                done += len(tiles)
                continue
            if k:  # a visit's band changes its neighbours' cores, which G does not follow: measure it again
                G, M = self.grams(x, tuple(opts.style_layers))
            for i, tile in enumerate(tiles):
                if done + i < st.iteration:  # visited before a resume
                    continue
                G, content = self._visit(x, tile, G, M, content, h * w)
                st.iteration += 1
                st.x = x
                style = float(self.style(G, M)) if opts.style_weight else 0.0
                yield Losses(content=content, style=style,
                             total=opts.content_weight * content + opts.style_weight * style)
            done += len(tiles)

    def _visit(self, x: torch.Tensor, tile: Tile, G: dict, M: dict, content: float, pixels: int
               ) -> tuple[dict, float]:
        """One tile's --tile-iterations steps for the global loss, the rest of the image fixed; blend it back.
        Returns G and the content loss updated by this tile's change (read from the optimiser's own
        evaluations: no forward pass before or after)."""
        t, opts = self.t, self.t.options
        style_layers = tuple(opts.style_layers)
        layers = tuple(self.layers)
        share = (tile.wy1 - tile.wy0) * (tile.wx1 - tile.wx0) / pixels
        target = self._target(tile)
        weight = feather(tile).to(x.dtype).to(t.device)
        free = (weight > 0).to(x.dtype)
        fixed = tile.window(x).to(t.device) * (1 - free)
        rest: dict[str, torch.Tensor] = {}  # the other tiles' Gram sums, from the first evaluation
        seen: list[tuple[Losses, dict[str, torch.Tensor], float]] = []  # each evaluation, its core Grams, content

        def objective(v: torch.Tensor) -> tuple[torch.Tensor, Losses]:
            xt = fixed + v * free  # the margin beyond the band is context only
            feats = core_of(self._forward(xt, layers), tile)
            grams = {n: gram(feats[n]) for n in style_layers}
            if not rest:  # the first evaluation is at the visit's start: G minus this core is the rest
                rest.update({n: G[n] - g.detach() for n, g in grams.items()})
            c = self._content(feats, target) if opts.content_weight else torch.zeros(())
            style = self.style({n: rest[n] + g for n, g in grams.items()}, M) if opts.style_weight else \
                torch.zeros(())
            tv = tv_loss(xt) * share if opts.tv_weight else torch.zeros(())
            total = opts.content_weight * c + opts.style_weight * style + opts.tv_weight * tv
            parts = Losses(content=float(c.detach()), style=float(style.detach()), tv=float(tv.detach()),
                           total=float(total.detach()))
            seen.append((parts, {n: g.detach() for n, g in grams.items()}, parts.content))
            return total, parts

        progress = Progress(x=tile.window(x).clone().to(t.device))
        steps = optimise(objective, progress, iterations=opts.tile_iterations, tol=0.0,
                         optimizer=opts.optimizer, lr=opts.lr, first_step=LBFGS_FIRST_STEP * 0.1)
        # L-BFGS takes fixed steps (no line search), so a short run may end above where it passed: keep the best
        # iterate of the visit (each yield is the loss before its step), the last one checked too
        best, best_seen, last = progress.x.detach().clone(), None, progress.x.detach().clone()
        for parts in steps:
            if best_seen is None or parts.total < best_seen[0].total:
                best, best_seen = last, next(s for s in seen if s[0] is parts)
            last = progress.x.detach().clone()
        with torch.no_grad():
            objective(last)
        if best_seen is None or seen[-1][0].total < best_seen[0].total:
            best, best_seen = last, seen[-1]
        with torch.no_grad():
            weight = weight.to(x.device)
            tile.window(x).mul_(1 - weight).add_(best.clamp(0, 1).to(x.device) * weight)
        _, grams, c_best = best_seen
        # the band blended into the neighbours changes their cores a little: not counted until the next measure
        return {n: rest[n] + grams[n] for n in rest}, content - seen[0][2] + c_best


def _add_grams(G: dict, M: dict, feats: dict[str, torch.Tensor], layers: Iterable[str]) -> None:
    """Add one core's Gram matrices and position counts at `layers` to the sums G and M."""
    for n in layers:
        G[n] = G.get(n, 0) + gram(feats[n])
        M[n] = M.get(n, 0) + feats[n].shape[2] * feats[n].shape[3]


def _tensor(img: object) -> torch.Tensor:
    from .images import to_tensor

    return to_tensor(img)  # type: ignore[arg-type]


def plan_core(width: int, height: int, precision: str, device: torch.device, budget: int | None,
              tile: int | None) -> int | None:
    """The tile core (px) for a scale of width x height, or None to paint it whole: `tile` when given (0: never);
    else None when the whole fits `budget` (default: what is free), or the largest core whose window fits."""
    if tile == 0:
        return None
    if tile is not None:
        core = max(ALIGN, tile // ALIGN * ALIGN)
        return core if max(width, height) > core else None
    try:
        check_fits(width, height, max(width, height), precision, device, budget)
        return None
    except StylegramError:
        pass
    images = IMAGE_COPIES * 3 * 4 * width * height
    room = (budget or _free(device)) * PLAN_SHARE
    core = (max(width, height) // ALIGN) * ALIGN
    while core > 2 * MARGIN:
        side = core + 2 * MARGIN
        if images + estimate_bytes(side, side, precision) <= room:
            return core
        core = core * 3 // 4 // ALIGN * ALIGN
    fit = int(max(width, height) * math.sqrt((budget or _free(device)) / 2 / images))
    raise StylegramError(f"{width}x{height} does not fit even in tiles: the full-size images alone need about "
                         f"{images / 2**30:.1f} GiB; --size {fit} would fit")


def _free(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    from .hardware import available_bytes

    return available_bytes()
