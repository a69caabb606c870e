"""The reports' charts, drawn as PNG images: mail clients show a PNG attached inline (`cid:`)
where they would drop scripts or SVG, and WeasyPrint puts the same image in the PDF."""

from __future__ import annotations

import datetime
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.formats import number_format
from django.utils.translation import gettext

from reporting.selectors import TrajectoryPoint
from workpackages.money.selectors import BudgetRow
from workpackages.overview.selectors import ConsumedPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BLUE, ORANGE, GREY, RED = "#1f5f99", "#d9822b", "#8a96a3", "#b3261e"
WIDTH_INCHES, DPI = 9.0, 110


def _pyplot() -> Any:
    """matplotlib's pyplot, drawing into memory only. Loaded on the first chart drawn: it takes
    half a second, which the processes that draw none (web, workers, most commands) are spared."""
    import matplotlib

    matplotlib.use("Agg")  # no display
    from matplotlib import pyplot

    return pyplot


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def _style(axes: object) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)  # type: ignore[attr-defined]
    axes.grid(axis="y", color="#e3e8ee", linewidth=0.8)  # type: ignore[attr-defined]
    axes.set_axisbelow(True)  # type: ignore[attr-defined]


def jobs_trajectory(points: Sequence[TrajectoryPoint]) -> bytes:
    """Realised jobs cumulated month by month, direct and indirect, against the straight lines
    that reach each target at the jobs horizon."""
    figure, axes = _pyplot().subplots(figsize=(WIDTH_INCHES, 3.6))
    months: list[Any] = [point.month for point in points]
    for label, target_label, colour, actual, target in (
        (
            gettext("Direct jobs"),
            gettext("Direct target trajectory"),
            BLUE,
            [point.direct for point in points],
            [float(point.direct_target) for point in points],
        ),
        (
            gettext("Indirect jobs"),
            gettext("Indirect target trajectory"),
            ORANGE,
            [point.indirect for point in points],
            [float(point.indirect_target) for point in points],
        ),
    ):
        axes.plot(months, actual, color=colour, linewidth=2.2, label=label)
        axes.plot(months, target, color=colour, linewidth=1.2, linestyle="--", label=target_label)
    axes.set_title(gettext("Jobs created, cumulated, against the targets"), loc="left")
    axes.set_ylabel(gettext("Jobs"))
    axes.set_ylim(bottom=0)
    _style(axes)
    axes.legend(frameon=False, fontsize=8, ncol=2, loc="upper left")
    figure.autofmt_xdate()
    return _png(figure)


def budget_by_workpackage(rows: Sequence[BudgetRow], time_elapsed: Decimal) -> bytes:
    """Consumption of each workpackage's planned budget, in %, against the time elapsed."""
    figure, axes = _pyplot().subplots(figsize=(WIDTH_INCHES, 0.9 + 0.32 * max(len(rows), 1)))
    labels = [f"WP{row.number}" for row in rows]
    values = [float(row.consumption or 0) for row in rows]
    colours = [RED if value > float(time_elapsed) or value > 100 else BLUE for value in values]
    axes.barh(labels, values, color=colours, height=0.6)
    axes.axvline(float(time_elapsed), color=GREY, linestyle="--", linewidth=1.2)
    axes.annotate(
        gettext("Time elapsed %(percent)s %%") % {"percent": number_format(time_elapsed, 0)},
        xy=(float(time_elapsed), 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(4, -2),
        textcoords="offset points",
        va="top",
        fontsize=8,
        color=GREY,
    )
    axes.invert_yaxis()
    axes.set_title(gettext("Budget consumed per workpackage"), loc="left")
    axes.xaxis.set_major_formatter(lambda value, _position: f"{value:.0f} %")
    axes.set_xlim(0, max([100.0, *values]) * 1.05)
    _style(axes)
    axes.grid(axis="x", color="#e3e8ee", linewidth=0.8)
    axes.grid(axis="y", visible=False)
    return _png(figure)


def budget_against_time(
    points: Sequence[ConsumedPoint], start: datetime.date, end: datetime.date
) -> bytes:
    """The budget consumed, as a share of the plan, at each of `points` (the ends of the ended
    reporting periods, and today), against the time elapsed: the straight line from the
    consortium's start (0 %) to its end (100 %)."""
    figure, axes = _pyplot().subplots(figsize=(WIDTH_INCHES, 3.6))
    days: list[Any] = [start, *(point.day for point in points)]
    consumed = [0.0, *(float(point.consumption or 0) for point in points)]
    axes.plot(
        days, consumed, color=BLUE, linewidth=2.2, marker="o", label=gettext("Budget consumed")
    )
    axes.plot(
        [start, end],
        [0.0, 100.0],
        color=GREY,
        linewidth=1.2,
        linestyle="--",
        label=gettext("Time elapsed"),
    )
    if points:
        last = points[-1]
        axes.axvline(last.day, color=GREY, linestyle=":", linewidth=1.0)
        axes.annotate(
            gettext("%(consumed)s %% consumed, %(elapsed)s %% of the time elapsed")
            % {
                "consumed": number_format(last.consumption or 0, 1),
                "elapsed": number_format(last.time_elapsed, 1),
            },
            xy=(last.day, float(last.consumption or 0)),
            # Inside the plot: to the left of a point past mid-term, to the right before.
            xytext=(-6, 8) if last.time_elapsed > 50 else (6, 8),
            textcoords="offset points",
            ha="right" if last.time_elapsed > 50 else "left",
            fontsize=8,
            color=RED if (last.consumption or 0) > last.time_elapsed else BLUE,
        )
    axes.set_title(gettext("Budget consumed against time elapsed"), loc="left")
    axes.set_ylabel(gettext("% of the planned budget"))
    axes.yaxis.set_major_formatter(lambda value, _position: f"{value:.0f} %")
    axes.set_ylim(0, max([100.0, *consumed]) * 1.05)
    axes.set_xlim(start, end)
    _style(axes)
    axes.legend(frameon=False, fontsize=8, loc="upper left")
    figure.autofmt_xdate()
    return _png(figure)
