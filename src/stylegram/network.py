"""VGG-19 feature extractor with the paper's layer names, avg/max pooling and an early stop."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from .choices import BLOCKS, CONV_LAYERS, check_layers
from .weights import NORMALISED_CONV_KEYS, load_state_dict

_POOLS = {"avg": F.avg_pool2d, "max": F.max_pool2d}


def pad(h: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """One pixel of reflection padding (replicate once a map is 1 pixel wide), in h's own precision; circular on a
    torus (`wrap`, for --seamless), so the pixels at one edge see those at the opposite edge as neighbours.

    CPU autocast runs reflection padding in fp32 (a copy out of bf16 and one back for the next conv): with it
    enabled here, a third of a bf16 forward at 512 px went to padding.
    """
    mode = "circular" if wrap else "reflect" if min(h.shape[-2:]) > 1 else "replicate"
    with torch.autocast(h.device.type, enabled=False):
        return F.pad(h, (1, 1, 1, 1), mode=mode)


class VGG19(nn.Module):
    """The 16 conv layers of VGG-19 plus the 1x1 preprocessing conv of the normalised file.

    Input: RGB in [0, 1], shape (B, 3, H, W). `forward(x, layers)` returns {name: rectified output} for the
    requested layers (the paper's "conv4_2" response is the one after its ReLU) and stops after the deepest.
    Padding is by reflection, as the normalised weights were made for.
    """

    def __init__(self, state: dict[str, torch.Tensor] | None = None, pooling: str = "avg") -> None:
        super().__init__()
        self.pooling = pooling
        self._pool_fn = _POOLS[pooling]  # a KeyError for a name Options would have refused
        state = load_state_dict() if state is None else state
        self.preprocess = _conv(state, "0")
        self.convs = nn.ModuleList(_conv(state, str(key)) for key in NORMALISED_CONV_KEYS)
        self.requires_grad_(False)
        self.eval()

    def _pool(self, x: torch.Tensor, wrap: bool = False) -> torch.Tensor:
        if wrap and (x.shape[-1] % 2 or x.shape[-2] % 2):
            # an odd side on a torus: its last row/column pools with the first, as the neighbours they are
            with torch.autocast(x.device.type, enabled=False):
                x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode="circular")
        return self._pool_fn(x, 2, 2, ceil_mode=True)  # ceil_mode: odd-sized maps keep their last row/column

    def forward(self, x: torch.Tensor, layers: Iterable[str], checkpoint: bool = False, wrap: bool = False
                ) -> dict[str, torch.Tensor]:
        """{layer: response} for `layers`, stopping after the deepest; `wrap`: x is a torus (--seamless).

        checkpoint=True keeps only each block's input and the requested responses for the backward pass and
        recomputes the rest there: about half the memory for about a third more time (large images).
        """
        wanted = set(layers)
        check_layers(wanted)
        deepest = max(CONV_LAYERS.index(n) for n in wanted)
        feats: dict[str, torch.Tensor] = {}
        h = self.preprocess(x)
        first = 0
        for block, n in enumerate(BLOCKS):
            if first > deepest:
                break
            last = min(first + n, deepest + 1)
            names = [CONV_LAYERS[i] for i in range(first, last) if CONV_LAYERS[i] in wanted]

            def run(h: torch.Tensor, block: int = block, first: int = first, last: int = last,
                    names: list[str] = names) -> tuple[torch.Tensor, ...]:
                if block:
                    h = self._pool(h, wrap)
                out = []
                for idx in range(first, last):
                    h = F.relu(self.convs[idx](pad(h, wrap)))
                    if CONV_LAYERS[idx] in names:
                        out.append(h)
                return (h, *out)

            if checkpoint and h.requires_grad:
                h, *out = torch.utils.checkpoint.checkpoint(run, h, use_reentrant=False)
            else:
                h, *out = run(h)
            feats.update(zip(names, out, strict=True))
            first += n
        return feats


def _conv(state: dict[str, torch.Tensor], key: str) -> nn.Conv2d:
    """A conv holding the state's own tensors: no copy, and no random init that the weights would replace."""
    w = state[f"{key}.weight"]
    conv = nn.utils.skip_init(nn.Conv2d, w.shape[1], w.shape[0], w.shape[-1])
    conv.weight = nn.Parameter(w, requires_grad=False)
    conv.bias = nn.Parameter(state[f"{key}.bias"], requires_grad=False)
    return conv


@functools.lru_cache(maxsize=2)
def _state(weights: str, sha256: str | None) -> dict[str, torch.Tensor]:
    return load_state_dict(weights, sha256)


@functools.lru_cache(maxsize=4)
def load_vgg19(
    weights: str = "bundled", sha256: str | None = None, pooling: str = "avg", device: str = "cpu"
) -> VGG19:
    """A ready VGG19 on `device`, built once per process and setting (its weights are never changed: shared)."""
    return VGG19(_state(weights, sha256), pooling).to(device)
