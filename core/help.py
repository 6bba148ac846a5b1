"""What falbot does, with one example per command: the one help text, for both platforms.

Each command is written once, with its example in each platform's own syntax (Discord's slash
options, Slack's `--options`); `render_help` picks the platform's examples and adds the user's
credits. Adapters only wrap the result in their own formatting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.render import render_quota
from core.usage import QuotaView

Platform = Literal["discord", "slack"]

INTRO = (
    "**falbot** makes and edits images and short videos with fal.ai's models, right here. "
    "Each job takes credits from your quota, which refills by itself; you see the cost of "
    "every result in its footer. A bigger job shows its price first and starts only once you "
    "confirm it."
)


@dataclass(frozen=True)
class Topic:
    """One thing falbot does, and how to ask for it on each platform."""

    what: str
    discord: str
    slack: str
    admin: bool = False


TOPICS = (
    Topic(
        "Make an image from a prompt",
        discord="/imagine prompt:a red fox in the snow aspect:16:9",
        slack="/imagine a red fox in the snow --aspect 16:9",
    ),
    Topic(
        "Edit an image",
        discord="/edit prompt:give it a hat image:(your photo)",
        slack="/edit give it a hat",
    ),
    Topic("Upscale an image", discord="/upscale image:(your photo)", slack="/upscale"),
    Topic(
        "Make a short video",
        discord="/video prompt:waves at night duration:5",
        slack="/video waves at night --duration 5",
    ),
    Topic(
        "Only you see the progress and result, and fal keeps nothing (private mode)",
        discord="/imagine prompt:a red fox private:True",
        slack="/imagine a red fox --private",
    ),
    Topic(
        "Four prompt suggestions for an image",
        discord="/describe image:(your photo)",
        slack="/describe",
    ),
    Topic(
        "Blend two to five images into one",
        discord="/blend image1:(a photo) image2:(another) prompt:one cosy room",
        slack="/blend one cosy room",
    ),
    Topic(
        "Your defaults: model, aspect, count, remix and private mode",
        discord="/settings",
        slack="/falbot settings",
    ),
    Topic("The models you can use, with prices", discord="/models", slack="/falbot models"),
    Topic("Your credits and when the next job fits", discord="/quota", slack="/falbot quota"),
    Topic("What you spent, with a chart", discord="/usage", slack="/falbot usage 7"),
    Topic("Your recent jobs and their ids", discord="/jobs", slack="/falbot jobs"),
    Topic("Cancel one of your jobs", discord="/cancel job:7f3a", slack="/falbot cancel 7f3a"),
    Topic(
        "Admins: quotas, budgets, models, bans, usage, refunds",
        discord="/admin quota show target:@ann",
        slack="/falbot admin quota show @ann",
        admin=True,
    ),
)

_BUTTONS = (
    "Under every image: **Vary** (subtle, strong), **Upscale** (subtle, creative), **Zoom Out**"
    " (2×, 1.5×), **Pan** ⬅️ ➡️ ⬆️ ⬇️, **Animate**, **Rerun**, **Edit** and **Delete**; a grid"
    " has a menu of them per image. Anyone may vary, upscale, zoom, pan or animate a result,"
    " on their own credits."
)

# Ways in that are not commands.
NOTES: dict[Platform, tuple[str, ...]] = {
    "discord": (
        "On a message with an image: Apps → **Edit image**, or reply to it and mention falbot.",
        _BUTTONS,
    ),
    "slack": (
        "In an image's thread: `@falbot give it a hat` edits it, `@falbot upscale` upscales it.",
        "In a DM with falbot: send an image with what to change, and falbot edits it.",
        _BUTTONS,
    ),
}


def render_help(platform: Platform, quota: QuotaView | None, *, admin: bool = False) -> str:
    """The help text in `platform`'s syntax, ending with the user's credits when known."""
    lines = [INTRO, ""]
    for topic in TOPICS:
        if topic.admin and not admin:
            continue
        example = topic.discord if platform == "discord" else topic.slack
        lines.append(f"• {topic.what}: `{example}`")
    lines.extend(f"• {note}" for note in NOTES[platform])
    lines.append("")
    lines.append(render_quota(quota) if quota is not None else "Your credits: unknown right now.")
    return "\n".join(lines)
