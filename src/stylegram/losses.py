"""The losses of Gatys, Ecker & Bethge (2015), named and numbered as in the paper.

F is a layer's response to the generated image x, reshaped N_l x M_l (filters x positions); P the same for
the photo p; G and A the Gram matrices of x and of the painting a.

Normalisation (``normalization``):
- ``"paper"``: eq. 1 exactly, L_content = 1/2 sum (F - P)^2. It grows with the number of positions M_l, so
  the balance alpha/beta that looks right at 256 px leans towards content at 1024 px.
- ``"mean"``: L_content = 1/2 sum (F - P)^2 / (N_l M_l). Eq. 4 already divides by N_l^2 M_l^2 and
  is left as written. Both terms are then averages that do not depend on the image size, and
  alpha_paper / beta_paper = (alpha_mean / beta_mean) / (N_l M_l) at the content layer.
- ``"balanced"`` (default): content as "mean"; each layer's E_l (eq. 4) divided by the photo's own E_l, the
  distance of the photo from the painting at that layer, so L_style = 1 at the photo. In the normalised VGG-19
  conv1_1 carries about 80 % of eq. 5's loss, so "mean" paints pixel-level speckle before any stroke; here
  each layer counts by the share of its own distance left. It changes eq. 5's w_l (done by StyleTransfer,
  which knows the photo), not eq. 4; see docs/normalization.md.

Every term is statistics plus a score. `statistics` adds up over pieces of the image (Gram sums and position
counts, sums of squares and their counts): for a Piece, the sums over its core. `score` turns the totals into
the loss. The whole image is one piece; a tiled scale (tiles.py) adds the pieces' statistics and calls the same
score, so each equation exists once, here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import torch

from .choices import downsampling
from .pieces import Piece, Stats


class Gram(torch.autograd.Function):
    """G = F F^T in fp32 whatever F's precision; dL/dF = (dG + dG^T) F (eq. 6's form) as one fp32 product, where
    autograd made two, one against a transposed F, and a sum (4x the forward at conv1_1, 512 px; in bf16 it left
    the final loss 3 % higher). F is saved in its own precision."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, Fm: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(Fm)
        F32 = Fm.float()
        return F32 @ F32.transpose(1, 2)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, dG: torch.Tensor) -> torch.Tensor:
        (Fm,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return ((dG + dG.transpose(1, 2)) @ Fm.float()).to(Fm.dtype)


def gram(F: torch.Tensor) -> torch.Tensor:
    """Eq. 3: G_ij = sum_k F_ik F_jk, for F of shape (B, N, H, W) -> (B, N, N). Always in fp32."""
    b, n = F.shape[:2]
    return Gram.apply(F.reshape(b, n, -1))


def content_statistics(F: torch.Tensor, P: torch.Tensor) -> Stats:
    """Eq. 1's sum, 1/2 sum (F - P)^2, and its N_l M_l."""
    diff = F.float() - P.float()
    return {"sq": 0.5 * diff.pow(2).sum(), "count": diff[0].numel()}


def content_score(s: Stats, normalization: str = "mean") -> torch.Tensor:
    """Eq. 1: the sum as written ("paper"), or divided by N_l M_l ("mean", "balanced")."""
    return s["sq"] if normalization == "paper" else s["sq"] / s["count"]


def content_loss(F: torch.Tensor, P: torch.Tensor, normalization: str = "mean") -> torch.Tensor:
    """Eq. 1 at one layer."""
    return content_score(content_statistics(F, P), normalization)


def layer_style_loss(G: torch.Tensor, A: torch.Tensor, N: int, M: int) -> torch.Tensor:
    """Eq. 4: E_l = sum (G - A)^2 / (4 N^2 M^2); computed as ((G - A) / (N M))^2 to stay well scaled."""
    return ((G - A) / (N * M)).pow(2).sum() / 4


def gram_statistics(features: Mapping[str, torch.Tensor], layers: Sequence[str]) -> Stats:
    """Per layer, the Gram sum G and the number of positions M it sums over."""
    return {n: {"G": gram(features[n]), "M": features[n].shape[2] * features[n].shape[3]} for n in layers}


def per_position(s: Stats) -> dict[str, torch.Tensor]:
    """A^l / M_l: Gram matrices as averages over positions, comparable between images of other sizes."""
    return {n: v["G"] / v["M"] for n, v in s.items()}


def masked_per_position(s: Stats) -> dict[str, torch.Tensor]:
    """A^l per unit of mask weight, from a one-region GuidedStyleTerm's statistics (a painting's opaque pixels)."""
    return {n: v[0]["G"] / v[0]["m2"].clamp(min=1e-12) for n, v in s.items()}


def gram_per_position(F: torch.Tensor) -> torch.Tensor:
    return gram(F) / (F.shape[2] * F.shape[3])


def style_score(s: Stats, targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float]) -> torch.Tensor:
    """Eq. 5: L_style = sum_l w_l E_l, from the Gram sums.

    targets[l] is the painting's Gram matrix per position (`per_position`), scaled here by the generated image's
    M_l: when painting and image have the same size that is exactly eq. 4's A^l; when they do not (another aspect
    ratio, --style-scale), the two are compared per position, as they must be.
    """
    total = torch.zeros((), device=next(iter(s.values()))["G"].device)
    for name, w in layer_weights.items():
        G, M = s[name]["G"], s[name]["M"]
        total = total + w * layer_style_loss(G, targets[name] * M, G.shape[-1], M)
    return total


