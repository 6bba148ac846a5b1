"""Two `falbot run` processes on one PostgreSQL database, each holding half of four shards of the
fake Discord (`FALBOT_DISCORD_SHARDS=0-1/4` and `2-3/4`), started at the same moment.

Interactions in guilds on all four shards are each answered exactly once, by the process that
holds the guild's shard (their jobs then run on whichever process claims them from the shared
line); the commands are registered once, not once per process. Which process
did what is read from the operating system, not from anything the processes say: the fake notes
the client port of each gateway connection and each REST request, and Linux's /proc names the
process holding that socket (tests/e2e/sockets.py). Each process's own log confirms its shards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from adapters.fal.simulator import FalSimulator
from adapters.postgres.state import LOCK_SPACE
from tests.e2e import sockets
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import discord_env
from tests.fakes.discord import FakeDiscord, Issued, Recorded
from tests.fakes.discord import payloads as p
from tests.fakes.discord.gateway import shard_of
from tests.integration.postgres.database import fresh_database

COUNT = 4
HALVES = {"0-1/4": (0, 1), "2-3/4": (2, 3)}
USERS = ("ada", "ben", "cyd")
PER_GUILD = 3
CALLBACK = "POST /interactions/{id}/{token}/callback"
BULK_OVERWRITE = "PUT /applications/{id}/commands"
WAITING_FOR_LOCK = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1::bigint::oid "
    "AND d.datname = current_database()"
)

pytestmark = pytest.mark.skipif(
    not sockets.available(), reason="telling processes apart needs Linux's /proc/net/tcp"
)


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    # A large bot's identify limit: each process's two shards identify at once.
    fake = FakeDiscord(shards=COUNT, max_concurrency=16)
    for user in USERS:
        fake.add_person(user)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with fresh_database() as dsn:  # no schema yet: the two processes migrate it at once
        yield dsn


async def test_two_processes_each_answer_the_interactions_of_their_own_shards(
    fal_sim: FalSimulator, discord: FakeDiscord, database: str, tmp_path: Path
) -> None:
    guilds = {k: discord.add_guild(f"guild {k}", shard=(k, COUNT)) for k in range(COUNT)}
    processes: dict[str, FalbotProcess] = {}
    for shards in HALVES:
        env = discord_env(fal_sim, discord, tmp_path / "unused.db", free_port()) | {
            "FALBOT_DATABASE": database,
            "FALBOT_DISCORD_SHARDS": shards,
        }
        processes[shards] = FalbotProcess(env, cwd=tmp_path)
    # The first bulk overwrite is held unanswered until PostgreSQL shows the other process
    # waiting for the registration lock: both reach registration at once, and one must wait.
    overwrite_sent, let_go = asyncio.Event(), asyncio.Event()

    def hold(rec: Recorded) -> asyncio.Event | None:
        if rec.route != BULK_OVERWRITE or overwrite_sent.is_set():
            return None
        overwrite_sent.set()
        return let_go

    discord.hold = hold
    api_port = int(urlsplit(discord.api_url).port or 0)
    discord.peer_owner = lambda port: sockets.socket_owner(
        port, api_port, [pid for proc in processes.values() if (pid := proc.spawned_pid)]
    )
    try:
        starting = [proc.start(ready_within=40) for proc in processes.values()]
        _, waited = await asyncio.gather(
            asyncio.gather(*starting), _release_once_waiting(database, overwrite_sent, let_go)
        )
        holder = {k: processes[s].pid for s, ks in HALVES.items() for k in ks}

        sent: list[tuple[int, Issued]] = []
        for n in range(PER_GUILD * COUNT):
            shard = n % COUNT
            person = discord.people[USERS[n % len(USERS)]]
            prompt = p.option("prompt", p.STRING, f"sharded job {n} on shard {shard}")
            payload = discord.slash(person, "imagine", options=[prompt], guild=guilds[shard])
            sent.append((shard, await discord.send_interaction(payload)))
        await asyncio.gather(*(discord.callback(issued, timeout=10) for _, issued in sent))
        await asyncio.gather(*(_delivered(discord, issued) for _, issued in sent))
        for proc in processes.values():
            await proc.terminate(within=10)
    finally:
        for proc in processes.values():
            await proc.close()

    # Each shard's session was opened by the process holding the shard, once.
    opened = Counter((s.shard, s.owner) for s in discord.sessions)
    assert opened == Counter({((k, COUNT), holder[k]): 1 for k in range(COUNT)}), opened
    for shard_spec, (low, high) in HALVES.items():
        said = {line.get("shard") for line in processes[shard_spec].lines}
        assert {low, high} <= said and not said & (set(range(COUNT)) - {low, high}), said

    for shard, issued in sent:
        assert shard_of(issued.payload["guild_id"], COUNT) == shard
        # Discord sent it on the one session of its shard...
        assert [s.shard for s in issued.sessions] == [(shard, COUNT)], issued.id
        # ...and it was acknowledged once, by the process holding that session.
        acks = _for(discord, issued, CALLBACK)
        assert [(r.status, r.owner) for r in acks] == [(200, holder[shard])], issued.id
        # Its job ran wherever a slot freed: its reply was edited by one of the two.
        edits = [r for r in discord.requests if issued.token in r.path and r.method == "PATCH"]
        assert edits and {r.owner for r in edits} <= set(holder.values()), issued.id

    # The commands were registered once: one bulk overwrite, by one process, while the other
    # waited for the lock; then the other found them up to date.
    overwrites = [(r.status, r.owner) for r in discord.requests if r.route == BULK_OVERWRITE]
    assert len(overwrites) == 1 and overwrites[0][0] == 200, overwrites
    registrar = overwrites[0][1]
    assert waited and registrar in holder.values()
    (waiter,) = [proc for proc in processes.values() if proc.pid != registrar]
    (registering,) = [proc for proc in processes.values() if proc.pid == registrar]
    assert _lines(registering, lambda m: m.startswith("synced ") and m.endswith(" globally"))
    assert _lines(waiter, lambda m: m == "discord: the registered commands are up to date")

    db = await asyncpg.connect(database)
    try:
        states = Counter(r["state"] for r in await db.fetch("SELECT state FROM jobs"))
    finally:
        await db.close()
    assert states == {"delivered": len(sent)}


def _lines(proc: FalbotProcess, says: Callable[[str], bool]) -> int:
    """How many of the process's log lines say what `says` looks for (read from its stderr)."""
    return sum(1 for line in proc.lines if says(str(line.get("msg"))))


async def _release_once_waiting(dsn: str, sent: asyncio.Event, let_go: asyncio.Event) -> bool:
    """Once the held overwrite came, wait until a second session waits on an advisory lock
    (the other process at the registration lock), then let the overwrite through. The two
    processes' database is another's: it is read every 50 ms, there is no event to wait on."""
    try:
        await asyncio.wait_for(sent.wait(), 40)
        db = await asyncpg.connect(dsn)
        try:
            async with asyncio.timeout(20):
                while True:
                    if await db.fetchval(WAITING_FOR_LOCK, LOCK_SPACE):
                        break
                    await asyncio.sleep(0.05)
        finally:
            await db.close()
        return True
    finally:
        let_go.set()


def _for(discord: FakeDiscord, issued: Issued, route: str) -> list[Recorded]:
    return [r for r in discord.requests if r.route == route and r.path.split("/")[2] == issued.id]


async def _delivered(discord: FakeDiscord, issued: Issued) -> Recorded:
    """The edit that carries the result (it has the result's buttons)."""
    return await discord.wait_for(
        lambda r: (
            r.method == "PATCH"
            and issued.token in r.path
            and r.status == 200
            and bool((r.json or {}).get("components"))
        ),
        timeout=20,
    )
