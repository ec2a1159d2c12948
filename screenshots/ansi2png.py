#!/usr/bin/env python3
"""Render a terminal capture with ANSI/SGR escape sequences (e.g. `tmux capture-pane -p -e`) to a PNG.

Every cell is drawn on a fixed grid. Text uses DejaVu Sans Mono; box drawing (U+2500-U+257F), block elements
(U+2580-U+259F) and braille (U+2800-U+28FF) are drawn geometrically so that they join seamlessly whatever the
font covers.

    python3 ansi2png.py capture.ansi out.png [--cols 120] [--rows 40] [--font-size 15]

Needs Pillow.
"""

import argparse
import functools
import re
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
DEFAULT_FG = (0xD0, 0xD0, 0xD0)
DEFAULT_BG = (0x1C, 0x1C, 0x1C)

# The 16 base colours: a palette that reads well on a dark background (close to the VS Code terminal's).
BASE16 = [
    (0x00, 0x00, 0x00), (0xCD, 0x31, 0x31), (0x0D, 0xBC, 0x79), (0xE5, 0xE5, 0x10),
    (0x24, 0x72, 0xC8), (0xBC, 0x3F, 0xBC), (0x11, 0xA8, 0xCD), (0xE5, 0xE5, 0xE5),
    (0x66, 0x66, 0x66), (0xF1, 0x4C, 0x4C), (0x23, 0xD1, 0x8B), (0xF5, 0xF5, 0x43),
    (0x3B, 0x8E, 0xEA), (0xD6, 0x70, 0xD6), (0x29, 0xB8, 0xDB), (0xFF, 0xFF, 0xFF),
]


def xterm256(n):
    """The xterm 256-colour palette entry n."""
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        levels = (0, 95, 135, 175, 215, 255)
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


PALETTE = [xterm256(i) for i in range(256)]

# --light: a white terminal with xterm's own system colours (the palette the light theme's contrast test assumes),
# black default text, and bold that does not brighten.
XTERM16 = [
    (0x00, 0x00, 0x00), (0xCD, 0x00, 0x00), (0x00, 0xCD, 0x00), (0xCD, 0xCD, 0x00),
    (0x00, 0x00, 0xEE), (0xCD, 0x00, 0xCD), (0x00, 0xCD, 0xCD), (0xE5, 0xE5, 0xE5),
    (0x7F, 0x7F, 0x7F), (0xFF, 0x00, 0x00), (0x00, 0xFF, 0x00), (0xFF, 0xFF, 0x00),
    (0x5C, 0x5C, 0xFF), (0xFF, 0x00, 0xFF), (0x00, 0xFF, 0xFF), (0xFF, 0xFF, 0xFF),
]
LIGHT = False
BOLD_FG = (0xF4, 0xF4, 0xF4)


def use_light():
    global DEFAULT_FG, DEFAULT_BG, BASE16, PALETTE, LIGHT, BOLD_FG
    DEFAULT_FG, DEFAULT_BG, BOLD_FG = (0x00, 0x00, 0x00), (0xFF, 0xFF, 0xFF), (0x00, 0x00, 0x00)
    BASE16 = XTERM16
    PALETTE = [xterm256(i) for i in range(256)]
    LIGHT = True


class Style:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse", "hidden", "strike", "overline")

    def __init__(self):
        self.reset()

    def reset(self):
        # fg / bg: None (default), ("i", index) or ("rgb", (r, g, b))
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = False
        self.reverse = self.hidden = self.strike = self.overline = False

    def key(self):
        return (self.fg, self.bg, self.bold, self.dim, self.italic, self.underline, self.reverse, self.hidden,
                self.strike, self.overline)


def parse_extended_color(params, i):
    """Parses 38/48 arguments starting after the 38/48 at params[i]; returns (colour or None, next index)."""
    if i < len(params) and params[i] == 5 and i + 1 < len(params):
        return ("i", params[i + 1] & 0xFF), i + 2
    if i < len(params) and params[i] == 2 and i + 3 < len(params):
        r, g, b = (max(0, min(255, v)) for v in params[i + 1:i + 4])
        return ("rgb", (r, g, b)), i + 4
    return None, len(params)


