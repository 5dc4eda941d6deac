"""`stylegram video IN STYLE... -o OUT`: a clip in a painting's style, frame after frame without flicker."""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..choices import VIDEO_OUT
from ..errors import StylegramError
from ..files import check_writable
from ..images import load_image, save_image
from ..job import Interrupts
from ..options import Options
from ..parsers import number
from ..samples import procedural_painting, sample_clip
from ..video import TEMPORAL_WEIGHT, VIDEO_OPTIONS
from .flags import PROG, Parser, add_flags, options_from_args

FRAME = "frame_{:05d}.png"


def _range(text: str) -> tuple[int, int | None]:
    a, _, b = text.partition(":")
    try:
        return (int(a) if a else 0, int(b) if b else None)
    except ValueError:
        raise ValueError(f"expected A:B (frame numbers, either may be left out), got {text!r}") from None


def build_parser() -> Parser:
    p = Parser(prog=f"{PROG} video", description="Paint a video (or a folder of frames) in the style of a painting; "
               "each frame starts from the previous one warped by the optical flow (Ruder et al. 2016).")
    p.add_argument("inputs", nargs="*", metavar="IN STYLE", help="the video (mp4, mov, webm, gif, or a folder of "
                   "numbered frames), then one or more paintings")
    p.add_argument("-o", "--output", required=True, help="OUT.mp4, OUT.webm, or a folder for PNG frames")
    p.add_argument("--demo", action="store_true", help="the sample clip made in code (and the bundled painting)")
    p.add_argument("--fps", type=number, metavar="N", help="frames per second to paint (default: the input's)")
    p.add_argument("--frames", type=_range, metavar="A:B", help="only frames A to B-1 (after --fps)")
    p.add_argument("--temporal-weight", type=number, default=TEMPORAL_WEIGHT, metavar="X",
                   help=f"weight of the temporal loss (0: each frame alone; default: {TEMPORAL_WEIGHT:g})")
    p.add_argument("--resume", action="store_true", help="continue after the frames already painted")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_flags(p, Options, base=VIDEO_OPTIONS)
    return p


def _plan(ns: Any) -> tuple[str | None, list, Path, Path, list[Path]]:
    """(source, styles, output, the frames folder, frames already painted there), refused before any work."""
    if ns.temporal_weight < 0:
        raise StylegramError(f"--temporal-weight must be >= 0, got {ns.temporal_weight}")
    if ns.demo:
        source, styles = None, ns.inputs or [procedural_painting()]
    elif len(ns.inputs) < 2:
        raise StylegramError("video: give IN and at least one STYLE (or --demo)")
    else:
        source, styles = ns.inputs[0], ns.inputs[1:]
    out = Path(ns.output)
    as_video = out.suffix.lower() in VIDEO_OUT
    if out.suffix and not as_video:
        raise StylegramError(f"output {out}: unsupported extension {out.suffix} (use .mp4, .webm or a folder)")
    check_writable(out if as_video else out / FRAME.format(0), [x for x in [source, *styles] if isinstance(x, str)])
    work = out.with_name(out.name + ".frames") if as_video else out
    done = sorted(work.glob("frame_*.png")) if work.is_dir() else []
    if done and not ns.resume:
        raise StylegramError(f"{work} already holds {len(done)} frames: --resume continues them (or remove it)")
    return source, styles, out, work, done


def main(argv: Sequence[str]) -> int:
    from ..video.frames import stylize_frames  # the video extra (OpenCV, PyAV) only when used
    from ..video.io import has_audio, read_frames, write_video

    ns = build_parser().parse_args(list(argv))
    options = options_from_args(ns, VIDEO_OPTIONS)
    source, styles, out, work, done = _plan(ns)
    styles = [load_image(s, "style", options.max_pixels) for s in styles]
    if source is None:
        frames, fps = sample_clip(24, 256)[slice(*ns.frames) if ns.frames else slice(None)], 12.0
    else:
        frames, fps = read_frames(source, ns.fps, ns.frames, options.max_pixels)
    work.mkdir(parents=True, exist_ok=True)
    previous = load_image(done[-1]) if done else None
    bar = tqdm(total=len(frames), initial=len(done), desc=f"{PROG} video", unit="frame", disable=ns.quiet)
    with Interrupts() as interrupts:
        for k, img, _ in stylize_frames(frames, styles, options, ns.temporal_weight, len(done), previous,
                                        stop=lambda: interrupts.signal is not None):
            save_image(img, work / FRAME.format(k + 1))
            bar.update(1)
    bar.close()
    painted = sorted(work.glob("frame_*.png"))
    if interrupts.signal is not None:
        print(f"{PROG}: {signal.Signals(interrupts.signal).name}: {len(painted)} of {len(frames)} frames kept in "
              f"{work}; the same command with --resume continues", file=sys.stderr)
        return interrupts.exit_status
    if out != work:
        write_video(painted, out, fps, source if source and has_audio(source) else None)
        shutil.rmtree(work)
    print(f"wrote {out} ({len(painted)} frames at {fps:g} fps)")
    return 0
