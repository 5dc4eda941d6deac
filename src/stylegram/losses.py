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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import torch

NORMALIZATIONS = ("balanced", "mean", "paper")


def gram(F: torch.Tensor) -> torch.Tensor:
    """Eq. 3: G_ij = sum_k F_ik F_jk, for F of shape (B, N, H, W) -> (B, N, N). Always in fp32."""
    b, n = F.shape[:2]
    Fm = F.reshape(b, n, -1).float()
    return Fm @ Fm.transpose(1, 2)


def content_loss(F: torch.Tensor, P: torch.Tensor, normalization: str = "mean") -> torch.Tensor:
    """Eq. 1: 1/2 sum (F - P)^2 ("paper"), or that divided by N_l M_l ("mean", "balanced")."""
    diff = F.float() - P.float()
    loss = 0.5 * diff.pow(2).sum()
    if normalization != "paper":
        loss = loss / diff[0].numel()
    return loss


def layer_style_loss(G: torch.Tensor, A: torch.Tensor, N: int, M: int) -> torch.Tensor:
    """Eq. 4: E_l = sum (G - A)^2 / (4 N^2 M^2); computed as ((G - A) / (N M))^2 to stay well scaled."""
    return ((G - A) / (N * M)).pow(2).sum() / 4


def gram_per_position(F: torch.Tensor) -> torch.Tensor:
    """A^l / M_l: the Gram matrix as an average over positions, comparable between images of other sizes."""
    return gram(F) / (F.shape[2] * F.shape[3])


def style_loss(
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Eq. 5: L_style = sum_l w_l E_l.

    targets[l] is the painting's Gram matrix per position (`gram_per_position`), scaled here by the generated
    image's M_l: when painting and image have the same size that is exactly eq. 4's A^l; when they do not
    (another aspect ratio, --style-scale), the two are compared per position, as they must be.
    """
    total = torch.zeros((), device=next(iter(features.values())).device)
    for name, w in layer_weights.items():
        F = features[name]
        N, M = F.shape[1], F.shape[2] * F.shape[3]
        total = total + w * layer_style_loss(gram(F), targets[name] * M, N, M)
    return total


def guided_style_loss(
    features: Mapping[str, torch.Tensor],
    targets: list[Mapping[str, torch.Tensor]],
    masks: list[torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Spatial control (Gatys et al. 2017): one guided Gram matrix per region.

    Region k weights the features by its mask m_k (downsampled to each layer); its Gram matrix, averaged
    over the mask's weight sum(m_k^2), is compared with style k's per-position Gram matrix; each region's
    E_l counts by its share of the image. An all-ones mask gives back `style_loss` exactly.
    """
    total = torch.zeros((), device=next(iter(features.values())).device)
    for name, w in layer_weights.items():
        F = features[name]
        N, M = F.shape[1], F.shape[2] * F.shape[3]
        for target, mask in zip(targets, masks, strict=True):
            m = torch.nn.functional.interpolate(mask, size=F.shape[-2:], mode="area")
            share = float(m.mean())
            if share < 1e-6:
                continue
            # G rescaled to M positions: (M / sum m^2) is exactly 1.0 for an all-ones mask
            G = gram(F * m) * (M / float(m.pow(2).sum()))
            total = total + w * share * layer_style_loss(G, target[name] * M, N, M)
    return total


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of neighbouring pixels (smooths high-frequency noise)."""
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    return dx.float().pow(2).mean() + dy.float().pow(2).mean()


def content_losses(
    features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor], layers: Sequence[str],
    normalization: str = "mean",
) -> torch.Tensor:
    """Eq. 1 summed over the content layers (the paper uses one, conv4_2)."""
    return sum(content_loss(features[n], targets[n], normalization) for n in layers)  # type: ignore[return-value]


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
    """One term of the criterion: a loss of the features at `layers` (and of the image x itself)."""

    name: ClassVar[str]

    @property
    def layers(self) -> tuple[str, ...]: ...

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor: ...


@dataclass
class ContentTerm:
    """Eq. 1 against the photo's responses P (one target per content layer)."""

    targets: Mapping[str, torch.Tensor]
    normalization: str = "mean"
    name: ClassVar[str] = "content"

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.targets)

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return content_losses(features, self.targets, self.layers, self.normalization)


@dataclass
class StyleTerm:
    """Eq. 5 against the painting's per-position Gram matrices A."""

    targets: Mapping[str, torch.Tensor]
    layer_weights: Mapping[str, float]
    name: ClassVar[str] = "style"

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.layer_weights)

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return style_loss(features, self.targets, self.layer_weights)

    def with_weights(self, layer_weights: Mapping[str, float]) -> StyleTerm:
        """The same term with other w_l (e.g. one layer alone: {layer: 1.0})."""
        return dataclasses.replace(self, layer_weights=dict(layer_weights))


@dataclass
class GuidedStyleTerm(StyleTerm):
    """Eq. 5 per region: painting k (targets[k]) paints where masks[k] is white (see guided_style_loss)."""

    targets: list[Mapping[str, torch.Tensor]]  # type: ignore[assignment]
    masks: list[torch.Tensor] = field(default_factory=list)

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return guided_style_loss(features, self.targets, self.masks, self.layer_weights)


@dataclass
class TVTerm:
    """Total variation of x itself (not in the paper)."""

    name: ClassVar[str] = "tv"
    layers: tuple[str, ...] = ()

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return tv_loss(x)


@dataclass
class TemporalTerm:
    """Ruder et al. 2016, eq. 6: (1/D) sum c (x - w)^2, w the previous stylised frame warped by the flow, c 0 where
    the flow is not reliable (occlusions, motion boundaries)."""

    target: torch.Tensor
    weights: torch.Tensor
    name: ClassVar[str] = "temporal"
    layers: tuple[str, ...] = ()

    def __call__(self, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return (self.weights * (x.float() - self.target) ** 2).sum() / x.numel()


# Eq. 7 generalised: sum_k weight_k term_k. alpha and beta are the weights of the content and style terms.
Criterion = list[tuple[Term, float]]


def active(criterion: Criterion, full: bool = False) -> Criterion:
    """The terms to evaluate: those with a weight, or all of them (`full`, to report every part)."""
    return [(term, w) for term, w in criterion if w or full]


def evaluate(criterion: Criterion, features: Mapping[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor,
                                                                                                     Losses]:
    """The weighted sum of the terms (eq. 7) and each term's value."""
    loss: torch.Tensor | None = None
    parts = Losses()
    for term, weight in criterion:
        value = term(features, x)
        if term.name in ("content", "style", "tv"):
            setattr(parts, term.name, float(value.detach()))
        else:
            parts.extra[term.name] = float(value.detach())
        loss = weight * value if loss is None else loss + weight * value
    if loss is None:
        loss = torch.zeros((), device=x.device)
    parts.total = float(loss.detach())
    return loss, parts
