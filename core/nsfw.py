"""What happens to outputs fal flags as possibly NSFW (`has_nsfw_concepts`), per workspace.

In a channel the platform marks NSFW every output is shown. Elsewhere the workspace's mode says:
`withhold` (the default: the file is not delivered at all, only counted), `spoiler` (delivered
behind the platform's spoiler), or `allow` (shown like any other).

A flagged output stays flagged when it is worked on: a job made from one (an upscale, an edit, a
rerun of either) has every output flagged too, and it is admitted only where the workspace's mode
would show the flagged input itself. A platform without spoilers (Slack) shows a spoilered output
nowhere, so there a flagged output is reused only under `allow` or in an NSFW channel.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import BotError, ErrorCode, invalid
from core.jobs import Job


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


def flagged_output(*, output_flag: bool, job: Job) -> bool:
    """Whether an output counts as flagged: fal said so, or its job was made from one."""
    return output_flag or job.nsfw_input


def shows(*, flagged: bool, nsfw_channel: bool, mode: NsfwMode, spoilers: bool) -> bool:
    """Whether an output is seen where it would be posted (spoilered counts only where the
    platform has spoilers)."""
    shown = screen(flagged=flagged, nsfw_channel=nsfw_channel, mode=mode)
    return shown is NsfwMode.ALLOW or (shown is NsfwMode.SPOILER and spoilers)


def check_reuse(*, nsfw_channel: bool, mode: NsfwMode, spoilers: bool) -> None:
    """Refuse a job made from a flagged output where that output would not be shown."""
    if not shows(flagged=True, nsfw_channel=nsfw_channel, mode=mode, spoilers=spoilers):
        raise BotError(
            ErrorCode.NOT_ALLOWED,
            "That image was withheld: fal flagged it as possibly NSFW, and this workspace "
            "does not show such images here, so I can't work on it.",
            hint="An admin sets what happens to flagged images with /admin nsfw.",
        )
