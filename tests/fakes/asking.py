"""`Ask`: a test's shorthand for "this person asks for this model with these options", turned
into the typed command (`core.commands.Generate`) the engine takes, with `submit` and
`precheck` to hand it over. The kind is the named model's own (a test names the model)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.commands import Generate
from core.engine import Engine
from core.errors import BotError
from core.jobs import ANY_CHANNEL, Actor, Channel, InputImage, Job, JobKind
from core.ports import Reply


@dataclass(frozen=True)
class Ask:
    actor: Actor
    model: str
    params: Mapping[str, Any]
    images: tuple[InputImage, ...] = ()
    kind: JobKind | None = None  # None: the named model's kind (an image when none is named)
    channel: Channel = ANY_CHANNEL
    flagged_input: bool = False

    def command(self, engine: Engine) -> Generate:
        kind = self.kind
        if kind is None:
            try:
                kind = engine.live_catalog.get(self.model).kind if self.model else JobKind.IMAGE
            except BotError:  # an unknown model: the engine says so
                kind = JobKind.IMAGE
        return Generate(
            kind, self.model, dict(self.params), self.images, flagged_input=self.flagged_input
        )


async def submit(engine: Engine, ask: Ask, reply: Reply, *, hold: bool = False) -> Job:
    return await engine.submit(
        ask.command(engine), reply, actor=ask.actor, channel=ask.channel, hold=hold
    )


async def precheck(engine: Engine, ask: Ask, *, images: int = 1) -> None:
    await engine.precheck(ask.command(engine), actor=ask.actor, images=images)
