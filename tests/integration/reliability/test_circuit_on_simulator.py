"""The fal circuit on the real stack (fal-client against the simulator, SQLite): fal refusing every
submit opens it, new jobs are refused without taking credits or reaching fal, and once fal is
back the probe job closes it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.fal.gateway import FalClientGateway
from adapters.fal.simulator import FalSimulator, Fault
from adapters.sqlite.store import SqliteStore
from core.engine import Engine, EngineConfig
from core.errors import BotError, ErrorCode
from core.jobs import Actor
from core.model_table import build_catalog
from core.quota import BucketLimits
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import FakeClock
from tests.fakes.reply import RecordingReply, RecordingReplyFactory

ANN = Actor("console", "w1", "ann")
ENDPOINT = "fal-ai/flux/schnell"


async def test_fal_down_opens_the_circuit_and_a_probe_closes_it_once_fal_is_back(
    fal_sim: FalSimulator, gateway: FalClientGateway, store: SqliteStore
) -> None:
    clock = FakeClock()
    engine = Engine(
        store=store,
        fal=gateway,
        clock=clock,
        catalog=build_catalog(),
        config=EngineConfig(
            default_limits=BucketLimits(Decimal(100), Decimal(0)),
            progress_interval=0,  # no throttle sleeps: the fake clock only moves the circuit
            circuit_threshold=3,
            circuit_cooldown=30,
        ),
    )
    engine.add_reply_factory(RecordingReplyFactory())
    await engine.start()
    try:
        down = Fault.server_error("runner_scheduling_failure", at_submit=True)
        fal_sim.fail_endpoint(ENDPOINT, down)
        for n in range(3):
            reply = RecordingReply()
            await submit(engine, Ask(ANN, "flux-schnell", {"prompt": f"try {n}"}), reply)
            await reply.wait(timeout=10)
            assert reply.error is not None
            assert reply.error.code is ErrorCode.PROVIDER_UNAVAILABLE
        assert engine.circuit_state == "open"
        submits = fal_sim.http_by_route["submit"]
        level = (await engine.quota(ANN)).level

        with pytest.raises(BotError) as refused:
            await submit(
                engine, Ask(ANN, "flux-schnell", {"prompt": "while open"}), RecordingReply()
            )
        assert refused.value.code is ErrorCode.PROVIDER_UNAVAILABLE
        assert refused.value.retry_after is not None and refused.value.retry_after >= 1
        assert (await engine.quota(ANN)).level == level == Decimal(100)
        assert fal_sim.http_by_route["submit"] == submits  # fal was not bothered

        fal_sim.fail_endpoint(ENDPOINT, None)  # fal is back
        await clock.advance(30)
        assert engine.circuit_state == "half_open"
        probe = RecordingReply()
        await submit(engine, Ask(ANN, "flux-schnell", {"prompt": "the probe"}), probe)
        await probe.wait(timeout=10)
        assert probe.delivery is not None
        assert engine.circuit_state == "closed"
    finally:
        await engine.stop()
