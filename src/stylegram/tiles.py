"""Large prints: a scale too large for memory is optimised tile by tile, against the whole image's statistics.

Every term of the criterion is statistics that add up over pieces of the image plus a score of the totals
(losses.py). The tiles' cores partition the image, so the whole image's statistics are the sum of the cores'.
A tile is optimised for the *global* loss with the rest of the image held fixed: totals = rest + core(x_tile),
where rest is the other tiles' sum (block coordinate descent on eq. 7). Each tile is cut with a margin of MARGIN
px of its neighbours, so its core's responses are those of the whole image (conv4_2 sees 84 px); only core
positions count. A pass visits every tile; the grid moves by a random offset each pass, so tile borders never
settle in one place; a tile's result is blended back with weights that fall from 1 in its core to 0 over BAND px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch

from .choices import MIN_SIZE, channels, downsampling
from .errors import StylegramError
from .hardware import check_fits, estimate_bytes, free_bytes
from .losses import Criterion, Losses, layers_of, score, statistics
from .optimize import LBFGS_FIRST_STEP, Progress, Step, optimise
from .pieces import Piece, Stats, add, detached

ALIGN = 16  # conv5_1 is 1/16 of the image: tiles start on multiples of 16 so their responses align with the whole's
MARGIN = 64  # > conv4_2's receptive half-width (42 px), a multiple of ALIGN
BAND = 16  # px beyond the core that a tile may change, blended with falling weights (the rest: fixed context)
# full-size RGB float images a tiled run keeps (x, photo, painting, blends, rendering); the photo's responses at the
# content layers are counted on top (conv4_2: 512 channels at 1/8, 8 values per pixel)
IMAGE_COPIES = 8
PLAN_SHARE = 0.9  # of --max-memory that the estimate may fill: 4096 px planned for the whole 8 GiB peaked at 8.4

Forward = Callable[[torch.Tensor, Sequence[str]], "dict[str, torch.Tensor]"]


def grid(h: int, w: int, core: int, offset: tuple[int, int] = (0, 0), wrap: bool = False) -> list[Piece]:
    """Tiles of `core` px (a multiple of ALIGN) covering h x w, the grid shifted by offset (multiples of ALIGN). On a
    torus (`wrap`) a window at an edge goes on at the opposite one (its margin cut so it never meets itself)."""
    def cuts(n: int, off: int) -> list[int]:
        inner = list(range(off % core or core, n, core)) if n > core else []
        return [0, *[c for c in inner if 0 < c < n], n]

    tiles = []
    ys, xs = cuts(h, offset[0]), cuts(w, offset[1])
    for y0, y1 in zip(ys, ys[1:], strict=False):
        for x0, x1 in zip(xs, xs[1:], strict=False):
            if wrap:
                my, mx = min(MARGIN, (h - y1 + y0) // 2), min(MARGIN, (w - x1 + x0) // 2)
                tiles.append(Piece(y0, y1, x0, x1, y0 - my, y1 + my, x0 - mx, x1 + mx, h, w, True))
                continue
            tiles.append(Piece(y0, y1, x0, x1, max(0, y0 - MARGIN), min(h, y1 + MARGIN), max(0, x0 - MARGIN),
                               min(w, x1 + MARGIN), h, w))
    return tiles


def pieces(h: int, w: int, core: int | None, wrap: bool = False) -> list[Piece]:
    """The whole image as one piece, or its tiles."""
    return [Piece.of_size(h, w, wrap)] if core is None else grid(h, w, core, wrap=wrap)


def pass_grids(h: int, w: int, core: int, passes: int, seed: int, scale: int, wrap: bool = False
               ) -> list[list[Piece]]:
    """The tiles of each pass: the grid shifted by a random offset (seeded, so a resume sees the same)."""
    out = []
    for k in range(passes):
        gen = torch.Generator().manual_seed(seed * 1000 + scale * 100 + k)
        dy, dx = (int(v) * ALIGN for v in torch.randint(0, max(1, core // ALIGN), (2,), generator=gen))
        out.append(grid(h, w, core, (dy, dx), wrap))
    return out


def feather(t: Piece, band: int = BAND) -> torch.Tensor:
    """Blend weights over a tile's window: 1 on the core, falling linearly to 0 over `band` px beyond it."""
    def ramp(a0: int, a1: int, w0: int, w1: int) -> torch.Tensor:
        pos = torch.arange(w0, w1, dtype=torch.float32)
        outside = torch.clamp(torch.maximum(a0 - pos, pos - (a1 - 1)), min=0)
        return (1 - outside / (band + 1)).clamp(0, 1)

    return ramp(t.y0, t.y1, t.wy0, t.wy1)[:, None] * ramp(t.x0, t.x1, t.wx0, t.wx1)[None, :]


