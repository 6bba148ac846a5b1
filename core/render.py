"""Plain-text renderings every adapter can wrap in its own formatting."""

from __future__ import annotations

from decimal import Decimal

from core.admin import AdminResult
from core.catalog import ModelSpec
from core.errors import BotError, ErrorCode
from core.jobs import Job
from core.money import format_usd
from core.usage import QuotaView, UsageReport

_TITLES = {
    ErrorCode.INVALID_INPUT: "That didn't work",
    ErrorCode.NOT_ALLOWED: "Not allowed",
    ErrorCode.QUOTA_EXHAUSTED: "Out of credits",
    ErrorCode.BUDGET_EXHAUSTED: "Budget reached",
    ErrorCode.BUSY: "Busy",
    ErrorCode.PROVIDER_REJECTED: "fal refused the job",
    ErrorCode.PROVIDER_UNAVAILABLE: "fal is having trouble",
    ErrorCode.TIMEOUT: "Timed out",
    ErrorCode.CANCELLED: "Cancelled",
    ErrorCode.NOT_FOUND: "Not found",
    ErrorCode.INTERNAL: "Something went wrong",
}


def format_wait(seconds: float) -> str:
    """`3 s`, `5 min`, `2 h 10 min`, `3 days`."""
    s = max(1, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{-(-s // 60)} min"
    if s < 86400:
        h, m = divmod(-(-s // 60), 60)
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{-(-s // 86400)} days"


def render_error(error: BotError, *, credits_returned: bool | None = None) -> str:
    lines = [f"**{_TITLES.get(error.code, 'Error')}**: {error.message}"]
    if error.retry_after is not None:
        lines.append(f"Try again in {format_wait(error.retry_after)}.")
    if error.hint:
        lines.append(error.hint)
    if credits_returned is True:
        lines.append("Your credits were returned.")
    elif credits_returned is False:
        lines.append("This job was charged.")
    if error.request_id:
        lines.append(f"fal request `{error.request_id}`")
    return "\n".join(lines)


def render_quota(view: QuotaView) -> str:
    level = view.level.quantize(Decimal("0.01"))
    text = (
        f"You have {level} of {view.capacity.normalize():f} credits "
        f"(1 credit = {format_usd(view.credit_usd)}), refilling "
        f"{view.refill_per_hour.normalize():f} an hour."
    )
    if view.next_job_in_s == 0:
        return text + " Your next job fits now."
    if view.next_job_in_s is None:
        return text + " No job fits your quota: ask an admin."
    return text + f" A small job fits in {format_wait(view.next_job_in_s)}."


def render_models(specs: list[ModelSpec]) -> str:
    if not specs:
        return "No models are allowed in this workspace. Ask an admin."
    return "\n".join(
        f"`{s.name}` ({s.kind.value}): {s.description} · {s.price_text}" for s in specs
    )


def render_jobs(jobs: list[Job]) -> str:
    if not jobs:
        return "You have no jobs yet. Try /imagine."
    lines = []
    for job in jobs:
        cost = f" · {job.result.cost_text}" if job.result else ""
        when = job.created_at.strftime("%Y-%m-%d %H:%M")
        lines.append(f"`{job.short_id}` {job.model} · {job.state.value}{cost} · {when} UTC")
    return "\n".join(lines)


def render_usage(report: UsageReport) -> str:
    who = "everyone" if report.user_id is None else "you"
    head = (
        f"Spend by {who} since {report.since:%Y-%m-%d}: {format_usd(report.total_usd)}"
        f" over {report.jobs} job(s)."
    )
    rows = [f"  {name}: {format_usd(total)}" for name, total in report.by("model").items()]
    if report.user_id is None:
        rows += ["By user:"] + [f"  {u}: {format_usd(t)}" for u, t in report.by("user_id").items()]
    return "\n".join([head, *rows])


def render_admin(result: AdminResult) -> str:
    return result.text
