"""Video in and out with PyAV: frames from a file (mp4, mov, webm, gif, ...) or a folder of numbered images, and
an mp4/webm written from a folder of frames, with the input's audio copied when there is one."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from PIL import Image

from ..choices import MAX_PIXELS, READABLE, VIDEO_OUT
from ..errors import StylegramError
from ..files import file_mode
from ..images import load_image


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def read_frames(source: str | Path, fps: float | None = None, frames: tuple[int, int | None] | None = None,
                max_pixels: int = MAX_PIXELS) -> tuple[list[Image.Image], float]:
    """The frames (RGB) and their rate. `fps` resamples (dropping or repeating frames), `frames` keeps A:B."""
    path = Path(source)
    if not path.exists():
        raise StylegramError(f"video: file not found: {path}")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in READABLE),
                       key=_natural)
        images, rate = [load_image(p, "frame", max_pixels) for p in files], fps or 24.0
    else:
        images, rate = _decode(path, max_pixels)
        if fps and fps != rate:
            n = max(1, round(len(images) * fps / rate))
            images, rate = [images[min(len(images) - 1, int(k * rate / fps))] for k in range(n)], fps
    if frames is not None:
        images = images[frames[0]:frames[1]]
    if not images:
        raise StylegramError(f"video: {path} has no frames" + (" in the range asked for" if frames else ""))
    return images, rate


def _decode(path: Path, max_pixels: int) -> tuple[list[Image.Image], float]:
    import av  # optional: the video extra

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise StylegramError(f"video: {path} has no video stream")
            stream = container.streams.video[0]
            if (stream.width or 0) * (stream.height or 0) > max_pixels:
                raise StylegramError(f"video: {path} is {stream.width}x{stream.height}, more than --max-pixels")
            rate = float(stream.average_rate or stream.guessed_rate or 24)
            return [frame.to_image().convert("RGB") for frame in container.decode(stream)], rate
    except StylegramError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise StylegramError(f"video: {path} is not a video PyAV can read ({type(e).__name__})") from None


def has_audio(path: str | Path) -> bool:
    if Path(path).is_dir():
        return False
    import av

    try:
        with av.open(str(path)) as c:
            return bool(c.streams.audio)
    except av.FFmpegError:
        return False


def write_video(frames: list[Path], out: str | Path, fps: float, audio_from: str | Path | None = None) -> Path:
    """Encode the frames to `out` (mp4: H.264, webm: VP9), written to a temporary name and renamed."""
    from fractions import Fraction

    import av

    out = Path(out)
    first = Image.open(frames[0])
    w, h = first.width - first.width % 2, first.height - first.height % 2  # 4:2:0 needs even sides
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=out.suffix)
    os.close(fd)
    try:
        with av.open(tmp, "w") as container:
            stream = container.add_stream(VIDEO_OUT[out.suffix.lower()], rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            audio_in = av.open(str(audio_from)) if audio_from and has_audio(audio_from) else None
            audio_out = container.add_stream_from_template(audio_in.streams.audio[0]) if audio_in else None
            for path in frames:
                img = Image.open(path).convert("RGB").crop((0, 0, w, h))
                for packet in stream.encode(av.VideoFrame.from_image(img)):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
            if audio_in is not None:
                end = len(frames) / fps
                for packet in audio_in.demux(audio_in.streams.audio[0]):
                    if packet.dts is None or packet.pts is None:
                        continue
                    if float(packet.pts * packet.time_base) > end:
                        break
                    packet.stream = audio_out
                    container.mux(packet)
                audio_in.close()
        os.chmod(tmp, file_mode())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
