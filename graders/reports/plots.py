"""Plots of a check that did not pass, for the per-student page: the student's values against
the expected ones, the points that differ in red, drawn as inline SVG (coordinates computed
here, labels escaped by the template; numpy imported only when a plot is drawn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..checks.numeric import spread
from ..results import CheckResult, CheckStatus, Curve
from ..safe_text import clean

if TYPE_CHECKING:
    import numpy as np

# A check shows at most this many plots: a function check's first call (the tutorial's own
# inputs) and its first failing calls; more pictures of the same mistake add nothing.
PLOTS_PER_CHECK = 4
# Longer curves are thinned to keep each inline SVG a few tens of kilobytes.
MAX_PLOT_POINTS = 500
# Beyond this many red markers, one path of small squares is smaller than a circle each.
_MAX_MARKERS = 200
# The plots' inline SVG, in its own units: the whole, and the box the data is drawn in
# (room left of it for the y tick labels, and below it for the x ticks and the x name).
_PLOT_WIDTH, _PLOT_HEIGHT = 560, 220
_PLOT_LEFT, _PLOT_TOP, _PLOT_RIGHT, _PLOT_BOTTOM = 70, 10, 550, 176
# The plots' colours, explained once in the page's legend rather than in every plot.
COLOURS = {"expected": "#8c959f", "actual": "#0969da", "mismatch": "#cf222e"}


@dataclass(frozen=True)
class Plot:
    figure: _Figure
    caption: str


def plots(check: CheckResult) -> list[Plot]:
    """Pictures of a check that did not pass; a hidden check shows none (nor the engine's
    evidence, which it strips too: a plot would give the expected values away)."""
    if check.hidden or check.status == CheckStatus.PASSED:
        return []
    plots = []
    for curve in _chosen_curves(check.evidence):
        figure = _Figure.of(_Lines.of(curve), check.name)
        caption = _caption(curve)
        if figure.squares:
            drawn, wrong = figure.marked, curve.mismatches
            caption += " (marked by small squares"
            caption += f", {drawn} of them evenly spread)" if drawn < wrong else ")"
        plots.append(Plot(figure, caption))
    return plots


def group_plot(check: CheckResult, size: int) -> Plot | None:
    """The picture of a group of students who gave ``check`` the same wrong values: the
    first one's values (first curve) against the expected ones; None without a curve."""
    curve = next((curve for curve in check.evidence if curve.expected), None)
    if check.hidden or curve is None or curve.actual is None:
        return None
    if curve.actual_points != curve.points:
        finding = (
            f"{curve.actual_points} values where {curve.points} are expected, drawn position "
            "by position"
        )
    else:
        finding = f"they differ from the expected ones at {curve.mismatches} of {curve.points}"
    label = f" ({clean(curve.label)})" if curve.label else ""
    caption = f"The values these {size} students share{label}: {finding}"
    return Plot(_Figure.of(_Lines.of(curve), check.name), caption)


def _chosen_curves(curves: list[Curve]) -> list[Curve]:
    """The first curve (a function's first call uses the tutorial's own inputs), then the
    failing ones, at most PLOTS_PER_CHECK; curves without points are not drawn."""
    drawable = [curve for curve in curves if curve.expected]
    failing = [curve for curve in drawable[1:] if not _matches(curve)]
    return (drawable[:1] + failing)[:PLOTS_PER_CHECK]


def _matches(curve: Curve) -> bool:
    return curve.actual is not None and curve.mismatch is not None and not any(curve.mismatch)


def _caption(curve: Curve) -> str:
    expected = curve.points
    if curve.actual is None:
        finding = "your answer could not be read as numbers: only the expected values are drawn"
    elif curve.actual_points != expected:
        finding = (
            f"your answer has {curve.actual_points} values where {expected} are expected; "
            "they are drawn position by position"
        )
    elif curve.mismatch is None:
        finding = "your values and the expected ones"
    elif mismatches := curve.mismatches:
        finding = f"differs at {mismatches} of {expected} points"
    else:
        finding = f"matches at all {expected} points"
    if curve.label:
        return f"{clean(curve.label)}: {finding}"
    return finding[0].upper() + finding[1:]


@dataclass(frozen=True)
class _Lines:
    """The points to draw for one curve: thinned, non-finite values left out of the lines."""

    x_name: str
    expected: tuple[np.ndarray, np.ndarray]
    actual: tuple[np.ndarray, np.ndarray]
    mismatch: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, curve: Curve) -> _Lines:
        import numpy as np

        expected = np.asarray(curve.expected, dtype=float)  # None (stored NaN) becomes NaN
        actual = np.asarray(curve.actual if curve.actual is not None else [], dtype=float)
        x_name, x = curve.x_name, np.asarray(curve.x, dtype=float)
        if curve.actual_x is not None:
            x_actual = np.asarray(curve.actual_x, dtype=float)
        elif len(actual) in (0, len(expected)):
            x_actual = x[: len(actual)]
        else:  # lengths differ: the student's values are compared position by position
            x_name, x, x_actual = "index", np.arange(len(expected)), np.arange(len(actual))
        flags = curve.mismatch if curve.mismatch is not None and len(actual) else []
        wrong = np.flatnonzero(np.asarray(flags, dtype=bool))
        finite = np.isfinite(actual)
        # A non-finite answer is marked at the expected value: it has no place of its own.
        marked = np.where(finite[wrong], actual[wrong], expected[wrong])
        shown, shown_actual, marks = (
            spread(count, MAX_PLOT_POINTS) for count in (len(x), len(x_actual), len(wrong))
        )
        return cls(
            x_name=x_name,
            expected=(x[shown], np.where(np.isfinite(expected), expected, np.nan)[shown]),
            actual=(x_actual[shown_actual], np.where(finite, actual, np.nan)[shown_actual]),
            mismatch=(x[wrong][marks], marked[marks]),
        )


