"""What a job's Discord reply needs to find its message again, and how long an interaction
token may be used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import discord

DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024


@dataclass(frozen=True)
class TokenPolicy:
    """An interaction token lives `lifetime`; stop using it `margin` before that."""

    lifetime: timedelta = timedelta(minutes=15)
    margin: timedelta = timedelta(minutes=1)

    def expired(self, created_at: datetime, now: datetime) -> bool:
        return now >= created_at + self.lifetime - self.margin


@dataclass(frozen=True)
class ReplyRef:
    """Where a job's message lives; JSON-safe, saved with the job as its `reply_ref`."""

    channel_id: int
    user_id: int
    guild_id: int | None = None
    size_limit: int = DEFAULT_SIZE_LIMIT
    application_id: int | None = None
    token: str | None = None
    created_at: datetime | None = None  # when the interaction was created
    message_id: int | None = None  # the bot's own channel message, when there is one
    reply_to: int | None = None  # the user's message a new channel message answers
    private: bool = False  # private mode: ephemeral, and a DM once the token is gone
    parent_message_id: int | None = None  # the result whose button made this job (lineage)

    def parent_url(self) -> str | None:
        """The link to the parent result's message, for the footer."""
        if self.parent_message_id is None:
            return None
        where = self.guild_id if self.guild_id is not None else "@me"
        return f"https://discord.com/channels/{where}/{self.channel_id}/{self.parent_message_id}"

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar: no need for `asdict`'s recursive deep copy.
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        numbers = ("channel_id", "user_id", "guild_id", "application_id", "message_id")
        for key in (*numbers, "parent_message_id"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["reply_to"] = str(self.reply_to) if self.reply_to is not None else None
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplyRef:
        def num(key: str) -> int | None:
            value = data.get(key)
            return int(value) if value not in (None, "") else None

        created = data.get("created_at")
        return cls(
            channel_id=int(data["channel_id"]),
            user_id=int(data["user_id"]),
            guild_id=num("guild_id"),
            size_limit=int(data.get("size_limit") or DEFAULT_SIZE_LIMIT),
            application_id=num("application_id"),
            token=data.get("token") or None,
            created_at=datetime.fromisoformat(created) if created else None,
            message_id=num("message_id"),
            reply_to=num("reply_to"),
            parent_message_id=num("parent_message_id"),
            private=data.get("private") is True,
        )

    @classmethod
    def of_interaction(
        cls,
        interaction: discord.Interaction,
        *,
        private: bool = False,
        parent_message_id: int | None = None,
    ) -> ReplyRef:
        """`parent_message_id`: the result whose button (or menu, or the modal it opened) made
        this job, for the footer's link."""
        return cls(
            private=private,
            channel_id=interaction.channel_id or 0,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            size_limit=interaction.filesize_limit or DEFAULT_SIZE_LIMIT,
            application_id=interaction.application_id,
            token=interaction.token,
            created_at=interaction.created_at,
            parent_message_id=parent_message_id,
        )
