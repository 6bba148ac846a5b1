"""Restart or takeover: every job left unfinished (by this process before a restart, or by a
process that died, once its lease ran out) is picked up where it stopped, never sent to fal
twice and never billed for a submit that may not have happened."""

from __future__ import annotations

from core.delivery import Deliverer
from core.dispatch import Dispatcher
from core.errors import BotError, ErrorCode
from core.execution import JobExecutor
from core.jobs import Job, JobState
from core.line import Line
from core.tasks import OwnedTasks


async def recover(
    job: Job,
    *,
    line: Line,
    dispatcher: Dispatcher,
    executor: JobExecutor,
    deliverer: Deliverer,
    tasks: OwnedTasks,
) -> None:
    """Queued jobs wait again, jobs at fal are followed by request id, completed ones are
    delivered; a job caught while being submitted is failed with its credits back."""
    if job.state is JobState.QUEUED:
        await line.put(job, reserved=False)
    elif job.state is JobState.SUBMITTING:
        # It may or may not have reached fal: never send it twice, never bill for it.
        await executor.end(
            job,
            JobState.FAILED,
            BotError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "falbot stopped while sending this job to fal, so it was not run.",
                hint="Run it again.",
            ),
        )
    elif job.state.at_fal:
        dispatcher.resume(job)
    elif job.state is JobState.COMPLETED:
        tasks.spawn(deliverer.deliver(job), name=f"deliver-{job.short_id}")
