"""The access review's chart: open hours per day, stacked by VM, as a PNG for Slack.

Rendered with matplotlib's object API on the Agg canvas (no pyplot, so no global figure state and no GUI
backend), at a fixed size and resolution, with colours and fonts set explicitly and the ``Software`` tag left
out of the PNG, so the same review always gives the same bytes. The largest ``MAX_SERIES - 1`` VMs get their
own colour and the rest share one "other VMs" band, so the legend stays readable with a large inventory.

matplotlib is imported on first use: it takes a second or two to load, and only the review needs it. Rendering
is CPU work; call it through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from jit.review import AccessReview, hours, vm_key

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_PX = 1200
HEIGHT_PX = 600
DPI = 100
MAX_SERIES = 8
PALETTE = ("#1d3557", "#e63946", "#2a9d8f", "#f4a261", "#457b9d", "#8d5a97", "#e9c46a", "#adb5bd")
"""One colour per series, in the review's order (most open first); the last, grey, is "other VMs" when present."""
OTHER_LABEL = "other VMs"
FONT = "DejaVu Sans"
WEEKDAY_LABELS_UP_TO = 14
"""Up to this many days each bar is labelled ``Mon 03 Mar``; longer periods get slanted ``03 Mar`` labels."""


def _plain(text: str) -> str:
    """Label text shown literally: a ``$`` would otherwise start matplotlib's math mode."""
    return text.replace("$", r"\$")


def stacked_series(review: AccessReview) -> list[tuple[str, list[float]]]:
    """What the chart stacks, bottom first: (label, open hours per day) for the most open VMs, then one series
    for all the others when there are more than ``MAX_SERIES`` VMs."""
    own = review.vms if len(review.vms) <= MAX_SERIES else review.vms[: MAX_SERIES - 1]
    series = [
        (total.label, [hours(day.by_vm.get(vm_key(total.vm.id), timedelta(0))) for day in review.days]) for total in own
    ]
    rest = {vm_key(total.vm.id) for total in review.vms[len(own) :]}
    if rest:
        other = [hours(sum((t for key, t in day.by_vm.items() if key in rest), timedelta(0))) for day in review.days]
        series.append((OTHER_LABEL, other))
    return series


def _title(review: AccessReview) -> str:
    first, last = review.period.days[0], review.period.days[-1]
    span = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    return f"JIT open hours per day by VM, {span} (UTC)"


def open_hours_chart(review: AccessReview) -> bytes:
    """The PNG chart (``WIDTH_PX`` x ``HEIGHT_PX``) of the review's open hours per day, stacked by VM."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.07, 0.12, 0.70, 0.78), facecolor="white")
    positions = list(range(len(review.days)))
    bottoms = [0.0] * len(positions)
    series = stacked_series(review)
    for colour, (label, heights) in zip(PALETTE, series, strict=False):
        axes.bar(positions, heights, bottom=bottoms, width=0.7, color=colour, label=_plain(label), edgecolor="white")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    _decorate(axes, review, positions, empty=not series)
    if series:
        axes.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            frameon=False,
            prop={"family": FONT, "size": 10},
            title="VM",
            title_fontproperties={"family": FONT, "size": 10, "weight": "bold"},
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _decorate(axes: Axes, review: AccessReview, positions: Sequence[int], *, empty: bool) -> None:
    font = {"family": FONT, "size": 10}
    axes.set_title(_plain(_title(review)), fontdict={"family": FONT, "size": 13, "weight": "bold"}, loc="left")
    axes.set_ylabel("open hours", fontdict=font)
    long = len(positions) > WEEKDAY_LABELS_UP_TO
    labels = [day.strftime("%d %b" if long else "%a %d %b") for day in review.period.days]
    axes.set_xticks(list(positions), labels, fontdict=font, rotation=60 if long else 0)
    axes.tick_params(axis="both", labelsize=10, colors="#333333")
    axes.set_xlim(-0.6, len(positions) - 0.4)
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if empty:
        axes.set_ylim(0, 1)
        axes.text(
            0.5, 0.5, "No JIT access was open in this period", transform=axes.transAxes, ha="center", fontdict=font
        )
