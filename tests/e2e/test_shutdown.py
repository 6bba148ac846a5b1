"""SIGTERM with jobs in flight: `falbot run` answers new commands `busy`, lets a submit caught
half-way save its request id, exits within 10 s, and the next start finishes every job."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.fal.simulator import FalSimulator, HttpFault
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    SIGNING_SECRET,
    TEAM,
    falbot_env,
    prompt_of,
    read_db,
    running_slack,
    wait_all_final,
)
from tests.fakes.slack import Call, FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

USERS = ("UANN", "UBEN")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack(USERS) as fake:
        yield fake


async def imagine(sender: SignedSender, slack: FakeSlack, user: str, prompt: str) -> str:
    """POST a signed /imagine; returns the response_url its answers go to."""
    response_url = slack.response_url()
    form = p.slash_command(
        "/imagine",
        f"{prompt} --model flux-schnell",
        team_id=TEAM,
        user_id=user,
        channel_id="CSHUT",
        response_url=response_url,
    )
    answer = await sender.command(form)
    assert answer.status == 200
    return response_url


async def test_sigterm_with_jobs_in_flight_exits_in_time_and_the_next_start_loses_nothing(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    port = free_port()
    env = falbot_env(fal_sim, slack, db, port) | {"FALBOT_MAX_CONCURRENCY": "3"}
    sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    first, second = FalbotProcess(env, cwd=tmp_path), FalbotProcess(env, cwd=tmp_path)
    fal_sim.hold = True  # jobs at fal stay running until released
    try:
        await first.start()
        await imagine(sender, slack, USERS[0], "running one")
        await imagine(sender, slack, USERS[1], "running two")
        await fal_sim.wait_for(lambda: fal_sim.running == 2)
        # The third job's submit reaches fal but its answer is slow: SIGTERM lands mid-submit.
        fal_sim.inject("submit", HttpFault.slow(2.0))
        await imagine(sender, slack, USERS[0], "caught mid-submit")
        await fal_sim.wait_for(lambda: fal_sim.http_by_route["submit"] == 3)
        await imagine(sender, slack, USERS[1], "waiting in the line")
        await first.wait_for_line(lambda line: line.get("event") == "job_queued", within=5, count=4)

        loop = asyncio.get_running_loop()
        started = loop.time()
        stopping = asyncio.create_task(first.terminate(within=10))
        await first.wait_for_line(lambda line: line.get("event") == "draining", within=5)
        busy_url = await imagine(sender, slack, USERS[0], "sent while stopping")
        busy: Call = await slack.wait_for("response_url", lambda c: c.answer["url"] == busy_url)
        await stopping
        took = loop.time() - started
        assert first.returncode == 0, first.tail()
        assert took < 10

        assert "restarting" in json.dumps(busy.params)  # told busy, to try again
        jobs = {prompt_of(j): j for j in read_db(db)[0]}
        assert set(jobs) == {
            "running one",
            "running two",
            "caught mid-submit",
            "waiting in the line",
        }  # the one sent while stopping left no job
        assert jobs["caught mid-submit"]["request_id"], "its submit was let finish"
        assert jobs["caught mid-submit"]["state"] in ("submitted", "running")
        assert jobs["waiting in the line"]["state"] == "queued"

        fal_sim.hold = False
        fal_sim.release()
        await second.start()
        finals = await wait_all_final(db, within=20)
        await second.terminate(within=10)
    finally:
        await sender.close()
        await first.close()
        await second.close()

    assert Counter(j["state"] for j in finals) == {"delivered": 4}
    at_fal = Counter(str(args.get("prompt")) for _, args in fal_sim.submits)
    assert at_fal == Counter(
        {"running one": 1, "running two": 1, "caught mid-submit": 1, "waiting in the line": 1}
    )
