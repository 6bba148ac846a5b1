"""With a fifth of all fal calls failing (5xx, time-outs, ingress pages, cut connections, 429s),
every job of `falbot run` ends in a clear state and every user is told what happened."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.fal.sim.faults import random_faults
from adapters.fal.simulator import FalSimulator
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    CAPACITY,
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    falbot_env,
    prompt_of,
    read_db,
    running_simulator,
    running_slack,
    wait_all_final,
)
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

SEED = int(os.environ.get("FALBOT_FAULTS_SEED", "5"))
USERS = ("UFAY", "UGUS", "UHAL")
COMMANDS = 30


@dataclass(frozen=True)
class Command:
    user: str
    prompt: str
    response_url: str


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack(USERS) as fake:
        yield fake


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator(run_time=0.2) as simulator:
        yield simulator


async def test_a_fifth_of_fal_calls_failing_every_job_ends_clearly_and_every_user_is_told(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    port = free_port()
    env = falbot_env(fal_sim, slack, db, port) | {
        "FALBOT_CIRCUIT_COOLDOWN": "1",  # when the circuit opens, the test need not wait long
        "FALBOT_JOB_TIMEOUT": "60",
    }
    fal_sim.chaos = random_faults(0.2, random.Random(SEED))
    sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
    proc = FalbotProcess(env, cwd=tmp_path)
    sent: list[Command] = []
    try:
        await proc.start()
        for n in range(COMMANDS):
            user = USERS[n % len(USERS)]
            command = Command(user, f"flaky fal job {n}", slack.response_url())
            form = p.slash_command(
                "/imagine",
                f"{command.prompt} --model flux-schnell",
                team_id=TEAM,
                user_id=user,
                channel_id=CHANNEL,
                response_url=command.response_url,
            )
            assert (await sender.command(form)).status == 200
            sent.append(command)
        # Every command ends as a job or as a refusal told to its user; wait for both.
        await slack.wait_for("chat.postMessage", count=COMMANDS, timeout=20)
        jobs = await wait_all_final(db, within=45)
        await proc.terminate(within=10)
    finally:
        await sender.close()
        await proc.close()

    jobs, ledger, buckets = read_db(db)
    context = f"seed {SEED}; faults answered {sum(fal_sim.http_by_route.values())} calls"
    by_prompt = {prompt_of(j): j for j in jobs}
    states = Counter(j["state"] for j in jobs)
    assert set(states) <= {"delivered", "failed"}, (states, context)
    assert states["failed"] >= 1 and states["delivered"] >= 1, (states, context)
    at_fal = Counter(str(args.get("prompt")) for _, args in fal_sim.submits)
    assert max(at_fal.values()) == 1, "a failed submit is never sent again"

    charged: Counter[str] = Counter()
    ledger_by_job = {row["job_id"]: row for row in ledger}
    for command in sent:
        job = by_prompt.get(command.prompt)
        if job is None:
            # Refused at admission (the circuit was open): told so, privately, with a retry time.
            answers = [
                c for c in slack.calls_to("response_url") if c.answer["url"] == command.response_url
            ]
            assert answers, (command, context)
            assert "fal is failing right now" in json.dumps(answers[-1].params), answers
            continue
        ref = json.loads(job["reply_ref"])
        message = slack.message(ref["channel"], ref["message_ts"])
        assert message is not None, (job, context)
        if job["state"] == "delivered":
            assert str(message["text"]).startswith("Done"), (message, context)
            charged[job["user_id"]] += Decimal(ledger_by_job[job["id"]]["credits"])
        else:
            error = json.loads(job["error"])
            assert error["code"] in ("provider_unavailable", "timeout"), (error, context)
            text = json.dumps(message, ensure_ascii=False)
            assert str(message["text"]).startswith("Failed"), (message, context)
            assert error["message"] in text, (error, message)
            assert "Your credits were returned." in text, (message, context)
            assert job["id"] not in ledger_by_job
    for user in USERS:
        assert buckets.get(user, CAPACITY) == CAPACITY - charged[user], (user, context)
