"""Labelled figures from cell images: a row/column grid (Fig. 1, Fig. 3) and panels with insets (Fig. 2).

Labels are ASCII: Pillow's built-in font has no Greek letters, and no other font can be relied on.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
GAP = 6


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    box = draw.multiline_textbbox((0, 0), text, font=font)
    return box[2] - box[0], box[3] - box[1]


def _fit(img: Image.Image, w: int, h: int) -> Image.Image:
    """Scale into a w x h box, keeping the aspect ratio."""
    scale = min(w / img.width, h / img.height)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)


def grid_figure(
    cells: Sequence[Sequence[Image.Image | None]],
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    title: str = "",
    caption: str = "",
    cell_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Cells in rows and columns, each centred in a box of `cell_size` (default: the largest cell)."""
    rows, cols = len(cells), max(len(r) for r in cells)
    present = [c for r in cells for c in r if c is not None]
    cw, ch = cell_size or (max(c.width for c in present), max(c.height for c in present))
    font_size = max(12, min(18, cw // 10))
    font, small = _font(font_size), _font(max(11, font_size - 3))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    cw = max([cw] + [_text_size(probe, t, small)[0] + GAP for t in col_labels])  # labels never overlap
    label_w = max((_text_size(probe, t, small)[0] for t in row_labels), default=0)
    label_w = label_w + 2 * GAP if label_w else 0
    head_h = max((_text_size(probe, t, small)[1] for t in col_labels), default=0)
    head_h = head_h + 2 * GAP if head_h else 0
    title_h = _text_size(probe, title, font)[1] + 2 * GAP if title else 0
    width = label_w + cols * (cw + GAP) + GAP
    cap_h = _text_size(probe, _wrap(caption, small, width - 2 * GAP), small)[1] + 2 * GAP if caption else 0
    height = title_h + head_h + rows * (ch + GAP) + GAP + cap_h
    fig = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(fig)
    if title:
        draw.text((GAP, GAP), title, fill=INK, font=font)
    top = title_h + head_h
    for j, text in enumerate(col_labels):
        tw, _ = _text_size(draw, text, small)
        draw.multiline_text((label_w + GAP + j * (cw + GAP) + (cw - tw) // 2, title_h + GAP), text, fill=INK,
                            font=small, align="center")
    for i, row in enumerate(cells):
        y = top + GAP + i * (ch + GAP)
        if i < len(row_labels):
            _, th = _text_size(draw, row_labels[i], small)
            draw.multiline_text((GAP, y + (ch - th) // 2), row_labels[i], fill=INK, font=small)
        for j, img in enumerate(row):
            if img is None:
                continue
            fitted = _fit(img, cw, ch)
            x = label_w + GAP + j * (cw + GAP)
            fig.paste(fitted, (x + (cw - fitted.width) // 2, y + (ch - fitted.height) // 2))
    if caption:
        draw.multiline_text((GAP, height - cap_h + GAP), _wrap(caption, small, width - 2 * GAP), fill=INK, font=small)
    return fig


def _wrap(text: str, font, width: int) -> str:
    """Greedy word wrap to a pixel width."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if line and _text_size(probe, trial, font)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return "\n".join(lines)


def with_inset(result: Image.Image, style: Image.Image, fraction: float = 0.3) -> Image.Image:
    """The paper's Fig. 2 look: the painting as a small framed thumbnail in the result's lower-left corner."""
    out = result.copy()
    thumb = _fit(style, max(1, int(result.width * fraction)), max(1, int(result.height * fraction)))
    frame = Image.new("RGB", (thumb.width + 4, thumb.height + 4), BACKGROUND)
    frame.paste(thumb, (2, 2))
    out.paste(frame, (0, out.height - frame.height))
    return out


def panels_figure(
    panels: Sequence[Image.Image], titles: Sequence[str], columns: int = 0, title: str = "", caption: str = ""
) -> Image.Image:
    """Panels labelled A, B, C ... in rows of `columns` (default: 2 or 3 per row), like the paper's Fig. 2."""
    columns = columns or (len(panels) if len(panels) <= 3 else -(-len(panels) // 2))
    rows = [list(panels[i:i + columns]) for i in range(0, len(panels), columns)]
    labels = [list(titles[i:i + columns]) for i in range(0, len(titles), columns)]
    cw, ch = max(p.width for p in panels), max(p.height for p in panels)
    font = _font(max(12, min(18, cw // 12)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    cw = max([cw] + [_text_size(probe, t, font)[0] + GAP for t in titles])
    label_h = max(_text_size(probe, t, font)[1] for t in titles) + 2 * GAP
    blocks = []
    for row, names in zip(rows, labels, strict=True):
        strip = Image.new("RGB", (columns * (cw + GAP) + GAP, ch + label_h), BACKGROUND)
        d = ImageDraw.Draw(strip)
        for j, (img, name) in enumerate(zip(row, names, strict=True)):
            x = GAP + j * (cw + GAP)
            d.text((x, GAP // 2), name, fill=INK, font=font)
            fitted = _fit(img, cw, ch)
            strip.paste(fitted, (x + (cw - fitted.width) // 2, label_h + (ch - fitted.height) // 2))
        blocks.append([strip])
    return grid_figure(blocks, title=title, caption=caption)
