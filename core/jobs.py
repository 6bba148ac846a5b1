"""Job types and their states: plain, frozen values shared by core and every adapter."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.errors import BotError, ErrorCode
from core.money import format_usd
from core.quota import BucketLimits


class JobKind(StrEnum):
    IMAGE = "image"
    EDIT = "edit"
    UPSCALE = "upscale"
    VIDEO = "video"
    # The verbs' kinds (issue 14): each needs input the plain commands do not give (a canvas
    # and placement, a mask, two or more images, a first frame), so each has its own default
    # model and its models are never offered to /edit or /video.
    EXPAND = "expand"
    FILL = "fill"
    BLEND = "blend"
    ANIMATE = "animate"
    VARY = "vary"  # an image redrawn from itself (FLUX image-to-image, at a strength)
    DESCRIBE = "describe"  # an image in, prompt suggestions (text) out


class JobState(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    RUNNING = "running"
    COMPLETED = "completed"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES

    @property
    def at_fal(self) -> bool:
        return self in (JobState.SUBMITTED, JobState.RUNNING)


FINAL_STATES = frozenset({JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED})

# The one place job transitions live. Failed and cancelled are reachable from every live state.
_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SUBMITTING}),
    JobState.SUBMITTING: frozenset({JobState.SUBMITTED}),
    JobState.SUBMITTED: frozenset({JobState.RUNNING, JobState.COMPLETED}),
    JobState.RUNNING: frozenset({JobState.COMPLETED}),
    JobState.COMPLETED: frozenset({JobState.DELIVERED}),
    JobState.DELIVERED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def can_move(src: JobState, dst: JobState) -> bool:
    if src.final:
        return False
    if dst in (JobState.FAILED, JobState.CANCELLED):
        return True
    return dst in _TRANSITIONS[src]


# In a job's reply_ref: True when the job is private (`core.privacy`).
PRIVATE_KEY = "private"


@dataclass(frozen=True)
class Actor:
    """Who asks: a user of a workspace (a Discord guild, a Slack team, the console)."""

    platform: str
    workspace_id: str
    user_id: str
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    name: str = ""


@dataclass(frozen=True)
class InputImage:
    """An input image: validated bytes to upload, or a URL fal can already read (its own CDN)."""

    content_type: str
    data: bytes | None = None
    url: str | None = None
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("InputImage needs exactly one of data or url")


@dataclass(frozen=True)
class Channel:
    """What the platform says about the place a job is asked for and answered in."""

    nsfw: bool = False  # marked NSFW (age-restricted): flagged outputs are shown there
    spoilers: bool = True  # the platform can show a file behind a spoiler (Slack cannot)


# A channel not marked NSFW, on a platform with spoilers (the console, most tests).
ANY_CHANNEL = Channel()


@dataclass(frozen=True)
class JobRequest:
    """What admission takes: a command (`core.commands`) made concrete by core for one actor
    and one reply. `model` "" is the kind's default. Adapters never build one."""

    actor: Actor
    kind: JobKind
    model: str
    params: Mapping[str, Any]
    images: tuple[InputImage, ...] = ()
    reply_ref: Mapping[str, Any] = field(default_factory=dict)
    parent_job_id: str | None = None
    channel: Channel = field(default_factory=Channel)
    flagged_input: bool = False  # made from an output fal flagged as NSFW (see core.nsfw)
    private: bool = False  # private mode (see core.privacy)


