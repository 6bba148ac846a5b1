"""Plain-text renderings every adapter can wrap in its own formatting (in core.markup's markup)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from core.catalog import ModelSpec
from core.errors import BotError, ErrorCode
from core.jobs import Job
from core.markup import clock_ref, user_ref
from core.money import format_usd
from core.options import ranges
from core.usage import QuotaView, UsageReport

_TITLES = {
    ErrorCode.INVALID_INPUT: "That didn't work",
    ErrorCode.NOT_ALLOWED: "Not allowed",
    ErrorCode.QUOTA_EXHAUSTED: "Out of credits",
    ErrorCode.BUDGET_EXHAUSTED: "Budget reached",
    ErrorCode.BUSY: "Busy",
    ErrorCode.PROVIDER_REJECTED: "The model refused the job",
    ErrorCode.PROVIDER_UNAVAILABLE: "The model could not run it",
    ErrorCode.TIMEOUT: "Timed out",
    ErrorCode.CANCELLED: "Cancelled",
    ErrorCode.NOT_FOUND: "Not found",
    ErrorCode.INTERNAL: "Something went wrong",
}

_DAY = 86400
_HUNDREDTH = Decimal("0.01")


def format_wait(seconds: float) -> str:
    """`3 s`, `5 min`, `2 h 10 min`, `3 days 4 h`: one figure in the largest unit that fits."""
    s = max(1, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{-(-s // 60)} min"
    if s < _DAY:
        h, m = divmod(-(-s // 60), 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(-(-s // 3600), 24)
    days = f"{d} day" + ("" if d == 1 else "s")
    return f"{days} {h} h" if h else days


def wait_text(seconds: float, *, now: datetime | None) -> str:
    """`4 min (14:32)`: the wait, and (when the time now is known) the clock time it ends, as
    a core.markup token each adapter shows in its own way."""
    wait = format_wait(seconds)
    if now is None:
        return wait
    ends = now + timedelta(seconds=max(1, round(seconds)))
    return f"{wait} ({clock_ref(ends, with_date=seconds >= _DAY * 0.75)})"


def render_error(
    error: BotError, *, credits_returned: bool | None = None, now: datetime | None = None
) -> str:
    """Title and message; the one wait; what to do; the credits; fal's request id last."""
    lines = [f"**{_TITLES.get(error.code, 'Error')}**: {error.message}"]
    if error.retry_after is not None:
        lines.append(f"Try again in {wait_text(error.retry_after, now=now)}.")
    if error.hint:
        lines.append(error.hint)
    if credits_returned is True:
        lines.append("Your credits were returned.")
    elif credits_returned is False:
        lines.append("This job was charged.")
    if error.request_id:
        lines.append(f"Details: fal request `{error.request_id}`")
    return "\n".join(lines)


def render_quota(view: QuotaView) -> str:
    """The bucket, and what the default model's next job costs and when it fits."""
    level = view.level.quantize(_HUNDREDTH, rounding=ROUND_DOWN)
    text = (
        f"You have {level} of {view.capacity.normalize():f} credits "
        f"(1 credit = {format_usd(view.credit_usd)}), refilling "
        f"{view.refill_per_hour.normalize():f} an hour."
    )
    cost = view.next_job_credits.normalize()
    model = f" with {view.next_job_model}" if view.next_job_model else ""
    job = (
        f" One image{model} costs {cost:f} credit{'' if cost == 1 else 's'}"
        f" ({format_usd(view.next_job_credits * view.credit_usd)})"
    )
    if view.next_job_in_s == 0:
        return f"{text}{job}: you have enough now."
    if view.next_job_in_s is None:
        return f"{text}{job}, more than your quota lets you gather: ask an admin."
    return f"{text}{job}: you will have enough in {wait_text(view.next_job_in_s, now=view.at)}."


def render_models(specs: list[ModelSpec]) -> str:
    if not specs:
        return "No models are allowed in this workspace. Ask an admin."
    lines = []
    for s in specs:
        lines.append(f"`{s.name}` ({s.kind.value}): {s.description} · {s.price_text}")
        options = ranges(s.input_model)
        if options:
            lines.append("  options: " + ", ".join(f"`--{n}` {r}" for n, r in options.items()))
    return "\n".join(lines)


def render_jobs(jobs: list[Job]) -> str:
    """One line a job; a child's ends with its chain of parents (`from `1b2c3d4e` ← `9a8b7c6d``),
    as far as the jobs listed (and the one parent beyond them) tell."""
    if not jobs:
        return "You have no jobs yet. Try /imagine."
    by_id = {j.id: j for j in jobs}
    lines = []
    for job in jobs:
        cost = f" · {job.result.cost_text}" if job.result else ""
        when = job.created_at.strftime("%Y-%m-%d %H:%M")
        line = f"`{job.short_id}` {job.model} · {job.state.value}{cost} · {when} UTC"
        chain = _chain(job, by_id)
        lines.append(f"{line} · from {chain}" if chain else line)
    return "\n".join(lines)


def _chain(job: Job, by_id: dict[str, Job]) -> str:
    parents: list[str] = []
    parent_id = job.parent_job_id
    while parent_id and len(parents) < 5:
        parents.append(f"`{parent_id[:8]}`")
        parent = by_id.get(parent_id)
        parent_id = parent.parent_job_id if parent else None
    if parent_id:
        parents.append("…")
    return " ← ".join(parents)


def render_usage(report: UsageReport) -> str:
    who = "everyone" if report.user_id is None else "you"
    jobs = "job" if report.jobs == 1 else "jobs"
    head = (
        f"Spend by {who} since {report.since:%Y-%m-%d}: {format_usd(report.total_usd)}"
        f" over {report.jobs} {jobs}."
    )
    rows = [f"  {name}: {format_usd(total)}" for name, total in report.by("model").items()]
    if report.user_id is None:
        by_user = report.by("user_id").items()
        rows += ["By user:"] + [f"  {user_ref(u)}: {format_usd(t)}" for u, t in by_user]
    return "\n".join([head, *rows])
