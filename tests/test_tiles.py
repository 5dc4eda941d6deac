"""Large prints by tiles: the geometry, the tiled criterion equals the whole one, a run forced to tiny tiles."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from stylegram import Options, StyleTransfer
from stylegram.cli import main
from stylegram.errors import StylegramError
from stylegram.images import save_image, to_image, to_tensor
from stylegram.losses import TemporalTerm, TVTerm
from stylegram.optimize import Progress
from stylegram.parsers import memory_size
from stylegram.tiles import ALIGN, feather, grid, pass_grids, plan_core

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


def _whole_and_tiled(photo, painting, tmp_path=None, **opts):
    """The same transfer planned whole and in 32 px tiles."""
    base = dict(size=96, scales=1, precision="fp32", **opts)
    return (StyleTransfer(photo, painting, Options(**base, tile=0)),
            StyleTransfer(photo, painting, Options(**base, tile=32)))


def test_the_tiled_criterion_is_the_whole_images(tmp_path) -> None:
    make_photo(96, 80, seed=4).convert("L").save(tmp_path / "mask.png")
    for extra in ({}, {"mask": str(tmp_path / "mask.png")}, {"tv_weight": 3.0}):
        styles = [make_painting(), make_painting(seed=3)] if extra.get("mask") else make_painting()
        whole, tiled = _whole_and_tiled(make_photo(96, 80), styles, **extra)
        assert whole.scale.core is None and tiled.scale.core == 32
        for a, b in ((whole.scale.style, tiled.scale.style), (whole.scale.content, tiled.scale.content)):
            ta, tb = (a.targets if isinstance(a.targets, list) else [a.targets]), (
                b.targets if isinstance(b.targets, list) else [b.targets])
            for x, y in zip(ta, tb, strict=True):  # A and P, made from tiles
                for n in x:
                    torch.testing.assert_close(x[n], y[n], rtol=1e-3, atol=1e-4)
        assert tiled.scale.style.layer_weights == pytest.approx(whole.scale.style.layer_weights, rel=1e-3)
        x = whole.initial_image() + 0.05 * torch.rand(1, 3, 80, 96, generator=torch.Generator().manual_seed(0))
        save_image(to_image(x), tmp_path / "x.png")
        a, b = whole.evaluate(tmp_path / "x.png"), tiled.evaluate(tmp_path / "x.png")  # tiled: added up per tile
        for part in ("content", "style", "tv", "total"):
            assert getattr(b, part) == pytest.approx(getattr(a, part), rel=1e-3, abs=1e-6), (extra, part)


def test_the_temporal_term_adds_up_over_tiles() -> None:
    x = torch.rand(1, 3, 80, 96, generator=torch.Generator().manual_seed(1))
    target, weights = torch.rand_like(x), (torch.rand(1, 1, 80, 96) > 0.3).float()
    term = TemporalTerm(target, weights)
    whole = float(term({}, x))
    sums = [term.statistics({}, t.window(x), t) for t in grid(80, 96, 32, (16, 0))]
    total = {"sum": sum(s["sum"] for s in sums), "count": sum(s["count"] for s in sums)}
    assert float(term.score(total)) == pytest.approx(whole, rel=1e-5)
    assert float(TVTerm().score({k: sum(TVTerm().statistics({}, t.window(x), t)[k] for t in grid(80, 96, 32))
                                 for k in ("dx", "nx", "dy", "ny")})) == pytest.approx(float(TVTerm()({}, x)), rel=1e-5)


def test_a_run_forced_into_tiny_tiles_paints_like_the_whole(tmp_path) -> None:
    photo, painting = make_photo(96, 72), make_painting()
    opts = dict(size=96, scales=1, precision="fp32", iterations=20, tol=0.0)
    whole = StyleTransfer(photo, painting, Options(**opts, tile=0))
    x_whole = whole.run()
    tiled = StyleTransfer(photo, painting, Options(**opts, tile=32, tile_passes=2, tile_iterations=10))
    assert tiled.plan == {96: 32} and tiled.scale.core == 32
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
                 "--tile", "32", "--tile-passes", "1", "--tile-iterations", "3", "--quiet", "--report",
                 str(tmp_path / "r.json")]) == 0
    assert out.is_file()
    scale = json.loads((tmp_path / "r.json").read_text())["scales"][0]  # the report says how it was tiled
    assert scale["tiles"]["core"] == 32 and scale["tiles"]["margin"] == 64 and scale["tiles"]["passes"] == 1
    assert scale["ended"] == "tiles" and scale["tiles"]["visits"] == len(pass_grids(48, 64, 32, 1, 0, 0)[0])


def test_memory_sizes_and_the_choice_to_tile() -> None:
    assert memory_size("16G") == 16 * 2**30 and memory_size("512M") == 512 * 2**20
    assert memory_size("1.5GiB") == int(1.5 * 2**30) and memory_size("8GB") == 8 * 2**30
    assert memory_size("4096") == 4096
    for bad in ("lots", "-1G", "0"):
        with pytest.raises(ValueError):
            memory_size(bad)
    cpu = torch.device("cpu")
    assert plan_core(512, 384, 512, "fp32", cpu, 64 * 2**30, None) is None  # fits: whole
    core = plan_core(8192, 6144, 8192, "bf16", cpu, 16 * 2**30, None)
    assert core is not None and core % ALIGN == 0 and core >= 1024  # 8192 px in 16 GiB: tiles
    assert plan_core(8192, 6144, 8192, "bf16", cpu, 64 * 2**30, 0) is None  # --tile 0: never
    assert plan_core(300, 200, 300, "fp32", cpu, None, 128) == 128
    assert plan_core(100, 80, 100, "fp32", cpu, None, 128) is None
    with pytest.raises(StylegramError, match="would fit"):
        plan_core(60000, 45000, 60000, "fp32", cpu, 16 * 2**30, None)
    # the messages name the --size asked for (not a coarser scale's) and never suggest one below 16 px
    with pytest.raises(StylegramError, match=r"^--size 100000 \(100000x75000\).*--size \d+ would fit"):
        StyleTransfer(make_photo(), make_painting(), Options(size=100000, max_memory=16 * 2**30))
    with pytest.raises(StylegramError, match="--size 64 .*no --size fits") as e:
        StyleTransfer(make_photo(), make_painting(), Options(size=64, max_memory=1024))
    assert "--size 2 " not in str(e.value)


def test_tile_zero_refuses_what_does_not_fit_and_a_masked_run_paints_in_tiles(tmp_path) -> None:
    with pytest.raises(StylegramError, match="would fit"):
        StyleTransfer(make_photo(), make_painting(), Options(size=4000, tile=0, max_memory=2**30))
    mask = Image.new("L", (96, 72), 0)
    mask.paste(255, (0, 0, 48, 72))
    mask.save(tmp_path / "mask.png")
    styles = [make_painting(), make_painting(seed=3)]
    opts = dict(size=96, scales=1, precision="fp32", iterations=20, tol=0.0, mask=str(tmp_path / "mask.png"))
    whole = StyleTransfer(make_photo(96, 72), styles, Options(**opts, tile=0))
    tiled = StyleTransfer(make_photo(96, 72), styles, Options(**opts, tile=32, tile_passes=2, tile_iterations=10))
    a = whole.losses(whole.run(), full=True)[1].total
    tiled.run()
    save_image(to_image(tiled.progress.x), tmp_path / "tiled.png")
    b = whole.evaluate(tmp_path / "tiled.png").total  # scored whole
    assert b < 1.1 * a  # a masked run in tiles gets about as far as the whole image does


def test_a_video_frame_forced_into_tiles_scores_like_the_whole_frame() -> None:
    pytest.importorskip("cv2", reason="the video extra")
    from stylegram.samples import sample_clip
    from stylegram.video.flow import optical_flow, reliable, warp

    frames = sample_clip(2, 96)
    first = to_tensor(frames[0])  # the previous painted frame: any image does for the loss's bookkeeping
    back, fwd = optical_flow(frames[1], frames[0]), optical_flow(frames[0], frames[1])
    target, c = warp(first, back), reliable(back, fwd, to_tensor(frames[1]), to_tensor(frames[0]))
    totals = []
    for tile in (0, 32):
        term = TemporalTerm(target, c)
        opts = Options(size=96, scales=1, precision="fp32", iterations=10, tol=0.0, tile=tile, tile_passes=1,
                       tile_iterations=10)
        t = StyleTransfer(frames[1], make_painting(), opts, terms=[(term, 200.0)])
        assert t.scale.core == (tile or None)
        start = c * target + (1 - c) * t.initial_image()
        x = t.run(resume=Progress(x=start))
        totals.append(t.losses(x, full=True)[1] if tile == 0 else None)
        if tile:
            whole = StyleTransfer(frames[1], make_painting(), opts.replace(tile=0), terms=[(term, 200.0)])
            totals[-1] = whole.losses(x, full=True)[1]  # the tiled frame, scored whole
    assert totals[1].extra["temporal"] > 0 and totals[1].total < 1.1 * totals[0].total
