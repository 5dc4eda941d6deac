"""--seamless: the image is a torus in every part (network, pooling, TV, the pyramid's resampling, tiles), and the
output tiles without a seam; a mask whose edges do not meet is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylegram import Options, StyleTransfer
from stylegram.cli import main
from stylegram.images import periodic, seam_ratios, to_tensor
from stylegram.losses import StyleTerm, TVTerm, tv_loss
from stylegram.pieces import Piece
from stylegram.tiles import measure
from stylegram.transfer import upsample

from .conftest import make_painting, make_photo


def test_the_network_on_a_torus_commutes_with_rolling_the_image(net) -> None:
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    shift = (16, 32)  # a multiple of conv5_1's 16 px, so the rolled image lands on the same pooling grid
    layers = ("conv1_1", "conv3_1", "conv5_1")
    with torch.no_grad():
        a, b = net(x, layers, wrap=True), net(x.roll(shift, (-2, -1)), layers, wrap=True)
        flat = net(x.roll(shift, (-2, -1)), layers)
    for n in layers:
        k = 2 ** (int(n[4]) - 1)
        torch.testing.assert_close(b[n], a[n].roll((shift[0] // k, shift[1] // k), (-2, -1)), atol=2e-3, rtol=1e-3)
    # without the wrap the image's edges are edges: the rolled image's responses are not the rolled responses
    assert float((flat["conv1_1"] - a["conv1_1"].roll(shift, (-2, -1))).abs().max()) > 0.1


def test_tv_and_upsampling_wrap_around() -> None:
    x = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(1))
    tv = TVTerm()
    wrapped = tv.score(tv.statistics({}, x, Piece.whole(x, wrap=True)))
    assert float(wrapped) == pytest.approx(float(tv.score(tv.statistics({}, x.roll((7, 5), (-2, -1)),
                                                                      Piece.whole(x, wrap=True)))), rel=1e-5)
    assert float(wrapped) != pytest.approx(float(tv_loss(x)), rel=1e-3)  # the wrap's pairs count
    p = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(2))
    up, rolled = upsample(x, p, wrap=True), upsample(x.roll((3, 4), (-2, -1)), p.roll((6, 8), (-2, -1)), wrap=True)
    torch.testing.assert_close(rolled, up.roll((6, 8), (-2, -1)), atol=1e-5, rtol=0)


def test_the_periodic_component_meets_at_the_wrap_and_keeps_the_inside() -> None:
    p = 0.25 + 0.5 * to_tensor(make_photo(64, 48))  # mid-range, so clamping to [0, 1] changes nothing
    per = periodic(p)
    jump = float((p[..., :, 0] - p[..., :, -1]).abs().mean())
    assert float((per[..., :, 0] - per[..., :, -1]).abs().mean()) < 0.3 * jump

    def laplacian(t: torch.Tensor) -> torch.Tensor:
        return t[..., 1:-1, 2:] + t[..., 1:-1, :-2] + t[..., 2:, 1:-1] + t[..., :-2, 1:-1] - 4 * t[..., 1:-1, 1:-1]

    torch.testing.assert_close(laplacian(per), laplacian(p), atol=1e-4, rtol=0)  # the same detail inside


def test_tiles_on_a_torus_add_up_to_the_whole_image(net) -> None:
    x = torch.rand(1, 3, 96, 112, generator=torch.Generator().manual_seed(3))
    layers = {"conv1_1": 0.5, "conv3_1": 0.5}
    criterion = [(StyleTerm({}, layers), 1.0), (TVTerm(), 1.0)]

    def forward(t, names):
        return net(t, names, wrap=True)

    whole, tiled = measure(forward, criterion, x, None, wrap=True), measure(forward, criterion, x, 32, wrap=True)
    for n in layers:
        torch.testing.assert_close(tiled[0][n]["G"], whole[0][n]["G"], rtol=2e-3, atol=1e-2)
    assert float(tiled[1]["dx"]) == pytest.approx(float(whole[1]["dx"]), rel=1e-5)
    assert tiled[1]["nx"] == whole[1]["nx"] == 96 * 112 * 3  # every pixel has a right neighbour on a torus


def _photo_with_a_seam(tmp_path):
    """A photo whose left and right (top and bottom) edges are far apart: gradients under shapes."""
    path = tmp_path / "photo.png"
    make_photo(64, 48).save(path)
    make_painting(48, 48).save(tmp_path / "painting.png")
    return path, tmp_path / "painting.png"


@pytest.mark.parametrize("tile", [None, 32])
def test_a_seamless_output_tiles_without_a_seam(tmp_path, tile) -> None:
    photo, painting = _photo_with_a_seam(tmp_path)
    base = Options(size=64, iterations=12, scales=2, tile=tile, tile_passes=1, tile_iterations=4, tv_weight=1.0)
    ratios = {}
    for seamless in (False, True):
        t = StyleTransfer(photo, painting, base.replace(seamless=seamless))
        ratios[seamless] = seam_ratios(t.render(t.run()))
    assert min(ratios[False]) > 4, ratios  # the photo's jump stays where the edges meet
    assert max(ratios[True]) < 2.5, ratios  # across the wrap, about what neighbours inside differ by


def test_seamless_with_a_mask_whose_edges_do_not_meet_is_refused(tmp_path, capsys) -> None:
    photo, painting = _photo_with_a_seam(tmp_path)
    mask = np.zeros((48, 64), np.uint8)
    mask[:, :32] = 255  # white on the left, black on the right: the regions would meet in a seam
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.png"
    args = [str(photo), str(painting), str(painting), "-o", str(out), "--size", "32", "--seamless", "--mask",
            str(tmp_path / "mask.png"), "--iterations", "2", "--scales", "1", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--seamless --mask" in err[0] and "left and right" in err[0], err
    assert not out.exists()
    mask[:, :] = 0
    mask[:24] = 255  # top white, then black, then white again at the bottom: every pair of edges meets
    mask[40:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    assert main(args) == 0 and out.exists()