@dataclass(frozen=True)
class _Tick:
    at: str  # in the SVG's units
    label: str


@dataclass(frozen=True)
class _Axis:
    """A data range [low, high] drawn from ``start`` to ``end`` (SVG units; y runs upwards)."""

    low: float
    high: float
    start: int
    end: int

    @classmethod
    def over(cls, values: np.ndarray, start: int, end: int, *, pad: float) -> _Axis:
        """The range of the finite ``values``, widened by ``pad`` of its span at each end;
        a single value (or none) gets a range around it."""
        if not len(values):
            return cls(0.0, 1.0, start, end)
        low, high = float(values.min()), float(values.max())
        span = high - low
        if not span > 1e-9 * max(abs(low), abs(high)) or not math.isfinite(span):
            half = abs(low) / 10 or 1.0
            return cls(low - half, high + half, start, end)
        return cls(low - pad * span, high + pad * span, start, end)

    def place(self, values: np.ndarray) -> np.ndarray:
        """The SVG coordinates of ``values``, to a tenth of a unit."""
        return (
            self.start + (values - self.low) / (self.high - self.low) * (self.end - self.start)
        ).round(1)

    def ticks(self) -> list[_Tick]:
        """The ends and the middle, labelled with 3 significant digits."""
        ticks = []
        for share in (0.0, 0.5, 1.0):
            value = self.low + share * (self.high - self.low)
            if abs(value) < 1e-9 * (self.high - self.low):  # not 1e-17 for the 0 in -1..1
                value = 0.0
            at = self.start + share * (self.end - self.start)
            ticks.append(_Tick(f"{at:.1f}".removesuffix(".0"), f"{value + 0.0:.3g}"))
        return ticks


@dataclass(frozen=True)
class _Figure:
    """A line plot, drawn as an inline SVG by the student template: its coordinates are
    computed here, like the summary's histogram, and its labels escaped by the template."""

    x_name: str
    y_name: str
    x_ticks: list[_Tick]
    y_ticks: list[_Tick]
    expected: str  # path data; a missing value breaks the line
    actual: str
    circles: list[tuple[float, float]]  # one red marker per differing point ...
    squares: str  # ... or, beyond _MAX_MARKERS of them, one path of small squares
    marked: int
    width: int = _PLOT_WIDTH
    height: int = _PLOT_HEIGHT
    left: int = _PLOT_LEFT
    top: int = _PLOT_TOP
    right: int = _PLOT_RIGHT
    bottom: int = _PLOT_BOTTOM

    @classmethod
    def of(cls, lines: _Lines, y_name: str) -> _Figure:
        import numpy as np

        parts = (lines.expected, lines.actual, lines.mismatch)
        xs = np.concatenate([part[0] for part in parts])
        ys = np.concatenate([part[1] for part in parts])
        finite = np.isfinite(xs) & np.isfinite(ys)
        x_axis = _Axis.over(xs[finite], _PLOT_LEFT, _PLOT_RIGHT, pad=0.0)
        y_axis = _Axis.over(ys[finite], _PLOT_BOTTOM, _PLOT_TOP, pad=0.08)
        mx, my = x_axis.place(lines.mismatch[0]), y_axis.place(lines.mismatch[1])
        keep = np.isfinite(mx) & np.isfinite(my)
        marks = list(zip(mx[keep].tolist(), my[keep].tolist(), strict=True))
        many = len(marks) > _MAX_MARKERS
        return cls(
            x_name=lines.x_name,
            y_name=y_name,
            x_ticks=x_axis.ticks(),
            y_ticks=y_axis.ticks(),
            expected=_path(x_axis.place(lines.expected[0]), y_axis.place(lines.expected[1])),
            actual=_path(x_axis.place(lines.actual[0]), y_axis.place(lines.actual[1])),
            circles=[] if many else marks,
            squares="".join(f"M{x - 1.5:g} {y - 1.5:g}h3v3h-3z" for x, y in marks) if many else "",
            marked=len(marks),
        )


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG path data through the points, broken where a point is missing; a point alone
    between gaps is a zero-length line, which the round line caps draw as a dot."""
    import numpy as np

    finite = np.isfinite(xs) & np.isfinite(ys)
    after_gap = ~np.concatenate(([False], finite[:-1]))
    before_gap = ~np.concatenate((finite[1:], [False]))
    commands = []
    for x, y, starts, alone in zip(
        xs[finite].tolist(),
        ys[finite].tolist(),
        after_gap[finite].tolist(),
        (after_gap & before_gap)[finite].tolist(),
        strict=True,
    ):
        commands.append(f"{'M' if starts else 'L'}{x:g} {y:g}{'h0' if alone else ''}")
    return "".join(commands)
