"""Help on Slack: `/falbot help`, `@falbot help` and the App Home tab say what falbot does, with
one example per command, and the user's credits; `/falbot usage` sends its chart to the DM."""

from __future__ import annotations

import json

from core.help import TOPICS
from tests.fakes.slack import Call, FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOSS, CHANNEL, SlackStack


def shown(call: Call) -> str:
    return "\n".join(b["text"]["text"] for b in call.params["blocks"] if b["type"] == "section")


def assert_is_help(text: str, *, admin: bool = False) -> None:
    assert "falbot" in text and "fal.ai" in text
    for topic in TOPICS:
        if topic.admin and not admin:
            assert topic.slack not in text
            continue
        assert f"`{topic.slack}`" in text, topic.slack
    assert "You have 100.00 of 100 credits" in text


async def test_falbot_help_and_a_bare_falbot(stack: SlackStack, fake: FakeSlack) -> None:
    await stack.command("/falbot", "help")
    answer = await fake.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    assert_is_help(shown(answer))
    await stack.command("/falbot", "", user=BOSS)
    admin_answer = await fake.wait_for("response_url", count=2)
    assert_is_help(shown(admin_answer), admin=True)


async def test_mention_help_answers_privately(stack: SlackStack, fake: FakeSlack) -> None:
    await stack.event(p.app_mention("<@UBOT> help", user=ANN, channel=CHANNEL, ts="1700000800.1"))
    answer = await fake.wait_for("chat.postEphemeral")
    assert answer.params["user"] == ANN
    assert_is_help(shown(answer))
    assert not fake.calls_to("chat.postMessage")


async def test_home_tab_shows_help_and_credits(stack: SlackStack, fake: FakeSlack) -> None:
    await stack.event(p.app_home_opened(user=ANN, channel="DANN", tab="messages"))
    await stack.event(p.app_home_opened(user=ANN, channel="DANN"))
    published = await fake.wait_for("views.publish")
    assert published.params["user_id"] == ANN
    home = fake.homes[ANN]
    assert home["type"] == "home"
    text = "\n".join(b["text"]["text"] for b in home["blocks"] if b["type"] == "section")
    assert_is_help(text)
    await stack.quiesce()
    assert len(fake.calls_to("views.publish")) == 1  # the Messages tab publishes nothing


async def test_usage_attaches_the_chart_in_the_dm(stack: SlackStack, fake: FakeSlack) -> None:
    await stack.command("/imagine", "a kite --model nano-banana")
    await stack.wait_delivered(ANN)
    await stack.command("/falbot", "usage 7")
    answer = await fake.wait_for("response_url")
    assert "$0.039" in shown(answer)
    assert "in your DMs" in shown(answer)
    opened = await fake.wait_for("conversations.open")
    assert opened.params["users"] == ANN
    complete = await fake.wait_for(
        "files.completeUploadExternal", lambda c: c.params.get("channel_id") == "DUANN"
    )
    names = [fake.uploads[f["id"]]["filename"] for f in json.loads(complete.params["files"])]
    assert any(n.endswith(".png") for n in names) and any(n.endswith(".csv") for n in names)
    chart = next(f for f in json.loads(complete.params["files"]) if f["title"] == "Spend per day")
    assert fake.uploads[chart["id"]]["data"].startswith(b"\x89PNG")


async def test_help_notification_text_is_plain(stack: SlackStack, fake: FakeSlack) -> None:
    await stack.command("/falbot", "help")
    answer = await fake.wait_for("response_url")
    assert answer.params["text"].startswith("falbot makes")
    assert "**" not in json.dumps(answer.params)
