"""Restart: every job left unfinished is picked up where it stopped, never sent to fal twice
and never billed for a submit that may not have happened."""

from __future__ import annotations

from core.delivery import Deliverer
from core.dispatch import Dispatcher, line_key
from core.errors import BotError, ErrorCode
from core.execution import JobExecutor
from core.jobs import Job, JobState
from core.scheduler import FairLine
from core.tasks import OwnedTasks


async def recover(
    job: Job,
    *,
    line: FairLine,
    dispatcher: Dispatcher,
    executor: JobExecutor,
    deliverer: Deliverer,
    tasks: OwnedTasks,
) -> None:
    """Queued jobs wait again, jobs at fal are followed by request id, completed ones are
    delivered; a job caught while being submitted is failed with its credits back."""
    if job.state is JobState.QUEUED:
        line.put(line_key(job), job.id, reserved=False)
    elif job.state is JobState.SUBMITTING:
        # It may or may not have reached fal: never send it twice, never bill for it.
        await executor.end(
            job,
            JobState.FAILED,
            BotError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "falbot restarted while sending this job to fal, so it was not run.",
                hint="Run it again.",
            ),
        )
    elif job.state.at_fal:
        dispatcher.resume(job)
    elif job.state is JobState.COMPLETED:
        tasks.spawn(deliverer.deliver(job), name=f"deliver-{job.short_id}")
