"""Video in a painting's style without flicker (Ruder, Dosovitskiy & Brox 2016). The first frame gets the full
transfer; each later frame starts from the previous result warped by the optical flow and keeps close to it
where the flow is reliable: a TemporalTerm is one more entry in the engine's criterion."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from ..images import ImageLike, resize_long_side, to_tensor
from ..losses import TemporalTerm
from ..optimize import Progress
from ..options import Options
from ..transfer import StyleTransfer
from . import LATER_ITERATIONS, MOVED, NEW_REGIONS_INIT, TEMPORAL_WEIGHT, VIDEO_OPTIONS
from .flow import optical_flow, reliable, warp


def stylize_frames(
    frames: Sequence[Image.Image], style: ImageLike | Sequence[ImageLike], options: Options | None = None,
    temporal_weight: float = TEMPORAL_WEIGHT, start: int = 0, previous: Image.Image | None = None,
    stop: Callable[[], bool] | None = None, new_regions: str | None = None,
) -> Iterator[tuple[int, Image.Image, float]]:
    """Yield (index, stylised frame, seconds) as each frame finishes, from frame `start` (`previous`: the stylised
    frame before it, to resume). temporal_weight 0: frame by frame, each from its own default start (the flicker
    baseline). When `stop()` turns true the frame in progress is dropped and the generator ends. `new_regions`: the
    start of what the flow cannot carry (default: the AdaIN picture; an --init value)."""
    options = options or VIDEO_OPTIONS
    frames = [resize_long_side(f, options.size) for f in frames]  # the flow at the size the frames are painted
    # a warm start needs no coarse-to-fine and few iterations: it only moves what changed (--tol 0: --iterations)
    later = options.replace(scales=1, iterations=min(options.iterations, LATER_ITERATIONS) if options.tol
                            else options.iterations, init=new_regions or new_regions_init(options))
    prev = to_tensor(previous) if previous is not None else None
    halt = (lambda it: stop()) if stop is not None else None
    for k in range(start, len(frames)):
        frame, t0 = frames[k], time.perf_counter()
        if prev is None or not temporal_weight:
            transfer = StyleTransfer(frame, style, options)
            x = transfer.run(halt)
        else:
            back, fwd = optical_flow(frame, frames[k - 1]), optical_flow(frames[k - 1], frame)
            target = warp(prev, back)
            c = reliable(back, fwd, to_tensor(frame), to_tensor(frames[k - 1])).to(target.device)
            transfer = StyleTransfer(frame, style, later, terms=[(TemporalTerm(target, c), temporal_weight)])
            # where the flow is not reliable (what the frame newly shows) start from this frame's own AdaIN picture,
            # already painted: ten iterations from the photo left such regions flat (docs/video.md)
            start_x = c * target + (1 - c) * transfer.initial_image()
            x = transfer.run(halt, resume=Progress(x=start_x))
        if stop is not None and stop():
            return
        prev = transfer.at_full_size(x).detach().clamp(0, 1)
        yield k, transfer.render(prev), time.perf_counter() - t0


def new_regions_init(options: Options) -> str:
    """What a later frame's unreliable regions start from: the AdaIN picture (it needs the bundled weights)."""
    return NEW_REGIONS_INIT if options.weights == "bundled" else options.init


def moved(frames: Sequence[Image.Image], k: int, threshold: float = MOVED) -> torch.Tensor:
    """(1, 1, H, W): the pixels of frame k that differ from the first frame (mean abs over RGB > threshold)."""
    return ((to_tensor(frames[k]) - to_tensor(frames[0])).abs().mean(1, keepdim=True) > threshold).float()


def detail(img: Image.Image) -> torch.Tensor:
    """(1, 1, H, W) fine detail: squared difference from a 5x5 box blur, summed over RGB (brush strokes, edges)."""
    x = to_tensor(img)
    blur = F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    return ((x - blur) ** 2).sum(1, keepdim=True)


def moving_brushwork(outputs: Sequence[Image.Image], frames: Sequence[Image.Image],
                     reference: Sequence[Image.Image]) -> float:
    """How much brushwork the parts that moved get: the fine detail each later output adds beyond its source
    frame's own (per pixel, where it adds any), in the pixels that changed since the first frame, over what
    `reference` (each frame painted alone) adds there. 1: as much as painting each frame alone."""
    ours = theirs = 0.0
    for k in range(1, len(frames)):
        m, src = moved(frames, k), detail(frames[k])
        ours += float(((detail(outputs[k]) - src).clamp_min(0) * m).sum())
        theirs += float(((detail(reference[k]) - src).clamp_min(0) * m).sum())
    return ours / theirs if theirs > 0 else float("nan")


def flicker(outputs: Sequence[Image.Image], frames: Sequence[Image.Image], still_only: bool = False) -> float:
    """Mean squared difference between each output frame and the previous output warped by the input's flow,
    on reliable pixels (`still_only`: and those that never moved since the first frame: the still background), in
    [0, 1] units (Ruder et al.'s measure of temporal consistency)."""
    total, count = 0.0, 0.0
    for k in range(1, len(frames)):
        back, fwd = optical_flow(frames[k], frames[k - 1]), optical_flow(frames[k - 1], frames[k])
        c = reliable(back, fwd, to_tensor(frames[k]), to_tensor(frames[k - 1]))
        if still_only:
            c = c * (1 - moved(frames, k))
        prev, cur = to_tensor(outputs[k - 1]), to_tensor(outputs[k])
        total += float((c * (cur - warp(prev, back)) ** 2).sum() / 3)
        count += float(c.sum())
    return total / max(count, 1.0)


__all__ = ["flicker", "moving_brushwork", "stylize_frames"]
