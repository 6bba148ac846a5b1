"""The bot token goes only to Slack's own file hosts, whatever host a file URL names."""

from __future__ import annotations

from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from adapters.fal.simulator import FalSimulator
from adapters.media_fetch import MediaFetcher
from adapters.slack.files import TOKEN_HOSTS, SlackFiles
from tests.fakes.slack import FakeSlack
from tests.fakes.slack import payloads as p
from tests.integration.slack.harness import ANN, BOT_TOKEN, CHANNEL, SlackStack, new_fake, png


async def test_token_only_for_slack_file_hosts() -> None:
    fetcher = MediaFetcher(allowed_hosts=["files.slack.com", "cdn.discordapp.com"], max_bytes=1024)
    files = SlackFiles(AsyncWebClient(), fetcher, bot_token="xoxb-secret", token_hosts=TOKEN_HOSTS)
    try:
        assert files._auth("https://files.slack.com/files-pri/T1-F1/download/a.png") == {
            "Authorization": "Bearer xoxb-secret"
        }
        assert files._auth("https://cdn.discordapp.com/attachments/1/2/a.png") == {}
        assert files._auth("https://files.slack.com.evil.example/a.png") == {}
    finally:
        await fetcher.aclose()


async def test_token_not_sent_on_after_a_redirect(
    fake: FakeSlack, fal_sim: FalSimulator, db_path: Path
) -> None:
    """Slack's file host redirects the download to another allowed host (a CDN): that host
    serves the image but never sees the bot token."""
    cdn = new_fake()
    await cdn.start()
    try:
        image = cdn.add_file(png(color="blue"), name="cat.png", mimetype="image/png", public=True)
        moved = fake.add_file(
            b"", name="cat.png", mimetype="image/png", redirect_to=image["url_private_download"]
        )
        parent = fake.add_message(CHANNEL, user=ANN, text="my cat", files=[moved])
        stack = await SlackStack.open(fake, fal_sim, db_path, media_hosts=(cdn.host,))
        try:
            await stack.event(
                p.app_mention(
                    "<@UBOT> make it red",
                    user=ANN,
                    channel=CHANNEL,
                    ts=fake._new_ts(),
                    thread_ts=parent["ts"],
                )
            )
            first = await fake.wait_for("files.download")
            assert first.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
            served = await cdn.wait_for("files.download")
            assert "Authorization" not in served.headers
            await stack.wait_delivered(ANN)
            assert BOT_TOKEN not in str([c.headers for c in cdn.calls])
        finally:
            await stack.close()
    finally:
        await cdn.close()
