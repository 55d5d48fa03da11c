"""Server-side SVG charts for the dashboards: no JavaScript, no CDN, no inline styles.

Every chart is an <svg role="img"> with a <title> and an aria-label (the page puts the data
table under it); colours come from classes styled in static/css/dashboard.css, so the CSP
(no inline styles) holds. All text is escaped here: names come from users.

    line_chart      a weekly series with its 95 % confidence band, a threshold line, and hollow
                    dots where the evidence is insufficient
    interval_chart  one horizontal interval per row (a forest plot) over a reference band:
                    which agents' intervals clear the team's
    bar_chart       stacked or grouped vertical bars
    spark_bars      a small bar strip with flagged bars highlighted (spike alerts)
    drift_coordinates  screen coordinates of a reviewer's EWMA drift chart, which the
                    calibration template draws
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

if TYPE_CHECKING:
    from qa.drift import DriftChart


@dataclass(frozen=True)
class Point:
    label: str
    mean: float | None
    low: float | None = None
    high: float | None = None
    insufficient: bool = False


@dataclass(frozen=True)
class Interval:
    label: str
    mean: float | None
    low: float | None
    high: float | None
    css: str = ""  # above / within / below / insufficient


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    css: str


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, title: str, css: str) -> list[str]:
    t = escape(title)
    return [
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{t}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>'
    ]


def _y_axis(
    parts: list[str],
    left: int,
    right: int,
    top: float,
    bottom: float,
    y_max: float,
    ticks: Sequence[float],
    fmt: str = "{}",
) -> None:
    for tick in ticks:
        y = bottom - (bottom - top) * tick / y_max
        parts.append(
            f'<line class="chart__grid" x1="{left}" x2="{right}" y1="{_f(y)}" y2="{_f(y)}"/>'
            f'<text class="chart__tick" x="{left - 6}" y="{_f(y + 4)}" text-anchor="end">'
            f"{escape(fmt.format(_f(tick)))}</text>"
        )


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    y_max: float = 100.0,
    threshold: float | None = 80.0,
    width: int = 560,
    height: int = 200,
) -> SafeString:
    left, right, top, bottom = 40, width - 12, 12, height - 26
    parts = _open(width, height, title, "chart--line")
    _y_axis(parts, left, right, top, bottom, y_max, [0, 20, 40, 60, 80, 100])
    n = len(points)

    def x(i: int) -> float:
        return left + (right - left) * (i + 0.5) / max(n, 1)

    def y(v: float) -> float:
        v = min(max(v, 0.0), y_max)
        return bottom - (bottom - top) * v / y_max

    if threshold is not None:
        parts.append(
            f'<line class="chart__threshold" x1="{left}" x2="{right}" '
            f'y1="{_f(y(threshold))}" y2="{_f(y(threshold))}"/>'
        )
    # The band and the line break where a week has no interval (or no reviews).
    runs: list[list[int]] = []
    for i, p in enumerate(points):
        if p.mean is not None and p.low is not None and p.high is not None:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    for run in runs:
        upper = [f"{_f(x(i))},{_f(y(points[i].high))}" for i in run]  # type: ignore[arg-type]
        lower = [f"{_f(x(i))},{_f(y(points[i].low))}" for i in reversed(run)]  # type: ignore[arg-type]
        if len(run) == 1:
            i = run[0]
            parts.append(
                f'<line class="chart__whisker" x1="{_f(x(i))}" x2="{_f(x(i))}" '
                f'y1="{_f(y(points[i].low))}" y2="{_f(y(points[i].high))}"/>'  # type: ignore[arg-type]
            )
        else:
            parts.append(f'<polygon class="chart__band" points="{" ".join(upper + lower)}"/>')
    line = [f"{_f(x(i))},{_f(y(p.mean))}" for i, p in enumerate(points) if p.mean is not None]
    if len(line) > 1:
        parts.append(f'<polyline class="chart__line" points="{" ".join(line)}"/>')
    step = max(1, (n + 5) // 6)
    for i, p in enumerate(points):
        if p.mean is not None:
            css = "chart__dot chart__dot--weak" if p.insufficient else "chart__dot"
            text = "insufficient evidence" if p.insufficient else f"{p.mean:.1f}"
            label = escape(f"{p.label}: {text}")
            parts.append(
                f'<circle class="{css}" cx="{_f(x(i))}" cy="{_f(y(p.mean))}" r="3.5">'
                f"<title>{label}</title></circle>"
            )
        if (n - 1 - i) % step == 0:  # counted from the newest, which is always labelled
            parts.append(
                f'<text class="chart__tick" x="{_f(x(i))}" y="{height - 8}" '
                f'text-anchor="middle">{escape(p.label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every piece of text above is escaped)


def interval_chart(
    rows: Sequence[Interval],
    *,
    title: str,
    band: tuple[float, float] | None = None,
    x_max: float = 100.0,
    width: int = 560,
    row_height: int = 24,
) -> SafeString:
    label_w, right = 150, width - 14
    height = 30 + row_height * max(len(rows), 1)
    parts = _open(width, height, title, "chart--intervals")

    def x(v: float) -> float:
        return label_w + (right - label_w) * min(max(v, 0.0), x_max) / x_max

    bottom = height - 22
    if band is not None:
        parts.append(
            f'<rect class="chart__refband" x="{_f(x(band[0]))}" y="4" '
            f'width="{_f(max(x(band[1]) - x(band[0]), 1))}" height="{bottom - 4}"/>'
        )
    for tick in (0, 20, 40, 60, 80, 100):
        parts.append(
            f'<line class="chart__grid" x1="{_f(x(tick))}" x2="{_f(x(tick))}" y1="4" '
            f'y2="{bottom}"/><text class="chart__tick" x="{_f(x(tick))}" y="{height - 6}" '
            f'text-anchor="middle">{tick}</text>'
        )
    for i, row in enumerate(rows):
        cy = 4 + row_height * i + row_height / 2
        parts.append(
            f'<text class="chart__label" x="{label_w - 8}" y="{_f(cy + 4)}" '
            f'text-anchor="end">{escape(row.label[:22])}</text>'
        )
        css = f"chart__interval chart__interval--{escape(row.css)}"
        if row.low is not None and row.high is not None:
            parts.append(
                f'<line class="{css}" x1="{_f(x(row.low))}" x2="{_f(x(row.high))}" '
                f'y1="{_f(cy)}" y2="{_f(cy)}"/>'
            )
        if row.mean is not None:
            detail = f"{row.label}: {row.mean:.1f}"
            if row.css == "insufficient":
                detail = f"{row.label}: insufficient evidence"
            elif row.low is not None and row.high is not None:
                detail += f" ({row.low:.1f} to {row.high:.1f})"
            parts.append(
                f'<circle class="{css}" cx="{_f(x(row.mean))}" cy="{_f(cy)}" r="4">'
                f"<title>{escape(detail)}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (
        1,
        2,
        5,
        10,
        20,
        25,
        50,
        100,
        200,
        250,
        500,
        1000,
        2000,
        5000,
        10_000,
        20_000,
        50_000,
        100_000,
        200_000,
        500_000,
        1_000_000,
    ):
        if value <= step * 4:
            return float(step * 4)
    return float(value)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    stacked: bool = True,
    width: int = 560,
    height: int = 200,
    unit: str = "",
) -> SafeString:
    left, right, top, bottom = 48, width - 12, 12, height - 26
    n = len(labels)
    totals = [
        sum(s.values[i] for s in series)
        if stacked
        else max((s.values[i] for s in series), default=0)
        for i in range(n)
    ]
    y_max = _nice_max(max(totals, default=0))
    parts = _open(width, height, title, "chart--bars")
    _y_axis(parts, left, right, top, bottom, y_max, [y_max * k / 4 for k in range(5)], "{}" + unit)
    slot = (right - left) / max(n, 1)
    bar_w = slot * 0.72 / (1 if stacked else max(len(series), 1))

    def h(v: float) -> float:
        return (bottom - top) * v / y_max

    step = max(1, (n + 7) // 8)
    for i, label in enumerate(labels):
        x0 = left + slot * i + slot * 0.14
        base = float(bottom)
        for k, s in enumerate(series):
            v = s.values[i]
            if v <= 0:
                continue
            if stacked:
                base -= h(v)
                bx, by = x0, base
            else:
                bx, by = x0 + bar_w * k, bottom - h(v)
            parts.append(
                f'<rect class="chart__bar {escape(s.css)}" x="{_f(bx)}" y="{_f(by)}" '
                f'width="{_f(bar_w)}" height="{_f(max(h(v), 0.5))}">'
                f"<title>{escape(f'{label}, {s.name}: {_f(v)}{unit}')}</title></rect>"
            )
        if (n - 1 - i) % step == 0:  # counted from the newest, which is always labelled
            parts.append(
                f'<text class="chart__tick" x="{_f(left + slot * (i + 0.5))}" '
                f'y="{height - 8}" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308


def spark_bars(
    values: Sequence[int],
    flagged: set[int],
    *,
    title: str,
    threshold: float | None = None,
    width: int = 240,
    height: int = 40,
) -> SafeString:
    n = len(values)
    top_value = max([*values, threshold or 0, 1])
    parts = _open(width, height, title, "chart--spark")
    slot = width / max(n, 1)
    for i, v in enumerate(values):
        bh = (height - 2) * v / top_value
        css = "chart__spark chart__spark--flag" if i in flagged else "chart__spark"
        parts.append(
            f'<rect class="{css}" x="{_f(slot * i + 0.5)}" y="{_f(height - bh)}" '
            f'width="{_f(max(slot - 1, 0.5))}" height="{_f(max(bh, 0.5))}"/>'
        )
    if threshold is not None:
        ty = height - (height - 2) * threshold / top_value
        parts.append(
            f'<line class="chart__threshold" x1="0" x2="{width}" y1="{_f(ty)}" y2="{_f(ty)}"/>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308


# ---------- the calibration page's drift charts ----------

CHART_W, CHART_H, PAD_L, PAD_R, PAD_Y = 560, 150, 44, 12, 14


def drift_coordinates(chart: DriftChart) -> dict:
    """Screen coordinates of an EWMA chart: limits band, EWMA line, observation dots."""
    points = chart.points
    span = max(
        [0.25]
        + [abs(p.ewma) for p in points]
        + [p.limit for p in points]
        + [abs(p.value) for p in points]
    )
    inner_w = CHART_W - PAD_L - PAD_R
    inner_h = CHART_H - 2 * PAD_Y

    def x(i: int) -> float:
        return round(PAD_L + (inner_w * i / max(len(points) - 1, 1)), 1)

    def y(v: float) -> float:
        return round(PAD_Y + inner_h * (1 - (v + span) / (2 * span)), 1)

    upper = [(x(i), y(p.limit)) for i, p in enumerate(points)]
    lower = [(x(i), y(-p.limit)) for i, p in enumerate(points)]
    band = " ".join(f"{a},{b}" for a, b in upper + lower[::-1])
    line = " ".join(f"{x(i)},{y(p.ewma)}" for i, p in enumerate(points))
    dots = [
        {"x": x(i), "y": y(p.value), "ewma_y": y(p.ewma), "out": p.out, "value": p.value}
        for i, p in enumerate(points)
    ]
    alarm = None
    if chart.alarm_index is not None:
        alarm = {"x": x(chart.alarm_index), "y": y(points[chart.alarm_index].ewma)}
    return {
        "w": CHART_W,
        "h": CHART_H,
        "band": band,
        "line": line,
        "dots": dots,
        "zero": y(0),
        "top": y(span),
        "bottom": y(-span),
        "left": PAD_L,
        "right": CHART_W - PAD_R,
        "span_pct": round(span * 100),
        "alarm": alarm,
    }
