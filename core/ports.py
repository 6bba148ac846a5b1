"""The ports core talks through. Adapters implement them; tests fake them by hand."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from core.admission_rules import AdmissionKey, AdmissionState, Admitted
from core.errors import BotError
from core.jobs import Delivery, InputImage, Job, JobKind, Output, ProgressView
from core.nsfw import NsfwMode
from core.quota import (
    BucketKey,
    BucketLimits,
    BucketState,
    Budget,
    LedgerEntry,
    Quotas,
    QuotaScope,
)


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime:
        """Time-zone-aware wall time (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class FalStatus:
    """One status of a request at fal."""

    state: Literal["queued", "in_progress", "completed"]
    queue_position: int | None = None
    logs: tuple[str, ...] = ()
    error: str | None = None
    error_type: str | None = None
    inference_s: float | None = None


class FalGateway(Protocol):
    """fal's queue. Every failure is raised as a `BotError`."""

    async def submit(
        self,
        endpoint: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: str | None = None,
        private: bool = False,
    ) -> str:
        """Queue a request and return fal's request id. Never retried: it may have reached fal.
        `private`: ask fal not to keep the request's inputs and outputs (private mode)."""
        ...

    def watch(self, endpoint: str, request_id: str) -> AsyncGenerator[FalStatus, None]:
        """Statuses as they change, ending after `completed` (status stream or adaptive polling)."""
        ...

    async def status(self, endpoint: str, request_id: str) -> FalStatus: ...

    async def result(self, endpoint: str, request_id: str) -> dict[str, Any]:
        """The model's output; a failed request raises the mapped `BotError`."""
        ...

    def read_output(
        self, kind: JobKind, data: Mapping[str, Any]
    ) -> tuple[tuple[Output, ...], int | None]:
        """fal's JSON output of a job of this kind (from `result` or a webhook) read into
        outputs and seed; a shape that cannot be read raises `provider_unavailable`."""
        ...

    async def cancel(self, endpoint: str, request_id: str) -> bool:
        """Ask fal to cancel; False when the request had already completed."""
        ...

    async def upload(self, data: bytes, content_type: str) -> str:
        """Put a file in fal storage and return a URL fal can read."""
        ...

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """Fetch an output file; `invalid_input` past `max_bytes`, read while streaming."""
        ...


class Reply(Protocol):
    """The one message a job is shown in, made by the adapter that took the request."""

    def persisted_ref(self) -> Mapping[str, Any]:
        """What finds this reply again after a restart (kept as the job's `reply_ref`)."""
        ...

    async def progress(self, view: ProgressView) -> None: ...

    async def deliver(self, delivery: Delivery) -> None: ...

    async def fail(self, job: Job, error: BotError, *, credits_returned: bool) -> None: ...


class ReplyFactory(Protocol):
    """Rebuilds a job's `Reply` from its persisted `reply_ref` (after a restart)."""

    platform: str

    def rebuild(self, job: Job) -> Reply: ...


@dataclass(frozen=True)
class JobSettlement:
    """The money side of a job reaching completed, failed or cancelled, applied at most once."""

    credits_delta: Decimal  # given back to the bucket (negative takes more)
    limits: BucketLimits
    ledger: LedgerEntry | None = None


@dataclass(frozen=True)
class UsageFilter:
    workspace_id: str
    since: datetime
    user_id: str | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class WorkspacePolicy:
    denied_models: frozenset[str] = field(default_factory=frozenset)
    budget: Budget = field(default_factory=Budget)
    nsfw: NsfwMode | None = None  # None: the engine's default


class Claims(Protocol):
    """A dedupe key store (a Slack event's id, a fal webhook's request): `Store` is one."""

    async def claim(self, key: str, now: datetime) -> bool:
        """Record a dedupe key; False when it was seen before."""
        ...


class AdmissionUnit(Protocol):
    """An open admission (see `Store.admission`)."""

    @property
    def state(self) -> AdmissionState:
        """Loaded when the unit opened, inside its transaction."""
        ...

    async def commit(self, admitted: Admitted) -> None:
        """Write core's decision: insert the job and its input images, and save its user's
        bucket; the block's end commits them. A job id stored before is refused with
        `BotError(internal)`, and nothing is written."""
        ...


class Store(Protocol):
    """Persistence. Every method is one transaction; nothing here leaks SQL."""

    # admission
    def admission(self, key: AdmissionKey) -> AbstractAsyncContextManager[AdmissionUnit]:
        """One admission's transaction: open it, load `key`'s state, and hold what that state
        was read from until the block ends (SQLite: the write lock, `BEGIN IMMEDIATE`;
        PostgreSQL: `SELECT … FOR UPDATE` of the workspace's row and the user's bucket row).
        The block commits what the unit's `commit` wrote; an exception, or leaving without
        `commit`, changes nothing."""
        ...

    async def admission_state(self, key: AdmissionKey) -> AdmissionState:
        """The state `admission` would load, read only and not held (a precheck's)."""
        ...

    # jobs
    async def get_job(self, job_id: str) -> Job | None: ...

    async def save_job(self, job: Job) -> None:
        """Persist a job's state and fields (not its settlement, its `reply_ref` nor its
        admitted limits)."""
        ...

    async def set_reply_ref(self, job_id: str, reply_ref: Mapping[str, Any]) -> None:
        """Replace a job's `reply_ref` (an adapter names the reply it posted after admission)."""
        ...

    async def settle_job(self, job: Job, settlement: JobSettlement) -> bool:
        """Save `job` (completed, failed or cancelled) and, unless this job was settled before,
        apply the settlement: bucket delta and ledger entry. Returns whether it was applied."""
        ...

    async def job_inputs(self, job_id: str) -> list[InputImage]: ...

    async def drop_job_inputs(self, job_id: str) -> None: ...

    async def unfinished_jobs(self) -> list[Job]:
        """Every job not delivered, failed or cancelled, oldest first."""
        ...

    async def user_jobs(self, workspace_id: str, user_id: str, *, limit: int) -> list[Job]:
        """A user's newest jobs first."""
        ...

    async def jobs_by_prefix(self, workspace_id: str, prefix: str, *, limit: int) -> list[Job]:
        """Jobs of a workspace whose id starts with `prefix` (an admin's short job id)."""
        ...

    # buckets
    async def bucket(self, key: BucketKey, limits: BucketLimits, now: datetime) -> BucketState: ...

    # quotas, budgets, model policy, bans
    async def set_quota(
        self, workspace_id: str, scope: QuotaScope, target_id: str, limits: BucketLimits | None
    ) -> None:
        """Set (or with None remove) one quota override."""
        ...

    async def quotas(self, workspace_id: str, user_id: str, roles: Sequence[str]) -> Quotas: ...

    async def set_budget(self, workspace_id: str, budget: Budget) -> None: ...

    async def set_model_denied(self, workspace_id: str, model: str, denied: bool) -> None: ...

    async def policy(self, workspace_id: str) -> WorkspacePolicy: ...

    async def set_nsfw(self, workspace_id: str, mode: NsfwMode | None) -> None:
        """Set (or with None clear) what the workspace does with outputs flagged NSFW."""
        ...

    async def set_banned(self, workspace_id: str, user_id: str, banned: bool) -> None: ...

    async def is_banned(self, workspace_id: str, user_id: str) -> bool: ...

    # ledger and dedupe
    async def ledger(self, usage: UsageFilter) -> list[LedgerEntry]: ...

    async def refund(self, entry: LedgerEntry, *, bucket: BucketKey, limits: BucketLimits) -> bool:
        """Append a refund entry (negative cost) once per job and return its credits to the
        bucket. False when the job was refunded before."""
        ...

    async def claim(self, key: str, now: datetime) -> bool:
        """Record a dedupe key; False when it was seen before."""
        ...

    async def prune_dedupe(self, older_than: datetime) -> int:
        """Forget dedupe keys first seen before `older_than`; return how many."""
        ...

    # facts the bot keeps by key (the commands last registered, people's /settings, the region
    # painter's links, a workspace's price threshold and private-mode rule, pending quotes)
    async def state_value(self, key: str) -> str | None:
        """The value kept under `key`, or None."""
        ...

    async def state_values(self, keys: Sequence[str]) -> dict[str, str]:
        """The values kept under `keys`, read together; a key with none is left out."""
        ...

    async def set_state_value(self, key: str, value: str) -> None:
        """Keep `value` under `key`, replacing what was there."""
        ...


class LineStore(Protocol):
    """The line and the fal slots in a store every process shares (PostgreSQL). Each job a
    process works on is owned by it under a lease the store keeps; a queued job nobody owns
    waits in the line. Times are the store's own (one clock for every process)."""

    instance: str  # this process, as the owner of its jobs

    async def claim_next(self, *, limit: int) -> str | None:
        """Own the next waiting job (round-robin across users) with a fal slot, in one
        transaction that counts every process's slots; None when none is free or waiting."""
        ...

    async def enter_line(self, job_id: str) -> None:
        """A queued job waits in the line (owned by nobody, no slot); waiting processes wake."""
        ...

    async def take_waiting(self, job_id: str) -> bool:
        """Own a job still waiting in the line (to cancel it); False when it is not."""
        ...

    async def free_slot(self, job_id: str) -> None: ...

    async def waiting_line(self, *, limit: int) -> tuple[list[str], int]:
        """The first `limit` waiting jobs in serving order, and how many wait in all."""
        ...

    async def renew_leases(self) -> int: ...

    async def release_leases(self) -> int:
        """Stopping: every unfinished job of this process may be taken over at once."""
        ...

    async def take_over(
        self, platforms: Sequence[str], *, limit: int = 100, own: bool = False
    ) -> list[Job]:
        """Own the unfinished jobs of these platforms whose owner's lease ran out; with `own`,
        also those owned under this process's name (left by its previous life)."""
        ...

    async def save_outcome(self, request_id: str, outcome: Mapping[str, Any]) -> None:
        """Keep a fal webhook's outcome for whichever process follows the request."""
        ...

    async def outcome(self, request_id: str) -> Mapping[str, Any] | None: ...

    async def listen(self, *, line: Callable[[], None], outcome: Callable[[str], None]) -> None:
        """Call `line()` when a job enters the line or a slot frees in any process, and
        `outcome(request_id)` when a webhook's outcome is kept, until `unlisten`."""
        ...

    async def unlisten(self) -> None: ...

    @property
    def listening(self) -> bool: ...