def apply_sgr(style, raw):
    """Applies one SGR parameter string (the part between CSI and m) to style."""
    if raw == "":
        style.reset()
        return
    # Split on ';' into groups; a group may contain ':' sub-parameters (38:5:n, 38:2::r:g:b, 4:3).
    groups = raw.split(";")
    i = 0
    while i < len(groups):
        g = groups[i]
        if ":" in g:
            sub = [int(s) if s.isdigit() else None for s in g.split(":")]
            head = sub[0]
            if head in (38, 48, 58):
                rest = sub[1:]
                color = None
                if rest and rest[0] == 5 and len(rest) >= 2 and rest[1] is not None:
                    color = ("i", rest[1] & 0xFF)
                elif rest and rest[0] == 2:
                    vals = [v for v in rest[1:] if v is not None]
                    vals = vals[-3:]  # 38:2:colourspace:r:g:b or 38:2:r:g:b
                    if len(vals) == 3:
                        color = ("rgb", tuple(max(0, min(255, v)) for v in vals))
                if head == 38 and color:
                    style.fg = color
                elif head == 48 and color:
                    style.bg = color
            elif head == 4:
                style.underline = not (len(sub) > 1 and sub[1] == 0)
            i += 1
            continue
        n = int(g) if g.isdigit() else 0
        if n in (38, 48, 58):
            params = [int(x) if x.isdigit() else 0 for x in groups]
            color, nxt = parse_extended_color(params, i + 1)
            if n == 38 and color:
                style.fg = color
            elif n == 48 and color:
                style.bg = color
            i = nxt
            continue
        if n == 0:
            style.reset()
        elif n == 1:
            style.bold = True
        elif n == 2:
            style.dim = True
        elif n == 3:
            style.italic = True
        elif n in (4, 21):
            style.underline = True
        elif n == 7:
            style.reverse = True
        elif n == 8:
            style.hidden = True
        elif n == 9:
            style.strike = True
        elif n == 22:
            style.bold = style.dim = False
        elif n == 23:
            style.italic = False
        elif n == 24:
            style.underline = False
        elif n == 27:
            style.reverse = False
        elif n == 28:
            style.hidden = False
        elif n == 29:
            style.strike = False
        elif n == 53:
            style.overline = True
        elif n == 55:
            style.overline = False
        elif 30 <= n <= 37:
            style.fg = ("i", n - 30)
        elif n == 39:
            style.fg = None
        elif 40 <= n <= 47:
            style.bg = ("i", n - 40)
        elif n == 49:
            style.bg = None
        elif 90 <= n <= 97:
            style.fg = ("i", n - 90 + 8)
        elif 100 <= n <= 107:
            style.bg = ("i", n - 100 + 8)
        i += 1


ESCAPE = re.compile(
    r"\x1b\[([0-9;:?<=>]*)([ -/]*)([@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
    r"|\x1b[()*+][0-9A-Za-z]"  # charset designation
    r"|\x1b[^\[\]PX^_()*+]"  # other two-byte escapes
)


