"""Why a chat platform would not start, in one line that says what to do (never a traceback)."""

from __future__ import annotations

import aiohttp
import discord
from slack_sdk.errors import SlackApiError

_SLACK_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)

_BOT_TOKEN_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) again from your app's OAuth & Permissions page "
    "(reinstall the app if it was revoked)."
)
_APP_TOKEN_FIX = (
    "make a new app-level token with connections:write (your app's Basic Information → "
    "App-Level Tokens)."
)


def explain(platform: str, exc: BaseException) -> str | None:
    """The line for a known way of failing to start, or None when the failure is unexpected."""
    if platform == "Discord":
        return _discord(exc)
    if platform == "Slack":
        return _slack(exc, token="SLACK_BOT_TOKEN", fix=_BOT_TOKEN_FIX)
    if platform == "Slack Socket Mode":
        return _slack(exc, token="SLACK_APP_TOKEN", fix=_APP_TOKEN_FIX)
    return None


def _discord(exc: BaseException) -> str | None:
    if isinstance(exc, discord.LoginFailure):
        return (
            "Discord refused DISCORD_TOKEN: copy the token again from the Developer Portal "
            "(your application → Bot → Reset Token) and set DISCORD_TOKEN to it."
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return (
            "Discord refused the message-content intent: enable it on your application's Bot "
            "page, or set FALBOT_DISCORD_MESSAGE_CONTENT=false."
        )
    if isinstance(exc, discord.HTTPException) and exc.status >= 500:
        return f"Discord answered {exc.status}: it may be down; try again in a few minutes."
    if _unreachable(exc) or isinstance(exc, discord.GatewayNotFound | discord.ConnectionClosed):
        return (
            "Could not reach Discord: check this machine's network (and FALBOT_DISCORD_API_URL "
            "and FALBOT_DISCORD_GATEWAY_URL if you set them), then start falbot again."
        )
    return None


def _slack(exc: BaseException, *, token: str, fix: str) -> str | None:
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        if error in _SLACK_REFUSED:
            return f"Slack refused {token} ({error}): {fix}"
        return f"Slack answered `{error or 'an error'}` when falbot started; see `falbot check`."
    if _unreachable(exc):
        return (
            "Could not reach Slack: check this machine's network (and FALBOT_SLACK_API_URL if "
            "you set it), then start falbot again."
        )
    return None


def _unreachable(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientConnectionError | OSError | TimeoutError)
