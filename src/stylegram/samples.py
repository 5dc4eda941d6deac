"""The demo's images, both free to ship: NASA's astronaut photo (public domain, bundled with scikit-image)
and a painting that this module paints itself: swirling impasto strokes in a strong palette."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Eight colours each, in the roles: deep, mid, light, accent ground, hot 1, hot 2, highlight, outline.
PALETTES = {
    # ultramarine night, cobalt, turquoise, cadmium yellow and orange, lead white, near-black
    "night": [(20, 34, 92), (35, 70, 160), (60, 120, 200), (70, 160, 170),
              (240, 200, 40), (235, 140, 30), (245, 240, 215), (15, 20, 35)],
    # burnt sienna, madder red, vermilion, ochre, cadmium yellow, rose, pale pink, umber
    "ember": [(70, 20, 15), (150, 40, 30), (220, 70, 40), (190, 130, 50),
              (250, 200, 60), (230, 110, 120), (250, 225, 210), (35, 20, 15)],
    # viridian, sap green, sea green, sand, lemon, coral, foam white, dark teal
    "sea": [(10, 60, 55), (40, 110, 70), (60, 170, 150), (200, 180, 120),
            (240, 230, 90), (235, 120, 90), (235, 245, 240), (10, 35, 40)],
}


def sample_photo() -> Image.Image:
    """Eileen Collins, NASA portrait (public domain), from scikit-image's bundled data."""
    from skimage import data

    return Image.fromarray(data.astronaut())


def _flow_angle(x: np.ndarray, y: np.ndarray, vortices: np.ndarray) -> np.ndarray:
    """Direction of a field made of a few swirls plus a gentle drift: strokes follow it."""
    u = np.full_like(x, 0.3)
    v = np.full_like(x, 0.05)
    for cx, cy, strength, radius in vortices:
        dx, dy = x - cx, y - cy
        r2 = dx * dx + dy * dy + 1e-6
        falloff = strength * np.exp(-r2 / (2 * radius * radius)) / np.sqrt(r2)
        u += -dy * falloff
        v += dx * falloff
    return np.arctan2(v, u)


def procedural_painting(size: int = 512, seed: int = 7, palette: str = "night") -> Image.Image:
    """A swirling, Van-Gogh-like study painted with a few thousand flow-following strokes."""
    if palette not in PALETTES:
        raise ValueError(f"palette must be one of {', '.join(PALETTES)}")
    pal = np.array(PALETTES[palette], dtype=np.float64)
    rng = np.random.default_rng(seed)
    w = h = size
    vortices = np.array([
        (rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.7), rng.choice([-1, 1]) * rng.uniform(0.6, 1.2),
         rng.uniform(0.08, 0.18)) for _ in range(5)
    ])
    # Underpainting: a dark-to-light blue ground with an ochre band below, like a landscape at night.
    yy = np.linspace(0, 1, h)[:, None, None]
    sky = pal[0] * (1 - yy) + pal[2] * yy
    ground = pal[7] * 0.5 + pal[5] * 0.5
    base = np.where(yy < 0.72, sky, ground) * np.ones((1, w, 1))
    canvas = Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)

    def colour_at(px: float, py: float) -> tuple[int, int, int]:
        near_swirl = min(np.hypot(px - cx, py - cy) / r for cx, cy, _, r in vortices)
        if py > 0.72:
            choices, weights = [5, 4, 7, 1], [0.4, 0.3, 0.2, 0.1]
        elif near_swirl < 1.0:
            choices, weights = [4, 6, 5, 2], [0.45, 0.25, 0.15, 0.15]
        else:
            choices, weights = [0, 1, 2, 3, 6], [0.25, 0.3, 0.25, 0.12, 0.08]
        c = pal[rng.choice(choices, p=weights)] + rng.normal(0, 12, 3)
        return tuple(int(v) for v in c.clip(0, 255))

    step = size / 180
    for count, width in ((1400, 0.022), (2200, 0.014), (1600, 0.008)):
        for _ in range(count):
            px, py = rng.uniform(0, 1, 2)
            pts = [(px * w, py * h)]
            for _ in range(int(rng.integers(6, 16))):
                ang = float(_flow_angle(np.array(px), np.array(py), vortices))
                px += np.cos(ang) * step / w
                py += np.sin(ang) * step / h
                pts.append((px * w, py * h))
            colour = colour_at(px, py)
            stroke = max(2, int(width * size * rng.uniform(0.7, 1.3)))
            dark = tuple(int(c * 0.55) for c in colour)
            draw.line(pts, fill=dark, width=stroke + 2, joint="curve")  # the stroke's shadowed edge
            draw.line(pts, fill=colour, width=stroke, joint="curve")
    # Suns/stars: bright disks with rings of short strokes around them.
    for cx, cy, _, r in vortices[:3]:
        rad = r * size * 0.35
        draw.ellipse((cx * w - rad, cy * h - rad, cx * w + rad, cy * h + rad), fill=tuple(pal[4].astype(int)))
        draw.ellipse((cx * w - rad / 2, cy * h - rad / 2, cx * w + rad / 2, cy * h + rad / 2),
                     fill=tuple(pal[6].astype(int)))
    return canvas.filter(ImageFilter.SMOOTH_MORE)


def sample_clip(frames: int = 12, size: int = 128) -> list[Image.Image]:
    """A clip made in code: a slow pan and zoom over the demo photo, with a bright disk crossing it."""
    photo = sample_photo()
    w, h = photo.size
    out = []
    for k in range(frames):
        t = k / max(frames - 1, 1)
        crop = 0.7 - 0.1 * t  # zoom in
        cw, ch = w * crop, h * crop * 0.75
        x0, y0 = (w - cw) * (0.2 + 0.4 * t), (h - ch) * 0.4
        frame = photo.resize((size, round(size * 0.75)), Image.Resampling.LANCZOS,
                             box=(x0, y0, x0 + cw, y0 + ch))
        draw = ImageDraw.Draw(frame)
        r = size // 10
        cx, cy = round(size * (0.15 + 0.7 * t)), round(frame.height * (0.7 - 0.2 * t))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(240, 200, 40), outline=(120, 60, 10), width=2)
        out.append(frame)
    return out