@dataclass(frozen=True)
class Output:
    """One produced file as fal reported it."""

    url: str
    content_type: str
    width: int | None = None
    height: int | None = None
    file_name: str | None = None
    file_size: int | None = None
    nsfw: bool = False
    text: str | None = None  # a text output (a describe's suggestion): no file behind `url`

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar: `dataclasses.asdict`'s recursive deep copy would only make
        # the same dict, at several times the cost (each job's result is saved three times).
        return {name: getattr(self, name) for name in _OUTPUT_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Output:
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        return cls(**values)


_OUTPUT_FIELDS = tuple(f.name for f in dataclasses.fields(Output))


@dataclass(frozen=True)
class JobResult:
    """What a finished job produced and what it cost."""

    outputs: tuple[Output, ...]
    cost_usd: Decimal
    seed: int | None = None
    inference_s: float | None = None
    cost_estimated: bool = False  # fal bills parts falbot cannot see (tokens): "about $x"

    @property
    def texts(self) -> tuple[str, ...]:
        """The text outputs, in order (a describe's prompt suggestions)."""
        return tuple(o.text for o in self.outputs if o.text is not None)

    @property
    def cost_text(self) -> str:
        """`$0.039`, or `about $0.034` when the cost is an estimate."""
        text = format_usd(self.cost_usd)
        return f"about {text}" if self.cost_estimated else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": [o.to_dict() for o in self.outputs],
            "cost_usd": str(self.cost_usd),
            "seed": self.seed,
            "inference_s": self.inference_s,
            "cost_estimated": self.cost_estimated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobResult:
        return cls(
            outputs=tuple(Output.from_dict(o) for o in data.get("outputs", [])),
            cost_usd=Decimal(str(data.get("cost_usd", "0"))),
            seed=data.get("seed"),
            inference_s=data.get("inference_s"),
            cost_estimated=bool(data.get("cost_estimated", False)),
        )


@dataclass(frozen=True)
class Job:
    """A job as persisted. Changed only through `moved_to` and `replace`."""

    id: str
    platform: str
    workspace_id: str
    user_id: str
    model: str
    kind: JobKind
    endpoint: str
    arguments: Mapping[str, Any]
    estimate_usd: Decimal
    credits: Decimal
    state: JobState
    created_at: datetime
    updated_at: datetime
    reply_ref: Mapping[str, Any] = field(default_factory=dict)
    input_count: int = 0
    request_id: str | None = None
    result: JobResult | None = None
    error: BotError | None = None
    credits_settled: bool = False
    parent_job_id: str | None = None
    # Kept from admission for settlement: the bucket limits resolved then (the user's roles
    # included; set by the store's `admit`) and the base price of the model's pricing rule then
    # (a refreshed catalog does not change what a job admitted before it costs).
    limits: BucketLimits | None = None
    price_base_usd: Decimal | None = None
    # NSFW facts kept for delivery and for follow-ups (see core.nsfw): asked in a channel the
    # platform marks NSFW, and made from an output fal flagged.
    nsfw_channel: bool = False
    nsfw_input: bool = False

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def private(self) -> bool:
        """Private mode (`core.privacy`): kept in the reply_ref, which every store persists."""
        return self.reply_ref.get(PRIVATE_KEY) is True

    def moved_to(self, state: JobState, *, at: datetime, **changes: Any) -> Job:
        if not can_move(self.state, state):
            raise BotError(
                ErrorCode.INTERNAL,
                f"job {self.short_id} cannot move from {self.state} to {state}",
            )
        return dataclasses.replace(self, state=state, updated_at=at, **changes)

    def replace(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)


class Stage(StrEnum):
    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    UPLOADING = "uploading"
    DONE = "done"


@dataclass(frozen=True)
class ProgressView:
    """The latest thing to show on a job's reply message."""

    job_id: str
    model: str
    stage: Stage
    position: int | None = None  # our own line: n of m
    line_size: int | None = None
    fal_position: int | None = None
    elapsed_s: float | None = None
    last_log: str | None = None

    def text(self) -> str:
        """A one-line rendering every adapter can use as it is."""
        if self.stage is Stage.QUEUED:
            if self.position is not None and self.line_size:
                return f"queued (position {self.position} of {self.line_size})"
            return "queued"
        if self.stage is Stage.SUBMITTED:
            if self.fal_position is not None:
                return f"submitted to fal (fal queue position {self.fal_position})"
            return "submitted to fal"
        if self.stage is Stage.RUNNING:
            parts = ["running"]
            if self.elapsed_s is not None:
                parts.append(f"{self.elapsed_s:.0f} s")
            text = " · ".join(parts)
            return f"{text} · {self.last_log}" if self.last_log else text
        return self.stage.value


@dataclass(frozen=True)
class DeliveredFile:
    """An output ready for a chat platform: its bytes, or None when over the size cap.

    `spoiler`: fal flagged it as possibly NSFW and the workspace wants it behind a spoiler (a
    platform without spoilers must not show it inline).
    """

    output: Output
    data: bytes | None
    file_name: str
    spoiler: bool = False


@dataclass(frozen=True)
class Delivery:
    job: Job
    result: JobResult
    files: tuple[DeliveredFile, ...]
    elapsed_s: float
    withheld: int = 0  # outputs fal flagged as NSFW and not delivered (not in `files`)

    def footer(self, *, parent: str | None = None) -> str:
        """`nano-banana/edit · $0.039 · 12.4 s · seed 1234 · job 7f3a · from job 1b2c`: a
        child's footer names its parent (`parent`: the platform's link to it, when it has one)."""
        parts = [
            self.job.model,
            self.result.cost_text,
            f"{self.elapsed_s:.1f} s",
        ]
        if self.result.seed is not None:
            parts.append(f"seed {self.result.seed}")
        parts.append(f"job {self.job.short_id}")
        if self.job.parent_job_id:
            parts.append(f"from {parent or 'job ' + self.job.parent_job_id[:8]}")
        return " · ".join(parts)
