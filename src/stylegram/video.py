"""Video in a painting's style without flicker (Ruder, Dosovitskiy & Brox 2016). The first frame gets the full
transfer; each later frame starts from the previous result warped by the optical flow and keeps close to it
where the flow is reliable: a TemporalTerm is one more entry in the engine's criterion."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import torch
from PIL import Image

from .flow import optical_flow, reliable, warp
from .images import ImageLike, to_tensor
from .losses import TemporalTerm
from .optimize import Progress
from .options import Options
from .transfer import StyleTransfer

TEMPORAL_WEIGHT = 200.0  # ~ the style term's size at a warm start; see docs/video.md


def stylize_frames(
    frames: Sequence[Image.Image], style: ImageLike | Sequence[ImageLike], options: Options | None = None,
    temporal_weight: float = TEMPORAL_WEIGHT,
) -> Iterator[tuple[int, Image.Image, float]]:
    """Yield (index, stylised frame, seconds) as each frame finishes. temporal_weight 0: frame by frame, each
    from its own default start (the flicker baseline)."""
    options = options or Options()
    later = options.replace(scales=1)  # a warm start needs no coarse-to-fine
    previous: torch.Tensor | None = None
    for k, frame in enumerate(frames):
        t0 = time.perf_counter()
        if previous is None or not temporal_weight:
            transfer = StyleTransfer(frame, style, options)
            x = transfer.run()
        else:
            back, fwd = optical_flow(frame, frames[k - 1]), optical_flow(frames[k - 1], frame)
            target = warp(previous, back)
            c = reliable(back, fwd).to(target.device)
            transfer = StyleTransfer(frame, style, later, terms=[(TemporalTerm(target, c), temporal_weight)])
            # where the flow is not reliable (what the frame newly shows) start from this frame, not the warp
            start = c * target + (1 - c) * transfer.initial_image()
            x = transfer.run(resume=Progress(x=start))
        x = transfer.at_full_size(x)
        previous = x.detach().clamp(0, 1)
        yield k, transfer.render(previous), time.perf_counter() - t0


def flicker(outputs: Sequence[Image.Image], frames: Sequence[Image.Image]) -> float:
    """Mean squared difference between each output frame and the previous output warped by the input's flow,
    on reliable pixels, in [0, 1] units (Ruder et al.'s measure of temporal consistency)."""
    total, count = 0.0, 0.0
    for k in range(1, len(frames)):
        back, fwd = optical_flow(frames[k], frames[k - 1]), optical_flow(frames[k - 1], frames[k])
        c = reliable(back, fwd)
        prev, cur = to_tensor(outputs[k - 1]), to_tensor(outputs[k])
        total += float((c * (cur - warp(prev, back)) ** 2).sum() / 3)
        count += float(c.sum())
    return total / max(count, 1.0)


__all__ = ["flicker", "stylize_frames"]
