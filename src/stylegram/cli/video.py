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
from ..images import load_image, resize_long_side, save_image
from ..job import Interrupts
from ..options import Options
from ..parsers import integer, number
from ..samples import procedural_painting, sample_clip
from ..video import OVERLAP, TEMPORAL_WEIGHT, VIDEO_OPTIONS
from ..video.chunks import FRAME
from .flags import PROG, Parser, add_flags, options_from_args
from .workers import add_pool_flags, bar_events, check_workers, open_pool

CHUNKS = "chunks"  # under the frames folder: each chunk's frames and report, and the manifest


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
    p.add_argument("--resume", action="store_true", help="continue after the frames (or chunks) already painted")
    add_pool_flags(p, "chunks of the clip (cut at shot changes, overlapping within a shot)")
    p.add_argument("--chunk-frames", type=integer, metavar="N", help="with --workers or --ray: frames per chunk "
                   f"(default: a shot split evenly over the workers; chunks share {OVERLAP} frames, cross-faded)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_flags(p, Options, skip=("alpha", "seamless"), base=VIDEO_OPTIONS)  # frames: opaque; flow: not a torus
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
    chunked = ns.workers is not None or ns.ray is not None
    check_workers(ns)
    if ns.chunk_frames is not None and (ns.chunk_frames <= OVERLAP or not chunked):
        raise StylegramError(f"--chunk-frames must be > {OVERLAP} (the overlap), with --workers or --ray")
    if (done or (work / CHUNKS).exists()) and not ns.resume:
        raise StylegramError(f"{work} holds frames or chunks already painted: --resume continues them (or remove it)")
    if (work / CHUNKS).exists() != chunked and ns.resume and (done or (work / CHUNKS).exists()):
        how = ("frame after frame: --resume it without --workers and --ray" if chunked
               else "across workers: add --workers or --ray")
        raise StylegramError(f"{work} was started {how}")
    return source, styles, out, work, done


def main(argv: Sequence[str]) -> int:
    from ..video.io import has_audio, read_frames, write_video  # the video extra (OpenCV, PyAV) only when used

    ns = build_parser().parse_args(list(argv))
    options = options_from_args(ns, VIDEO_OPTIONS)
    source, style_args, out, work, done = _plan(ns)
    styles = [load_image(s, "style", options.max_pixels) for s in style_args]
    if source is None:
        frames, fps = sample_clip(24, 256)[slice(*ns.frames) if ns.frames else slice(None)], 12.0
    else:
        frames, fps = read_frames(source, ns.fps, ns.frames, options.max_pixels)
    frames = [resize_long_side(f, options.size) for f in frames]  # what is painted (and shipped to workers)
    if ns.workers is not None or ns.ray is not None:
        status = across_workers(ns, source, style_args, styles, frames, options, work)
    else:
        status = frame_after_frame(ns, frames, styles, options, work, done)
    if status is not None:
        return status
    painted = sorted(work.glob("frame_*.png"))
    if out != work:
        write_video(painted, out, fps, source if source and has_audio(source) else None)
        shutil.rmtree(work)
    print(f"wrote {out} ({len(painted)} frames at {fps:g} fps)")
    return 0


def frame_after_frame(ns: Any, frames: list, styles: list, options: Options, work: Path,
                      done: list[Path]) -> int | None:
    """One chain of frames, each from the one before; None when every frame is painted, else the exit status."""
    from ..video.frames import stylize_frames

    work.mkdir(parents=True, exist_ok=True)
    previous = load_image(done[-1]) if done else None
    bar = tqdm(total=len(frames), initial=len(done), desc=f"{PROG} video", unit="frame", disable=ns.quiet)
    with Interrupts() as interrupts:
        for k, img, _ in stylize_frames(frames, styles, options, ns.temporal_weight, len(done), previous,
                                        stop=lambda: interrupts.signal is not None):
            save_image(img, work / FRAME.format(k + 1))
            bar.update(1)
    bar.close()
    if interrupts.signal is None:
        return None
    print(f"{PROG}: {signal.Signals(interrupts.signal).name}: {len(sorted(work.glob('frame_*.png')))} of "
          f"{len(frames)} frames kept in {work}; the same command with --resume continues", file=sys.stderr)
    return interrupts.exit_status


def across_workers(ns: Any, source: str | None, style_args: list, styles: list, frames: list, options: Options,
                   work: Path) -> int | None:
    """Chunks of the clip on a pool (video.chunks), then the frames blended into `work`; None when done, else the
    exit status (a chunk failed, or Ctrl-C: what is done is kept for --resume)."""
    from ..batch.run import run_batch
    from ..video.chunks import ChunkItem, blend, chunk_length, chunk_payload, plan_chunks, png, shot_cuts, write_chunk

    pool = open_pool(ns, use_gpu=options.device != "cpu")
    chunks = plan_chunks(len(frames), shot_cuts(frames), ns.chunk_frames or chunk_length(len(frames), pool.workers))
    names = [s if isinstance(s, str) else f"painting{k}" for k, s in enumerate(style_args)]
    data = {name: Path(s).read_bytes() if isinstance(s, str) else png(img)
            for name, s, img in zip(names, style_args, styles, strict=True)}
    items = [ChunkItem(source or "demo", names, options, ns.temporal_weight, c) for c in chunks]
    bar = tqdm(total=len(items), desc=f"{PROG} video", unit="chunk", disable=ns.quiet)

    with Interrupts() as interrupts:
        summary = run_batch(items, work / CHUNKS, pool, on_event=bar_events(bar),
                            stop=lambda: interrupts.signal is not None,
                            payload=lambda item: chunk_payload(item, frames, data), write=write_chunk)
    bar.close()
    for name, error in summary.failed.items():
        print(f"{PROG} video: {name}: {error}", file=sys.stderr)
    if interrupts.signal is not None or summary.pending or summary.failed:
        kept = len(summary.done) + len(summary.skipped)
        print(f"{PROG} video: {kept} of {len(items)} chunks kept in {work / CHUNKS}; the same command with --resume "
              "continues", file=sys.stderr)
        return interrupts.exit_status if interrupts.signal is not None else 1
    blend(chunks, work / CHUNKS, work)
    shutil.rmtree(work / CHUNKS)
    return None
