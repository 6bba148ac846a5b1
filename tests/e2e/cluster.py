"""Several `falbot run` processes on one PostgreSQL database, against the fake Discord (real
discord.py in each child) and the fal simulator, both in the test's process.

Each process life has a name of its own (`FALBOT_INSTANCE`, written in `jobs.owner`), so a
job's owner tells which life holds it; a killed process is restarted under a new name. The
database belongs to the children: it is read here on a connection of the test's own, polled
where nothing else says that it changed.

Discord is sharded as a deployment of several processes runs it: process slot k holds shard k
of as many (`FALBOT_DISCORD_SHARDS=k/n`), and the fake has a guild on each shard (`guilds[k]`),
so a command sent in guild k is answered (and its job admitted) by the process in slot k, while
every process claims jobs from the shared line. A restarted process takes its slot's shard.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import asyncpg

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import FalbotProcess
from tests.e2e.support import discord_env, prompt_of
from tests.fakes.discord import FakeDiscord, Issued, Recorded
from tests.fakes.discord import payloads as p

FINAL = ("delivered", "failed", "cancelled")
ACK_WITHIN = 10.0  # the fake refuses a callback after 3 s anyway; this is the test's patience


@dataclass
class Life:
    """One `falbot run` process, from its start to its kill or exit, in slot `slot` (its
    shard)."""

    name: str
    slot: int
    proc: FalbotProcess

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.proc.lines if line.get("event") == event]

    def took_over(self, short_id: str | None = None) -> list[dict[str, Any]]:
        """Its log lines saying it took a job over (that job's, with `short_id`)."""
        prefix = "took over job " + (short_id or "")
        return [line for line in self.proc.lines if str(line.get("msg", "")).startswith(prefix)]


class Cluster:
    """`size` process slots, the processes (`lives`, every one ever started), the commands
    sent (`sent`), and the database they share. Use as `async with Cluster(...) as cluster:`;
    every process is killed and the connection closed at the end. The fake Discord must have
    `size` shards."""

    def __init__(
        self,
        *,
        sim: FalSimulator,
        fake: FakeDiscord,
        dsn: str,
        cwd: Path,
        slots: int,
        lease: float,
        size: int = 3,
    ) -> None:
        assert fake.shards == size, "one shard per process slot"
        self.sim = sim
        self.fake = fake
        self.cwd = cwd
        self.lease = lease
        self.size = size
        self.guilds = [fake.add_guild(f"guild {k}", shard=(k, size)) for k in range(size)]
        self.lives: list[Life] = []
        self.sent: list[tuple[str, Issued]] = []  # (prompt, interaction)
        self._env = discord_env(sim, fake, cwd / "unused.db", 0) | {
            "FALBOT_DATABASE": dsn,
            "FALBOT_HTTP_PORT": "0",  # each child binds a free port of its own
            "FALBOT_MAX_CONCURRENCY": str(slots),
            "FALBOT_LEASE_SECONDS": str(lease),
            "FALBOT_PROGRESS_INTERVAL": "1.0",
        }
        self._dsn = dsn
        self._db: asyncpg.Connection[asyncpg.Record] | None = None

    async def __aenter__(self) -> Self:
        self._db = await asyncpg.connect(self._dsn)
        return self

    async def __aexit__(self, *_: object) -> None:
        for life in self.lives:
            await life.proc.close()
        if self._db is not None:
            await self._db.close()

    # processes

    @property
    def live(self) -> list[Life]:
        return [life for life in self.lives if life.running]

    async def start(self, *slots: int) -> list[Life]:
        """New processes in these slots (every slot: the first start), started side by side;
        once each said it is running. Each life has a name of its own."""
        new = []
        for slot in slots or range(self.size):
            name = f"falbot-{len(self.lives) + 1}"
            env = self._env | {
                "FALBOT_INSTANCE": name,
                "FALBOT_DISCORD_SHARDS": f"{slot}/{self.size}",
            }
            life = Life(name, slot, FalbotProcess(env, cwd=self.cwd))
            self.lives.append(life)
            new.append(life)
        await asyncio.gather(*(life.proc.start(ready_within=60) for life in new))
        return new

    async def kill(self, life: Life) -> dict[str, str]:
        """SIGKILL `life`; the unfinished jobs it owned then (id → state). Read after the
        kill: nothing it did can change them any more."""
        await life.proc.kill()
        rows = await self.rows(
            "SELECT id, state FROM jobs WHERE owner = $1 AND NOT final ORDER BY seq", life.name
        )
        return {row["id"]: row["state"] for row in rows}

    async def stop(self, *, within: float = 20.0) -> None:
        """SIGTERM every live process, side by side, and wait for each to exit."""
        await asyncio.gather(*(life.proc.terminate(within=within) for life in self.live))

    async def wait_for_line(
        self, predicate: Callable[[Life, dict[str, Any]], bool], *, within: float
    ) -> tuple[Life, dict[str, Any]]:
        """The first log line of any live process matching `predicate`, as it arrives."""
        lives = self.live
        waits = {
            asyncio.ensure_future(
                life.proc.wait_for_line(
                    lambda line, life=life: predicate(life, line), within=within
                )
            ): life
            for life in lives
        }
        try:
            pending = set(waits)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        return waits[task], task.result()
            raise AssertionError(f"no such log line in any process within {within} s")
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    # Discord

    async def send(self, user: str, prompt: str, *, slot: int) -> Issued:
        """`user`'s /imagine of `prompt` (flux-schnell) in the guild of `slot`'s shard, not
        waiting for its answer."""
        person = self.fake.people[user]
        options = [
            p.option("prompt", p.STRING, prompt),
            p.option("model", p.STRING, "flux-schnell"),
        ]
        payload = self.fake.slash(person, "imagine", options, guild=self.guilds[slot])
        issued = await self.fake.send_interaction(payload)
        self.sent.append((prompt, issued))
        return issued

    async def send_acked(
        self, commands: Iterable[tuple[str, str, int]], *, window: int = 10
    ) -> list[Issued]:
        """Send (user, prompt, slot) commands, at most `window` unanswered at once, and wait
        for each to be acknowledged (the job is admitted before its interaction is answered)."""
        commands = list(commands)
        issued: list[Issued] = []
        for start in range(0, len(commands), window):
            batch = [
                await self.send(user, text, slot=slot)
                for user, text, slot in commands[start : start + window]
            ]
            await asyncio.gather(*(self.fake.callback(i, timeout=ACK_WITHIN) for i in batch))
            assert all(i.acked is not None for i in batch), "an interaction went unanswered"
            issued += batch
        return issued

    def acked(self) -> set[str]:
        return {prompt for prompt, issued in self.sent if issued.acked is not None}

    # the database

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert self._db is not None
        return [dict(row) for row in await self._db.fetch(sql, *args)]

    async def jobs(self) -> list[dict[str, Any]]:
        return await self.rows("SELECT * FROM jobs ORDER BY seq")

    async def poll(
        self,
        sql: str,
        check: Callable[[list[dict[str, Any]]], bool],
        *,
        within: float,
        args: Sequence[Any] = (),
    ) -> list[dict[str, Any]]:
        """`sql`'s rows once `check` holds for them (read every 50 ms); fails with the last
        rows read after `within` seconds."""
        rows: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(within):
                while not check(rows := await self.rows(sql, *args)):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)  # no event says the children's database changed
        except TimeoutError:
            raise AssertionError(f"not so within {within} s: {sql} gave {rows[:10]}") from None
        return rows

    async def wait_all_final(self, *, within: float) -> list[dict[str, Any]]:
        """Until every job is delivered, failed or cancelled; fails naming those that are not."""
        try:
            return await self.poll(
                "SELECT * FROM jobs ORDER BY seq",
                lambda jobs: bool(jobs) and all(j["state"] in FINAL for j in jobs),
                within=within,
            )
        except AssertionError:
            left = await self.rows(
                "SELECT id, state, owner, lease_until, slot_held, request_id FROM jobs "
                "WHERE NOT final ORDER BY seq"
            )
            said = [
                f"{life.name}: {raw}"
                for life in self.lives
                for raw in life.proc.raw_lines
                if any(job["id"][:8] in raw for job in left[:3])
                or '"level": "warn' in raw
                or '"level": "error' in raw
            ]
            raise AssertionError(
                f"{len(left)} jobs unfinished after {within} s: {left[:10]}\n" + "\n".join(said)
            ) from None

    async def books(
        self,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Decimal]]:
        """Jobs, ledger rows and bucket levels in the shape `support.check_books` reads
        (SQLite's: settled as 0/1, money as micro-dollars). A user has a bucket in each guild
        (workspace) they used: users are named `workspace/user` here."""
        jobs = [
            job
            | {
                "credits_settled": int(job["credits_settled"]),
                "user_id": f"{job['workspace_id']}/{job['user_id']}",
            }
            for job in await self.jobs()
        ]
        ledger = [
            row | {"cost_micros": int(row["cost_usd"] * 1_000_000)}
            for row in await self.rows("SELECT * FROM ledger")
        ]
        buckets = {
            f"{row['workspace_id']}/{row['user_id']}": Decimal(row["level"])
            for row in await self.rows("SELECT * FROM buckets")
            if row["level"] is not None
        }
        return jobs, ledger, buckets