def style_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
               layer_weights: Mapping[str, float]) -> torch.Tensor:
    """Eq. 5 at the whole image's features."""
    return style_score(gram_statistics(features, list(layer_weights)), targets, layer_weights)


def guided_style_score(s: Stats, targets: Sequence[Mapping[str, torch.Tensor]],
                       layer_weights: Mapping[str, float]) -> torch.Tensor:
    """Spatial control (Gatys et al. 2017): one guided Gram matrix per region.

    Region k weights the features by its mask m_k (downsampled to each layer); its Gram matrix, averaged over the
    mask's weight sum(m_k^2), is compared with style k's per-position Gram matrix; each region's E_l counts by its
    share of the image. An all-ones mask gives back eq. 5 exactly.
    """
    total = torch.zeros((), device=next(iter(s.values()))[0]["G"].device)
    for name, w in layer_weights.items():
        for k, target in enumerate(targets):
            r = s[name][k]
            share = float(r["m"] / r["M"])
            if share < 1e-6:
                continue
            M = r["M"]
            G = r["G"] * (M / float(r["m2"]))  # rescaled to M positions: exactly 1.0 for an all-ones mask
            total = total + w * share * layer_style_loss(G, target[name] * M, G.shape[-1], M)
    return total


def tv_statistics(x: torch.Tensor, piece: Piece) -> Stats:
    """Squared differences of neighbouring pixels whose first pixel lies in the core (x: the piece's window). On a
    torus (`--seamless`) every pixel has a right and a lower neighbour: in the window, or across the edge."""
    c = piece.core_of_window(x)
    cy, cx = piece.y0 - piece.wy0, piece.x0 - piece.wx0
    rows, cols = slice(cy, cy + c.shape[-2]), slice(cx, cx + c.shape[-1])
    if piece.wrap:
        dx, dy = (x.roll(-1, -1) - x)[..., rows, cols], (x.roll(-1, -2) - x)[..., rows, cols]
    else:
        right = c.shape[-1] - (1 if piece.x1 == piece.w else 0)  # a last column has no right neighbour
        down = c.shape[-2] - (1 if piece.y1 == piece.h else 0)
        dx = x[..., rows, cx + 1:cx + 1 + right] - x[..., rows, cx:cx + right]
        dy = x[..., cy + 1:cy + 1 + down, cols] - x[..., cy:cy + down, cols]
    return {"dx": dx.float().pow(2).sum(), "nx": dx.numel(), "dy": dy.float().pow(2).sum(), "ny": dy.numel()}


def tv_score(s: Stats) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels (smooths high-frequency noise)."""
    return s["dx"] / max(s["nx"], 1) + s["dy"] / max(s["ny"], 1)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    return tv_score(tv_statistics(x, Piece.whole(x)))


@dataclass
class Losses:
    """The parts of eq. 7 at one image, as floats; `extra` holds terms beyond the paper's (by name)."""

    content: float = 0.0
    style: float = 0.0
    tv: float = 0.0
    total: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {"content": self.content, "style": self.style, "tv": self.tv, **self.extra, "total": self.total}


