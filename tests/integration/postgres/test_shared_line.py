"""Engines on one PostgreSQL database share one line and one set of fal slots (as processes
would: each engine has its own store, pool and instance name), against one fake fal account.

Every engine's clock is a fake that never moves: its slow poll never fires, so a job that
starts after a slot freed in another engine was woken by PostgreSQL's notification. A process
dying is an engine stopped without draining; its lease running out is written to the
database (`expire`), so nothing waits on wall time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from decimal import Decimal

import pytest

from adapters.postgres import PostgresStore
from core.commands import Cancel
from core.config import EngineConfig
from core.engine import Engine
from core.jobs import Actor, Job, JobState
from core.model_table import build_catalog
from core.ports import UsageFilter
from core.quota import BucketKey, BucketLimits
from core.webhooks import FalOutcome
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.reply import RecordingReply, RecordingReplyFactory
from tests.integration.postgres.database import postgres_store
from tests.waits import until as until_within

LIMITS = BucketLimits(Decimal(1_000_000), Decimal(0))
WAIT = 10.0


class Cluster:
    """Engines on one database and one fal account; `engines[i]` is process i."""

    def __init__(self, stack: AsyncExitStack, first: PostgresStore, fal: FakeFal) -> None:
        self._stack = stack
        self._first = first
        self.fal = fal
        self.engines: list[Engine] = []
        self.stores: list[PostgresStore] = []
        self.factories: list[RecordingReplyFactory] = []
        self.clocks: list[FakeClock] = []

    async def add(
        self, *, max_concurrency: int, webhook: bool = False, name: str | None = None
    ) -> Engine:
        n = len(self.engines)
        if n == 0:
            store = self._first
        else:
            store = await self._stack.enter_async_context(
                await PostgresStore.open(self._first.dsn, max_size=4)
            )
        store.serve_as(name or f"process-{n}", lease_seconds=15)
        clock = FakeClock()
        engine = Engine(
            store=store,
            fal=self.fal,
            clock=clock,
            catalog=build_catalog(),
            config=EngineConfig(
                default_limits=LIMITS,
                max_concurrency=max_concurrency,
                max_in_flight_per_user=100,
                webhook_url="https://falbot.example/fal/webhook" if webhook else None,
            ),
            line_store=store,
        )
        factory = RecordingReplyFactory()
        engine.add_reply_factory(factory)
        await engine.start()
        self._stack.push_async_callback(engine.stop)
        self.engines.append(engine)
        self.stores.append(store)
        self.factories.append(factory)
        self.clocks.append(clock)
        return engine

    async def expire(self, owner: str) -> None:
        """`owner`'s leases run out (as they would a lease after it died)."""
        async with self._first._tx() as db:
            await db.execute(
                "UPDATE jobs SET lease_until = now() - interval '1 second' WHERE owner = $1",
                owner,
            )

    async def reply(self, job_id: str) -> RecordingReply:
        """The reply of whichever engine took the job on."""
        await until(lambda: any(job_id in f.replies for f in self.factories))
        return next(f.replies[job_id] for f in self.factories if job_id in f.replies)

    async def owner(self, job_id: str) -> str | None:
        async with self._first._tx(write=False) as db:
            value = await db.fetchval("SELECT owner FROM jobs WHERE id = $1", job_id)
            return None if value is None else str(value)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(postgres_store(max_size=4))
        yield Cluster(stack, first, FakeFal(auto_finish=False))


async def until(condition: Callable[[], bool]) -> None:
    await until_within(condition, timeout=WAIT)


def prompt_user(arguments: object) -> str:
    assert isinstance(arguments, dict)
    return str(arguments["prompt"]).split()[0]


async def ask(engine: Engine, user: str, n: int, reply: RecordingReply | None = None) -> Job:
    who = Actor("console", "w1", user)
    prompt = f"{user} lighthouse {n}"
    return await submit(
        engine, Ask(who, "flux-schnell", {"prompt": prompt}), reply or RecordingReply()
    )


async def test_the_slots_are_counted_across_engines_and_every_job_is_delivered(
    cluster: Cluster,
) -> None:
    engines = [await cluster.add(max_concurrency=5) for _ in range(3)]
    jobs = [await ask(engines[n % 3], f"user{n % 4}", n) for n in range(30)]

    for finished in range(30):
        running = min(5, 30 - finished)  # every slot in use while jobs wait
        await until(lambda n=finished + running: len(cluster.fal.submits) == n)  # type: ignore[misc]
        assert cluster.fal.peak_at_fal <= 5
        cluster.fal.finish()

    for job in jobs:  # each in the reply its claiming engine rebuilt from the job's ref
        reply = await cluster.reply(job.id)
        await reply.wait(WAIT)
        assert reply.delivery is not None
    assert cluster.fal.peak_at_fal == 5
    assert cluster.fal.submit_calls == 30


