"""Commands in: a `Generate` or a `FollowUp` becomes the request admission takes, with what core
decides once for every adapter: the model a kind defaults to (`core.models`), whether a job is
the caller's, which image a follow-up works on, and whether an image flagged NSFW may be reused
where it is asked for."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from core.admission import Admitter
from core.catalog import ModelSpec
from core.commands import Command, FollowUp, Generate
from core.config import EngineConfig
from core.confirmations import QuoteDesk
from core.describe import suggestion_command
from core.errors import BotError, ErrorCode
from core.followups import follow_up_request, is_flagged, picked_is_flagged, result_file
from core.jobs import Actor, Channel, Job, JobRequest
from core.live_catalog import LiveCatalog
from core.nsfw import check_reuse
from core.ports import Reply, Store
from core.preferences import PreferenceBook
from core.privacy import private_for
from core.verbs import BY_ACTION, PUBLIC


class Intake:
    def __init__(
        self,
        *,
        store: Store,
        models: LiveCatalog,
        config: EngineConfig,
        admitter: Admitter,
        preferences: PreferenceBook,
    ) -> None:
        self._store = store
        self._models = models
        self._config = config
        self._admitter = admitter
        self.quotes = self._quotes = QuoteDesk(
            store=store,
            models=models,
            clock=admitter.clock,
            credit_usd=config.credit_usd,
            default_limits=config.default_limits,
            default_threshold=config.confirm_above_usd,
        )
        self._preferences = preferences

    async def submit(
        self,
        command: Command,
        reply: Reply,
        *,
        actor: Actor,
        channel: Channel,
        hold: bool,
        place: Mapping[str, Any] | None = None,
        confirmed: bool = False,
    ) -> Job:
        """Admit `command`; one above its workspace's threshold raises `QuoteFirst` unless
        `confirmed` (its quote was), after refusing, reading only, what admission would."""
        request = await self._request(
            command, actor=actor, channel=channel, reply_ref=reply.persisted_ref()
        )
        request = dataclasses.replace(
            request, private=await private_for(self._store, actor, command)
        )
        if not confirmed and await self._quotes.needed(request):
            await self._admitter.precheck(request, images=len(request.images))
            await self._quotes.offer(request, command, place or {})
        return await self._admitter.admit(request, reply, hold=hold)

    async def confirm(self, quote_id: str, reply: Reply, *, actor: Actor, hold: bool) -> Job:
        """Start a quoted job once: its quote is taken (any later press is refused), then
        admission runs in full, as for any job."""
        quote = await self._quotes.take(quote_id, actor, confirmed=True)
        return await self.submit(
            quote.command, reply, actor=actor, channel=quote.channel, hold=hold, confirmed=True
        )

    async def precheck(self, command: Generate, *, actor: Actor, images: int) -> ModelSpec:
        """The model `command` runs on, once what admission would refuse anyway is refused."""
        command = await self._preferences.apply(command, actor)
        request = JobRequest(actor, command.kind, command.model, dict(command.options))
        return await self._admitter.precheck(request, images=images)

    async def _request(
        self, command: Command, *, actor: Actor, channel: Channel, reply_ref: Mapping[str, Any]
    ) -> JobRequest:
        if isinstance(command, Generate):
            command = await self._preferences.apply(command, actor)  # the actor's /settings
            return JobRequest(
                actor,
                command.kind,
                command.model,
                dict(command.options),
                command.images,
                reply_ref,
                channel=channel,
                flagged_input=command.flagged_input,
            )
        job = await self.follow_up_job(actor, command)
        if command.action == "imagine":
            suggested = suggestion_command(job, command.image_index)
            suggested = await self._preferences.apply(suggested, actor)
            return JobRequest(
                actor,
                suggested.kind,
                suggested.model,
                dict(suggested.options),
                reply_ref=reply_ref,
                parent_job_id=job.id,
                channel=channel,
            )
        request = follow_up_request(
            self._models, job, command, actor=actor, channel=channel, reply_ref=reply_ref
        )
        if command.action in BY_ACTION:
            await self._check_verb_model(command.action, request)
        return request

    async def _check_verb_model(self, action: str, request: JobRequest) -> None:
        """A verb whose model the workspace denies says which verb and model (the person
        pressed Zoom Out, not bria-expand)."""
        spec = self._models.for_kind(request.kind, request.model)
        if spec.name in (await self._store.policy(request.actor.workspace_id)).denied_models:
            raise BotError(
                ErrorCode.NOT_ALLOWED,
                f"{BY_ACTION[action].label} runs on {spec.name}, which is not allowed in this"
                " workspace.",
                hint=f"Ask an admin to allow it (/admin models allow {spec.name}).",
            )

    async def own_job(self, actor: Actor, job_id: str, *, doing: str) -> Job:
        """The job a result's button names, if it is the caller's (or the caller is an admin):
        the one rule every platform's buttons and modals follow."""
        try:
            return await find_job(self._store, actor, job_id)
        except BotError as exc:
            if exc.code is not ErrorCode.NOT_FOUND:
                raise
            raise BotError(
                ErrorCode.NOT_ALLOWED,
                f"Only the person who asked for this result, or an admin, can {doing} it.",
                hint="Use /imagine or /edit to make your own.",
            ) from None

    async def follow_up_job(self, actor: Actor, command: FollowUp) -> Job:
        """The job a button works on: any result of the workspace for a public verb
        (`core.verbs.PUBLIC`), else the caller's own (or an admin's)."""
        if command.action not in PUBLIC:
            return await self.own_job(actor, command.job_id, doing=command.action)
        ref = command.job_id.strip().lower()
        candidates: list[Job] = []
        if len(ref) >= 32:
            found = await self._store.get_job(ref)
            candidates = [found] if found else []
        elif len(ref) >= 4:  # a short id, as /jobs shows it
            candidates = await self._store.jobs_by_prefix(actor.workspace_id, ref, limit=5)
        for job in candidates:
            if job.workspace_id == actor.workspace_id:
                return job
        raise BotError(
            ErrorCode.NOT_FOUND,
            f"I found no result `{command.job_id[:40]}` here.",
            hint="/jobs lists your recent jobs and their ids.",
        )

    async def check_follow_up(self, command: FollowUp, *, actor: Actor, channel: Channel) -> Job:
        """Refuse early (before a modal asks for a prompt) what admission would refuse: not the
        caller's job, an image that is not there, or one withheld as NSFW here."""
        job = await self.follow_up_job(actor, command)
        if picked_is_flagged(job, command.image_index):
            await self._check_reuse(job.workspace_id, channel)
        return job

    async def screen_files(self, workspace_id: str, names: Sequence[str], channel: Channel) -> bool:
        """Whether files a mention or a shortcut reuses hold a falbot result flagged NSFW (the
        command is then `flagged_input`); refused at once where that result is not shown."""
        for name in names:
            found = result_file(name)
            if found is None:
                continue
            short_id, index = found
            jobs = await self._store.jobs_by_prefix(workspace_id, short_id, limit=5)
            if name.startswith("SPOILER_") or any(is_flagged(j, index) for j in jobs):
                await self._check_reuse(workspace_id, channel)
                return True
        return False

    async def _check_reuse(self, workspace_id: str, channel: Channel) -> None:
        mode = (await self._store.policy(workspace_id)).nsfw or self._config.nsfw
        check_reuse(nsfw_channel=channel.nsfw, mode=mode, spoilers=channel.spoilers)


async def find_job(store: Store, actor: Actor, job_ref: str) -> Job:
    """One of the actor's own jobs (an admin's: any in the workspace), by id or short id."""
    ref = job_ref.strip().lower()
    if len(ref) >= 32:
        found = await store.get_job(ref)
        candidates = [found] if found else []
    elif len(ref) < 4:
        candidates = []
    elif actor.is_admin:
        candidates = await store.jobs_by_prefix(actor.workspace_id, ref, limit=20)
    else:
        candidates = [
            j
            for j in await store.user_jobs(actor.workspace_id, actor.user_id, limit=200)
            if j.id.startswith(ref)
        ]
    for job in candidates:
        mine = job.user_id == actor.user_id
        if job.workspace_id == actor.workspace_id and (mine or actor.is_admin):
            return job
    raise BotError(
        ErrorCode.NOT_FOUND,
        f"I found no job `{job_ref[:40]}` of yours.",
        hint="/jobs lists your recent jobs and their ids.",
    )