class Term(Protocol):
    """One term of the criterion: statistics of the features at `layers` (and of x) that add up over pieces of
    the image, and a score of their totals."""

    name: ClassVar[str]

    @property
    def layers(self) -> tuple[str, ...]: ...

    def statistics(self, features: Mapping[str, torch.Tensor], x: torch.Tensor, piece: Piece) -> Stats:
        """`features`: the responses at the piece's core positions; `x`: the piece's window."""
        ...

    def score(self, s: Stats) -> torch.Tensor: ...


class WholeImage:
    """`term(features, x)`: the term's loss at a whole image."""

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return self.score(self.statistics(features, x, Piece.whole(x)))  # type: ignore[attr-defined]


@dataclass
class ContentTerm(WholeImage):
    """Eq. 1 against the photo's responses P (one target per content layer, the whole image's)."""

    targets: Mapping[str, torch.Tensor]
    normalization: str = "mean"
    name: ClassVar[str] = "content"

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def statistics(self, features: Mapping[str, torch.Tensor], x: torch.Tensor, piece: Piece) -> Stats:
        return {n: content_statistics(features[n], piece.core(P, downsampling(n))) for n, P in self.targets.items()}

    def score(self, s: Stats) -> torch.Tensor:
        return sum(content_score(s[n], self.normalization) for n in self.layers)  # type: ignore[return-value]


@dataclass
class StyleTerm(WholeImage):
    """Eq. 5 against the painting's per-position Gram matrices A."""

    targets: Mapping[str, torch.Tensor]
    layer_weights: Mapping[str, float]
    name: ClassVar[str] = "style"

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.layer_weights)

    def statistics(self, features: Mapping[str, torch.Tensor], x: torch.Tensor, piece: Piece) -> Stats:
        return gram_statistics(features, self.layers)

    def score(self, s: Stats) -> torch.Tensor:
        return style_score(s, self.targets, self.layer_weights)

    def with_weights(self, layer_weights: Mapping[str, float]) -> StyleTerm:
        """The same term with other w_l (e.g. one layer alone: {layer: 1.0})."""
        return dataclasses.replace(self, layer_weights=dict(layer_weights))

    def layer_losses(self, s: Stats) -> dict[str, float]:
        """E_l of each layer alone (w_l = 1), e.g. at the photo for the balanced weights."""
        return {n: float(self.with_weights({n: 1.0}).score(s)) for n in self.layers}


@dataclass
class GuidedStyleTerm(StyleTerm):
    """Eq. 5 per region: painting k (targets[k]) paints where masks[k] is white (see guided_style_score). A mask is
    the whole image's (1, 1, H, W); it is downsampled to each layer once, then cut per piece."""

    targets: list[Mapping[str, torch.Tensor]]  # type: ignore[assignment]
    masks: list[torch.Tensor] = field(default_factory=list)
    _at_layer: dict = field(default_factory=dict, repr=False, compare=False)

    def mask(self, k: int, layer: str) -> torch.Tensor:
        if (k, layer) not in self._at_layer:
            f, (h, w) = downsampling(layer), self.masks[k].shape[-2:]
            self._at_layer[k, layer] = torch.nn.functional.interpolate(
                self.masks[k], size=(math.ceil(h / f), math.ceil(w / f)), mode="area")
        return self._at_layer[k, layer]

    def statistics(self, features: Mapping[str, torch.Tensor], x: torch.Tensor, piece: Piece) -> Stats:
        out: Stats = {}
        for n in self.layers:
            F = features[n]
            out[n] = {}
            for k in range(len(self.targets)):
                m = piece.core(self.mask(k, n), downsampling(n))
                out[n][k] = {"G": gram(F * m), "m": m.sum(), "m2": m.pow(2).sum(), "M": F.shape[2] * F.shape[3]}
        return out

    def score(self, s: Stats) -> torch.Tensor:
        return guided_style_score(s, self.targets, self.layer_weights)