def submitted_prompts(sim: FalSimulator) -> Counter[str]:
    """How many times fal was sent each prompt."""
    return Counter(str(arguments.get("prompt")) for _, arguments in sim.submits)


def _result_target(r: Recorded) -> str:
    """The message a request carrying files wrote: the interaction's own message (edited, by
    its path) or a new one in the channel (by the id Discord gave it)."""
    if r.method == "PATCH":
        return r.path
    return f"new message {(r.answer or {}).get('id')}"


def check_told(fake: FakeDiscord, jobs: Sequence[dict[str, Any]], *, context: str) -> None:
    """Each job's user was told on Discord, once: a delivered job's files are in exactly one
    message naming the job (the same message edited again counts once), a failed one's
    message says the credits came back."""
    said = [r for r in fake.requests if 200 <= r.status < 300 and isinstance(r.json, dict)]
    for job in jobs:
        short = job["id"][:8]
        mine = [r for r in said if short in str(r.json.get("content"))]
        if job["state"] == "delivered":
            results = {
                _result_target(r) for r in mine if r.files and f"job {short}" in r.json["content"]
            }
            assert len(results) == 1, (prompt_of(job), results, context)
        else:
            assert any("Your credits were returned." in r.json["content"] for r in mine), (
                job,
                context,
            )


def result_sends(fake: FakeDiscord, short_id: str) -> int:
    """How many requests carried a job's result files to Discord."""
    return sum(
        1
        for r in fake.requests
        if 200 <= r.status < 300
        and r.files
        and isinstance(r.json, dict)
        and f"job {short_id}" in str(r.json.get("content"))
    )


def prompts_of(jobs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {prompt_of(job): job for job in jobs}
