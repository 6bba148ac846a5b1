"""The engine's settings, as plain values (`bot` builds them from its settings)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.nsfw import NsfwMode
from core.quota import BucketLimits


@dataclass(frozen=True)
class EngineConfig:
    default_limits: BucketLimits
    max_concurrency: int = 10
    max_waiting: int = 10_000
    max_in_flight_per_user: int = 4
    progress_interval: float = 1.5
    credit_usd: Decimal = Decimal("0.01")
    max_output_bytes: int = 100 * 1024 * 1024
    job_timeout: float = 1800.0
    webhook_url: str | None = None
    # With a webhook URL: how long to wait for fal's webhook before watching the status instead.
    webhook_wait: float = 300.0
    circuit_threshold: int = 5  # provider failures in a row that open the circuit
    circuit_cooldown: float = 30.0  # seconds it stays open before a probe (doubling per failure)
    nsfw: NsfwMode = NsfwMode.WITHHOLD  # outputs fal flags, outside NSFW channels, by default
    # Dedupe keys (Slack event ids, fal webhook request ids) are kept while a platform may
    # still send the same thing again: Slack retries for about an hour, fal for two; a day
    # is well past both. Older ones are pruned every `dedupe_prune_every` seconds.
    dedupe_keep: float = 24 * 3600.0
    dedupe_prune_every: float = 3600.0
    debug: bool = False
    # Jobs estimated above this show their price first (`core.confirmations`); a workspace's
    # `/admin confirm-above` overrides it. None: never (bot's setting defaults to $0.20).
    confirm_above_usd: Decimal | None = None
    # Many processes on one database (a shared line): the lease a process holds on its jobs,
    # and how often a process with nothing to do looks at the line if no wake-up came.
    lease_seconds: float = 15.0
    line_poll: float = 2.0
