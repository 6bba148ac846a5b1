"""/admin: quotas, budgets, model policy, NSFW outputs, bans, usage, refunds. Whether the caller
is an admin is decided on every call (Manage Server, or the configured admin role) and checked by
core."""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.account import PERIODS, say_privately
from adapters.discord.commands import model_choice
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import answering
from adapters.discord.usage import send_usage
from core.admin_commands import (
    AllowModel,
    Ban,
    Refund,
    SetBudget,
    SetConfirmAbove,
    SetNsfw,
    SetPrivateMode,
    SetQuota,
    ShowQuota,
)
from core.jobs import Actor
from core.nsfw import NsfwMode
from core.quota import QuotaScope

AMOUNT = app_commands.Range[str, 1, 20]
NSFW_MODES = [
    app_commands.Choice(
        name="withhold: not delivered, only counted", value=NsfwMode.WITHHOLD.value
    ),
    app_commands.Choice(name="spoiler: delivered behind a spoiler", value=NsfwMode.SPOILER.value),
    app_commands.Choice(name="allow: shown like any other output", value=NsfwMode.ALLOW.value),
]

PRIVATE_MODES = [
    app_commands.Choice(name="allow: people may ask for private results", value="allow"),
    app_commands.Choice(name="forbid: every result is shown in its channel", value="forbid"),
]


def admin_group(deps: Deps) -> app_commands.Group:
    admin = deps.admin
    root = app_commands.Group(
        name="admin", description="falbot settings for this server (admins only)", guild_only=True
    )
    quota = app_commands.Group(name="quota", description="Credit quotas", parent=root)
    budget = app_commands.Group(name="budget", description="Spend limits", parent=root)
    models = app_commands.Group(name="models", description="Which models are allowed", parent=root)

    def actor(interaction: discord.Interaction) -> Actor:
        return interaction_actor(interaction, deps.rule)

    @quota.command(name="set", description="Set a quota for a member, a role, or @everyone")
    @app_commands.describe(
        target="A member, a role, or @everyone (the server's default)",
        capacity="Most credits one can hold (the burst)",
        refill_per_hour="Credits added back each hour",
    )
    async def quota_set(
        interaction: discord.Interaction,
        target: discord.User | discord.Role,
        capacity: AMOUNT,
        refill_per_hour: AMOUNT,
    ) -> None:
        async with answering(interaction):
            if isinstance(target, discord.Role):
                scope = QuotaScope.WORKSPACE if target.is_default() else QuotaScope.ROLE
            else:
                scope = QuotaScope.USER
            result = await admin.handle(
                SetQuota(str(target.id), capacity, refill_per_hour, scope), actor=actor(interaction)
            )
            await say_privately(interaction, result)

    @quota.command(name="show", description="A member's quota and credits")
    @app_commands.describe(target="The member")
    async def quota_show(interaction: discord.Interaction, target: discord.User) -> None:
        async with answering(interaction):
            roles = (
                tuple(str(r.id) for r in target.roles if not r.is_default())
                if isinstance(target, discord.Member)
                else ()
            )
            result = await admin.handle(ShowQuota(str(target.id), roles), actor=actor(interaction))
            await say_privately(interaction, result)

    @budget.command(
        name="set", description="Daily and monthly spend limits in USD ('none': no limit)"
    )
    @app_commands.describe(daily_usd="USD a day, or none", monthly_usd="USD a month, or none")
    async def budget_set(
        interaction: discord.Interaction, daily_usd: AMOUNT, monthly_usd: AMOUNT
    ) -> None:
        async with answering(interaction):
            result = await admin.handle(SetBudget(daily_usd, monthly_usd), actor=actor(interaction))
            await say_privately(interaction, result)

    @models.command(name="allow", description="Allow a model here")
    @app_commands.describe(model="The model's short name")
    async def models_allow(interaction: discord.Interaction, model: str) -> None:
        async with answering(interaction):
            result = await admin.handle(AllowModel(model, allowed=True), actor=actor(interaction))
            await say_privately(interaction, result)

    @models.command(name="deny", description="Stop a model being used here")
    @app_commands.describe(model="The model's short name")
    async def models_deny(interaction: discord.Interaction, model: str) -> None:
        async with answering(interaction):
            result = await admin.handle(AllowModel(model, allowed=False), actor=actor(interaction))
            await say_privately(interaction, result)

    async def any_model(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        specs = deps.models.all()
        return [model_choice(s) for s in specs if typed in s.name][:25]

    models_allow.autocomplete("model")(any_model)
    models_deny.autocomplete("model")(any_model)

    @root.command(name="nsfw", description="What happens to outputs fal flags as NSFW here")
    @app_commands.describe(mode="Outside channels marked NSFW (in those, everything is shown)")
    @app_commands.choices(mode=NSFW_MODES)
    async def nsfw(interaction: discord.Interaction, mode: str) -> None:
        async with answering(interaction):
            # Discord offers only the choices, but a client can send anything: core checks it.
            result = await admin.handle(SetNsfw(mode), actor=actor(interaction))
            await say_privately(interaction, result)

    @root.command(name="ban", description="Stop a member using falbot here")
    @app_commands.describe(user="The member")
    async def ban(interaction: discord.Interaction, user: discord.User) -> None:
        async with answering(interaction):
            result = await admin.handle(Ban(str(user.id), banned=True), actor=actor(interaction))
            await say_privately(interaction, result)

    @root.command(name="unban", description="Let a member use falbot here again")
    @app_commands.describe(user="The member")
    async def unban(interaction: discord.Interaction, user: discord.User) -> None:
        async with answering(interaction):
            result = await admin.handle(Ban(str(user.id), banned=False), actor=actor(interaction))
            await say_privately(interaction, result)

    @root.command(name="usage", description="Spend by everyone here, with a chart")
    @app_commands.describe(
        period="How far back (default 30 days)", csv="Attach every charge as CSV"
    )
    @app_commands.choices(period=PERIODS)
    async def usage(interaction: discord.Interaction, period: int = 30, csv: bool = False) -> None:
        async with answering(interaction):
            report = await admin.usage(actor(interaction), days=period)
            await send_usage(interaction, report, by="user_id", csv=csv)

    @root.command(name="refund", description="Give a job's cost back to its user")
    @app_commands.describe(job="The job's id")
    async def refund(interaction: discord.Interaction, job: app_commands.Range[str, 4, 64]) -> None:
        async with answering(interaction):
            result = await admin.handle(Refund(job), actor=actor(interaction))
            await say_privately(interaction, result)

    @root.command(name="confirm-above", description="Jobs above this price wait for Confirm")
    @app_commands.describe(usd="In dollars, like 0.50; off never asks (default 0.20)")
    async def confirm_above(interaction: discord.Interaction, usd: AMOUNT) -> None:
        async with answering(interaction):
            result = await admin.handle(SetConfirmAbove(usd), actor=actor(interaction))
            await say_privately(interaction, result)

    @root.command(name="private", description="Allow or forbid private mode here")
    @app_commands.describe(mode="Private mode: results only their requester sees")
    @app_commands.choices(mode=PRIVATE_MODES)
    async def private(interaction: discord.Interaction, mode: str) -> None:
        async with answering(interaction):
            command = SetPrivateMode(allowed=mode == "allow")
            await say_privately(interaction, await admin.handle(command, actor=actor(interaction)))

    return root
