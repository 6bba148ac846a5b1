"""Slash commands: text with `--options` → core requests; core answers → (ephemeral) messages.

Only the job commands (`/imagine`, `/video`, `/edit`, `/upscale`, `/describe`, `/blend`) are
top-level; everything else is grouped
under `/falbot …`, so falbot takes no command name other apps commonly own (`/admin`, `/jobs`…).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.slack.admin_commands import admin
from adapters.slack.context import Origin
from adapters.slack.deps import Deps
from adapters.slack.help import show_help
from adapters.slack.image_verbs import blend_command_, describe_command
from adapters.slack.modals import edit_command, upscale_command
from adapters.slack.options import parse
from adapters.slack.settings import settings_command
from adapters.slack.usage import send_usage_chart
from adapters.text_commands import verbs
from adapters.text_commands.grammar import parse_days, usage_error
from core.commands import Cancel, Generate
from core.jobs import JobKind
from core.render import render_jobs, render_models, render_quota, render_usage

Handler = Callable[[Deps, Origin, str], Awaitable[None]]

IMAGINE_USAGE = verbs.IMAGINE.usage()
VIDEO_USAGE = verbs.VIDEO.usage()
USAGE_USAGE = verbs.USAGE.usage(prefix="/falbot ") + ", for example `/falbot usage 7`"
CANCEL_USAGE = verbs.CANCEL.usage(prefix="/falbot ") + " (see `/falbot jobs` for the ids)"

IMAGE_OPTIONS = frozenset(verbs.IMAGINE.options)
VIDEO_OPTIONS = frozenset(verbs.VIDEO.options)


async def imagine(deps: Deps, origin: Origin, text: str) -> None:
    await _generate(
        deps, origin, text, kind=JobKind.IMAGE, allowed=IMAGE_OPTIONS, usage=IMAGINE_USAGE
    )


async def video(deps: Deps, origin: Origin, text: str) -> None:
    await _generate(
        deps, origin, text, kind=JobKind.VIDEO, allowed=VIDEO_OPTIONS, usage=VIDEO_USAGE
    )


async def _generate(
    deps: Deps, origin: Origin, text: str, *, kind: JobKind, allowed: frozenset[str], usage: str
) -> None:
    parsed = parse(text, allowed=allowed, usage=usage)
    if not parsed.prompt:
        raise usage_error("Tell me what to make.", usage)
    actor = await deps.identities.actor(origin)
    command = Generate.typed(kind, parsed.options, prompt=parsed.prompt)
    await deps.starter.start(
        actor=actor,
        channel=origin.channel_id,
        thread_ts=origin.thread_ts,
        prompt=parsed.prompt,
        what=command.model or kind.value,
        command=command,
    )


async def models(deps: Deps, origin: Origin, text: str) -> None:
    specs = await deps.engine.models(origin.team_id)
    await deps.answers.text(origin, "Models you can use here:\n" + render_models(specs))


async def quota(deps: Deps, origin: Origin, text: str) -> None:
    view = await deps.engine.quota(await deps.identities.actor(origin))
    await deps.answers.text(origin, render_quota(view))


async def usage(deps: Deps, origin: Origin, text: str) -> None:
    days = parse_days(text, usage=USAGE_USAGE)
    report = await deps.engine.usage(await deps.identities.actor(origin), days=days)
    sent = await send_usage_chart(deps, origin, report)
    note = "\nThe chart and a CSV are in your DMs with me." if sent else ""
    await deps.answers.text(origin, render_usage(report) + note)


async def jobs(deps: Deps, origin: Origin, text: str) -> None:
    found = await deps.engine.jobs(await deps.identities.actor(origin), limit=10)
    await deps.answers.text(origin, render_jobs(found))


async def cancel(deps: Deps, origin: Origin, text: str) -> None:
    words = text.split()
    if len(words) != 1:
        raise usage_error("Tell me which job to cancel.", CANCEL_USAGE)
    actor = await deps.identities.actor(origin)
    job = await deps.engine.cancel(Cancel(words[0].strip("`")), actor=actor)
    done = "Cancelled" if job.state.final else "Cancelling"
    await deps.answers.text(origin, f"{done} job `{job.short_id}` ({job.model}).")


async def help_(deps: Deps, origin: Origin, text: str) -> None:
    await show_help(deps, origin)


# `/falbot <name> …`
SUBCOMMANDS: dict[str, Handler] = {
    "help": help_,
    "models": models,
    "quota": quota,
    "usage": usage,
    "jobs": jobs,
    "cancel": cancel,
    "settings": settings_command,
    "admin": admin,
}
FALBOT_USAGE = "`/falbot " + "|".join(SUBCOMMANDS) + "`, for example `/falbot quota`"


async def falbot(deps: Deps, origin: Origin, text: str) -> None:
    """`/falbot quota`, `/falbot admin …`: the account, catalog and admin commands."""
    name, _, rest = text.strip().partition(" ")
    if not name:
        await help_(deps, origin, "")
        return
    handler = SUBCOMMANDS.get(name.lower())
    if handler is None:
        raise usage_error(f"I don't know `/falbot {name[:40]}`.", FALBOT_USAGE)
    await handler(deps, origin, rest.strip())


COMMANDS: dict[str, Handler] = {
    "/imagine": imagine,
    "/video": video,
    "/edit": edit_command,
    "/upscale": upscale_command,
    "/describe": describe_command,
    "/blend": blend_command_,
    "/falbot": falbot,
}
