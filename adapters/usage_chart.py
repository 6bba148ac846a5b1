"""Usage as a picture and as a spreadsheet, for every chat adapter: a PNG chart of spend per day
(matplotlib, Agg, no pyplot state) with a short table, and a CSV with one row per ledger entry.

Both are pure functions of a `core.usage.UsageReport`. Drawing takes a few hundred milliseconds:
call `usage_chart_png` through `asyncio.to_thread` from the event loop.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from core.money import format_usd
from core.usage import UsageReport

By = Literal["model", "user_id"]

WIDTH, HEIGHT, DPI = 1000, 600, 100  # the PNG is exactly WIDTH × HEIGHT pixels
MAX_SERIES = 6  # the biggest spenders get a colour each; the rest are "other"
CSV_COLUMNS = ("at", "job_id", "workspace_id", "user_id", "model", "kind", "cost_usd", "credits")
_OTHER = "other"


@dataclass(frozen=True)
class Row:
    """One line of the chart's table: a model (or user), its jobs and its spend."""

    name: str
    jobs: int
    usd: Decimal


def summary(report: UsageReport, *, by: By = "model") -> list[Row]:
    """Spend and jobs per model (or user), largest spend first."""
    jobs: dict[str, set[str]] = {}
    for entry in report.entries:
        if entry.kind == "charge":
            jobs.setdefault(str(getattr(entry, by)), set()).add(entry.job_id)
    return [Row(name, len(jobs.get(name, ())), usd) for name, usd in report.by(by).items()]


def title(
    report: UsageReport,
    *,
    by: By = "model",
    labels: Mapping[str, str] | None = None,
    workspace: str | None = None,
) -> str:
    """The chart's title: what it shows, whose (the workspace's name), when, and the total."""
    labels = labels or {}
    who = "by user" if by == "user_id" else "by model"
    if report.user_id is None:
        scope = workspace or "this workspace"
    else:
        scope = labels.get(report.user_id, "you")
    return f"Spend per day {who} · {scope} · {_span(report)} · total {format_usd(report.total_usd)}"


def table_cells(
    report: UsageReport, *, by: By = "model", labels: Mapping[str, str] | None = None
) -> list[list[str]]:
    """The chart's table: name, jobs and USD per row, the biggest eight, the rest, the total;
    USD as every text shows it (`core.money.format_usd`), so the figures agree."""
    labels = labels or {}
    rows = summary(report, by=by)
    cells = [[labels.get(r.name, r.name)[:20], str(r.jobs), format_usd(r.usd)] for r in rows[:8]]
    if len(rows) > 8:
        rest = rows[8:]
        cells.append([f"{len(rest)} more", str(sum(r.jobs for r in rest)), format_usd(_sum(rest))])
    cells.append(["total", str(report.jobs), format_usd(report.total_usd)])
    return cells


def usage_chart_png(
    report: UsageReport,
    *,
    by: By = "model",
    labels: Mapping[str, str] | None = None,
    workspace: str | None = None,
) -> bytes:
    """A WIDTH × HEIGHT PNG: spend per day stacked by model (or user), and a short table.

    `labels` turns ids into names (a user id into a display name; ids without one are shown
    as they are), and `workspace` is the workspace's name for the title.
    """
    labels = labels or {}
    rows = summary(report, by=by)
    shown = [r.name for r in rows[:MAX_SERIES]]
    days = sorted(report.per_day(by))
    series = _series(report, by=by, days=days, shown=shown)

    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 2, width_ratios=(2.6, 1), wspace=0.05)
    bars, table = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)
    heading = title(report, by=by, labels=labels, workspace=workspace)
    fig.suptitle(heading, fontsize=12)

    positions = list(range(len(days)))
    bottom = [0.0] * len(days)
    for name, values in series.items():
        heights = [max(float(v), 0.0) for v in values]
        bars.bar(positions, heights, bottom=bottom, label=labels.get(name, name)[:24], width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, -(-len(days) // 8))
    bars.set_xticks(positions[::step], [f"{d:%b %d}" for d in days[::step]], fontsize=8)
    bars.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_usd(Decimal(f"{v:.6f}"))))
    bars.set_ylim(bottom=0)
    bars.grid(axis="y", alpha=0.3)
    if series:
        bars.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize=8, frameon=False
        )
    else:
        bars.text(0.5, 0.5, "nothing spent in this period", ha="center", transform=bars.transAxes)

    table.axis("off")
    drawn = table.table(
        cellText=table_cells(report, by=by, labels=labels),
        colLabels=["user" if by == "user_id" else "model", "jobs", "USD"],
        colWidths=(0.56, 0.16, 0.28),
        colLoc="left",
        cellLoc="left",
        loc="upper center",
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(9)
    drawn.scale(1, 1.4)

    out = io.BytesIO()
    # The title and table as text too (PNG tEXt chunks), for screen readers and search.
    cells = table_cells(report, by=by, labels=labels)
    table_text = "\n".join(" · ".join(row) for row in cells)
    fig.savefig(
        out,
        format="png",
        dpi=DPI,
        metadata={"Title": heading, "Description": table_text, "Software": "falbot"},
    )
    return out.getvalue()


def usage_csv(report: UsageReport) -> str:
    """Every ledger entry of the report, one row each (refunds negative), so the cost column
    sums to the report's total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in report.entries:
        writer.writerow(
            [
                e.at.isoformat(),
                _text(e.job_id),
                _text(e.workspace_id),
                _text(e.user_id),
                _text(e.model),
                _text(e.kind),
                str(e.cost_usd),
                str(e.credits),
            ]
        )
    return out.getvalue()


def file_stem(report: UsageReport) -> str:
    """A file name (without suffix) for the report's chart or CSV, e.g. usage-w1-20261120."""
    who = "workspace" if report.user_id is None else "me"
    return f"usage-{who}-{report.until:%Y%m%d}"


def _series(
    report: UsageReport, *, by: By, days: list[date], shown: list[str]
) -> dict[str, list[Decimal]]:
    per_day = report.per_day(by)
    series: dict[str, list[Decimal]] = {}
    for i, day in enumerate(days):
        for name, usd in per_day[day].items():
            key = name if name in shown else _OTHER
            values = series.setdefault(key, [Decimal(0)] * len(days))
            values[i] += usd
    ordered = {n: series[n] for n in shown if n in series}
    if _OTHER in series:
        ordered[_OTHER] = series[_OTHER]
    return ordered


def _span(report: UsageReport) -> str:
    first, last = report.since.date(), report.until.date()
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"


def _sum(rows: list[Row]) -> Decimal:
    return sum((r.usd for r in rows), Decimal(0))


def _text(value: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; ids should never, but be sure.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