def cell_width(ch):
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def parse(text, cols, rows):
    """Parses the capture into a rows x cols grid of (text, style key, width) cells."""
    blank = (" ", Style().key(), 1)
    grid = [[blank] * cols for _ in range(rows)]
    style = Style()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for y, line in enumerate(lines[:rows]):
        x = 0
        pos = 0
        line = line.rstrip("\r")
        while pos < len(line):
            if line[pos] == "\x1b":
                m = ESCAPE.match(line, pos)
                if m:
                    if m.group(3) == "m" and not m.group(2) and not (m.group(1) or "").startswith(("?", "<", "=", ">")):
                        apply_sgr(style, m.group(1) or "")
                    pos = m.end()
                else:
                    pos += 1
                continue
            ch = line[pos]
            pos += 1
            if ch == "\t":
                nx = min(cols, (x // 8 + 1) * 8)
                while x < nx:
                    grid[y][x] = (" ", style.key(), 1)
                    x += 1
                continue
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                continue
            w = cell_width(ch)
            if w == 0:
                if x > 0:
                    t, k, cw = grid[y][x - 1]
                    grid[y][x - 1] = (t + ch, k, cw)
                continue
            if x + w > cols:
                break
            grid[y][x] = (ch, style.key(), w)
            if w == 2:
                grid[y][x + 1] = ("", style.key(), 0)
            x += w
    return grid


def resolve_colors(key):
    fg, bg, bold, dim, italic, underline, reverse, hidden, strike, overline = key

    def rgb(c, default, brighten):
        if c is None:
            return default
        kind, v = c
        if kind == "rgb":
            return v
        if brighten and v < 8 and not LIGHT:
            v += 8
        return PALETTE[v]

    f = rgb(fg, DEFAULT_FG, bold)
    b = rgb(bg, DEFAULT_BG, False)
    if bold and fg is None:
        f = BOLD_FG
    if reverse:
        f, b = b, f
    if dim:
        f = tuple((fc + bc) // 2 for fc, bc in zip(f, b))
    if hidden:
        f = b
    return f, b


# ---------------------------------------------------------------------------------------------------------------
# Geometric glyphs, drawn into a supersampled mask and reduced (crisp lines, anti-aliased curves and dots).

SS = 4  # supersampling factor

NONE, LIGHT, HEAVY, DOUBLE = 0, 1, 2, 3


@functools.lru_cache(maxsize=None)
def box_arms(ch):
    """(up, right, down, left) line weights for a box-drawing character, derived from its Unicode name."""
    name = unicodedata.name(ch, "")
    if not name.startswith("BOX DRAWINGS "):
        return None
    name = name[len("BOX DRAWINGS "):]
    if any(w in name for w in ("DASH", "ARC", "DIAGONAL")):
        return None
    arms = {"UP": NONE, "RIGHT": NONE, "DOWN": NONE, "LEFT": NONE}
    weight_of = {"LIGHT": LIGHT, "SINGLE": LIGHT, "HEAVY": HEAVY, "DOUBLE": DOUBLE}
    expand = {"UP": ["UP"], "DOWN": ["DOWN"], "LEFT": ["LEFT"], "RIGHT": ["RIGHT"],
              "HORIZONTAL": ["LEFT", "RIGHT"], "VERTICAL": ["UP", "DOWN"]}
    current = LIGHT
    for segment in name.split(" AND "):
        words = segment.split()
        weight = next((weight_of[w] for w in words if w in weight_of), current)
        current = weight
        for w in words:
            for d in expand.get(w, []):
                arms[d] = weight
    return (arms["UP"], arms["RIGHT"], arms["DOWN"], arms["LEFT"])


class GlyphPainter:
    def __init__(self, cw, ch):
        self.cw, self.ch = cw, ch
        self.light = max(1, round(cw / 9))
        self.heavy = self.light * 2 + 1
        self.gap = max(2, round(cw / 4.5))  # distance of each double line from the centre line

    def span(self, center, thickness):
        start = center - thickness // 2
        return start, start + thickness

    @functools.lru_cache(maxsize=None)
    def mask(self, ch):
        """An 'L' mask (cell size) for a geometric glyph, or None when the font should draw it."""
        cp = ord(ch)
        if 0x2500 <= cp <= 0x257F:
            draw = self.draw_box
        elif 0x2580 <= cp <= 0x259F:
            draw = self.draw_block
        elif 0x2800 <= cp <= 0x28FF:
            draw = self.draw_braille
        else:
            return None
        big = Image.new("L", (self.cw * SS, self.ch * SS), 0)
        d = ImageDraw.Draw(big)
        if not draw(d, cp, ch):
            return None
        return big.reduce(SS)

    def rect(self, d, x0, y0, x1, y1, fill=255):
        """Fills base-pixel rectangle [x0, x1) x [y0, y1)."""
        if x1 > x0 and y1 > y0:
            d.rectangle([x0 * SS, y0 * SS, x1 * SS - 1, y1 * SS - 1], fill=fill)

    def draw_box(self, d, cp, ch):
        w, h = self.cw, self.ch
        cx, cy = w // 2, h // 2
        name = unicodedata.name(ch, "")
        heavy = "HEAVY" in name
        t = self.heavy if heavy else self.light
        if "DASH" in name:
            n = 2 if "DOUBLE DASH" in name else 3 if "TRIPLE DASH" in name else 4
            if "HORIZONTAL" in name:
                y0, y1 = self.span(cy, t)
                for k in range(n):
                    a, b = k * w / n, (k + 1) * w / n
                    gap = (b - a) * 0.25
                    d.rectangle([round((a + gap / 2) * SS), y0 * SS, round((b - gap / 2) * SS) - 1, y1 * SS - 1], fill=255)
            else:
                x0, x1 = self.span(cx, t)
                for k in range(n):
                    a, b = k * h / n, (k + 1) * h / n
                    gap = (b - a) * 0.25
                    d.rectangle([x0 * SS, round((a + gap / 2) * SS), x1 * SS - 1, round((b - gap / 2) * SS) - 1], fill=255)
            return True
        if "DIAGONAL" in name:
            lw = max(1, t * SS)
            if "UPPER RIGHT TO LOWER LEFT" in name or "CROSS" in name:
                d.line([(w * SS, 0), (0, h * SS)], fill=255, width=lw)
            if "UPPER LEFT TO LOWER RIGHT" in name or "CROSS" in name:
                d.line([(0, 0), (w * SS, h * SS)], fill=255, width=lw)
            return True
        if "ARC" in name:
            # Quarter circle joining the two arms; the arms meet the cell edges at the centre lines.
            x0, x1 = self.span(cx, t)
            y0, y1 = self.span(cy, t)
            lcx = (x0 + x1) / 2 * SS
            lcy = (y0 + y1) / 2 * SS
            r = min(w, h) / 2 * SS * 0.9
            down = "DOWN" in name
            right = "RIGHT" in name
            # Arc centre is offset r into the quadrant the arc opens to.
            ox = lcx + (r if right else -r)
            oy = lcy + (r if down else -r)
            lw = t * SS
            # straight parts
            if right:
                d.rectangle([round(ox), y0 * SS, w * SS - 1, y1 * SS - 1], fill=255)
            else:
                d.rectangle([0, y0 * SS, round(ox) - 1, y1 * SS - 1], fill=255)
            if down:
                d.rectangle([x0 * SS, round(oy), x1 * SS - 1, h * SS - 1], fill=255)
            else:
                d.rectangle([x0 * SS, 0, x1 * SS - 1, round(oy) - 1], fill=255)
            if right and down:
                start, end = 180, 270
            elif not right and down:
                start, end = 270, 360
            elif not right and not down:
                start, end = 0, 90
            else:
                start, end = 90, 180
            rr = r + lw / 2
            d.arc([ox - rr, oy - rr, ox + rr, oy + rr], start, end, fill=255, width=lw)
            return True
        arms = box_arms(ch)
        if arms is None:
            return False
        up, right, down, left = arms
        thick = {LIGHT: self.light, HEAVY: self.heavy, DOUBLE: self.light}
        has_double = DOUBLE in arms
        g = self.gap
        maxt = max(thick[a] for a in arms if a)
        # How far a single (light/heavy) arm reaches past the centre so that it meets its neighbours.
        reach_lo = maxt // 2 + (g if has_double else 0)
        reach_hi = maxt - maxt // 2 + (g if has_double else 0)
        # Single arms.
        for arm, direction in ((up, "U"), (right, "R"), (down, "D"), (left, "L")):
            if arm in (LIGHT, HEAVY):
                tt = thick[arm]
                if direction in "UD":
                    x0, x1 = self.span(cx, tt)
                    if direction == "U":
                        self.rect(d, x0, 0, x1, cy + reach_hi)
                    else:
                        self.rect(d, x0, cy - reach_lo, x1, h)
                else:
                    y0, y1 = self.span(cy, tt)
                    if direction == "L":
                        self.rect(d, 0, y0, cx + reach_hi, y1)
                    else:
                        self.rect(d, cx - reach_lo, y0, w, y1)
        # Double arms: two lines at centre ± gap. Each line ends where it meets the perpendicular arm's line on its
        # own side (inner corner), or reaches across to the far line (outer corner), or meets the single centre line.
        lt = self.light

        def rel_stop(near, far, perpendicular_double):
            if perpendicular_double:
                if near == DOUBLE:
                    return -g
                if far == DOUBLE:
                    return g
            return 0

        vert_double = up == DOUBLE or down == DOUBLE
        horiz_double = left == DOUBLE or right == DOUBLE
        for arm, direction in ((left, "L"), (right, "R")):
            if arm != DOUBLE:
                continue
            for sign in (-1, 1):  # -1: upper line, +1: lower line
                y0, y1 = self.span(cy + sign * g, lt)
                near, far = (up, down) if sign < 0 else (down, up)
                rel = rel_stop(near, far, vert_double)
                if direction == "L":
                    self.rect(d, 0, y0, cx + rel - lt // 2 + lt, y1)
                else:
                    self.rect(d, cx - rel - lt // 2, y0, w, y1)
        for arm, direction in ((up, "U"), (down, "D")):
            if arm != DOUBLE:
                continue
            for sign in (-1, 1):  # -1: left line, +1: right line
                x0, x1 = self.span(cx + sign * g, lt)
                near, far = (left, right) if sign < 0 else (right, left)
                rel = rel_stop(near, far, horiz_double)
                if direction == "U":
                    self.rect(d, x0, 0, x1, cy + rel - lt // 2 + lt)
                else:
                    self.rect(d, x0, cy - rel - lt // 2, x1, h)
        return True

    def draw_block(self, d, cp, ch):
        w, h = self.cw, self.ch

        def fy(frac):
            return round(h * frac)

        def fx(frac):
            return round(w * frac)

        if cp == 0x2580:
            self.rect(d, 0, 0, w, fy(0.5))
        elif 0x2581 <= cp <= 0x2588:
            k = cp - 0x2580  # eighths from the bottom
            self.rect(d, 0, h - fy(k / 8), w, h)
        elif 0x2589 <= cp <= 0x258F:
            k = 0x2590 - cp  # eighths from the left: 2589 = 7/8 ... 258F = 1/8
            self.rect(d, 0, 0, max(1, fx(k / 8)), h)
        elif cp == 0x2590:
            self.rect(d, fx(0.5), 0, w, h)
        elif 0x2591 <= cp <= 0x2593:
            level = {0x2591: 64, 0x2592: 128, 0x2593: 192}[cp]
            self.rect(d, 0, 0, w, h, fill=level)
        elif cp == 0x2594:
            self.rect(d, 0, 0, w, max(1, fy(1 / 8)))
        elif cp == 0x2595:
            self.rect(d, w - max(1, fx(1 / 8)), 0, w, h)
        else:
            quads = {
                0x2596: "LL", 0x2597: "LR", 0x2598: "UL", 0x2599: "UL LL LR", 0x259A: "UL LR",
                0x259B: "UL UR LL", 0x259C: "UL UR LR", 0x259D: "UR", 0x259E: "UR LL", 0x259F: "UR LL LR",
            }[cp].split()
            mx, my = fx(0.5), fy(0.5)
            for q in quads:
                x0, x1 = (0, mx) if q[1] == "L" else (mx, w)
                y0, y1 = (0, my) if q[0] == "U" else (my, h)
                self.rect(d, x0, y0, x1, y1)
        return True

    def draw_braille(self, d, cp, ch):
        bits = cp - 0x2800
        w, h = self.cw * SS, self.ch * SS
        # dot k: (column, row)
        layout = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
        sub_w, sub_h = w / 2, h / 4
        radius = min(sub_w, sub_h) * 0.42
        for k, (col, row) in enumerate(layout):
            if bits & (1 << k):
                x = (col + 0.5) * sub_w
                y = (row + 0.5) * sub_h
                d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
        return True


# ---------------------------------------------------------------------------------------------------------------


class Fonts:
    def __init__(self, size):
        def load(name):
            return ImageFont.truetype(FONT_DIR + name, size)

        self.regular = load("DejaVuSansMono.ttf")
        self.bold = load("DejaVuSansMono-Bold.ttf")
        try:
            self.italic = load("DejaVuSansMono-Oblique.ttf")
            self.bold_italic = load("DejaVuSansMono-BoldOblique.ttf")
        except OSError:
            self.italic, self.bold_italic = self.regular, self.bold
        try:
            self.fallback = load("DejaVuSans.ttf")
            self.fallback_bold = load("DejaVuSans-Bold.ttf")
        except OSError:
            self.fallback = self.fallback_bold = None
        self._notdef = {}

    def pick(self, bold, italic):
        if italic:
            return self.bold_italic if bold else self.italic
        return self.bold if bold else self.regular

    def covers(self, font, ch):
        """Whether font has a glyph for ch (it is not drawn as the .notdef box)."""
        key = id(font)
        if key not in self._notdef:
            self._notdef[key] = bytes(font.getmask("\U0010FFFD"))
        m = font.getmask(ch)
        return bytes(m) != self._notdef[key] or m.size != font.getmask("\U0010FFFD").size


def render(grid, cols, rows, font_size, cell_w, cell_h, padding):
    fonts = Fonts(font_size)
    ascent, descent = fonts.regular.getmetrics()
    if cell_w is None:
        cell_w = round(fonts.regular.getlength("M"))
    if cell_h is None:
        cell_h = ascent + descent
    # One pixel above the font's own baseline, so '_' does not touch the next row.
    baseline = max(1, (cell_h - (ascent + descent)) // 2 + ascent - 1)
    painter = GlyphPainter(cell_w, cell_h)
    img = Image.new("RGB", (cols * cell_w + 2 * padding, rows * cell_h + 2 * padding), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    # Backgrounds first, then glyphs (so glyph overhang is not cut by the next cell's background).
    for y in range(rows):
        for x in range(cols):
            text, key, w = grid[y][x]
            if w == 0:
                continue
            _, bg = resolve_colors(key)
            if bg != DEFAULT_BG:
                x0 = padding + x * cell_w
                y0 = padding + y * cell_h
                draw.rectangle([x0, y0, x0 + w * cell_w - 1, y0 + cell_h - 1], fill=bg)
    coverage = {}
    for y in range(rows):
        for x in range(cols):
            text, key, w = grid[y][x]
            if w == 0:
                continue
            fg, bg = resolve_colors(key)
            bold, italic, underline, strike, overline, hidden = key[2], key[4], key[5], key[8], key[9], key[7]
            x0 = padding + x * cell_w
            y0 = padding + y * cell_h
            if text.strip() and not hidden:
                mask = painter.mask(text[0]) if len(text) == 1 else None
                if mask is not None:
                    img.paste(fg, (x0, y0), mask)
                else:
                    font = fonts.pick(bold, italic)
                    ck = (id(font), text)
                    if ck not in coverage:
                        coverage[ck] = fonts.covers(font, text[0])
                    if not coverage[ck] and fonts.fallback is not None:
                        font = fonts.fallback_bold if bold else fonts.fallback
                        # Shrink wide fallback glyphs to the cell (or to two cells when the next one is blank).
                        adv = font.getlength(text)
                        room = w * cell_w
                        if x + w < cols and grid[y][x + w][0] == " ":
                            room += cell_w * 3 // 4
                        if adv > room + 1:
                            font = ImageFont.truetype(font.path, max(6, int(font_size * room / adv)))
                    draw.text((x0, y0 + baseline), text, font=font, fill=fg, anchor="ls")
            if underline:
                uy = y0 + min(cell_h - 1, baseline + 2)
                draw.line([(x0, uy), (x0 + w * cell_w - 1, uy)], fill=fg)
            if strike:
                sy = y0 + baseline - ascent // 3
                draw.line([(x0, sy), (x0 + w * cell_w - 1, sy)], fill=fg)
            if overline:
                draw.line([(x0, y0), (x0 + w * cell_w - 1, y0)], fill=fg)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the capture (ANSI text); - for stdin")
    ap.add_argument("output", help="the PNG to write")
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--font-size", type=float, default=15)
    ap.add_argument("--cell-width", type=int, default=9)
    ap.add_argument("--cell-height", type=int, default=18)
    ap.add_argument("--padding", type=int, default=8, help="border around the grid, in pixels")
    ap.add_argument("--light", action="store_true", help="a white terminal (for --theme light)")
    args = ap.parse_args()
    if args.light:
        use_light()
    if args.input == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(args.input, "rb") as f:
            data = f.read()
    text = data.decode("utf-8", errors="replace")
    grid = parse(text, args.cols, args.rows)
    img = render(grid, args.cols, args.rows, args.font_size, args.cell_width, args.cell_height, args.padding)
    img.save(args.output, optimize=True)


if __name__ == "__main__":
    main()
