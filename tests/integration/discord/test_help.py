"""/help: what falbot does, one example per command in Discord's syntax, and your credits."""

from __future__ import annotations

from core.help import TOPICS
from tests.integration.discord.conftest import EPHEMERAL, Env


async def test_help_lists_every_command_and_the_credits(env: Env) -> None:
    await env.start_bot()
    answer = await env.callback(await env.slash(env.alice, "help"))
    assert answer.json["type"] == 4
    assert answer.json["data"]["flags"] & EPHEMERAL
    text = str(answer.json["data"]["content"])
    assert "fal.ai" in text
    for topic in TOPICS:
        if topic.admin:
            assert topic.discord not in text  # alice is no admin
        else:
            assert f"`{topic.discord}`" in text, topic.discord
    assert "You have 100.00 of 100 credits" in text
    assert "--" not in text  # Discord's syntax, not Slack's

    admin = await env.callback(await env.slash(env.mod, "help"))
    assert "/admin quota show" in str(admin.json["data"]["content"])
