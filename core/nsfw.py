"""What happens to outputs fal flags as possibly NSFW (`has_nsfw_concepts`), per workspace.

In a channel the platform marks NSFW every output is shown. Elsewhere the workspace's mode says:
`withhold` (the default: the file is not delivered at all, only counted), `spoiler` (delivered
behind the platform's spoiler), or `allow` (shown like any other).
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import invalid

# The key in a job's `reply_ref` that remembers its channel is marked NSFW (across restarts).
NSFW_CHANNEL = "falbot_nsfw_channel"


class NsfwMode(StrEnum):
    WITHHOLD = "withhold"
    SPOILER = "spoiler"
    ALLOW = "allow"

    @classmethod
    def parse(cls, text: str) -> NsfwMode:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise invalid(
                f"`{text[:20]}` is not an NSFW mode.", "Use withhold, spoiler or allow."
            ) from None


def screen(*, flagged: bool, nsfw_channel: bool, mode: NsfwMode) -> NsfwMode:
    """What to do with one output: withhold it, spoiler it, or allow it."""
    if not flagged or nsfw_channel:
        return NsfwMode.ALLOW
    return mode
