"""Charts drawn on the server as SVG geometry for the templates: a series of values over time, each
point with its interval, on a time axis with dates and a value axis with ticks.

Only numbers leave this module; the templates write them into SVG elements, and every text
(labels, titles) goes through Jinja's escaping like the rest of the page.
"""
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 12, 36


@dataclass
class Point:
    x: float
    y: float
    low: float | None   # the interval's ends, in pixels (None: no interval)
    high: float | None
    value: float
    when: str
    title: str
    href: str | None = None


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    points: list[Point] = field(default_factory=list)
    x_ticks: list[tuple[float, str, str]] = field(default_factory=list)  # x, text, text-anchor
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def line(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _value_range(series: list[dict], unit_range: bool) -> tuple[float, float]:
    if unit_range:
        return 0.0, 1.0
    numbers = [n for item in series for n in (item["value"], *(item.get("interval") or ())) if n is not None]
    low, high = min(numbers), max(numbers)
    if low == high:
        low, high = low - 0.5, high + 0.5
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 2.5, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def time_series(series: list[dict], *, percent: bool = False) -> Chart:
    """`series`: items with `value` (None: no point), `when` (ISO time), optional `interval` (low,
    high), `title` and `href`, oldest first. percent: values are rates in [0, 1], shown as %."""
    chart = Chart()
    shown = [item for item in series if item["value"] is not None]
    if not shown:
        return chart
    low, high = _value_range(shown, percent)
    times = [_moment(item["when"]).timestamp() for item in shown]
    first, last = min(times), max(times)
    span = last - first

    def x_of(moment: float) -> float:
        if span == 0:
            return (chart.left + chart.right) / 2
        return chart.left + (moment - first) / span * (chart.right - chart.left)

    def y_of(value: float) -> float:
        return chart.bottom - (value - low) / (high - low) * (chart.bottom - chart.top)

    for item, moment in zip(shown, times):
        interval = item.get("interval")
        chart.points.append(Point(
            x=x_of(moment), y=y_of(item["value"]), value=item["value"], when=item["when"],
            low=y_of(interval[0]) if interval else None, high=y_of(interval[1]) if interval else None,
            title=item.get("title", ""), href=item.get("href")))
    for value in _nice_ticks(low, high):
        chart.y_ticks.append((y_of(value), f"{value:.0%}" if percent else f"{value:.4g}"))
    marks = [first] if span == 0 else [first + span * i / 3 for i in range(4)]
    same_day = span < 86400
    for number, moment in enumerate(marks):
        text = datetime.fromtimestamp(moment, timezone.utc).strftime("%H:%M" if same_day else "%Y-%m-%d")
        # The first and last dates stay inside the chart: anchored at their start and end.
        anchor = "middle" if len(marks) == 1 else "start" if number == 0 else "end" if number == len(marks) - 1 \
            else "middle"
        chart.x_ticks.append((x_of(moment), text, anchor))
    return chart
