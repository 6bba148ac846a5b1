"""Base-URL settings: what `falbot check` accepts is what the adapters can use, and a URL with
credentials in it is refused without echoing them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings


@pytest.mark.parametrize(
    "url",
    [
        "https://proxy.example/api",
        "https://proxy.example/api/",
        "http://127.0.0.1:8080",
        "http://localhost:9/queue",
    ],
)
def test_a_good_base_url_is_taken_without_its_trailing_slash(url: str) -> None:
    settings = Settings(FAL_KEY="k", FALBOT_FAL_QUEUE_URL=url)
    assert settings.fal_queue_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://proxy.example/api", "http is allowed for loopback only"),
        ("ftp://127.0.0.1/", "must be an https URL"),
        ("https:///no-host", "must be an https URL"),
        ("https://proxy.example/api?x=1", "takes no query or fragment"),
        ("https://proxy.example/api#frag", "takes no query or fragment"),
        ("https://proxy.example/api?", "takes no query or fragment"),
        ("https://user:hunter2@proxy.example/api", "takes no user or password"),
    ],
)
def test_a_bad_base_url_is_refused_with_what_to_do(url: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(FAL_KEY="k", FALBOT_SLACK_API_URL=url)
    # What falbot prints of a malformed setting is its messages (bot/cli.py, bot/check.py).
    said = " ".join(str(e["msg"]) for e in caught.value.errors())
    assert says in said
    assert "proxy.example" not in said and "hunter2" not in said  # never quotes the value
