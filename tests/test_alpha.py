"""Transparency: an RGBA photo's alpha comes back on the output (PNG, WebP), flattened with one line for JPEG,
flattened everywhere with --alpha flatten; transparent pixels feed no Gram matrix (the photo's nor a painting's);
no colour bleeds into the edge; all-transparent inputs refused; the web page keeps alpha and grows textures."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from stylegram import Options, StyleTransfer
from stylegram.cli import main
from stylegram.images import split_alpha

from .conftest import make_painting, make_photo

FAST = ("--size", "48", "--iterations", "6", "--scales", "1")


def cutout(w: int = 64, h: int = 48, under: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """A cut-out: the photo inside a soft-edged disc, transparent around it, `under` where alpha is 0 (what many
    PNGs keep there: white or black)."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(xx - w / 2, yy - h / 2)
    alpha = np.clip((0.4 * h - r) * 80, 0, 255).astype(np.uint8)  # about 3 px of soft edge
    rgb = np.asarray(make_photo(w, h)).copy()
    rgb[alpha == 0] = under
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


@pytest.fixture
def rgba(tmp_path):
    photo, painting = tmp_path / "cutout.png", tmp_path / "painting.png"
    cutout().save(photo)
    make_painting(48, 48).save(painting)
    return photo, painting


@pytest.mark.parametrize("ext", ["png", "webp"])
def test_png_and_webp_keep_the_photos_alpha_resized_with_it(rgba, tmp_path, ext) -> None:
    photo, painting = rgba
    out = tmp_path / f"out.{ext}"
    assert main([str(photo), str(painting), "-o", str(out), *FAST, "--quiet"]) == 0
    result = Image.open(out)
    assert result.mode == "RGBA" and result.size == (48, 36)
    expected = np.asarray(Image.open(photo).getchannel("A").resize((48, 36), Image.Resampling.LANCZOS), np.int16)
    tolerance = 0 if ext == "png" else 3  # lossy WebP
    assert np.abs(np.asarray(result.getchannel("A"), np.int16) - expected).max() <= tolerance


