"""Image input of every common kind becomes RGB; output is atomic and by extension."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stylegram import StylegramError, load_image, save_image
from stylegram.images import resize_long_side, to_image, to_tensor


def test_grey_palette_cmyk_become_rgb(tmp_path) -> None:
    base = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    for mode, ext in (("L", "png"), ("P", "png"), ("CMYK", "jpg"), ("RGB", "webp")):
        path = tmp_path / f"x_{mode}.{ext}"
        base.convert(mode).save(path)
        img = load_image(path)
        assert img.mode == "RGB" and img.size == (30, 20)


def test_alpha_is_composited_over_white(tmp_path) -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (0, 0, 255, 255))
    rgba.save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.getpixel((1, 1)) == (255, 255, 255)
    assert img.getpixel((0, 0)) == (0, 0, 255)


def test_16bit_grey_is_scaled_not_clipped(tmp_path) -> None:
    arr = np.full((5, 5), 32768, dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    r, g, b = load_image(tmp_path / "g16.png").getpixel((2, 2))
    assert r == g == b and abs(r - 128) <= 1


def test_exif_orientation_is_applied(tmp_path) -> None:
    img = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_numpy_and_roundtrip() -> None:
    arr = np.random.default_rng(1).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    img = load_image(arr)
    assert np.array_equal(np.asarray(to_image(to_tensor(img))), arr)
    with pytest.raises(StylegramError, match="uint8"):
        load_image(arr.astype(np.float32))


def test_resize_long_side_keeps_aspect() -> None:
    assert resize_long_side(Image.new("RGB", (300, 200)), 150).size == (150, 100)


def test_bad_files_raise_one_clear_error(tmp_path) -> None:
    (tmp_path / "t.jpg").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    for path, words in ((tmp_path / "missing.png", "not found"), (tmp_path, "directory"),
                        (tmp_path / "t.jpg", "not an image"), (tmp_path / "empty.png", "empty file")):
        with pytest.raises(StylegramError, match=words):
            load_image(path)


def test_save_is_atomic_and_by_extension(tmp_path) -> None:
    img = Image.new("RGB", (8, 8), (1, 2, 3))
    for ext, fmt in (("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")):
        path = save_image(img, tmp_path / "sub" / f"o.{ext}")
        assert Image.open(path).format == fmt
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["o.jpg", "o.png", "o.webp"]  # no temp left
    with pytest.raises(StylegramError, match="extension"):
        save_image(img, tmp_path / "o.gifx")
