"""Private mode: a job whose progress, result and failure only its requester sees, and whose
inputs and outputs fal is asked not to keep (see `adapters.fal.gateway`).

Whether a job is private is decided once, here: what the person asked for this command, else
their own preference (`preferred_private`, the `/settings` panel's), and the workspace's rule
(`/admin private allow|forbid`, allowed unless forbidden). The job keeps the answer in its
`reply_ref` under `PRIVATE_KEY`, so a restart, a follow-up and the fal gateway all see it."""

from __future__ import annotations

from core.commands import Command, FollowUp
from core.errors import BotError, ErrorCode
from core.jobs import PRIVATE_KEY, Actor
from core.ports import Store
from core.preferences import private_preference

__all__ = ["PRIVATE_KEY", "decide_private", "forbidden", "preferred_private", "private_for"]


def _rule_key(workspace_id: str) -> str:
    return f"workspace:{workspace_id}:private"


async def preferred_private(store: Store, actor: Actor) -> bool | None:
    """The person's private-mode setting (`/settings`: theirs, else their workspace's
    default); None when neither is set. The one place private mode's preference is read."""
    return await private_preference(store, actor)


async def private_allowed(store: Store, workspace_id: str) -> bool:
    """Whether the workspace's admins allow private mode (the default)."""
    return await store.state_value(_rule_key(workspace_id)) != "forbid"


async def set_private_allowed(store: Store, workspace_id: str, allowed: bool) -> None:
    await store.set_state_value(_rule_key(workspace_id), "allow" if allowed else "forbid")


def forbidden() -> BotError:
    return BotError(
        ErrorCode.NOT_ALLOWED,
        "Private mode is turned off in this workspace by its admins, so I did not start it.",
        hint=(
            "Ask again without private (or turn private mode off in /settings), or ask an admin"
            " to allow it (/admin private allow)."
        ),
    )


async def decide_private(store: Store, actor: Actor, *, asked: bool | None) -> bool:
    """Whether a job `actor` asks for is private: `asked` (True or False for this command),
    else their preference, else not. A private job where admins forbid it is refused with
    `forbidden()`, never quietly made public."""
    private = asked if asked is not None else await preferred_private(store, actor)
    if private and not await private_allowed(store, actor.workspace_id):
        raise forbidden()
    return bool(private)


async def private_for(store: Store, actor: Actor, command: Command) -> bool:
    """Whether `command` runs in private mode: as asked, else (a result's button) as the
    result it works on was, else the person's preference; refused where admins forbid it."""
    asked = getattr(command, "private", None)
    if asked is None and isinstance(command, FollowUp):
        parent = await store.get_job(command.job_id)
        asked = True if parent is not None and parent.private else None
    return await decide_private(store, actor, asked=asked)
