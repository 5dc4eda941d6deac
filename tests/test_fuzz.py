"""Bounded fuzzing (hypothesis): image loading and option parsing either work or raise StylegramError.

A longer run by hand: STYLEGRAM_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import os
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylegram import Options, StylegramError
from stylegram.cli import build_parser, options_from_args
from stylegram.images import load_image

from .conftest import make_photo

EXAMPLES = int(os.environ.get("STYLEGRAM_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _seeds() -> list[bytes]:
    out = []
    for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 80}), ("GIF", {}), ("BMP", {}), ("WEBP", {}), ("TIFF", {})):
        buf = io.BytesIO()
        make_photo(24, 18).save(buf, format=fmt, **kw)
        out.append(buf.getvalue())
    return out


SEEDS = _seeds()


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) if draw(st.booleans()) else bytes(data)


@FUZZ
@given(data=st.one_of(mutated_image(), st.binary(max_size=300)))
def test_loading_any_bytes_gives_an_image_or_a_clear_error(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "input.img"
    path.write_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = load_image(path, "content", max_pixels=4_000_000)
    except StylegramError as e:
        assert str(e).startswith("content: ") and "\n" not in str(e)
        return
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.width * img.height <= 4_000_000


NUMERIC_FLAGS = ["--size", "--iterations", "--style-scale", "--lr", "--content-weight", "--style-weight",
                 "--tv-weight", "--seed", "--tol", "--scales", "--max-pixels", "--style-layer-weights",
                 "--style-layers", "--content-layers", "--precision", "--init"]
TOKENS = st.one_of(st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e309", "1,2", "", ",", "conv1_1", "1.5",
                                    "512", "64,128", "3", "auto", "bf16"]),
                   st.text(max_size=12), st.integers(-10**6, 10**6).map(str), st.floats().map(repr))


@FUZZ
@given(pairs=st.lists(st.tuples(st.sampled_from(NUMERIC_FLAGS), TOKENS), max_size=4))
def test_option_parsing_never_crashes(pairs: list[tuple[str, str]]) -> None:
    argv = ["c.png", "s.png", "-o", "o.png"] + [f"{flag}={value}" for flag, value in pairs]
    parser = build_parser()
    try:
        opts = options_from_args(parser.parse_args(argv))
    except SystemExit as e:  # argparse's one-line error
        assert e.code == 2
        return
    except StylegramError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(opts, Options)
    opts.validate()


@pytest.mark.parametrize("data", SEEDS[:2])
def test_seed_images_load(tmp_path, data: bytes) -> None:
    (tmp_path / "x").write_bytes(data)
    assert load_image(tmp_path / "x").size == (24, 18)
