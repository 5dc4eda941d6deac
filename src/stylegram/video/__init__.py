"""`stylegram video`: a clip in a painting's style without flicker (Ruder, Dosovitskiy & Brox 2016). `flow` (OpenCV's
DIS optical flow, warping, the reliability mask), `frames` (frame after frame with the temporal term), `io` (PyAV).
This file imports neither OpenCV nor PyAV: the defaults are known without the video extra."""

from __future__ import annotations

from ..options import Options

# Frames are painted smaller than stills by default: a clip is many pictures, and 256 px is ~4x faster than 512.
VIDEO_OPTIONS = Options(size=256)
LATER_ITERATIONS = 7  # later frames: enough from the warp and the AdaIN start (docs/video.md: 10 and 7 measured)
TEMPORAL_WEIGHT = 200.0  # ~ the style term's size at a warm start; see docs/video.md
NEW_REGIONS_INIT = "adain"  # later frames start what the flow cannot carry from the AdaIN picture (docs/video.md)
MOVED = 0.1  # mean abs RGB change from the first frame that marks a pixel as moved (the brushwork measure)
OVERLAP = 12  # frames two chunks of one shot share, cross-faded: 4 left joins 7x the flicker inside (docs/video.md)
CUT = 0.25  # grey-histogram change between frames above which (if 3x the usual) a new shot starts: bikes.mp4's 4
