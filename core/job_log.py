"""The job log: one structured log record per thing that happens to a job (queued, started,
succeeded, failed, refused), its fields as `extra`, formatted by `bot` and counted by its
metrics. Log lines, not domain events: nothing in core reacts to them."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from core.jobs import Job

log = logging.getLogger("falbot.events")

JOB_QUEUED = "job_queued"
JOB_STARTED = "job_started"
JOB_PROGRESS = "job_progress"
JOB_SUCCEEDED = "job_succeeded"
JOB_FAILED = "job_failed"
JOB_REFUSED = "job_refused"  # admission said no: no job exists


def redact(prompt: str) -> dict[str, Any]:
    """A prompt as logs carry it when debug is off: its length and a short hash."""
    return {
        "prompt_len": len(prompt),
        "prompt_sha": hashlib.sha256(prompt.encode()).hexdigest()[:12],
    }


def emit(event: str, job: Job, *, level: int = logging.INFO, **fields: Any) -> None:
    data: dict[str, Any] = {
        "event": event,
        "job_id": job.id,
        "model": job.model,
        "workspace_id": job.workspace_id,
        "user_id": job.user_id,
        "state": job.state.value,
    }
    if job.request_id:
        data["fal_request_id"] = job.request_id
    data.update(fields)
    log.log(level, event, extra={"falbot": data})


def refused(*, code: str, model: str, workspace_id: str, user_id: str) -> None:
    """An admission refusal: there is no job, so the fields stand alone."""
    data = {
        "event": JOB_REFUSED,
        "code": code,
        "model": model,
        "workspace_id": workspace_id,
        "user_id": user_id,
    }
    log.info(JOB_REFUSED, extra={"falbot": data})


def lifecycle(event: str, **fields: Any) -> None:
    """An engine event that is about no one job (starting, draining)."""
    log.info(event, extra={"falbot": {"event": event, **fields}})
