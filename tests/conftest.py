from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylegram.network import VGG19, load_vgg19

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT.parent / "shared" / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def net() -> VGG19:
    return load_vgg19()


def make_photo(w: int = 80, h: int = 60, seed: int = 0) -> Image.Image:
    """A small synthetic 'photo': smooth gradients and a few solid shapes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    img = np.stack([xx, yy, 1 - xx * yy], -1)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.25)
        img[((xx - cx) ** 2 + (yy - cy) ** 2) < r * r] = rng.uniform(0, 1, 3)
    return Image.fromarray((img * 255).astype(np.uint8))


def make_painting(w: int = 64, h: int = 64, seed: int = 1) -> Image.Image:
    """A small synthetic 'painting': coloured stripes and noise, plenty of texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = (np.sin((xx + yy) / 3.0) > 0)[..., None]
    img = np.where(stripes, [230, 180, 30], [30, 50, 160]) + rng.normal(0, 25, (h, w, 3))
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    make_photo().save(content)
    make_painting().save(style)
    return content, style


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """in/photos/p0.png, p1.png (and a text file), in/paintings/s0.png, s1.png: for the batch tests."""
    d = tmp_path / "in"
    (d / "photos").mkdir(parents=True)
    (d / "paintings").mkdir()
    for k in range(2):
        make_photo(48, 40, seed=k).save(d / "photos" / f"p{k}.png")
        make_painting(40, 40, seed=k + 5).save(d / "paintings" / f"s{k}.png")
    (d / "photos" / "notes.txt").write_text("not an image, and not picked up by the folder")
    return d


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "stylegram", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
