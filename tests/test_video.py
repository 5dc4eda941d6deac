"""Video groundwork (Ruder et al. 2016): flow warping, the reliability mask, the temporal term as one more
criterion entry, and less flicker than frame-by-frame on the synthetic clip."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch

pytest.importorskip("cv2", reason="the video extra (pip install -e '.[video]')")
from stylegram import Options, StyleTransfer  # noqa: E402
from stylegram.losses import TemporalTerm  # noqa: E402
from stylegram.samples import sample_clip  # noqa: E402
from stylegram.video.flow import optical_flow, reliable, warp  # noqa: E402
from stylegram.video.frames import flicker, stylize_frames  # noqa: E402

from .conftest import make_painting, make_photo  # noqa: E402


def test_warp_by_a_constant_flow_is_a_shift() -> None:
    x = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(0))
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 2  # each pixel came from two pixels to its right
    torch.testing.assert_close(warp(x, flow)[..., :, :-2], x[..., :, 2:])


def test_reliable_where_flows_agree_and_not_where_they_do_not() -> None:
    back = np.zeros((24, 24, 2), np.float32)
    back[..., 0] = 3
    fwd = -back
    assert float(reliable(back, fwd)[..., 2:-2, 2:-6].min()) == 1.0
    assert float(reliable(back, back).mean()) == 0.0  # forward = backward: nothing is consistent
    boundary = back.copy()
    boundary[:, 12:] = -3  # two motions meet at column 12
    assert float(reliable(boundary, -boundary)[..., :, 11:13].max()) == 0.0


def test_reliable_excludes_what_came_in_from_outside_the_frame() -> None:
    back = np.zeros((24, 24, 2), np.float32)
    back[..., 0] = 3  # a pan: each pixel came from 3 to its right; the right 3 columns were outside the frame
    c = reliable(back, -back)
    assert float(c[..., :, 21:].max()) == 0.0  # the warp would smear the border there
    assert float(c[..., 2:-2, 2:17].min()) == 1.0


def test_reliable_excludes_what_the_warp_drags_across_an_edge() -> None:
    still = np.zeros((24, 24, 2), np.float32)  # the flow says nothing moved, consistently
    before = torch.zeros(1, 3, 24, 24)
    before[..., 8:12, 8:12] = 1.0  # a white square that has left by frame t
    now = torch.zeros(1, 3, 24, 24)
    assert float(reliable(still, still).min()) == 1.0  # the flows alone cannot tell
    c = reliable(still, still, now, before)
    assert float(c[..., 7:13, 7:13].max()) == 0.0  # the square and a pixel around it
    assert float(c[..., :6, :].min()) == 1.0 and float(c[..., 14:, :].min()) == 1.0


def test_flow_finds_a_translation() -> None:
    from PIL import Image

    a = np.asarray(make_painting(96, 72, seed=3))
    b = np.roll(a, -3, axis=1)  # b(x) = a(x + 3)
    f = optical_flow(Image.fromarray(b), Image.fromarray(a))  # b(x) ~ a(x + f(x))
    assert f.shape == (72, 96, 2)
    assert float(np.median(f[8:-8, 8:-8, 0])) == pytest.approx(3, abs=0.3)
    assert abs(float(np.median(f[8:-8, 8:-8, 1]))) < 0.3


def test_temporal_term_is_one_more_entry() -> None:
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=1, precision="fp32"))
    x = t.initial_image()
    target = x.clone()
    target[..., :, :16] += 0.1
    mask = torch.ones(1, 1, *x.shape[-2:])
    mask[..., :, 8:16] = 0
    term = TemporalTerm(target, mask)
    assert float(TemporalTerm(x, mask)({}, x)) == 0
    assert float(term({}, x)) == pytest.approx(0.01 * 3 * 24 * 8 / x.numel(), rel=1e-4)  # masked half ignored
    base = float(t.losses(x)[0])
    t = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=1, precision="fp32"), terms=[(term, 5.0)])
    loss, parts = t.losses(x)
    assert float(loss) == pytest.approx(base + 5.0 * float(term({}, x)), rel=1e-5)
    assert parts.extra["temporal"] == pytest.approx(float(term({}, x)))
    later = StyleTransfer(make_photo(), make_painting(), Options(size=32, scales=2), terms=[(term, 5.0)])
    assert later.scale.criterion[-1][0] is term  # at the final scale


def test_the_temporal_loss_lowers_flicker_on_the_sample_clip() -> None:
    frames = sample_clip(3, 64)
    opts = Options(size=64, iterations=12, precision="fp32")
    alone = [img for _, img, _ in stylize_frames(frames, make_painting(), opts, temporal_weight=0)]
    coherent = [img for _, img, _ in stylize_frames(frames, make_painting(), opts)]
    assert all(img.size == (64, 48) for img in coherent)
    assert flicker(coherent, frames) < 0.5 * flicker(alone, frames)


def clip_with_audio(path, frames) -> None:
    """An mp4 of `frames` at 8 fps with a mono sine tone, written with PyAV."""
    import av

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=8)
        v.width, v.height, v.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        a = c.add_stream("aac", rate=22050)
        a.layout = "mono"
        for f in frames:
            for packet in v.encode(av.VideoFrame.from_image(f)):
                c.mux(packet)
        for packet in v.encode():
            c.mux(packet)
        t = np.arange(22050 * len(frames) // 8) / 22050
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for k in range(0, len(tone) - 1024, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 22050, k
            for packet in a.encode(frame):
                c.mux(packet)
        for packet in a.encode():
            c.mux(packet)


def test_video_command_keeps_audio_and_resumes(tmp_path) -> None:
    import av

    from stylegram.cli import main

    clip, style = tmp_path / "clip.mp4", tmp_path / "style.png"
    clip_with_audio(clip, sample_clip(4, 64))
    make_painting().save(style)
    tiny = ["--size", "32", "--iterations", "3", "--quiet"]
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), str(style), "-o", str(out), *tiny]) == 0
    with av.open(str(out)) as c:
        assert len(list(c.decode(video=0))) == 4 and c.streams.video[0].width == 32
        assert c.streams.audio and c.streams.audio[0].codec_context.name == "aac"  # the input's audio, copied
    assert not (tmp_path / "out.mp4.frames").exists()
    folder = tmp_path / "frames"
    assert main(["video", str(clip), str(style), "-o", str(folder), *tiny]) == 0
    kept = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert len(kept) == 4
    for name in list(kept)[2:]:
        (folder / name).unlink()  # as if stopped after two frames
    assert main(["video", str(clip), str(style), "-o", str(folder), *tiny]) == 2  # no silent overwrite
    assert main(["video", str(clip), str(style), "-o", str(folder), *tiny, "--resume"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)
    assert all((folder / n).read_bytes() == kept[n] for n in list(kept)[:2])


@pytest.mark.parametrize("case,words", [("notvideo", "not a video"), ("empty", "no frames"),
                                        ("avi", "unsupported extension"), ("range", "no frames")])
def test_bad_video_input_is_one_line(tmp_path, capsys, case, words) -> None:
    from stylegram.cli import main

    (tmp_path / "notes.mp4").write_text("hello")
    (tmp_path / "empty").mkdir()
    make_painting().save(tmp_path / "style.png")
    make_photo().save(tmp_path / "f1.png")
    frames = tmp_path / "one"
    frames.mkdir()
    make_photo().save(frames / "1.png")
    source, out, extra = {"notvideo": (tmp_path / "notes.mp4", "o.mp4", []), "empty": (tmp_path / "empty", "o.mp4", []),
                          "avi": (frames, "o.avi", []), "range": (frames, "o.mp4", ["--frames", "5:9"])}[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["video", str(source), str(tmp_path / "style.png"), "-o", str(tmp_path / out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_ctrl_c_keeps_the_frames_and_resume_finishes(tmp_path) -> None:
    import subprocess
    import sys

    from .conftest import ROOT
    from .test_interrupt import interrupt_at_pause, start_paused

    folder = tmp_path / "frames"
    args = ["video", "--demo", "-o", str(folder), "--size", "48", "--frames", "0:3", "--iterations", "40", "--tol", "0",
            "--quiet"]
    proc = start_paused(*args, when=str(folder / "frame_00001.png"))  # paused in the second frame, the first written
    err = interrupt_at_pause(proc, signal.SIGINT)[1]
    assert proc.returncode == 130 and "--resume" in err and "Traceback" not in err, err
    kept = sorted(p.name for p in folder.iterdir())
    assert 1 <= len(kept) < 3
    done = subprocess.run([sys.executable, "-m", "stylegram", *args, "--resume"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{k:05d}.png" for k in (1, 2, 3)]


def test_moving_brushwork_is_measured_against_frame_by_frame() -> None:
    from stylegram.video.frames import moved, moving_brushwork

    frames = sample_clip(4, 64)
    assert 0 < float(moved(frames, 1).mean()) < float(moved(frames, 3).mean())  # the pan moves more and more
    opts = Options(size=64, iterations=12, precision="fp32")
    alone = [img for _, img, _ in stylize_frames(frames, make_painting(), opts, temporal_weight=0)]
    assert moving_brushwork(alone, frames, alone) == pytest.approx(1.0)
    assert moving_brushwork(frames, frames, alone) == pytest.approx(0.0, abs=1e-9)  # the photo itself adds none
    palette = [img for _, img, _ in stylize_frames(frames, make_painting(), opts, new_regions="palette")]
    adain = [img for _, img, _ in stylize_frames(frames, make_painting(), opts)]
    assert moving_brushwork(adain, frames, alone) > moving_brushwork(palette, frames, alone)
