"""Perceptual controls (Gatys et al. 2017): colour, several styles, regions. Each test fails if its control breaks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegram import Options, StyleTransfer, stylize
from stylegram.color import _stats, match_histogram, rgb_to_yiq
from stylegram.images import to_tensor
from stylegram.losses import gram_per_position, layer_style_loss

from .conftest import make_painting, make_photo, run_cli

# one scale, and eq. 5 as written with its beta: each test is about its control, in the loss it was written for
FAST = {"size": 48, "iterations": 6, "scales": 1, "tol": 0.0, "normalization": "mean", "style_weight": 40.0,
        "pooling": "avg"}


def _bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _flat_painting(colour: tuple[int, int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.array(colour) + rng.normal(0, 6, (40, 40, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def test_luminance_keeps_the_photos_chroma_and_changes_its_luminance() -> None:
    photo = make_photo()
    out = stylize(photo, make_painting(), preserve_color="luminance", init="content", **FAST)
    ref = photo.resize(out.size, Image.Resampling.LANCZOS)
    yiq_out, yiq_ref = rgb_to_yiq(to_tensor(out)), rgb_to_yiq(to_tensor(ref))
    chroma_err = (yiq_out[:, 1:] - yiq_ref[:, 1:]).abs().mean().item()
    luma_change = (yiq_out[:, :1] - yiq_ref[:, :1]).abs().mean().item()
    assert chroma_err < 0.02, chroma_err
    assert luma_change > 0.03, luma_change
    plain = stylize(photo, make_painting(), init="content", **FAST)
    plain_err = (rgb_to_yiq(to_tensor(plain))[:, 1:] - yiq_ref[:, 1:]).abs().mean().item()
    assert plain_err > 2 * chroma_err  # without the control, the painting's colours come in


def test_histogram_matches_mean_and_covariance_exactly() -> None:
    content, style = to_tensor(make_photo()), to_tensor(make_painting())
    recoloured = match_histogram(style, content)
    mu_r, cov_r = _stats(recoloured)
    mu_c, cov_c = _stats(content)
    assert torch.allclose(mu_r, mu_c, atol=1e-5)
    assert torch.allclose(cov_r, cov_c, atol=1e-5)
    mu_s, _ = _stats(style)
    assert not torch.allclose(mu_s, mu_c, atol=1e-2)  # it really moved


def test_histogram_mode_recolours_the_style_targets() -> None:
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, preserve_color="histogram"))
    plain = StyleTransfer(make_photo(), make_painting(), Options(size=32))
    assert not torch.allclose(t.scale.style.targets["conv1_1"], plain.scale.style.targets["conv1_1"])


def test_blend_one_zero_is_the_first_style_and_half_half_differs() -> None:
    a, b = make_painting(seed=1), _flat_painting((200, 40, 40), 2)
    single = _bytes(stylize(make_photo(), a, **FAST))
    one_zero = _bytes(stylize(make_photo(), [a, b], style_blend=(1, 0), **FAST))
    half = _bytes(stylize(make_photo(), [a, b], style_blend=(0.5, 0.5), **FAST))
    only_b = _bytes(stylize(make_photo(), b, **FAST))
    assert single == one_zero
    assert half != single and half != only_b


def test_white_mask_is_the_first_style_alone(tmp_path: Path) -> None:
    Image.new("L", (20, 20), 255).save(tmp_path / "white.png")
    a, b = make_painting(seed=1), _flat_painting((200, 40, 40), 2)
    single = _bytes(stylize(make_photo(), a, **FAST))
    masked = _bytes(stylize(make_photo(), [a, b], mask=str(tmp_path / "white.png"), **FAST))
    assert single == masked


def test_half_mask_gives_each_half_its_own_style(tmp_path: Path) -> None:
    mask = np.zeros((48, 48), np.uint8)
    mask[:, :24] = 255
    Image.fromarray(mask).save(tmp_path / "half.png")
    blue, red = _flat_painting((30, 60, 200), 1), _flat_painting((210, 50, 30), 2)
    opts = Options(size=48, iterations=25, mask=str(tmp_path / "half.png"), init="content", style_weight=1000)
    t = StyleTransfer(make_photo(48, 48), [blue, red], opts)
    x = t.run()
    left, right = x[..., :, 4:20], x[..., :, 28:44]  # away from the seam
    targets = t.scale.style.targets

    def dist(part: torch.Tensor, k: int) -> float:
        F = t.net(part, ["conv1_1"])["conv1_1"]
        N, M = F.shape[1], F.shape[2] * F.shape[3]
        return layer_style_loss(gram_per_position(F) * M, targets[k]["conv1_1"] * M, N, M).item()

    with torch.no_grad():
        assert dist(left, 0) < dist(left, 1)
        assert dist(right, 1) < dist(right, 0)
        assert left[0, 2].mean() > right[0, 2].mean() and right[0, 0].mean() > left[0, 0].mean()


@pytest.mark.parametrize("extra,words", [
    (["--style-blend", "1,2,3"], "3 weights for 2 style images"),
    (["--style-blend", "1,-1"], "--style-blend"),
    (["--mask", "{bad}"], "mask"),
    (["--preserve-color", "sepia"], "preserve-color"),
])
def test_bad_combinations_one_line_exit_2(images, tmp_path: Path, extra, words) -> None:
    content, style = images
    (tmp_path / "bad.png").write_text("no")
    out = tmp_path / "o.png"
    args = [a.format(bad=tmp_path / "bad.png") for a in extra]
    r = run_cli(str(content), str(style), str(style), "-o", str(out), "--size", "32", "--iterations", "1", *args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert words in r.stderr
    assert not out.exists()


def test_cli_original_colors_and_two_styles(images, tmp_path: Path) -> None:
    content, style = images
    out = tmp_path / "o.png"
    r = run_cli(str(content), str(style), str(style), "-o", str(out), "--original-colors", "--style-blend", "2,1",
                "--size", "32", "--iterations", "2", "--report", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    import json

    opts = json.loads((tmp_path / "r.json").read_text())["options"]
    assert opts["preserve_color"] == "luminance" and opts["style_blend"] == [2.0, 1.0]
