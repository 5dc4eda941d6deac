"""Bad input never crashes, nothing is ever destroyed: each case is one line on stderr, exit 2, no output.

Most cases run the CLI in-process (main(argv)): they are refused before the network loads, so the suite
stays fast. The subprocess tests in test_cli.py check the same contract end to end.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from stylegram.cli import main

from .conftest import make_painting, make_photo

TINY = ["--size", "32", "--iterations", "2"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Good inputs and every kind of bad file, in one directory."""
    d = tmp_path
    make_photo().save(d / "photo.png")
    make_painting().save(d / "paint.jpg", quality=95)
    (d / "empty.png").write_bytes(b"")
    (d / "notes.jpg").write_text("this is text, not a JPEG")
    jpg = (d / "paint.jpg").read_bytes()
    (d / "trunc.jpg").write_bytes(jpg[: len(jpg) // 2])
    buf = io.BytesIO()
    make_photo().save(buf, format="PNG")
    (d / "trunc.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (d / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    (d / "bomb.png").write_bytes(png_declaring(100_000, 100_000))
    Image.new("RGB", (1, 10000), (200, 100, 50)).save(d / "strip.png")
    Image.new("RGB", (1, 1), (200, 100, 50)).save(d / "dot.png")
    (d / "adir").mkdir()
    (d / "afile").write_text("x")
    return {p.name: p for p in d.iterdir()}


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims width x height (a decompression bomb's signature)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


# (argv with {names} of files, words the message must contain)
FILE_CASES = [
    (["{missing.png}", "{paint.jpg}"], "not found"),
    (["{photo.png}", "{missing.png}"], "not found"),
    (["{adir}", "{paint.jpg}"], "is a directory"),
    (["{empty.png}", "{paint.jpg}"], "empty file"),
    (["{photo.png}", "{empty.png}"], "empty file"),
    (["{trunc.jpg}", "{paint.jpg}"], "truncated"),
    (["{trunc.png}", "{paint.jpg}"], "truncated"),
    (["{notes.jpg}", "{paint.jpg}"], "not an image"),
    (["{drawing.svg}", "{paint.jpg}"], "not an image"),
    (["{bomb.png}", "{paint.jpg}"], "--max-pixels"),
    (["{photo.png}", "{bomb.png}"], "--max-pixels"),
    (["{photo.png}", "{paint.jpg}", "--max-pixels", "1000"], "--max-pixels"),
    (["{strip.png}", "{paint.jpg}"], "short side"),
    (["{photo.png}", "{strip.png}"], "short side"),
    (["{photo.png}", "{paint.jpg}", "--init", "{missing.png}"], "not found"),
    (["{photo.png}", "{paint.jpg}", "--mask", "{notes.jpg}"], "not an image"),
]
OUTPUT_CASES = [
    ("{photo.png}", "also an input"),
    ("{paint.jpg}", "also an input"),
    ("out.xyz", "unsupported extension"),
    ("out.gif", "unsupported extension"),
    ("out", "unsupported extension"),
    ("{adir}/../adir", "unsupported extension"),
    ("{afile}/o.png", "not a directory"),
    ("/proc/stylegram-test/o.png", "cannot write"),
]
NUMERIC = {  # flag: values that are refused (0 is refused only where it makes no sense)
    "--size": ["abc", "-1", "0", "nan", "inf", "8"],
    "--iterations": ["abc", "-1", "0", "nan", "1.5"],
    "--style-scale": ["abc", "-1", "0", "nan", "inf"],
    "--lr": ["x", "-0.1", "0", "nan", "inf"],
    "--content-weight": ["x", "-1", "nan", "inf"],
    "--style-weight": ["x", "-1", "nan", "-inf"],
    "--tv-weight": ["x", "-1", "nan", "inf"],
    "--seed": ["x", "-1", "nan"],
    "--tol": ["x", "-0.1", "nan", "inf", "1"],
    "--scales": ["x", "-1", "0", "64,32", "nan"],
    "--max-pixels": ["x", "-1", "0", "inf"],
    "--print-every": ["x", "-1", "nan"],
    "--save-every": ["x", "-1"],
    "--checkpoint-every": ["x", "-1"],
    "--style-layer-weights": ["x,1,1,1,1", "1,1,1,1,nan", "-1,1,1,1,1", "0,0,0,0,0", "1,1", "1,1,1,1,1,1"],
    "--style-blend": ["x", "nan", "-1"],
}
OTHER_CASES = [
    (["--style-layers", "conv1_1,conv9_9"], "unknown layer"),
    (["--content-layers", "relu4_2"], "unknown layer"),
    (["--style-layers", "conv1_1,conv1_1"], "twice"),
    (["--device", "tpu"], "--device"),
    (["--device", "cuda"], "no CUDA"),
    (["--optimizer", "sgd"], "--optimizer"),
    (["--precision", "fp8"], "--precision"),
    (["--pooling", "median"], "--pooling"),
    (["--preserve-color", "yes"], "--preserve-color"),
    (["--size", "60000"], "would fit"),
    (["--content-weight", "0", "--style-weight", "0"], "nothing to optimise"),
    (["--report", "r.txt"], ".json"),
    (["--no-such-flag"], "unrecognized"),
]


def _case_ids(cases):
    return [" ".join(a if isinstance(a, str) else " ".join(a) for a in c[:1]) for c in cases]


def _expand(arg: str, files: dict[str, Path]) -> str:
    for name, path in files.items():
        arg = arg.replace("{" + name + "}", str(path))
    return arg.replace("{missing.png}", str(next(iter(files.values())).parent / "missing.png"))


def _refused(argv: list[str], words: str, files: dict[str, Path], capsys, out: Path | None = None) -> None:
    d = next(iter(files.values())).parent
    before = snapshot(d)
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert words.lower() in err.lower(), err
    assert snapshot(d) == before  # inputs untouched, no output, no temp file left
    if out is not None:
        assert not out.exists()


@pytest.mark.parametrize("args,words", FILE_CASES, ids=_case_ids(FILE_CASES))
def test_bad_files(files, capsys, args, words) -> None:
    out = files["photo.png"].parent / "out.png"
    argv = [_expand(a, files) for a in args]
    _refused([*argv[:2], "-o", str(out), *TINY, *argv[2:]], words, files, capsys, out)


@pytest.mark.parametrize("output,words", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_bad_outputs(files, capsys, output, words) -> None:
    out = _expand(output, files)
    if not os.path.isabs(out):
        out = str(files["photo.png"].parent / out)
    _refused([str(files["photo.png"]), str(files["paint.jpg"]), "-o", out, *TINY], words, files, capsys)


@pytest.mark.parametrize("flag,value", [(f, v) for f, vs in NUMERIC.items() for v in vs])
def test_bad_numbers(files, capsys, flag, value) -> None:
    out = files["photo.png"].parent / "out.png"
    argv = [str(files["photo.png"]), str(files["paint.jpg"]), "-o", str(out), *TINY, f"{flag}={value}"]
    if flag == "--style-blend":
        argv.insert(2, str(files["paint.jpg"]))
    _refused(argv, flag.lstrip("-").split("-")[0] if value in ("x", "abc") else flag, files, capsys, out)


@pytest.mark.parametrize("args,words", OTHER_CASES, ids=[" ".join(c[0]) for c in OTHER_CASES])
def test_bad_options(files, capsys, args, words) -> None:
    out = files["photo.png"].parent / "out.png"
    argv = [str(files["photo.png"]), str(files["paint.jpg"]), "-o", str(out), *TINY, *args]
    _refused(argv, words, files, capsys, out)


def test_output_in_a_missing_directory_is_created(files, capsys) -> None:
    out = files["photo.png"].parent / "new" / "deeper" / "o.png"
    assert main([str(files["photo.png"]), str(files["paint.jpg"]), "-o", str(out), *TINY, "--quiet"]) == 0
    assert Image.open(out).size == (32, 24)


def _odd_images(d: Path) -> list[Path]:
    photo = make_photo()
    photo.convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray(__import__("numpy").asarray(photo.convert("L"), dtype="uint16") * 257).save(d / "deep.png")
    photo.convert("L").save(d / "grey.png")
    photo.convert("P", palette=Image.Palette.ADAPTIVE).save(d / "palette.png")
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(d / "alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(d / "rotated.jpg", exif=exif)
    frames = [photo, make_painting(80, 60)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.new("RGB", (6000, 4000), (90, 120, 200)).save(d / "large.png")  # 24 MP, allowed
    return [d / n for n in ("cmyk.jpg", "deep.png", "grey.png", "palette.png", "alpha.png", "rotated.jpg",
                            "anim.gif", "large.png")]


def test_odd_but_valid_images_work(tmp_path, capsys) -> None:
    paint = tmp_path / "paint.png"
    make_painting().save(paint)
    for k, img in enumerate(_odd_images(tmp_path)):
        out = tmp_path / f"out{k}.png"
        argv = [str(img), str(paint), "-o", str(out), "--size", "32", "--iterations", "1", "--scales", "1", "--quiet"]
        if img.name == "anim.gif":
            with pytest.warns(UserWarning, match="animated .* first frame"):
                status = main(argv)
        else:
            status = main(argv)
        err = capsys.readouterr().err
        assert status == 0, (img.name, err)
        expected = (24, 32) if img.name == "rotated.jpg" else (32, 21) if img.name == "large.png" else (32, 24)
        assert Image.open(out).size == expected, img.name
        assert "warning" not in err or img.name == "anim.gif", (img.name, err)


def test_tiny_content_image_is_upscaled(files, capsys) -> None:
    out = files["photo.png"].parent / "o.png"
    assert main([str(files["dot.png"]), str(files["paint.jpg"]), "-o", str(out), *TINY, "--quiet"]) == 0
    assert Image.open(out).size == (32, 32)
