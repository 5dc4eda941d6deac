"""Video groundwork (Ruder et al. 2016): flow warping, the reliability mask, the temporal term as one more
criterion entry, and less flicker than frame-by-frame on the synthetic clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("cv2", reason="the video extra (pip install -e '.[video]')")
from stylegram import Options, StyleTransfer  # noqa: E402
from stylegram.flow import optical_flow, reliable, warp  # noqa: E402
from stylegram.losses import TemporalTerm  # noqa: E402
from stylegram.samples import sample_clip  # noqa: E402
from stylegram.video import flicker, stylize_frames  # noqa: E402

from .conftest import make_painting, make_photo  # noqa: E402


def test_warp_by_a_constant_flow_is_a_shift() -> None:
    x = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(0))
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 2  # each pixel came from two pixels to its right
    torch.testing.assert_close(warp(x, flow)[..., :, :-2], x[..., :, 2:])


def test_reliable_where_flows_agree_and_not_where_they_do_not() -> None:
    back = np.zeros((24, 24, 2), np.float32)
    back[..., 0] = 3
    fwd = -back
    assert float(reliable(back, fwd)[..., 2:-2, 2:-6].min()) == 1.0
    assert float(reliable(back, back).mean()) == 0.0  # forward = backward: nothing is consistent
    boundary = back.copy()
    boundary[:, 12:] = -3  # two motions meet at column 12
    assert float(reliable(boundary, -boundary)[..., :, 11:13].max()) == 0.0


def test_flow_finds_a_translation() -> None:
    from PIL import Image

    a = np.asarray(make_painting(96, 72, seed=3))
    b = np.roll(a, -3, axis=1)  # b(x) = a(x + 3)
    f = optical_flow(Image.fromarray(b), Image.fromarray(a))  # b(x) ~ a(x + f(x))
    assert f.shape == (72, 96, 2)
    assert float(np.median(f[8:-8, 8:-8, 0])) == pytest.approx(3, abs=0.3)
    assert abs(float(np.median(f[8:-8, 8:-8, 1]))) < 0.3


def test_temporal_term_is_one_more_entry() -> None:
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=1, precision="fp32"))
    x = t.initial_image()
    target = x.clone()
    target[..., :, :16] += 0.1
    mask = torch.ones(1, 1, *x.shape[-2:])
    mask[..., :, 8:16] = 0
    term = TemporalTerm(target, mask)
    assert float(TemporalTerm(x, mask)({}, x)) == 0
    assert float(term({}, x)) == pytest.approx(0.01 * 3 * 24 * 8 / x.numel(), rel=1e-4)  # masked half ignored
    base = float(t.losses(x)[0])
    t.criterion.append((term, 5.0))
    loss, parts = t.losses(x)
    assert float(loss) == pytest.approx(base + 5.0 * float(term({}, x)), rel=1e-5)
    assert parts.extra["temporal"] == pytest.approx(float(term({}, x)))
    later = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=2), terms=[(term, 5.0)])
    assert later.criterion[-1][0] is term  # at the final scale


def test_the_temporal_loss_lowers_flicker_on_the_sample_clip() -> None:
    frames = sample_clip(3, 64)
    opts = Options(size=64, iterations=12, precision="fp32")
    alone = [img for _, img, _ in stylize_frames(frames, make_painting(), opts, temporal_weight=0)]
    coherent = [img for _, img, _ in stylize_frames(frames, make_painting(), opts)]
    assert all(img.size == (64, 48) for img in coherent)
    assert flicker(coherent, frames) < 0.5 * flicker(alone, frames)