def style_term(A: Mapping[str, torch.Tensor], regions: Sequence[Mapping[str, torch.Tensor]],
               layer_weights: Mapping[str, float], mask: torch.Tensor | None = None,
               alpha: torch.Tensor | None = None) -> StyleTerm:
    """The style term of a photo: eq. 5 against the blended A; with a mask, each painting (regions[k]) in its
    region; with the photo's alpha, its transparent pixels in no Gram matrix (a region's weight times alpha)."""
    if mask is None and alpha is None:
        return StyleTerm(A, layer_weights)
    if mask is None:
        return GuidedStyleTerm([A], layer_weights, [alpha])
    masks = [mask, 1 - mask][: len(regions)]
    return GuidedStyleTerm(list(regions), layer_weights, masks if alpha is None else [m * alpha for m in masks])


@dataclass
class TVTerm(WholeImage):
    """Total variation of x itself (not in the paper)."""

    name: ClassVar[str] = "tv"
    layers: tuple[str, ...] = ()

    def statistics(self, features: Mapping[str, torch.Tensor], x: torch.Tensor, piece: Piece) -> Stats:
        return tv_statistics(x, piece)

    def score(self, s: Stats) -> torch.Tensor:
        return tv_score(s)


@dataclass
class TemporalTerm(WholeImage):
    """Ruder et al. 2016, eq. 6: (1/D) sum c (x - w)^2, w the previous stylised frame warped by the flow, c 0 where
    the flow is not reliable (occlusions, motion boundaries)."""

    target: torch.Tensor
    weights: torch.Tensor
    name: ClassVar[str] = "temporal"
    layers: tuple[str, ...] = ()

    def statistics(self, features: Mapping[str, torch.Tensor], x: torch.Tensor, piece: Piece) -> Stats:
        xc = piece.core_of_window(x)
        d = piece.core(self.weights) * (xc.float() - piece.core(self.target)) ** 2
        return {"sum": d.sum(), "count": xc.numel()}

    def score(self, s: Stats) -> torch.Tensor:
        return s["sum"] / s["count"]


# Eq. 7 generalised: sum_k weight_k term_k. alpha and beta are the weights of the content and style terms.
Criterion = list[tuple[Term, float]]


def active(criterion: Criterion, full: bool = False) -> Criterion:
    """The terms to evaluate: those with a weight, or all of them (`full`, to report every part)."""
    return [(term, w) for term, w in criterion if w or full]


def layers_of(criterion: Criterion) -> tuple[str, ...]:
    return tuple(dict.fromkeys(layer for term, _ in criterion for layer in term.layers))


def statistics(criterion: Criterion, features: Mapping[str, torch.Tensor], x: torch.Tensor,
               piece: Piece | None = None) -> list[Stats]:
    """Each term's statistics of one piece (default: the whole image); `features` are the window's responses."""
    piece = piece or Piece.whole(x)
    core = {n: piece.core_of_window(f, downsampling(n)) for n, f in features.items()}
    return [term.statistics(core, x, piece) for term, _ in criterion]


def score(criterion: Criterion, stats: Sequence[Stats], device: torch.device | None = None
          ) -> tuple[torch.Tensor, Losses]:
    """Eq. 7 from the terms' statistics: the weighted sum of the scores, and each term's value."""
    loss: torch.Tensor | None = None
    parts = Losses()
    for (term, weight), s in zip(criterion, stats, strict=True):
        value = term.score(s)
        if term.name in ("content", "style", "tv"):
            setattr(parts, term.name, float(value.detach()))
        else:
            parts.extra[term.name] = float(value.detach())
        loss = weight * value if loss is None else loss + weight * value
    if loss is None:
        loss = torch.zeros((), device=device)
    parts.total = float(loss.detach())
    return loss, parts


def evaluate(criterion: Criterion, features: Mapping[str, torch.Tensor], x: torch.Tensor, wrap: bool = False
             ) -> tuple[torch.Tensor, Losses]:
    """The criterion at a whole image x (on a torus with `wrap`)."""
    return score(criterion, statistics(criterion, features, x, Piece.whole(x, wrap)), x.device)