async def test_one_users_backlog_does_not_hold_back_the_others_across_engines(
    cluster: Cluster,
) -> None:
    a, b, c = [await cluster.add(max_concurrency=2) for _ in range(3)]
    for n in range(10):
        await ask(a, "ann", n)
    await until(lambda: len(cluster.fal.submits) == 2)  # ann's first two took both slots
    for n in range(5):
        await ask(b, "bob", n)
        await ask(c, "cyd", n)

    while len(cluster.fal.submits) < 20:
        after = len(cluster.fal.submits) + 1
        cluster.fal.finish()
        await until(lambda n=after: len(cluster.fal.submits) == n)  # type: ignore[misc]

    order = [prompt_user(arguments) for _, arguments in cluster.fal.submits]
    third_of_ann = [i for i, user in enumerate(order) if user == "ann"][2]
    assert order.index("bob") < third_of_ann
    assert order.index("cyd") < third_of_ann
    assert order[2:8] in (["bob", "cyd", "ann"] * 2, ["cyd", "bob", "ann"] * 2)
    for _ in range(2):
        cluster.fal.finish()


async def test_a_dead_engines_job_at_fal_is_taken_over_and_followed_never_resubmitted(
    cluster: Cluster,
) -> None:
    first = await cluster.add(max_concurrency=3)
    job = await ask(first, "ann", 1)
    await submitted(first, job.id)

    await first.stop()  # dies: no drain, its lease is left to run out
    second = await cluster.add(max_concurrency=3)
    leases = second.leases
    assert leases is not None
    await leases.take_over()
    assert leases.taken_over == 0  # not before the lease ran out
    await cluster.expire("process-0")
    await leases.take_over()  # its next look for dead processes' jobs (or its loop's)
    await until(lambda: leases.taken_over == 1)
    cluster.fal.finish()

    reply = await _rebuilt(cluster.factories[1], job.id)
    await reply.wait(WAIT)
    assert reply.delivery is not None, reply.error
    assert cluster.fal.submit_calls == 1
    assert await cluster.owner(job.id) == "process-1"
    await stored(second, job.id, lambda job: job.state is JobState.DELIVERED)
    assert len(await second.store.ledger(UsageFilter("w1", since=START.replace(day=1)))) == 1


async def stored(engine: Engine, job_id: str, check: Callable[[Job], bool]) -> Job:
    """The job as stored, once `check` holds for it."""
    async with asyncio.timeout(WAIT):
        while True:
            job = await engine.store.get_job(job_id)
            if job is not None and check(job):
                return job


async def submitted(engine: Engine, job_id: str) -> None:
    """Until the job's request id is stored (it is at fal, and known to be)."""
    await stored(engine, job_id, lambda job: job.request_id is not None)


def _taken(engine: Engine) -> int:
    return 0 if engine.leases is None else engine.leases.taken_over


async def _rebuilt(factory: RecordingReplyFactory, job_id: str) -> RecordingReply:
    await until(lambda: job_id in factory.replies)
    return factory.replies[job_id]


async def test_a_process_restarted_under_its_old_name_picks_up_its_jobs_at_once(
    cluster: Cluster,
) -> None:
    # FALBOT_INSTANCE names the process, and a deployment may give it the same name again
    # after a restart: its old life's jobs are its to pick up (it does not renew their leases
    # as though it were working on them, and nobody else would take them over).
    first = await cluster.add(max_concurrency=3, name="falbot-0")
    job = await ask(first, "ann", 1)
    await submitted(first, job.id)
    await first.stop()  # dies: no drain

    again = await cluster.add(max_concurrency=3, name="falbot-0")
    assert _taken(again) == 1  # as it starts, without waiting for the lease
    cluster.fal.finish()
    reply = await _rebuilt(cluster.factories[1], job.id)
    await reply.wait(WAIT)
    assert reply.delivery is not None, reply.error
    assert cluster.fal.submit_calls == 1


async def test_a_job_written_completed_holds_no_slot_even_when_freeing_it_failed(
    cluster: Cluster,
) -> None:
    # As if fal were done with the job and its engine's free_slot had not reached the
    # database (a moment without connections): the job's completion, written next (here by
    # the test, as its owner), gives the slot up.
    engine = await cluster.add(max_concurrency=1)
    store = cluster.stores[0]
    job = await ask(engine, "ann", 1)
    await submitted(engine, job.id)
    assert await store.slots_in_use() == 1

    at_fal = await store.get_job(job.id)
    assert at_fal is not None
    await store.save_job(at_fal.moved_to(JobState.COMPLETED, at=START))
    assert await store.slots_in_use() == 0


