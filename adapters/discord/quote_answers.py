"""What a quote's Confirm and Cancel do on Discord: Confirm starts the quoted job (its reply
a new message, ephemeral in private mode) through the full admission, once; Cancel ends the
quote, taking nothing. Core refuses a press by anyone but the requester, a lapsed quote, and
a second answer, each in its own words."""

from __future__ import annotations

import discord

from adapters.discord import render
from adapters.discord.deps import Deps
from adapters.discord.identity import interaction_actor
from adapters.discord.interactions import admit_dm, answering, start_job
from adapters.discord.quotes import Answer
from core.money import format_usd


class QuoteAnswers:
    """The handler `QuoteButton` calls, whichever client instance it runs in."""

    def __init__(self, deps: Deps) -> None:
        self._services = deps

    async def __call__(
        self, interaction: discord.Interaction, answer: Answer, quote_id: str
    ) -> None:
        if not await admit_dm(self._services, interaction):
            return
        async with answering(interaction):
            engine = self._services.engine
            actor = interaction_actor(interaction, self._services.rule)
            if answer == "cancel":
                quote = await engine.quotes.take(quote_id, actor, confirmed=False)
                said = (
                    f"Cancelled: {quote.model} for {format_usd(quote.estimate_usd)} was not"
                    " started, and nothing was taken."
                )
                await interaction.response.edit_message(content=render.fit(said), view=None)
                return
            quote = await engine.quotes.pending(quote_id, actor)
            await start_job(self._services, interaction, quote.command, confirming=quote)
