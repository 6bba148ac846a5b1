"""The bot token goes only to Slack's own file hosts, whatever host a file URL names."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from adapters.media_fetch import MediaFetcher
from adapters.slack.files import TOKEN_HOSTS, SlackFiles


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
