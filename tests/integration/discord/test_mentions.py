"""A prompt that names @everyone or a member is echoed as text: every message falbot sends or
edits for a job carries Discord's `allowed_mentions` with nothing allowed."""

from __future__ import annotations

from tests.fakes.discord import payloads as p
from tests.integration.discord.conftest import Env


async def test_a_prompt_cannot_ping_anyone(env: Env) -> None:
    await env.start_bot()
    prompt = f"@everyone @here <@{env.alice.id}> a fox"
    issued = await env.slash(
        env.alice,
        "imagine",
        options=[p.option("prompt", p.STRING, prompt), p.option("model", p.STRING, "flux-dev")],
    )
    final = await env.final_edit(issued)
    assert "everyone" in final.json["content"]  # echoed, as text
    sent = [r for r in env.fake.requests if r.json and "content" in r.json]
    assert sent
    for request in sent:
        assert request.json.get("allowed_mentions") == {"parse": []}, (request.route, request.json)
