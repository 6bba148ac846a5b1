"""Slack failing under `falbot run` (5xx on a share of progress edits, result posts and file
uploads): every job still ends delivered, and every user still gets their result."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    falbot_env,
    running_simulator,
    running_slack,
    wait_all_final,
)
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

SEED = int(os.environ.get("FALBOT_OUTAGE_SEED", "3"))
USERS = ("UIDA", "UJON")
JOBS = 12
FLAKY = ("chat.update", "chat.postMessage", "files.getUploadURLExternal")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack(USERS) as fake:
        yield fake


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator(run_time=0.2) as simulator:
        yield simulator


async def test_slack_failing_a_third_of_the_time_loses_no_result(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    rng = random.Random(SEED)

    def outage(method: str, params: dict[str, Any]) -> int | None:
        # The first post of a command (its "starting" message) goes through: refusing it
        # would refuse the command itself. Replies in its thread and edits of it fail.
        if method not in FLAKY or (method == "chat.postMessage" and not params.get("thread_ts")):
            return None
        return rng.choice((500, 502, 503)) if rng.random() < 1 / 3 else None

    db = tmp_path / "falbot.db"
    port = free_port()
    sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    proc = FalbotProcess(falbot_env(fal_sim, slack, db, port), cwd=tmp_path)
    try:
        await proc.start()
        slack.outage = outage
        for n in range(JOBS):
            form = p.slash_command(
                "/imagine",
                f"through a flaky slack {n} --model flux-schnell",
                team_id=TEAM,
                user_id=USERS[n % len(USERS)],
                channel_id=CHANNEL,
                response_url=slack.response_url(),
            )
            assert (await sender.command(form)).status == 200
        jobs = await wait_all_final(db, within=60)
        slack.outage = None
        await proc.terminate(within=10)
    finally:
        await sender.close()
        await proc.close()

    failed_calls = Counter(c.method for c in slack.calls if c.status >= 500)
    assert sum(failed_calls.values()) >= 3, failed_calls  # Slack really was failing
    assert len(jobs) == JOBS
    assert {j["state"] for j in jobs} == {"delivered"}, jobs
    messages = slack.messages[CHANNEL]
    for job in jobs:
        short = job["id"][:8]
        results = [
            m
            for m in messages
            if str(m.get("text", "")).startswith("Done") and short in json.dumps(m)
        ]
        assert results, (short, failed_calls)