def responses(forward: Forward, image: torch.Tensor, layers: Sequence[str], core: int | None, wrap: bool = False
              ) -> Iterator[tuple[Piece, dict[str, torch.Tensor]]]:
    """Each piece of `image` and its window's responses at `layers` (forward passes only)."""
    for piece in pieces(*image.shape[-2:], core, wrap):
        with torch.no_grad():
            yield piece, forward(piece.window(image), layers)


def assemble(parts: dict[str, torch.Tensor], piece: Piece, feats: dict[str, torch.Tensor], h: int, w: int) -> None:
    """Write one piece's core responses into whole-image tensors (made at the first piece)."""
    for n, f in feats.items():
        k = downsampling(n)
        c = piece.core_of_window(f, k).float()
        if piece.y0 == 0 and piece.x0 == 0 and piece.y1 == h and piece.x1 == w:
            parts[n] = c
            continue
        if n not in parts:
            parts[n] = torch.empty((*c.shape[:2], math.ceil(h / k), math.ceil(w / k)), dtype=c.dtype, device=c.device)
        parts[n][..., piece.y0 // k:piece.y0 // k + c.shape[2], piece.x0 // k:piece.x0 // k + c.shape[3]] = c


def measure(forward: Forward, criterion: Criterion, x: torch.Tensor, core: int | None, wrap: bool = False
            ) -> list[Stats]:
    """The criterion's statistics of the whole image x, piece by piece (forward passes only)."""
    total: list[Stats] | None = None
    for piece, feats in responses(forward, x, layers_of(criterion), core, wrap):
        s = [detached(t) for t in statistics(criterion, feats, piece.window(x), piece)]
        total = s if total is None else [add(a, b) for a, b in zip(total, s, strict=True)]
    return total or []


class Tiled:
    """The passes of tile visits that optimise one tiled scale. `forward(x, layers)` is the network (with the run's
    device and precision), `criterion` the scale's, `core` the tile side."""

    def __init__(self, forward: Forward, criterion: Criterion, core: int, passes: int, iterations: int, seed: int,
                 scale: int, optimizer: str = "lbfgs", lr: float = 0.02, wrap: bool = False) -> None:
        self.forward, self.criterion, self.core = forward, criterion, core
        self.passes, self.iterations, self.seed, self.scale = passes, iterations, seed, scale
        self.optimizer, self.lr, self.wrap = optimizer, lr, wrap

    def grids(self, h: int, w: int) -> list[list[Piece]]:
        return pass_grids(h, w, self.core, self.passes, self.seed, self.scale, self.wrap)

    def losses(self, x: torch.Tensor) -> Losses:
        """The criterion of the whole image, tile by tile."""
        with torch.no_grad():
            return score(self.criterion, measure(self.forward, self.criterion, x, self.core, self.wrap), x.device)[1]

    def run(self, st: Progress) -> Iterator[Step]:
        """Optimise st.x tile by tile for the passes; yield the whole image's losses after each visit. st.iteration
        counts visits, so a checkpoint resumes at the next tile. The statistics are measured at the start of each
        pass (a visit's band changes its neighbours' cores, which the sums do not follow), then kept up to date
        by each visit from the optimiser's own evaluations."""
        x = st.x
        grids = self.grids(*x.shape[-2:])
        visits, done = sum(map(len, grids)), 0
        for tiles in grids:
            if st.iteration >= done + len(tiles):
                done += len(tiles)
                continue
            totals = measure(self.forward, self.criterion, x, self.core, self.wrap)
            for i, tile in enumerate(tiles):
                if done + i < st.iteration:  # visited before a resume
                    continue
                totals = self._visit(x, tile, totals)
                st.iteration += 1
                st.x = x
                with torch.no_grad():
                    parts = score(self.criterion, totals, x.device)[1]
                yield Step(parts, tile=(st.iteration, visits), ended="tiles" if st.iteration == visits else None)
            done += len(tiles)

    def _visit(self, x: torch.Tensor, tile: Piece, totals: list[Stats]) -> list[Stats]:
        """One tile's iterations for the global loss, the rest of the image fixed; blend it back. Returns the
        totals updated by this tile's change (read from the optimiser's own evaluations: no forward pass before
        or after, except one to check the last iterate)."""
        device = x.device
        weight = feather(tile).to(x.dtype)
        free = (weight > 0).to(x.dtype)
        fixed = tile.window(x) * (1 - free)
        rest: list[Stats] = []  # the other tiles' statistics, from the first evaluation (at the visit's start)
        seen: list[tuple[Losses, list[Stats]]] = []
        layers = layers_of(self.criterion)

        def objective(v: torch.Tensor) -> tuple[torch.Tensor, Losses]:
            xt = fixed + v * free  # the margin beyond the band is context only
            s = statistics(self.criterion, self.forward(xt, layers), xt, tile)
            if not rest:
                rest.extend(add(t, detached(p), -1) for t, p in zip(totals, s, strict=True))
            loss, parts = score(self.criterion, [add(r, p) for r, p in zip(rest, s, strict=True)], device)
            seen.append((parts, [detached(t) for t in s]))
            return loss, parts

        progress = Progress(x=tile.window(x).clone())
        steps = optimise(objective, progress, iterations=self.iterations, tol=0.0, optimizer=self.optimizer,
                         lr=self.lr, first_step=LBFGS_FIRST_STEP * 0.1)
        # L-BFGS takes fixed steps (no line search), so a short run may end above where it passed: keep the best
        # iterate of the visit (each step's losses are those before it), the last one checked too
        best, best_seen, last = progress.x.detach().clone(), None, progress.x.detach().clone()
        for step in steps:
            if best_seen is None or step.losses.total < best_seen[0].total:
                best, best_seen = last, next(s for s in seen if s[0] is step.losses)
            last = progress.x.detach().clone()
        with torch.no_grad():
            objective(last)
        if best_seen is None or seen[-1][0].total < best_seen[0].total:
            best, best_seen = last, seen[-1]
        with torch.no_grad():
            tile.blend_into(x, best.clamp(0, 1), weight)
        return [add(r, p) for r, p in zip(rest, best_seen[1], strict=True)]


def plan_core(width: int, height: int, long_side: int, precision: str, device: torch.device, budget: int | None,
              tile: int | None, content_layers: Sequence[str] = ("conv4_2",)) -> int | None:
    """The tile core (px) for a scale of width x height, or None to paint it whole: `tile` when given (0: never,
    refused if it does not fit); else None when the whole fits `budget` (default: what is free), or the largest core
    whose window fits. `long_side` is the --size this scale belongs to, for the messages."""
    if tile == 0:
        check_fits(width, height, long_side, precision, device, budget)
        return None
    if tile is not None:
        core = max(ALIGN, tile // ALIGN * ALIGN)
        return core if max(width, height) > core else None
    try:
        check_fits(width, height, long_side, precision, device, budget)
        return None
    except StylegramError:
        pass
    per_pixel = IMAGE_COPIES * 3 * 4 + sum(channels(n) * 4 / downsampling(n) ** 2 for n in content_layers)
    images = per_pixel * width * height
    room = free_bytes(device, budget) * PLAN_SHARE
    core = (max(width, height) // ALIGN) * ALIGN
    while core > 2 * MARGIN:
        side = core + 2 * MARGIN
        if images + estimate_bytes(side, side, precision) <= room:
            return core
        core = core * 3 // 4 // ALIGN * ALIGN
    fit = int(long_side * math.sqrt(room / 2 / images))
    fix = f"--size {fit} would fit" if fit >= MIN_SIZE else "no --size fits: free memory or raise --max-memory"
    raise StylegramError(f"--size {long_side} ({width}x{height}) does not fit even in tiles: the full-size images "
                         f"alone need about {images / 2**30:.1f} GiB; {fix}")
