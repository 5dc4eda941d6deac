"""The fast path's parts: precision choice, --tol, scale lists, checkpointing, memory estimate, NaN recovery."""

from __future__ import annotations

import math

import pytest
import torch

import stylegram.hardware as hw
from stylegram import Options, StylegramError, StyleTransfer
from stylegram.network import load_vgg19
from stylegram.optimize import MAX_FAILURES, NonFiniteLoss, converged

from .conftest import make_painting, make_photo


def test_auto_precision_is_fp32_without_fast_bf16(monkeypatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(hw, "cpu_has_fast_bf16", lambda: False)
    assert hw.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(hw, "cpu_has_fast_bf16", lambda: True)
    assert hw.resolve_precision("auto", cpu) == "bf16"
    assert hw.resolve_precision("fp32", cpu) == "fp32"  # an explicit choice always wins


def test_bf16_gives_nearly_the_fp32_loss_and_fp32_gradients() -> None:
    opts = Options(size=32, precision="fp32")
    t32 = StyleTransfer(make_photo(), make_painting(), opts)
    t16 = StyleTransfer(make_photo(), make_painting(), opts.replace(precision="bf16"))
    x = t32.scale.p.clone().mul(0.8).add(0.1).requires_grad_(True)
    l32, _ = t32.losses(x)
    (g32,) = torch.autograd.grad(l32, x)
    l16, parts = t16.losses(x)
    (g16,) = torch.autograd.grad(l16, x)
    assert l16.dtype == torch.float32 and g16.dtype == torch.float32
    assert float(l16.detach()) == pytest.approx(float(l32.detach()), rel=0.05)
    assert torch.nn.functional.cosine_similarity(g16.flatten(), g32.flatten(), dim=0) > 0.95
    assert t16.scale.content.targets["conv4_2"].dtype == torch.float32  # targets kept in fp32


def test_tol_stops_each_scale_early_and_zero_runs_all() -> None:
    def count(tol: float) -> int:
        n = []
        t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=1, iterations=150, tol=tol))
        t.run(lambda it: n.append(it.iteration))
        return len(n)

    assert count(0.0) == 150
    assert 10 < count(0.05) < 150  # a loose tolerance stops once the loss flattens


def test_converged_rule_and_the_scale_that_ends_early_says_so() -> None:
    flat = [1.0] * 12
    falling = [2.0 - 0.1 * k for k in range(12)]
    assert converged(flat, 0.01) and not converged(falling, 0.01) and not converged(flat[:5], 0.01)
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=2, iterations=200, tol=0.05))
    seen = list(t.iterate())
    assert [it.ended for it in seen if it.ended] == ["converged", "converged"]
    assert seen[-1].iteration == seen[-1].iterations < 400  # the total shrinks to what was done: 100 % at the end
    assert all(a.iterations >= b.iterations for a, b in zip(seen, seen[1:], strict=False))


def test_scale_list_option_and_cli_parsing() -> None:
    from stylegram.cli import build_parser, options_from_args

    assert Options(size=200, scales=(50, 100, 200)).scale_sizes() == [50, 100, 200]
    assert Options(size=512).scale_sizes() == [128, 256, 512]
    ns = build_parser().parse_args(["c.png", "s.png", "-o", "o.png", "--scales", "64,128,300"])
    opts = options_from_args(ns)
    assert opts.scales == (64, 128, 300) and opts.size == 300  # the list's last entry is the size
    for bad in ((100, 50, 512), (64, 128), (8, 512)):
        with pytest.raises(StylegramError, match="--scales"):
            Options(size=512, scales=bad)


def test_checkpointed_network_gives_the_same_gradient() -> None:
    net = load_vgg19()
    x = torch.rand(1, 3, 40, 48, requires_grad=True)
    layers = ("conv1_1", "conv3_1", "conv4_2", "conv5_1")
    grads = []
    for ckpt in (False, True):
        feats = net(x, layers, checkpoint=ckpt)
        (g,) = torch.autograd.grad(sum((f * f).mean() for f in feats.values()), x)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1])


def test_lbfgs_history_shrinks_for_large_images() -> None:
    assert hw.lbfgs_history(512 * 384) == 100
    assert 5 <= hw.lbfgs_history(2048 * 1536) < 30
    assert hw.estimate_bytes(2048, 1536) < 8 * 2**30  # the 2048 px within 8 GB


def test_size_that_does_not_fit_is_refused_with_one_that_does() -> None:
    with pytest.raises(StylegramError, match=r"--size 4000 .* needs about .* GiB .* --size \d+ would fit"):
        hw.check_fits(4000, 3000, 4000, "fp32", torch.device("cpu"), available=4 * 2**30)
    hw.check_fits(400, 300, 400, "fp32", torch.device("cpu"), available=4 * 2**30)  # fits: no error


def poisoned(monkeypatch, iterations: int, bad, value: float) -> StyleTransfer:
    """A 32 px transfer whose evaluations number n (from 1) return `value` wherever bad(n) holds."""
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=1, iterations=iterations, tol=0.0))
    real = t.losses
    calls = {"n": 0}

    def evaluate(x, full=False):
        calls["n"] += 1
        loss, parts = real(x, full)
        if bad(calls["n"]):
            return loss * value, parts.__class__(parts.content, value, parts.tv, value)
        return loss, parts

    monkeypatch.setattr(t, "losses", evaluate)
    return t


def test_nan_loss_recovers_from_the_last_good_iterate(monkeypatch) -> None:
    t = poisoned(monkeypatch, 12, lambda n: n in (4, 7), math.nan)
    seen = []
    x = t.run(lambda it: seen.append(it.losses.total))
    assert torch.isfinite(x).all() and t.progress.failures == 2
    assert all(math.isfinite(v) for v in seen) and seen[-1] < seen[0]


def test_nan_forever_stops_with_the_last_good_image(monkeypatch) -> None:
    t = poisoned(monkeypatch, 20, lambda n: n > 3, math.inf)
    with pytest.raises(NonFiniteLoss) as err:
        t.run()
    assert t.progress.failures == MAX_FAILURES
    assert torch.isfinite(err.value.x).all() and err.value.x.shape == t.scale.p.shape
