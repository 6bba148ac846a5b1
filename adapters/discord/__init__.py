"""falbot on Discord (discord.py 2.7): slash commands, Edit image, reply-to-edit, live progress,
results with cost and buttons, admin commands. See README.md here for setting up the bot."""

from adapters.discord.client import DiscordAdapter, intents_for
from adapters.discord.hosts import point_discord_at
from adapters.discord.refs import ReplyRef, TokenPolicy
from adapters.discord.reply import DiscordReply, DiscordReplyFactory

__all__ = [
    "DiscordAdapter",
    "DiscordReply",
    "DiscordReplyFactory",
    "ReplyRef",
    "TokenPolicy",
    "intents_for",
    "point_discord_at",
]