def test_jpeg_is_flattened_with_one_line_and_flatten_turns_alpha_off(rgba, tmp_path) -> None:
    photo, painting = rgba
    out = tmp_path / "out.jpg"
    r = subprocess.run([sys.executable, "-W", "default", "-m", "stylegram", str(photo), str(painting), "-o", str(out),
                        *FAST, "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if "transparen" in line]
    assert len(said) == 1 and "flattened over white" in said[0] and "out.jpg" in said[0], r.stderr
    assert Image.open(out).mode == "RGB"
    corner = np.asarray(Image.open(out).convert("RGB"))[:3, :3].mean()
    assert corner > 200  # flattened over white: the transparent corner is white
    flat = tmp_path / "flat.png"
    assert main([str(photo), str(painting), "-o", str(flat), *FAST, "--alpha", "flatten", "--quiet"]) == 0
    assert Image.open(flat).mode == "RGB"


def test_all_transparent_photo_or_painting_is_refused(rgba, tmp_path, capsys) -> None:
    photo, painting = rgba
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (40, 30), (255, 0, 0, 0)).save(clear)
    for args, words in [((clear, painting), "content: every pixel is transparent"),
                        ((photo, clear), "style: every pixel is transparent")]:
        out = tmp_path / "out.png"
        assert main([*map(str, args), "-o", str(out), *FAST]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
        assert not out.exists()


def edge_and_inside(out: Image.Image) -> tuple[float, float]:
    """Mean brightness of the visible edge (alpha 30..225) and of the ring just inside it (alpha 255, within 4 px)."""
    a = np.asarray(out.getchannel("A"), np.float64)
    rgb = np.asarray(out.convert("RGB"), np.float64).mean(-1) / 255
    opaque = a == 255
    near = np.zeros_like(opaque)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            near |= np.roll(np.roll(a < 255, dy, 0), dx, 1)
    return float(rgb[(a > 30) & (a < 225)].mean()), float(rgb[opaque & near].mean())


def test_no_colour_bleeds_into_the_alpha_edge(tmp_path) -> None:
    """What lies under alpha 0 (white in one file, black in another) must not show at the edge: the two outputs'
    edges are as bright as the ring inside them, and as each other."""
    make_painting(48, 48).save(tmp_path / "painting.png")
    edges = {}
    for name, under in (("white", (255, 255, 255)), ("black", (0, 0, 0))):
        cutout(under=under).save(tmp_path / f"{name}.png")
        t = StyleTransfer(tmp_path / f"{name}.png", tmp_path / "painting.png",
                          Options(size=64, iterations=15, scales=1))
        edges[name] = edge_and_inside(t.render(t.run()))
    for edge, inside in edges.values():
        assert abs(edge - inside) < 0.1, edges
    assert abs(edges["white"][0] - edges["black"][0]) < 0.05, edges


def test_split_alpha_pulls_colour_in_from_opaque_pixels() -> None:
    img = cutout(under=(0, 255, 0))  # bright green under alpha 0
    rgb, alpha = split_alpha(img)
    arr = np.asarray(rgb, np.int16)
    a = np.asarray(alpha)
    assert alpha is not None and (arr[a == 255] == np.asarray(img.convert("RGB"), np.int16)[a == 255]).all()
    green = arr[..., 1] - (arr[..., 0] + arr[..., 2]) / 2
    assert green[a == 0].max() < 120  # no pure green left in the transparent area
    assert split_alpha(make_photo())[1] is None


def test_a_paintings_transparent_part_is_in_no_gram_matrix(tmp_path) -> None:
    """A painting whose right half is transparent (with white under it) gives nearly the Gram matrices of its left
    half alone; flattened, the white half changes them a lot."""
    paint = np.asarray(make_painting(64, 64)).copy()
    alpha = np.zeros((64, 64), np.uint8)
    alpha[:, :32] = 255
    paint[:, 32:] = 255
    Image.fromarray(np.dstack([paint, alpha]), "RGBA").save(tmp_path / "half.png")
    Image.fromarray(paint[:, :32]).save(tmp_path / "left.png")
    make_photo(64, 64).save(tmp_path / "photo.png")

    def targets(painting: str, **kw) -> dict:
        # both at long side 64: the opaque half of one is the other, pixel for pixel
        t = StyleTransfer(tmp_path / "photo.png", tmp_path / painting, Options(size=64, **kw))
        return {n: A.float() for n, A in t.scale.style.targets.items()}

    left, half, flat = targets("left.png"), targets("half.png"), targets("half.png", alpha="flatten")
    for n in ("conv1_1", "conv2_1", "conv3_1"):
        kept = float((half[n] - left[n]).norm() / left[n].norm())
        flattened = float((flat[n] - left[n]).norm() / left[n].norm())
        assert kept < 0.5 * flattened and kept < 0.3, (n, kept, flattened)


def test_the_web_page_keeps_alpha_and_grows_a_texture_with_no_photo(tmp_path) -> None:
    pytest.importorskip("fastapi", reason="the web extra")
    from fastapi.testclient import TestClient

    from stylegram.web.app import create_app

    from .test_serve import png, submit, wait

    with TestClient(create_app(tmp_path / "out")) as client:
        r = submit(client, {}, png(cutout()), [png(make_painting())])
        assert r.status_code == 201, r.text
        job = wait(client, r.json()["id"])
        result = Image.open(io.BytesIO(client.get(f"/api/jobs/{job['id']}/files/result.png").content))
        assert job["state"] == "done" and result.mode == "RGBA" and result.getchannel("A").getextrema() == (0, 255)
        fields = {f["name"]: f for f in client.get("/api/options").json()}
        assert fields["texture"]["choices"] == ["no", "yes"] and fields["seamless"]["choices"] == ["no", "yes"]
        assert fields["init"]["texture"] == "noise" and fields["alpha"]["choices"] == ["keep", "flatten"]
        r = submit(client, {"texture": "yes", "init": "noise", "normalization": "mean", "seamless": "yes"}, None,
                   [png(make_painting(40, 30))])
        assert r.status_code == 201, r.text
        job = wait(client, r.json()["id"])
        assert job["state"] == "done", job
        texture = Image.open(io.BytesIO(client.get(f"/api/jobs/{job['id']}/files/result.png").content))
        assert texture.mode == "RGB" and texture.size == (32, 24)
        r = submit(client, {"texture": "yes"}, None, [png(make_painting())])  # balanced needs a photo
        assert r.status_code == 422 and "a texture has none" in r.json()["fields"]["texture"], r.text


def test_batch_keeps_alpha_and_fails_an_all_transparent_photo_on_the_driver(rgba, tmp_path, capsys) -> None:
    from .test_batch import TINY, manifest

    photo, painting = rgba
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (40, 30), (255, 0, 0, 0)).save(clear)
    out = tmp_path / "out"
    assert main(["batch", str(photo), str(clear), "--style", str(painting), "-o", str(out), "--workers", "1",
                 "--quiet", *TINY]) == 1
    records = manifest(out)
    done = [n for n, r in records.items() if r["status"] == "done"]
    failed = [r for r in records.values() if r["status"] == "failed"]
    assert len(done) == 1 and Image.open(out / done[0]).mode == "RGBA"
    assert len(failed) == 1 and "every pixel is transparent" in failed[0]["error"] and failed[0]["attempts"] == 1
    assert failed[0].get("worker") is None  # refused on the driver: no worker painted it
    assert "Traceback" not in capsys.readouterr().err
