"""Whole runs of `falbot run` with known secret values, debug logging on, successes and every
kind of failure, on Slack and on Discord: no log line, no message to the platform, no error, no
HTTP answer and no byte of the database holds any of the secrets."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.fal.simulator import FalSimulator, Fault
from tests.e2e.process import FalbotProcess, free_port
from tests.e2e.support import (
    TEAM,
    discord_env,
    falbot_env,
    running_discord,
    running_simulator,
    running_slack,
    sync_discord_commands,
    wait_all_final,
)
from tests.fakes.discord import payloads as p_discord
from tests.fakes.slack import FakeSlack, SignedSender
from tests.fakes.slack import payloads as p

FAL_KEY = "fal-5ecret-k3y-id:0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-5ecret-9999-bottokenvalue0123"
SIGNING_SECRET = "5ecret-signing-0123456789abcdef"
DISCORD_TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.G5ecrt.d1scord-5ecret-t0ken-value-0123456789"
SECRETS = {
    "FAL_KEY": FAL_KEY,
    "FAL_KEY secret part": FAL_KEY.split(":")[1],
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "DISCORD_TOKEN": DISCORD_TOKEN,
    "DISCORD_TOKEN secret part": DISCORD_TOKEN.rsplit(".", 1)[1],
}
USER, ADMIN = "USECRET", "UBOSS"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with running_slack((USER,), admins=(ADMIN,), bot_token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
async def fal_sim() -> AsyncIterator[FalSimulator]:
    async with running_simulator(key=FAL_KEY) as simulator:
        yield simulator


def leaks(where: str, text: str) -> list[str]:
    return [f"{name} in {where}" for name, value in SECRETS.items() if value in text]


def database_text(db: Path) -> str:
    """Every row of every table, and the raw bytes of the files (WAL included)."""
    parts: list[str] = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            parts.extend(repr(row) for row in conn.execute(f"SELECT * FROM {table}"))
    conn.close()
    for path in db.parent.glob(db.name + "*"):
        parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


async def test_no_secret_is_ever_logged_shown_answered_or_stored(
    fal_sim: FalSimulator, slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    port, metrics_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = falbot_env(fal_sim, slack, db, port) | {
        "FALBOT_METRICS_PORT": str(metrics_port),
        "FAL_KEY": FAL_KEY,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FALBOT_DEBUG": "1",
        "FALBOT_ADMIN_USER_IDS": ADMIN,
    }
    sender = SignedSender(f"{base}/slack/events", SIGNING_SECRET)
    proc = FalbotProcess(env, cwd=tmp_path)
    answers: list[str] = []

    async def command(name: str, text: str, user: str = USER) -> None:
        url = slack.response_url()
        form = p.slash_command(
            name, text, team_id=TEAM, user_id=user, channel_id="CSEC", response_url=url
        )
        answer = await sender.command(form)
        answers.append(answer.text)

    try:
        await proc.start()
        await command("/imagine", "a quiet harbour --model flux-schnell")
        fal_sim.fail_next(Fault.server_error("runner_server_error"))
        await command("/imagine", "this one fails at fal --model flux-schnell")
        fal_sim.fail_next(Fault.content_policy())
        await command("/imagine", "this one is refused --model flux-schnell")
        await command("/imagine", "--count 99 too many")  # refused at admission
        await command("/falbot", "quota")
        await command("/falbot", "jobs")
        await command("/falbot", "admin quota set USECRET 500 10", user=ADMIN)
        await command("/falbot", "admin quota set USECRET 500 10")  # not an admin
        await wait_all_final(db, within=20)
        fal_sim.key = "a-key-falbot-does-not-have"  # fal now refuses falbot's credentials
        await command("/imagine", "refused for the key --model flux-schnell")
        await slack.wait_for("chat.update", lambda c: "credentials" in json.dumps(c.params))
        await wait_all_final(db, within=20)
        async with aiohttp.ClientSession() as session:
            for url in (f"{base}/healthz", f"http://127.0.0.1:{metrics_port}/metrics"):
                async with session.get(url) as resp:
                    answers.append(await resp.text())
        await sender.post("{}", "application/json", signature="v0=forged")  # a bad signature
        await proc.terminate(within=10)
    finally:
        await sender.close()
        await proc.close()

    found: list[str] = []
    assert len(proc.raw_lines) > 50  # debug logging really ran
    for line in proc.raw_lines:
        found += leaks("a log line", line)
    found += leaks("stdout", proc.stdout)
    for call in slack.calls:  # everything falbot sent to Slack (its Authorization aside)
        found += leaks(f"Slack {call.method}", json.dumps(call.params, default=str))
    for text in answers:
        found += leaks("an HTTP answer", text)
    found += leaks("the database", database_text(db))
    for _, arguments in fal_sim.submits:
        found += leaks("what fal was sent", json.dumps(arguments))
    assert not found, found
    # The scan would see them: the secrets were in use, where they belong (Slack's header).
    assert leaks("headers", json.dumps([c.headers for c in slack.calls])) == [
        "SLACK_BOT_TOKEN in headers"
    ]
    # The failures really happened and were told.
    assert any("credentials" in json.dumps(c.params) for c in slack.calls_to("chat.update"))
    assert slack.calls_to("response_url")


async def test_no_discord_or_fal_secret_is_ever_logged_shown_answered_or_stored(
    fal_sim: FalSimulator, tmp_path: Path
) -> None:
    db = tmp_path / "falbot.db"
    port, metrics_port = free_port(), free_port()
    async with running_discord(("alice",), bot_token=DISCORD_TOKEN) as fake:
        env = discord_env(fal_sim, fake, db, port) | {"FAL_KEY": FAL_KEY, "FALBOT_DEBUG": "1"}
        env["FALBOT_METRICS_PORT"] = str(metrics_port)
        await sync_discord_commands(env, tmp_path)
        proc = FalbotProcess(env, cwd=tmp_path)
        alice = fake.people["alice"]
        answers: list[str] = []

        async def slash(name: str, **options: str) -> None:
            given = [p_discord.option(k, p_discord.STRING, v) for k, v in options.items()]
            issued = await fake.send_interaction(fake.slash(alice, name, options=given))
            await fake.callback(issued, timeout=10)

        try:
            await proc.start()
            await slash("imagine", prompt="a quiet harbour", model="flux-schnell")
            fal_sim.fail_next(Fault.server_error("runner_server_error"))
            await slash("imagine", prompt="this one fails at fal", model="flux-schnell")
            fal_sim.fail_next(Fault.content_policy())
            await slash("imagine", prompt="this one is refused", model="flux-schnell")
            await slash("imagine", prompt="no such model", model="no-such-model")  # refused
            await slash("quota")
            await slash("jobs")
            await wait_all_final(db, within=20)
            fal_sim.key = "a-key-falbot-does-not-have"  # fal now refuses falbot's credentials
            await slash("imagine", prompt="refused for the key", model="flux-schnell")
            await fake.wait_for(lambda r: "credentials" in json.dumps(r.json), timeout=20)
            await wait_all_final(db, within=20)
            async with aiohttp.ClientSession() as session:
                for url in (
                    f"http://127.0.0.1:{port}/healthz",
                    f"http://127.0.0.1:{metrics_port}/metrics",
                ):
                    async with session.get(url) as resp:
                        answers.append(await resp.text())
            await proc.terminate(within=10)
        finally:
            await proc.close()

    found: list[str] = []
    assert len(proc.raw_lines) > 50  # debug logging really ran
    for line in proc.raw_lines:
        found += leaks("a log line", line)
    found += leaks("stdout", proc.stdout)
    for rec in fake.requests:  # everything falbot sent to Discord (its Authorization aside)
        sent = json.dumps([rec.path, rec.query, rec.json, [f.filename for f in rec.files]])
        found += leaks(f"Discord {rec.route}", sent)
    for text in answers:
        found += leaks("an HTTP answer", text)
    found += leaks("the database", database_text(db))
    for _, arguments in fal_sim.submits:
        found += leaks("what fal was sent", json.dumps(arguments))
    assert not found, found
    # The scan would see it: the token was in use, where it belongs (the Authorization header).
    headers = json.dumps([r.headers for r in fake.requests])
    assert leaks("headers", headers) == [
        "DISCORD_TOKEN in headers",
        "DISCORD_TOKEN secret part in headers",
    ]
    # The failures really happened and were told.
    told = json.dumps([r.json for r in fake.requests])
    assert "credentials" in told and "no model called" in told
