"""A clip across workers (video.chunks): chunks cut at shots and overlapping within one, cross-faded joins, the
command with --workers (audio kept), Ctrl-C and --resume per chunk, and its refusals."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2", reason="the video extra (pip install -e '.[video]')")
from stylegram.samples import sample_clip  # noqa: E402
from stylegram.video import OVERLAP  # noqa: E402
from stylegram.video.chunks import FRAME, Chunk, blend, chunk_length, plan_chunks, shot_cuts  # noqa: E402

from .conftest import free_port, make_painting, make_photo  # noqa: E402
from .test_video import clip_with_audio  # noqa: E402

TINY = ["--size", "32", "--iterations", "3", "--quiet"]


def test_chunks_cover_every_frame_overlap_within_a_shot_and_start_anew_at_a_cut() -> None:
    chunks = plan_chunks(30, [12], length=8, overlap=3)
    assert chunks[0] == Chunk(0, 8, 0) and chunks[1] == Chunk(5, 12, 3)  # the shot's end: a shorter chunk
    assert Chunk(12, 20, 0) in chunks  # the new shot starts its own chain, no overlap across the cut
    covered = sorted({k for c in chunks for k in range(c.start, c.end)})
    assert covered == list(range(30)) and all(c.end - c.start <= 8 for c in chunks)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start == a.end - b.lead and (b.lead == 0) == (b.start == 12)
    assert plan_chunks(10, [], chunk_length(10, 1)) == [Chunk(0, 10, 0)]  # one worker: one chain
    assert len(plan_chunks(40, [], chunk_length(40, 2))) == 2


def test_a_cut_is_found_and_a_pan_is_not() -> None:
    pan = sample_clip(8, 64)
    assert shot_cuts(pan) == []
    other = [make_photo(64, 48, seed=5).rotate(k) for k in range(5)]
    assert shot_cuts(pan + other) == [8]


def test_the_join_is_a_cross_fade_over_the_overlap(tmp_path: Path) -> None:
    chunks = [Chunk(0, 6, 0), Chunk(2, 8, 4)]
    for c, value in zip(chunks, (0, 250), strict=True):
        folder = tmp_path / f"chunk_{c.start:05d}_{c.end:05d}"
        folder.mkdir()
        for k in range(c.start, c.end):
            Image.new("RGB", (8, 8), (value,) * 3).save(folder / FRAME.format(k + 1))
    work = tmp_path / "work"
    work.mkdir()
    paths = blend(chunks, tmp_path, work)
    values = [int(np.asarray(Image.open(p))[0, 0, 0]) for p in paths]
    assert [p.name for p in paths] == [FRAME.format(k + 1) for k in range(8)]
    assert values == [0, 0, 50, 100, 150, 200, 250, 250]  # frames 2-5 fade from the first chunk to the second


def test_video_across_two_workers_keeps_every_frame_and_the_audio(tmp_path: Path) -> None:
    import av

    from stylegram.cli import main

    clip, style, out = tmp_path / "clip.mp4", tmp_path / "style.png", tmp_path / "out.mp4"
    n = OVERLAP + 6  # two chunks of OVERLAP + 3 frames
    clip_with_audio(clip, sample_clip(n, 64))
    make_painting().save(style)
    assert main(["video", str(clip), str(style), "-o", str(out), "--workers", "2", "--chunk-frames",
                 str(OVERLAP + 3), *TINY]) == 0
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == n and c.streams.audio
    assert not (tmp_path / "out.mp4.frames").exists()


def test_ctrl_c_keeps_done_chunks_and_resume_paints_only_the_rest(tmp_path: Path, monkeypatch) -> None:
    from stylegram.cli import main
    from stylegram.video import chunks

    folder, n, length = tmp_path / "frames", OVERLAP + 4, OVERLAP + 2  # two chunks
    args = ["video", "--demo", "-o", str(folder), "--frames", f"0:{n}", "--workers", "1", "--chunk-frames",
            str(length), *TINY]
    plan = plan_chunks(n, [], length)
    first = f"chunk_00000_{plan[0].end:05d}.json"
    write = chunks.write_chunk

    def write_then_interrupt(item, result, out) -> None:  # the first chunk on disk, then Ctrl-C (an event, no clock)
        write(item, result, out)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(chunks, "write_chunk", write_then_interrupt)
    assert main(args) == 130
    kept = sorted(p.name for p in (folder / "chunks").glob("chunk_*.json"))
    assert len(plan) == 2 and kept == [first]
    monkeypatch.setattr(chunks, "write_chunk", write)
    assert main(args) == 2  # no silent repaint without --resume
    shipped = []
    payload = chunks.chunk_payload
    monkeypatch.setattr(chunks, "chunk_payload", lambda item, *a: shipped.append(item.name) or payload(item, *a))
    assert main([*args, "--resume"]) == 0
    assert first not in shipped and len(shipped) == len(plan) - 1
    assert sorted(p.name for p in folder.iterdir()) == [FRAME.format(k + 1) for k in range(n)]


@pytest.mark.parametrize("extra,words", [(["--workers", "0"], "--workers must be >= 1"),
                                         (["--workers", "2", "--chunk-frames", str(OVERLAP)], "--chunk-frames"),
                                         (["--chunk-frames", "9"], "with --workers or --ray"),
                                         (["--workers", "2", "AUDIO"], "no video stream"),
                                         (["--ray=127.0.0.1:PORT"], "nothing answers at that address")])
def test_bad_input_across_workers_is_one_line(tmp_path: Path, capsys, extra, words) -> None:
    import av

    from stylegram.cli import main

    clip = tmp_path / "clip.mp4"
    clip_with_audio(clip, sample_clip(3, 32))
    sound = tmp_path / "sound.m4a"
    with av.open(str(clip)) as src, av.open(str(sound), "w") as dst:  # the clip's audio alone: no video stream
        out_stream = dst.add_stream_from_template(src.streams.audio[0])
        for packet in src.demux(src.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = out_stream
                dst.mux(packet)
    make_painting().save(tmp_path / "style.png")
    source = sound if "AUDIO" in extra else clip
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = ["video", str(source), str(tmp_path / "style.png"), "-o", str(tmp_path / "o.mp4"),
            *[e.replace("PORT", str(free_port())) for e in extra if e != "AUDIO"]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
