"""Logs: one JSON object per line, secrets masked wherever they appear, prompts redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import configure_logging
from core import job_log
from tests.fakes.builders import make_job

SECRET = "fal-key-abcdef123456:topsecretvalue"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    configure_logging(secrets=[SECRET, "xoxb-123456789-slack"], stream=out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_record_is_one_json_line_with_event_fields(stream: io.StringIO) -> None:
    job = make_job(model="flux-dev")
    job_log.emit(job_log.JOB_SUCCEEDED, job, cost_usd="0.025")
    (record,) = lines(stream)
    assert record["event"] == "job_succeeded"
    assert record["job_id"] == job.id and record["model"] == "flux-dev"
    assert record["cost_usd"] == "0.025" and record["level"] == "info"


def test_secrets_are_masked_in_messages_arguments_fields_and_tracebacks(
    stream: io.StringIO,
) -> None:
    log = logging.getLogger("falbot.test")
    log.warning("calling fal with %s", SECRET)
    log.info("event", extra={"falbot": {"header": f"Key {SECRET}"}})
    try:
        raise RuntimeError(f"401 for token xoxb-123456789-slack and {SECRET}")
    except RuntimeError:
        log.exception("request failed")
    text = stream.getvalue()
    assert SECRET not in text and "xoxb-123456789-slack" not in text
    assert text.count("***") >= 4
    assert len(lines(stream)) == 3


def test_prompts_are_redacted_to_length_and_hash() -> None:
    redacted = job_log.redact("a very private prompt")
    assert redacted == {"prompt_len": 21, "prompt_sha": redacted["prompt_sha"]}
    assert "private" not in json.dumps(redacted)
