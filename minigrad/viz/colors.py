"""Colours and number formatting for the drawings.

The gradient colouring maps ``log10 ||dL/dh_t||`` onto a sequential scale (ColorBrewer YlOrRd):
pale yellow for the smallest gradient in the picture, dark red for the largest. A picture of an
RNN over 30 steps then *shows* the vanishing gradient: the early steps fade to yellow.

Example::

    >>> scale = GradientScale([1e-6, 1e-3, 1.0])
    >>> scale.lo, scale.hi
    (-6.0, 0.0)
    >>> scale.color(1.0)
    '#800026'
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

import numpy as np

# What each kind of node looks like: (shape, style, fill colour). Chosen so that kinds differ in
# both shape and colour (readable in grey-scale print, too).
NODE_STYLE = {
    "op": ("box", "rounded,filled", "#dbe9f6"),        # light blue rounded box: an operation
    "eq": ("box", "rounded,filled", "#dbe9f6"),        # an equation of a fused step (drawn like an op)
    "param": ("box", "filled", "#fdd49e"),             # orange box: a learnable parameter
    "input": ("ellipse", "filled", "#d9f0d3"),         # green ellipse: data going in (x_t, initial state)
    "output": ("doubleoctagon", "filled", "#f4cccc"),  # pink double octagon: what you asked to draw
    "cell": ("box", "rounded,filled", "#eeeeee"),      # one time step of one layer (cells view)
}
CLUSTER_STEP_FILL = "#f7f7f7"   # a time step without gradient information
NO_GRAD_FILL = "#d9d9d9"       # a time step whose gradient is exactly zero (or was never reached)
EDGE_COLOR = "#555555"
PARAM_EDGE_COLOR = "#a0703c"   # parameter edges are brown, thinner than the recurrent ones
RECURRENT_EDGE_COLOR = "#1f4e9c"  # h (and c) flowing from one time step to the next: the BPTT path

# ColorBrewer YlOrRd, 9 classes: light = small gradient, dark = large gradient.
_YLORRD = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def interpolate(u: float) -> str:
    """The colour at position ``u`` in [0, 1] of the sequential scale (linear in RGB between classes)."""
    u = min(max(u, 0.0), 1.0) * (len(_YLORRD) - 1)
    i = min(int(u), len(_YLORRD) - 2)
    frac = u - i
    a, b = _rgb(_YLORRD[i]), _rgb(_YLORRD[i + 1])
    r, g, bl = (round(x + (y - x) * frac) for x, y in zip(a, b))
    return f"#{r:02x}{g:02x}{bl:02x}"


def is_dark(hex_color: str) -> bool:
    """True when white text reads better than black on this fill (relative luminance < 0.4)."""
    r, g, b = (c / 255 for c in _rgb(hex_color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.4


class GradientScale:
    """Maps gradient norms to colours on a log10 scale spanning the norms given.

    By default the scale runs over whole decades around the norms (``1e-6 .. 1e0``); with
    ``exact=True`` from exactly the smallest to the largest norm given (a fixed ``(vmin, vmax)``
    shared by several figures); with ``exact=None`` exactly only when the norms all sit inside
    one decade (whole decades would paint them all one colour). Norms outside the
    scale get its end colours. Norms that are zero (or not finite) have no logarithm: they get
    ``NO_GRAD_FILL`` (grey).
    """

    def __init__(self, norms: Iterable[float], pale: float = 0.0, title: str = "||dL/dh_t||",
                 exact: bool | None = False):
        self.title = title
        self.pale = pale  # mix this much white in (behind the op nodes of the ops view)
        logs = [math.log10(g) for g in norms if g is not None and g > 0 and math.isfinite(g)]
        self.empty = not logs
        lo, hi = (min(logs), max(logs)) if logs else (0.0, 0.0)
        # exact=None: whole decades, unless that would paint everything one colour (norms in one decade).
        self.exact = bool(exact) or (exact is None and bool(logs) and math.ceil(hi) - math.floor(lo) <= 1
                                     and hi - lo > 1e-9)
        self.lo, self.hi = (float(lo), float(hi)) if self.exact else (float(math.floor(lo)), float(math.ceil(hi)))
        if self.hi <= self.lo:  # one norm only: still a one-decade scale
            self.hi = self.lo + 1.0

    def with_style(self, pale: float, title: str) -> GradientScale:
        """The same range, drawn behind another view (``pale``) and titled for it."""
        twin = GradientScale([], pale=pale, title=title)
        twin.lo, twin.hi, twin.exact, twin.empty = self.lo, self.hi, self.exact, self.empty
        return twin

    def color(self, norm: float | None) -> str:
        if norm is None or not (norm > 0) or not math.isfinite(norm):
            return NO_GRAD_FILL
        return self._mix(interpolate((math.log10(norm) - self.lo) / (self.hi - self.lo)))

    def _mix(self, color: str) -> str:
        if not self.pale:
            return color
        r, g, b = (round(c + (255 - c) * self.pale) for c in _rgb(color))
        return f"#{r:02x}{g:02x}{b:02x}"

    def _stops(self) -> list[float]:
        """The log10 values the legend labels: each decade, or evenly spaced points of an exact range."""
        if self.exact:
            return [self.lo + (self.hi - self.lo) * k / 5 for k in range(6)]
        decades = list(range(int(self.lo), int(self.hi) + 1))
        if len(decades) > 12:  # keep the legend short: about ten labelled cells
            step = math.ceil(len(decades) / 10)
            decades = decades[::step] + ([int(self.hi)] if decades[::step][-1] != int(self.hi) else [])
        return [float(e) for e in decades]

    def legend_label(self) -> str:
        """An HTML table: the title, then one coloured cell per stop from the smallest to the largest norm."""
        cells = []
        for e in self._stops():
            fill = self._mix(interpolate((e - self.lo) / (self.hi - self.lo)))
            font = "white" if is_dark(fill) else "black"
            text = f"1e{int(e)}" if not self.exact else fmt(10.0 ** e)
            cells.append(f'<TD BGCOLOR="{fill}"><FONT COLOR="{font}" POINT-SIZE="9">{text}</FONT></TD>')
        grey = f'<TD BGCOLOR="{NO_GRAD_FILL}"><FONT POINT-SIZE="9">0</FONT></TD>'
        span = (f"from {fmt(10.0 ** self.lo)} to {fmt(10.0 ** self.hi)}" if self.exact
                else f"from min 1e{int(self.lo)} to max 1e{int(self.hi)}")
        return (
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            f'<TR><TD COLSPAN="{len(cells) + 1}"><B>{html.escape(self.title)}</B><BR/>'
            f'<FONT POINT-SIZE="9">colour = log10, {span}; grey = zero</FONT></TD></TR>'
            f"<TR>{''.join(cells)}{grey}</TR></TABLE>>"
        )


def fmt(x: float) -> str:
    """A number in 3 significant digits; scientific notation for very small or large magnitudes."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) < 1e-3 or abs(x) >= 1e4:
        return f"{x:.2e}"
    return f"{x:.3g}"


def describe(a: np.ndarray | None, max_elements: int = 6) -> str:
    """The numbers of a small array, otherwise its min / mean / max.

    Example::

        >>> describe(np.array([1.0, 0.5]))
        '[1, 0.5]'
        >>> describe(np.arange(10.0))
        'min 0 mean 4.5 max 9'
    """
    if a is None:
        return ""
    a = np.asarray(a)
    if a.size == 0:
        return "[]"
    if a.size <= max_elements:
        return "[" + ", ".join(fmt(v) for v in a.ravel().tolist()) + "]"
    if a.dtype.kind == "b":
        return f"{int(a.sum())} of {a.size} true"
    a = a.astype(np.float64, copy=False)
    return f"min {fmt(a.min())} mean {fmt(a.mean())} max {fmt(a.max())}"