async def test_a_job_caught_being_submitted_by_a_dead_engine_fails_with_its_credits_back(
    cluster: Cluster,
) -> None:
    first = await cluster.add(max_concurrency=3)
    cluster.fal.submit_gate = asyncio.Event()  # the submit never answers: it dies mid-way
    job = await ask(first, "ann", 1)
    await until(lambda: cluster.fal.submit_calls == 1)
    await first.stop()
    cluster.fal.submit_gate = None

    await cluster.expire("process-0")
    second = await cluster.add(max_concurrency=3)  # takes it over as it starts
    reply = await _rebuilt(cluster.factories[1], job.id)
    await reply.wait(WAIT)
    assert _taken(second) == 1
    assert reply.error is not None and reply.credits_returned
    bucket = await second.store.bucket(BucketKey("w1", "ann"), LIMITS, START)
    assert bucket.level == LIMITS.capacity
    assert cluster.fal.submit_calls == 1


async def test_an_engine_that_lost_its_lease_lets_go_and_the_job_is_delivered_once(
    cluster: Cluster,
) -> None:
    slow = await cluster.add(max_concurrency=1)
    job = await ask(slow, "ann", 1)
    await submitted(slow, job.id)
    await cluster.expire("process-0")  # `slow` stalled past its lease, but lives on
    other = await cluster.add(max_concurrency=1)
    await until(lambda: _taken(other) == 1)

    cluster.fal.finish()
    taker = await _rebuilt(cluster.factories[1], job.id)
    await taker.wait(WAIT)
    assert taker.delivery is not None
    old = cluster.factories[0].replies[job.id]
    assert old.delivery is None and old.error is None  # the old owner wrote nothing
    ledger = await other.store.ledger(UsageFilter("w1", since=START.replace(day=1)))
    assert len(ledger) == 1


async def test_a_webhook_reaching_another_engine_gets_to_the_one_following_the_job(
    cluster: Cluster,
) -> None:
    follower = await cluster.add(max_concurrency=1, webhook=True)
    job = await ask(follower, "ann", 1)
    await submitted(follower, job.id)
    receiver = await cluster.add(max_concurrency=1, webhook=True)  # the line is empty now
    request_id = next(iter(cluster.fal.requests))
    assert receiver.expects_webhook(request_id)  # any process may follow a request
    data = await cluster.fal.result(job.endpoint, request_id)

    assert receiver.fal_webhook(FalOutcome(request_id, data=data))
    reply = await _rebuilt(cluster.factories[0], job.id)
    await reply.wait(WAIT)
    assert reply.delivery is not None
    assert cluster.fal.status_calls == 0  # it never asked fal: the webhook reached it
    assert not cluster.fal.requests[request_id].completed  # nor watched it complete


async def test_a_job_waiting_in_the_line_is_cancelled_from_another_engine(
    cluster: Cluster,
) -> None:
    busy = await cluster.add(max_concurrency=1)
    await ask(busy, "ann", 1)  # takes the only slot
    waiting = await ask(busy, "ann", 2)
    other = await cluster.add(max_concurrency=1)
    await other.cancel(Cancel(waiting.id), actor=Actor("console", "w1", "ann"))
    reply = await _rebuilt(cluster.factories[1], waiting.id)
    await reply.wait(WAIT)
    assert reply.error is not None
    cluster.fal.finish()
    assert cluster.fal.submit_calls == 1


async def test_draining_lets_the_other_engines_take_its_jobs_at_once(cluster: Cluster) -> None:
    leaving = await cluster.add(max_concurrency=2)
    job = await ask(leaving, "ann", 1)
    await submitted(leaving, job.id)
    staying = await cluster.add(max_concurrency=2)

    await leaving.drain(grace=0.5)  # no lease to wait for: it lets go of its jobs
    leases = staying.leases
    assert leases is not None
    await leases.take_over()
    await until(lambda: leases.taken_over == 1)
    cluster.fal.finish()
    reply = await _rebuilt(cluster.factories[1], job.id)
    await reply.wait(WAIT)
    assert reply.delivery is not None


async def test_a_lost_listening_connection_is_opened_again_and_wake_ups_resume(
    cluster: Cluster,
) -> None:
    engine = await cluster.add(max_concurrency=1)
    store = cluster.stores[0]
    listener = store._listener
    assert listener is not None and store.listening
    async with store._tx() as db:  # the database drops it (a restart, a failover)
        await db.execute("SELECT pg_terminate_backend($1)", listener.get_server_pid())
    await until(lambda: not store.listening)

    await cluster.clocks[0].advance(5.0)  # its next look at the connection
    await until(lambda: store.listening)
    job = await ask(engine, "ann", 1)  # its clock stands still: only the notification wakes it
    await submitted(engine, job.id)
