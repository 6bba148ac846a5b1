"""Request bodies shaped like the ones Slack documents, and a client that signs them like Slack.

Slash commands arrive form-encoded; interactivity as a form field `payload` holding JSON; events
as JSON `event_callback` envelopes. Each HTTP request carries `X-Slack-Request-Timestamp` and
`X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{ts}:{body}")`.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

_seq = itertools.count(1)


def slash_command(
    command: str,
    text: str,
    *,
    team_id: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    user_name: str = "",
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_seq)}.1234.abcdef",
    }


def event_callback(event: dict[str, Any], *, team_id: str, event_id: str | None = None) -> dict:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_seq):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": team_id, "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-fake",
    }


def app_mention(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str,
    thread_ts: str | None = None,
    files: list[dict[str, Any]] | None = None,
    team_id: str = "T0001",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": team_id,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    if files:
        event["files"] = files
    return event


def direct_message(
    text: str,
    *,
    user: str,
    channel: str,
    ts: str,
    files: list[dict[str, Any]] | None = None,
    team_id: str = "T0001",
) -> dict[str, Any]:
    """A `message.im` event: someone wrote in their DM with the app (with files: `file_share`)."""
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": team_id,
        "channel_type": "im",
    }
    if files:
        event["subtype"] = "file_share"
        event["files"] = files
        event["upload"] = False
    return event


def app_home_opened(*, user: str, channel: str, tab: str = "home") -> dict[str, Any]:
    """The `app_home_opened` event: `tab` is `home` or `messages`."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def file_input(files: list[dict[str, Any]]) -> dict[str, Any]:
    """A `file_input` element's state in a view_submission: the uploaded files as Slack file
    objects (`id`, `name`, `mimetype`, `url_private_download`, …)."""
    return {"type": "file_input", "files": files}


def plain_text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def message_action(
    message: dict[str, Any],
    *,
    team_id: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    callback_id: str = "edit_image",
) -> dict[str, Any]:
    return {
        "type": "message_action",
        "token": "legacy-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "channel": {"id": channel_id, "name": "general"},
        "is_enterprise_install": False,
        "callback_id": callback_id,
        "trigger_id": f"{next(_seq)}.1234.abcdef",
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def view_submission(
    view: dict[str, Any], values: dict[str, dict[str, Any]], *, team_id: str, user_id: str
) -> dict[str, Any]:
    """A modal submitted with `values` as Slack nests them: block_id → action_id → value."""
    submitted = {
        **view,
        "team_id": team_id,
        "type": "modal",
        "state": {"values": values},
        "hash": "156772938.1827394",
        "app_id": "A0001",
        "bot_id": "B0001",
    }
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": f"{next(_seq)}.1234.abcdef",
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
    }


def block_actions(
    action: dict[str, Any],
    *,
    message: dict[str, Any],
    team_id: str,
    user_id: str,
    channel_id: str,
    response_url: str,
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "fake"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": f"{next(_seq)}.1234.abcdef",
        "channel": {"id": channel_id, "name": "general"},
        "message": message,
        "response_url": response_url,
        "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
        "is_enterprise_install": False,
    }


def button_action(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    """The button with `action_id` from a message's blocks, as Slack echoes it when clicked."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {
                    "type": "button",
                    "block_id": block.get("block_id", "actions"),
                    "action_id": action_id,
                    "text": element["text"],
                    "value": element.get("value", ""),
                }
    raise AssertionError(f"no button {action_id} in {message.get('blocks')}")


def select_action(message: dict[str, Any], action_id: str, value: str) -> dict[str, Any]:
    """A choice in the menu `action_id` of a message's blocks, as Slack sends it."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                chosen = next(o for o in element["options"] if o["value"] == value)
                return {
                    "type": "static_select",
                    "block_id": block.get("block_id", "actions"),
                    "action_id": action_id,
                    "selected_option": chosen,
                }
    raise AssertionError(f"no menu {action_id} in {message.get('blocks')}")


@dataclass
class Answer:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SignedSender:
    """Posts to the bot's `/slack/events` as Slack does, signed with the signing secret."""

    def __init__(self, url: str, signing_secret: str) -> None:
        self.url = url
        self._verifier = SignatureVerifier(signing_secret)
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        await self._session.close()

    def sign(self, timestamp: int | str, body: str) -> str:
        """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""
        signature = self._verifier.generate_signature(timestamp=str(timestamp), body=body)
        assert signature is not None
        return signature

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sig = signature or self.sign(ts, body)
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
            **(headers or {}),
        }
        async with self._session.post(self.url, data=body.encode(), headers=all_headers) as resp:
            return Answer(resp.status, await resp.text())

    async def command(self, form: dict[str, str], **kwargs: Any) -> Answer:
        return await self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    async def event(self, body: dict[str, Any], **kwargs: Any) -> Answer:
        return await self.post(json.dumps(body), "application/json", **kwargs)

    async def interaction(self, payload: dict[str, Any], **kwargs: Any) -> Answer:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **kwargs)
