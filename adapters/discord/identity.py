"""Who is asking: a Discord user in a guild (or a DM) as a core `Actor`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import discord

from core.jobs import Actor

PLATFORM = "discord"


@dataclass(frozen=True)
class AdminRule:
    """Who counts as a falbot admin: Manage Server, the configured role (id or name), or a
    user listed in the settings."""

    role: str | None = None
    user_ids: Collection[str] = ()

    def holds(self, user: discord.abc.User, permissions: discord.Permissions | None) -> bool:
        if str(user.id) in self.user_ids:
            return True
        if permissions is not None and (permissions.manage_guild or permissions.administrator):
            return True
        if self.role and isinstance(user, discord.Member):
            return any(self.role in (str(r.id), r.name) for r in user.roles)
        return False


def workspace_of(guild_id: int | None, user_id: int) -> str:
    """A guild is a workspace; a DM is the user's own workspace (and bucket)."""
    return str(guild_id) if guild_id is not None else f"dm:{user_id}"


def actor_of(
    user: discord.abc.User,
    *,
    guild_id: int | None,
    permissions: discord.Permissions | None,
    rule: AdminRule,
) -> Actor:
    """Decided afresh on every call: roles and permissions are what Discord sent this time."""
    in_guild = guild_id is not None and isinstance(user, discord.Member)
    roles: tuple[str, ...] = ()
    if in_guild and isinstance(user, discord.Member):
        roles = tuple(str(r.id) for r in user.roles if not r.is_default())
    return Actor(
        platform=PLATFORM,
        workspace_id=workspace_of(guild_id, user.id),
        user_id=str(user.id),
        roles=roles,
        is_admin=rule.holds(user, permissions if in_guild else None),
        name=user.display_name,
    )


def interaction_actor(interaction: discord.Interaction, rule: AdminRule) -> Actor:
    return actor_of(
        interaction.user,
        guild_id=interaction.guild_id,
        permissions=interaction.permissions,
        rule=rule,
    )


def message_actor(message: discord.Message, rule: AdminRule) -> Actor:
    author = message.author
    perms = author.guild_permissions if isinstance(author, discord.Member) else None
    guild_id = message.guild.id if message.guild is not None else None
    return actor_of(author, guild_id=guild_id, permissions=perms, rule=rule)
