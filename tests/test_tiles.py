"""Large prints by tiles: the geometry, the tiled criterion equals the whole one, a run forced to tiny tiles."""

from __future__ import annotations

import pytest
import torch

from stylegram import Options, StyleTransfer
from stylegram.cli import main
from stylegram.errors import StylegramError
from stylegram.options import memory_size
from stylegram.tiles import ALIGN, Tiled, feather, grid, pass_grids, plan_core

from .conftest import make_painting, make_photo


@pytest.mark.parametrize("offset", [(0, 0), (16, 32), (48, 0)])
def test_tile_cores_partition_the_image_on_the_16px_grid(offset) -> None:
    h, w, core = 100, 150, 64
    cover = torch.zeros(h, w, dtype=torch.int32)
    for t in grid(h, w, core, offset):
        cover[t.y0:t.y1, t.x0:t.x1] += 1
        assert t.y0 % ALIGN == 0 and t.x0 % ALIGN == 0 and t.wy0 % ALIGN == 0 and t.wx0 % ALIGN == 0
        assert t.wy0 <= t.y0 < t.y1 <= t.wy1 <= h and t.wx0 <= t.x0 < t.x1 <= t.wx1 <= w
    assert bool((cover == 1).all())  # every pixel in exactly one core


def test_feather_is_one_on_the_core_and_falls_to_zero_in_the_band() -> None:
    t = grid(200, 200, 64)[4]  # an inner tile: core 64:128 both ways
    wgt = feather(t, band=16)
    cy, cx = t.y0 - t.wy0, t.x0 - t.wx0
    assert float(wgt[cy:cy + 64, cx:cx + 64].min()) == 1.0
    assert float(wgt[cy - 8, cx + 10]) == pytest.approx(1 - 8 / 17)
    assert float(wgt[: cy - 16].max()) == 0.0  # beyond the band: context only
    edge = grid(200, 200, 64)[0]  # at the image's corner nothing lies beyond the core on that side
    assert float(feather(edge)[0, 0]) == 1.0


def test_the_tiled_criterion_is_the_whole_images() -> None:
    t = StyleTransfer(make_photo(96, 80), make_painting(), Options(size=96, scales=1, precision="fp32", tile=0))
    x = t.initial_image() + 0.05 * torch.rand(1, 3, 80, 96, generator=torch.Generator().manual_seed(0))
    whole = t.losses(x, full=True)[1]
    A, weights = dict(t.A), dict(t.layer_weights)
    tiled = Tiled(t, 32)
    tiled.prepare()  # A and the balanced weights again, from tiles
    for n in A:
        torch.testing.assert_close(t.A[n], A[n], rtol=1e-3, atol=1e-5)
    assert t.layer_weights == pytest.approx(weights, rel=1e-3)
    assert set(tiled.P) == {"conv4_2"} and tiled.P["conv4_2"].shape[-2:] == t.P["conv4_2"].shape[-2:]
    torch.testing.assert_close(tiled.P["conv4_2"], t.P["conv4_2"], rtol=1e-4, atol=1e-4)  # the photo's, whole
    parts = tiled.losses(x)
    assert parts.content == pytest.approx(whole.content, rel=1e-4)
    assert parts.style == pytest.approx(whole.style, rel=1e-3)
    assert parts.total == pytest.approx(whole.total, rel=1e-3)


def test_a_run_forced_into_tiny_tiles_paints_like_the_whole(tmp_path) -> None:
    photo, painting = make_photo(96, 72), make_painting()
    opts = dict(size=96, scales=1, precision="fp32", iterations=20, tol=0.0)
    whole = StyleTransfer(photo, painting, Options(**opts, tile=0))
    x_whole = whole.run()
    tiled = StyleTransfer(photo, painting, Options(**opts, tile=32, tile_passes=2, tile_iterations=10))
    assert tiled.cores == {96: 32} and tiled.tiled is not None
    seen = []
    x_tiled = tiled.run(lambda it: seen.append(it.iteration))
    assert seen == list(range(1, len(seen) + 1)) and len(seen) == sum(map(len, pass_grids(72, 96, 32, 2, 0, 0)))
    start = whole.losses(whole.initial_image(), full=True)[1].total
    a, b = (whole.losses(x, full=True)[1].total for x in (x_whole, x_tiled))
    assert a < start and b < start - 0.5 * (start - a)  # the tiles did the work
    assert b < 1.1 * a  # and got about as far as 20 iterations of the whole image did
    out = tmp_path / "tiled.png"
    assert main([str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out)]) == 2  # (inputs missing)
    photo.save(tmp_path / "c.png")
    painting.save(tmp_path / "s.png")
    assert main([str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out), "--size", "64", "--scales", "1",
                 "--tile", "32", "--tile-passes", "1", "--tile-iterations", "3", "--quiet"]) == 0
    assert out.is_file()


def test_memory_sizes_and_the_choice_to_tile() -> None:
    assert memory_size("16G") == 16 * 2**30 and memory_size("512M") == 512 * 2**20
    assert memory_size("1.5GiB") == int(1.5 * 2**30) and memory_size("8GB") == 8 * 2**30
    assert memory_size("4096") == 4096
    for bad in ("lots", "-1G", "0"):
        with pytest.raises(ValueError):
            memory_size(bad)
    cpu = torch.device("cpu")
    assert plan_core(512, 384, "fp32", cpu, 64 * 2**30, None) is None  # fits: whole
    core = plan_core(8192, 6144, "bf16", cpu, 16 * 2**30, None)
    assert core is not None and core % ALIGN == 0 and core >= 1024  # 8192 px in 16 GiB: tiles
    assert plan_core(8192, 6144, "bf16", cpu, 64 * 2**30, 0) is None  # --tile 0: never
    assert plan_core(300, 200, "fp32", cpu, None, 128) == 128 and plan_core(100, 80, "fp32", cpu, None, 128) is None
    with pytest.raises(StylegramError, match="would fit"):
        plan_core(60000, 45000, "fp32", cpu, 16 * 2**30, None)


def test_tile_zero_refuses_what_does_not_fit_and_mask_is_refused_in_tiles(tmp_path) -> None:
    with pytest.raises(StylegramError, match="would fit"):
        StyleTransfer(make_photo(), make_painting(), Options(size=4000, tile=0, max_memory=2**30))
    make_photo().convert("L").save(tmp_path / "mask.png")
    with pytest.raises(StylegramError, match="cannot be tiled"):
        StyleTransfer(make_photo(), [make_painting(), make_painting(seed=3)],
                      Options(size=64, scales=1, tile=32, mask=str(tmp_path / "mask.png")))
