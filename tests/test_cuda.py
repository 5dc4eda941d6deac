"""The CUDA path (run by benchmarks/gpu.py, `pytest -m cuda`; skipped on a machine without CUDA)."""

from __future__ import annotations

import pytest
import torch

from stylegram import Options, StyleTransfer
from stylegram.preview import preview

from .conftest import make_painting, make_photo

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_transfer_on_cuda_lowers_the_loss(precision) -> None:
    t = StyleTransfer(make_photo(), make_painting(), Options(size=64, device="cuda", precision=precision,
                                                                 iterations=20, tol=0.0))
    assert t.device.type == "cuda" and t.scale.p.is_cuda
    start = t.losses(t.initial_image(), full=True)[1].total
    assert t.losses(t.run(), full=True)[1].total < start


def test_tiles_and_the_preview_on_cuda() -> None:
    t = StyleTransfer(make_photo(96, 72), make_painting(), Options(size=96, scales=1, device="cuda", tile=32,
                                                                   tile_passes=1, tile_iterations=3))
    assert t.scale.core == 32 and t.run().is_cuda
    p = preview(make_photo(), make_painting(), Options(size=64, device="cuda"))
    assert p.image.size == (64, 48)
