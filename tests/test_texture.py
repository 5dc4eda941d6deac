"""`stylegram texture`: texture synthesis (Gatys, Ecker & Bethge 2015, the texture paper): the output's Gram
matrices approach the source's at every style layer from white noise, it is not a copy, Ctrl-C and --resume work
as for the main command, and a start that needs a photo is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from stylegram.choices import DEFAULT_STYLE_LAYERS
from stylegram.cli import main
from stylegram.images import to_tensor
from stylegram.losses import gram

from .conftest import ROOT, make_painting

FAST = ["--size", "32", "--scales", "1", "--iterations", "40", "--tol", "0", "--precision", "fp32", "--quiet"]


def grams(net, img: Image.Image) -> dict:
    f = net(to_tensor(img), DEFAULT_STYLE_LAYERS)
    return {layer: gram(f[layer])[0] / f[layer][0, 0].numel() for layer in DEFAULT_STYLE_LAYERS}


def gram_error(net, img: Image.Image, source: Image.Image) -> dict:
    """Per layer: |G - A| / |A| for the Gram matrices per position (so that sizes compare)."""
    g, a = grams(net, img), grams(net, source)
    return {layer: float((g[layer] - a[layer]).norm() / a[layer].norm()) for layer in DEFAULT_STYLE_LAYERS}


def best_match(img: Image.Image, source: Image.Image, patch: int = 8) -> float:
    """Mean over the output's patches of the squared error of the closest patch anywhere in the source."""
    o, s = (np.asarray(x.convert("RGB"), dtype=np.float32) / 255 for x in (img, source))
    candidates = sliding_window_view(s, (patch, patch, 3)).reshape(-1, patch * patch * 3)
    step = patch // 2
    errors = [((candidates - o[y:y + patch, x:x + patch].reshape(-1)) ** 2).mean(1).min()
              for y in range(0, o.shape[0] - patch + 1, step) for x in range(0, o.shape[1] - patch + 1, step)]
    return float(np.mean(errors))


def test_a_texture_matches_the_source_statistics_and_is_not_a_copy(net, tmp_path: Path) -> None:
    source = make_painting(32, 32)
    source.save(tmp_path / "source.png")
    out, report = tmp_path / "texture.png", tmp_path / "texture.json"
    assert main(["texture", str(tmp_path / "source.png"), "-o", str(out), "--report", str(report), *FAST]) == 0
    texture = Image.open(out).convert("RGB")
    assert texture.size == (32, 32)
    rng = np.random.default_rng(0)
    noise = Image.fromarray((rng.normal(0.5, 0.1, (32, 32, 3)).clip(0, 1) * 255).astype(np.uint8))
    ours, start = gram_error(net, texture, source), gram_error(net, noise, source)
    for layer in DEFAULT_STYLE_LAYERS:  # every layer much closer than where it started (white noise)
        assert ours[layer] < 0.6 * start[layer], (layer, ours, start)
    copy = source.crop((4, 4, 28, 28))
    assert best_match(copy, source) == 0.0
    assert best_match(texture, source) > 1e-3  # new arrangements, not pieces of the source
    assert json.loads(report.read_text())["options"]["content_weight"] == 0.0


def test_texture_larger_than_its_source(tmp_path: Path) -> None:
    make_painting(24, 16).save(tmp_path / "small.png")
    out = tmp_path / "big.png"
    assert main(["texture", str(tmp_path / "small.png"), "-o", str(out), *FAST[2:], "--size", "48",
                 "--iterations", "3"]) == 0
    assert Image.open(out).size == (48, 32)


@pytest.mark.parametrize("extra,words", [(["--init", "content"], "starts from a photo"),
                                         (["--init", "adain"], "starts from a photo"),
                                         (["--normalization", "balanced"], "a texture has none"),
                                         (["--content-weight", "1"], "unrecognized arguments")])
def test_texture_refuses_what_needs_a_photo(tmp_path: Path, capsys, extra, words) -> None:
    make_painting(24, 24).save(tmp_path / "source.png")
    before = sorted(tmp_path.iterdir())
    assert main(["texture", str(tmp_path / "source.png"), "-o", str(tmp_path / "t.png"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert sorted(tmp_path.iterdir()) == before


def test_the_palette_start_is_noise_in_the_paintings_colours(tmp_path: Path) -> None:
    from stylegram import Options, StyleTransfer

    make_painting(32, 32).save(tmp_path / "source.png")
    t = StyleTransfer(None, tmp_path / "source.png", Options.texture_defaults(size=32, init="palette"))
    x, a = t.initial_image(), t.scale.a
    assert torch.allclose(x.mean((2, 3)), a.mean((2, 3)), atol=0.03)  # the painting's mean colour
    assert float(x.std()) > 10 * 0.01  # not the faint noise of --init noise
    noise = StyleTransfer(None, tmp_path / "source.png", Options.texture_defaults(size=32)).initial_image()
    assert float((x - a).abs().mean()) > 0.1 and float(noise.std()) < 0.02  # not a copy of the painting


def test_ctrl_c_then_resume_finishes_a_texture(tmp_path: Path) -> None:
    from .test_interrupt import interrupt_at_pause, start_paused

    make_painting(32, 32).save(tmp_path / "source.png")
    out = tmp_path / "t.png"
    proc = start_paused("texture", str(tmp_path / "source.png"), "-o", str(out), *FAST, at="5")
    err = interrupt_at_pause(proc, signal.SIGINT)[1]
    ckpt = tmp_path / "t.ckpt"
    assert proc.returncode == 130 and out.exists() and ckpt.exists() and "--resume" in err, err
    done = subprocess.run([sys.executable, "-m", "stylegram", "--resume", str(ckpt), "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
