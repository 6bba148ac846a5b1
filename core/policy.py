"""The workspace policy refusals: a model the workspace denies, a user it bans.

Pure, like `core.refusals`: a store applies it inside its admission transaction, and the engine
when it reads the policy itself, so the words are the same wherever the refusal comes from.
"""

from __future__ import annotations

from core.errors import BotError, ErrorCode


def check_policy(model: str, *, denied: bool, banned: bool) -> None:
    """Refuse a model the workspace denies, then a user it bans (in that order)."""
    if denied:
        raise BotError(
            ErrorCode.NOT_ALLOWED,
            f"{model} is not allowed in this workspace.",
            hint="See /models for the models you can use.",
        )
    if banned:
        raise BotError(
            ErrorCode.NOT_ALLOWED,
            "You are not allowed to use falbot here.",
            hint="Ask an admin of this workspace.",
        )
