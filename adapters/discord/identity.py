"""Who is asking: a Discord user in a guild (or a DM) as a core `Actor`.

A DM has no guild, so `FALBOT_DISCORD_DMS` says what it is: `off` (refused with a note saying
where to use the bot), `home:<guild id>` (the home guild's workspace, for its members only: its
bans, quotas, budgets, allowed models and NSFW mode apply) or `own` (every Discord user gets their
own free quota in a `dm:<user>` workspace). A DM interaction is resolved once, asynchronously, by
`dm_context`; an actor of a DM nobody resolved is refused, so no path can skip the rule.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import discord

from core.errors import BotError, ErrorCode
from core.jobs import Actor

log = logging.getLogger(__name__)

PLATFORM = "discord"
DM_KEY = "falbot_dm"  # where a resolved DM context sits in `Interaction.extras`

DM_OFF = BotError(
    ErrorCode.NOT_ALLOWED,
    "I don't work in direct messages.",
    hint="Use me in a server channel, for example /imagine there.",
)


@dataclass(frozen=True)
class DmPolicy:
    """`FALBOT_DISCORD_DMS`: off, home:<guild id> or own."""

    mode: Literal["off", "home", "own"] = "off"
    home_guild: int | None = None

    @classmethod
    def parse(cls, text: str) -> DmPolicy:
        value = text.strip().lower()
        if value in ("off", "own"):
            return cls("off" if value == "off" else "own")
        guild = value.removeprefix("home:")
        if value.startswith("home:") and guild.isdigit():
            return cls("home", int(guild))
        raise ValueError(
            f"{text[:40]!r} is not a DM setting: use off, own, or home:<guild id> "
            "(the server's id, from Discord's developer mode)"
        )

    def __str__(self) -> str:
        return f"home:{self.home_guild}" if self.mode == "home" else self.mode


@dataclass(frozen=True)
class DmHome:
    """A DM user as a member of the home guild: whose rules, roles and rights apply."""

    guild_id: int
    roles: tuple[str, ...]
    is_admin: bool


DmContext = DmHome | Literal["own"]


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


def workspace_of(guild_id: int | None, user_id: int, dms: DmPolicy | None = None) -> str:
    """A guild is a workspace; a DM is the home guild's (`home:`), else the user's own."""
    if guild_id is None and dms is not None and dms.home_guild is not None:
        return str(dms.home_guild)
    return str(guild_id) if guild_id is not None else f"dm:{user_id}"


def actor_of(
    user: discord.abc.User,
    *,
    guild_id: int | None,
    permissions: discord.Permissions | None,
    rule: AdminRule,
    dm: DmContext | None = None,
) -> Actor:
    """Decided afresh on every call: roles and permissions are what Discord sent this time.
    A DM needs its resolved context (`dm_context`): without one it is refused."""
    if guild_id is None and dm is None:
        raise DM_OFF
    if guild_id is None and isinstance(dm, DmHome):
        return Actor(
            platform=PLATFORM,
            workspace_id=str(dm.guild_id),
            user_id=str(user.id),
            roles=dm.roles,
            is_admin=dm.is_admin,
            name=user.display_name,
        )
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
    dm: DmContext | None = interaction.extras.get(DM_KEY)
    return actor_of(
        interaction.user,
        guild_id=interaction.guild_id,
        permissions=interaction.permissions,
        rule=rule,
        dm=dm,
    )


def message_actor(
    message: discord.Message, rule: AdminRule, *, dm: DmContext | None = None
) -> Actor:
    author = message.author
    perms = author.guild_permissions if isinstance(author, discord.Member) else None
    guild_id = message.guild.id if message.guild is not None else None
    return actor_of(author, guild_id=guild_id, permissions=perms, rule=rule, dm=dm)


async def dm_context(
    client: discord.Client, policy: DmPolicy, user: discord.abc.User, rule: AdminRule
) -> DmContext:
    """What a DM from `user` counts as, or the `BotError` that refuses it. With `home:` the
    membership is asked of Discord (GET /guilds/{id}/members/{user}) every time, so a member
    who left or was removed loses DMs at once."""
    if policy.mode == "own":
        return "own"
    if policy.mode == "off" or policy.home_guild is None:
        raise DM_OFF
    guild = client.get_guild(policy.home_guild)
    if guild is None:
        log.warning("FALBOT_DISCORD_DMS names guild %s, which the bot is not in", policy.home_guild)
        raise DM_OFF
    try:
        member = await guild.fetch_member(user.id)
    except discord.NotFound:
        raise BotError(
            ErrorCode.NOT_ALLOWED,
            f"Only members of {guild.name} can use me in direct messages.",
            hint="Join that server, or use me in a server I'm in.",
        ) from None
    except discord.HTTPException as exc:
        log.warning("could not check DM membership: HTTP %s (code %s)", exc.status, exc.code)
        raise BotError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "I couldn't check your membership with Discord just now.",
            hint="Try again in a minute.",
        ) from None
    return DmHome(
        guild_id=guild.id,
        roles=tuple(str(r.id) for r in member.roles if not r.is_default()),
        is_admin=rule.holds(member, member.guild_permissions),
    )
