"""Attachment metadata from the platforms (names, sizes, types, URLs, timestamps), as hostile as
it can be shaped: the adapters' checks pick images or refuse with `invalid_input`, never crash,
and never let through what the metadata itself already rules out. (The bytes are checked again
after download: see test_images.)"""

from __future__ import annotations

from typing import Any

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.discord.media import check_attachments, is_image
from adapters.slack.files import SlackFiles, _order
from core.errors import BotError, ErrorCode
from tests.property.strategies import any_text, json_like, tricky_text

MAX_BYTES = 1024 * 1024
types = st.one_of(
    st.none(),
    tricky_text,
    st.sampled_from(["image/png", "image/svg+xml", "IMAGE/PNG; charset=x", "text/html", ""]),
)
names = st.one_of(
    tricky_text, st.sampled_from(["a.png", "a.PNG", "x.svg", "x.png.exe", "`**x**`.gif"])
)

slack_file = st.fixed_dictionaries(
    {},
    optional={
        "name": json_like,
        "mimetype": st.one_of(types, json_like),
        # Slack's own short codes ("png", "PNG"): Slack writes them, not the user.
        "filetype": st.text(max_size=20),
        "pretty_type": st.text(max_size=40),
        "url_private": st.one_of(st.just("https://files.slack.com/f/a.png"), json_like),
        "url_private_download": st.one_of(st.just("https://files.slack.com/d/a.png"), json_like),
        "size": json_like,
    },
)


@given(files=st.lists(slack_file, max_size=5))
def test_slack_files_give_their_images_or_a_clear_refusal(files: list[dict[str, Any]]) -> None:
    try:
        images = SlackFiles.images(files)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert len(error.message) < 300
        return
    for image in images:
        assert any(image is f for f in files)  # by identity: values may be NaN
        assert str(image.get("mimetype", "")).startswith("image/")
        assert image.get("url_private_download") or image.get("url_private")


@given(ts=st.one_of(json_like, any_text))
def test_slack_timestamps_of_any_shape_order_without_crashing(ts: Any) -> None:
    whole, frac = _order(ts)
    assert isinstance(whole, int) and isinstance(frac, int)


@pytest.fixture(scope="module")
def state() -> Any:
    client = discord.Client(intents=discord.Intents.none())
    return client._connection  # a real ConnectionState; nothing here touches the network


def attachment(state: Any, n: int, filename: str, size: int, content_type: str | None) -> Any:
    data: dict[str, Any] = {
        "id": str(1000 + n),
        "filename": filename,
        "size": size,
        "url": f"https://cdn.discordapp.com/attachments/1/{1000 + n}/x",
        "proxy_url": f"https://media.discordapp.net/attachments/1/{1000 + n}/x",
    }
    if content_type is not None:
        data["content_type"] = content_type
    return discord.Attachment(data=data, state=state)  # type: ignore[arg-type]


@given(
    specs=st.lists(
        st.tuples(names, st.integers(-1, 10 * MAX_BYTES), types), min_size=0, max_size=5
    ),
    max_images=st.one_of(st.none(), st.integers(0, 4)),
)
def test_discord_attachments_pass_only_as_images_within_the_caps(
    state: Any, specs: list[tuple[str, int, str | None]], max_images: int | None
) -> None:
    attachments = [attachment(state, n, *spec) for n, spec in enumerate(specs)]
    try:
        check_attachments(attachments, max_bytes=MAX_BYTES, max_images=max_images)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert "\n" not in error.message[:200] or len(error.message) < 400
        return
    assert attachments
    assert max_images is None or len(attachments) <= max_images
    for a in attachments:
        assert is_image(a) and a.size <= MAX_BYTES
