"""The one-pass AdaIN picture: the decoder (shape, refusals), determinism, blending, strength, colour, tiles,
`stylegram preview` and `--init adain`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stylegram import Options, StyleTransfer
from stylegram.adain import AdaIN, adain, load_decoder, moments
from stylegram.cli import main
from stylegram.color import rgb_to_yiq
from stylegram.errors import StylegramError
from stylegram.images import load_image, to_tensor
from stylegram.preview import preview

from .conftest import make_painting, make_photo

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model() -> AdaIN:
    return AdaIN(CPU, "fp32")


def test_adain_moves_each_channel_to_the_paintings_mean_and_std() -> None:
    gen = torch.Generator().manual_seed(0)
    fc, fs = torch.rand(1, 8, 6, 7, generator=gen), 3 * torch.rand(1, 8, 5, 5, generator=gen) + 1
    t = adain(fc, fs)
    for a, b in zip(moments(t), moments(fs), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(adain(fc, fs, 0.0), fc)


@pytest.mark.parametrize("w,h", [(64, 48), (70, 45)])  # a size that is not a multiple of 8 too
def test_the_picture_has_the_photos_size_and_is_deterministic(model, w, h) -> None:
    p, a = to_tensor(make_photo(w, h)), to_tensor(make_painting())
    x = model.paint(p, [a], [1.0])
    assert x.shape == p.shape and float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(x, model.paint(p, [a], [1.0]))


def test_on_a_torus_the_picture_commutes_with_rolling_the_photo() -> None:
    torus = AdaIN(CPU, "fp32", wrap=True)
    p, a = to_tensor(make_photo(64, 48)), to_tensor(make_painting())
    shift = (16, 32)  # multiples of relu4_1's 8 px (and of the max pooling's grid)
    x, rolled = torus.paint(p, [a], [1.0]), torus.paint(p.roll(shift, (-2, -1)), [a], [1.0])
    torch.testing.assert_close(rolled, x.roll(shift, (-2, -1)), atol=1e-4, rtol=0)
    plain = AdaIN(CPU, "fp32")
    flat = plain.paint(p.roll(shift, (-2, -1)), [a], [1.0])
    assert float((flat - plain.paint(p, [a], [1.0]).roll(shift, (-2, -1))).abs().max()) > 0.05  # edges are edges


def test_blend_weights_strength_and_tiles(model) -> None:
    p, a, b = to_tensor(make_photo(96, 80)), to_tensor(make_painting()), to_tensor(make_photo(64, 64, seed=9))
    only_a = model.paint(p, [a], [1.0])
    torch.testing.assert_close(model.paint(p, [a, b], [1.0, 0.0]), only_a)
    half = model.paint(p, [a, b], [0.5, 0.5])
    assert 0.01 < float((half - only_a).abs().mean()) < float((model.paint(p, [b], [1.0]) - only_a).abs().mean())
    weak = model.paint(p, [a], [1.0], strength=0.2)
    assert float((weak - p).abs().mean()) < float((only_a - p).abs().mean())  # less of the painting
    tiled = model.paint(p, [a], [1.0], core=32)  # 32 px tiles, each decoded with its margin
    assert float((tiled - only_a).abs().mean()) < 0.02


def test_preserve_color_keeps_the_photos_chroma() -> None:
    opts = Options(size=64, preserve_color="luminance", precision="fp32")
    out = to_tensor(preview(make_photo(64, 48), make_painting(), opts).image)
    free = to_tensor(preview(make_photo(64, 48), make_painting(), opts.replace(preserve_color="none")).image)
    photo = to_tensor(make_photo(64, 48))
    chroma = lambda x: rgb_to_yiq(x)[:, 1:]  # noqa: E731
    assert float((chroma(out) - chroma(photo)).abs().mean()) < 0.5 * float((chroma(free) - chroma(photo)).abs().mean())


def test_a_missing_or_foreign_decoder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StylegramError, match="no such file"):
        load_decoder(str(tmp_path / "none.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not torch")
    with pytest.raises(StylegramError, match="not a weights file"):
        load_decoder(str(tmp_path / "junk.pth"))
    torch.save({"0.weight": torch.zeros(3, 3, 1, 1)}, tmp_path / "other.pth")
    with pytest.raises(StylegramError, match="not AdaIN's decoder"):
        load_decoder(str(tmp_path / "other.pth"))


@pytest.mark.parametrize("args,words", [
    (["--strength", "1.5"], "--strength must be a number in [0, 1]"),
    (["--strength", "-0.1"], "--strength"),
    (["--weights", "torchvision"], "needs --weights bundled"),
])
def test_preview_refusals_are_one_line_and_write_nothing(images, tmp_path: Path, capsys, args, words) -> None:
    content, style = images
    out = tmp_path / "p.png"
    assert main(["preview", str(content), str(style), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not out.exists()


def test_init_adain_is_refused_with_other_weights(images, tmp_path: Path, capsys) -> None:
    content, style = images
    out = tmp_path / "o.png"
    assert main([str(content), str(style), "-o", str(out), "--init", "adain", "--weights", "torchvision"]) == 2
    assert "--init adain needs --weights bundled" in capsys.readouterr().err and not out.exists()


def test_preview_command_writes_the_picture(images, tmp_path: Path, capsys) -> None:
    content, style = images
    out = tmp_path / "p.png"
    assert main(["preview", str(content), str(style), str(style), "-o", str(out), "--size", "48",
                 "--style-blend", "3,1"]) == 0
    assert load_image(out).size == (48, 36) and "for the picture" in capsys.readouterr().out


def test_init_adain_starts_from_the_preview_and_paints_on() -> None:
    opts = Options(size=64, scales=1, iterations=5, tol=0.0, init="adain", precision="fp32")
    t = StyleTransfer(make_photo(), make_painting(), opts)
    x0 = t.initial_image()
    expected = to_tensor(preview(make_photo(), make_painting(), opts).image)
    assert float((x0 - expected).abs().max()) <= 1 / 255 + 1e-6  # the same picture (up to 8-bit rounding)
    start = t.losses(x0, full=True)[1].total
    assert t.losses(t.run(), full=True)[1].total < start
