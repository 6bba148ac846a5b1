"""Discord-shaped JSON payloads, as Discord's API documentation describes them.

Only plain dicts: the fake serves them and tests feed them, so discord.py parses exactly what it
would parse from Discord.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions)
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
ATTACH_FILES = 1 << 15
VIEW_CHANNEL = 1 << 10
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | USE_APPLICATION_COMMANDS

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents)
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Interaction types and application command types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3

# Application command option types
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER = 1, 2, 3, 4
ATTACHMENT_OPTION = 11

_counter = itertools.count(1)


def snowflake(at_ms: int | None = None) -> str:
    """A new snowflake for `at_ms` (now by default): time in the top bits, a counter below."""
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    return str(((ms - DISCORD_EPOCH_MS) << 22) | (next(_counter) % 4096))


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": None if bot else name.title(),
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


def role(role_id: str, name: str, *, permissions: int = 0, position: int = 1) -> dict[str, Any]:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member(
    usr: Mapping[str, Any], *, roles: Sequence[str] = (), permissions: int | None = None
) -> dict[str, Any]:
    """A guild member; `permissions` (total, in the channel) is only present in interactions."""
    data: dict[str, Any] = {
        "user": dict(usr),
        "nick": None,
        "avatar": None,
        "roles": list(roles),
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def text_channel(channel_id: str, guild_id: str, name: str = "general") -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def dm_channel(channel_id: str, recipient: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": channel_id, "type": 1, "last_message_id": None, "recipients": [dict(recipient)]}


def guild(
    guild_id: str,
    name: str,
    *,
    owner_id: str,
    channels: Sequence[Mapping[str, Any]],
    roles: Sequence[Mapping[str, Any]],
    members: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A GUILD_CREATE payload (a guild object with the gateway-only extra fields)."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [dict(r) for r in roles],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": False,
        "safety_alerts_channel_id": None,
        # GUILD_CREATE extras
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "voice_states": [],
        "members": [dict(m) for m in members],
        "channels": [dict(c) for c in channels],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment(
    attachment_id: str, filename: str, *, url: str, size: int, content_type: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": attachment_id,
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type is not None:
        data["content_type"] = content_type
    return data


def message(
    *,
    message_id: str,
    channel_id: str,
    author: Mapping[str, Any],
    content: str = "",
    guild_id: str | None = None,
    member_data: Mapping[str, Any] | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
    mentions: Sequence[Mapping[str, Any]] = (),
    components: Sequence[Mapping[str, Any]] = (),
    embeds: Sequence[Mapping[str, Any]] = (),
    referenced: Mapping[str, Any] | None = None,
    flags: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message_id,
        "channel_id": channel_id,
        "author": dict(author),
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [dict(m) for m in mentions],
        "mention_roles": [],
        "attachments": [dict(a) for a in attachments],
        "embeds": [dict(e) for e in embeds],
        "pinned": False,
        "type": 0 if referenced is None else 19,
        "flags": flags,
        "components": [dict(c) for c in components],
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
    if member_data is not None:
        data["member"] = dict(member_data)
    if referenced is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            **({"guild_id": guild_id} if guild_id else {}),
        }
        data["referenced_message"] = dict(referenced)
    if extra:
        data.update(extra)
    return data


def interaction(
    *,
    kind: int,
    application_id: str,
    data: Mapping[str, Any] | None,
    channel: Mapping[str, Any],
    guild_id: str | None,
    member_data: Mapping[str, Any] | None = None,
    user_data: Mapping[str, Any] | None = None,
    message_data: Mapping[str, Any] | None = None,
    attachment_size_limit: int = 10 * 1024 * 1024,
    app_permissions: int = MEMBER_PERMISSIONS,
) -> dict[str, Any]:
    """An interaction object as INTERACTION_CREATE carries it (the token is fresh)."""
    payload: dict[str, Any] = {
        "id": snowflake(),
        "application_id": application_id,
        "type": kind,
        "token": "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
        "version": 1,
        "channel": dict(channel),
        "channel_id": channel["id"],
        "app_permissions": str(app_permissions),
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id}
        if guild_id
        else {"1": _user_id(member_data, user_data)},
        "context": 0 if guild_id else 1,
        "attachment_size_limit": attachment_size_limit,
    }
    if data is not None:
        payload["data"] = dict(data)
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild"] = {"id": guild_id, "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = dict(member_data or {})
    else:
        payload["user"] = dict(user_data or {})
    if message_data is not None:
        payload["message"] = dict(message_data)
    return payload


def _user_id(member_data: Mapping[str, Any] | None, user_data: Mapping[str, Any] | None) -> str:
    if member_data is not None:
        return str(member_data["user"]["id"])
    return str((user_data or {}).get("id", "0"))


def option(name: str, kind: int, value: Any, *, focused: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "type": kind, "value": value}
    if focused:
        data["focused"] = True
    return data


def subcommand(name: str, options: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    return {"name": name, "type": SUB_COMMAND, "options": [dict(o) for o in options]}


def subcommand_group(name: str, sub: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": SUB_COMMAND_GROUP, "options": [dict(sub)]}
