"""Settings: read once from the environment (and `.env`) and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DISCORD_MEDIA_HOSTS = ("cdn.discordapp.com", "media.discordapp.net")
SLACK_MEDIA_HOSTS = ("files.slack.com",)
FAL_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
LOG_LEVELS = ("debug", "info", "warning", "error")


def check_base_url(value: str | None) -> str | None:
    """https anywhere; plain http only for loopback (tests, a local proxy). A base URL has no
    query or fragment (paths are appended to it) and no credentials (it is logged). The errors
    never quote the value: a malformed one may hold a secret."""
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not ((parts.scheme == "https" and parts.hostname) or (parts.scheme == "http" and loopback)):
        raise ValueError("the value must be an https URL (http is allowed for loopback only)")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("the value is a base URL: it takes no query or fragment")
    if "@" in parts.netloc:
        raise ValueError(
            "the value is a base URL: it takes no user or password; "
            "put credentials in the environment variables meant for them"
        )
    return value.rstrip("/")


def pricing_off_reason(
    *, refresh: bool, api_url: str | None, fal_hosts_overridden: bool
) -> str | None:
    """Why prices stay the built-in table; None when they are read from fal's pricing API.

    With fal's other hosts pointed elsewhere (a gateway, a simulator) and no pricing host set,
    falbot does not guess that the key should also go to api.fal.ai.
    """
    if not refresh:
        return "FALBOT_PRICING_REFRESH is off"
    if api_url is None and fal_hosts_overridden:
        return "fal's hosts are overridden and FALBOT_FAL_API_URL is not set"
    return None


# What a PostgreSQL FALBOT_DATABASE starts with (asyncpg takes both).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# More shards than any bot needs (Discord asks for one per 1,000 to 2,500 guilds): a typo guard.
MAX_SHARDS = 100_000
SHARDS_SHAPE = "must look like 0-3/8 (this process's shard ids, a slash, the total shard count)"


@dataclass(frozen=True)
class DiscordShards:
    """The Discord shards one process runs: `ids` of `count` shards in all."""

    ids: tuple[int, ...]
    count: int

    def __str__(self) -> str:
        return f"{_ranges(self.ids)}/{self.count}"


def parse_shards(value: str) -> DiscordShards:
    """`0-3/8`, `0,2/4` or `1/2`: the ids (numbers and low-high ranges, comma-separated), a
    slash, the count. A ValueError says in one line what is wrong (it never quotes a secret:
    this setting holds none)."""
    head, slash, tail = value.replace(" ", "").partition("/")
    if not slash:
        raise ValueError(SHARDS_SHAPE)
    if not tail.isdigit() or not 1 <= int(tail) <= MAX_SHARDS:
        raise ValueError(f"the shard count after the slash must be a number from 1 to {MAX_SHARDS}")
    count = int(tail)
    if not head.strip(","):
        raise ValueError("names no shard ids before the slash; " + SHARDS_SHAPE)
    ids: list[int] = []
    for part in head.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part!r} is not a shard id or a range like 0-3; " + SHARDS_SHAPE)
        first, last = int(low), int(high) if dash else int(low)
        if last >= count or first >= count:
            raise ValueError(
                f"shard {max(first, last)} is out of range: with {count} shard(s) they are "
                f"numbered 0 to {count - 1}"
            )
        if first > last:
            raise ValueError(f"{part!r} runs backwards: write the range low-high")
        for shard in range(first, last + 1):
            if shard in ids:
                raise ValueError(f"shard {shard} is named twice")
            ids.append(shard)
    return DiscordShards(tuple(sorted(ids)), count)


def shards_alone(shards: DiscordShards | None, database: str) -> str | None:
    """A warning when this process runs part of the shards on a database the processes running
    the others cannot share (SQLite is one process's); None when all is well."""
    if shards is None or len(shards.ids) == shards.count or database.startswith(POSTGRES_SCHEMES):
        return None
    return (
        f"Discord runs shards {_ranges(shards.ids)} of {shards.count} here, but the processes "
        "running the others cannot share a SQLite database: their quotas, budgets and jobs "
        "would be apart. Set FALBOT_DATABASE=postgresql://… in every process"
    )


def _ranges(ids: tuple[int, ...]) -> str:
    """1,2,3,5 → 1-3,5"""
    parts: list[str] = []
    start = prev = ids[0]
    for shard in (*ids[1:], None):
        if shard is not None and shard == prev + 1:
            prev = shard
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if shard is not None:
            start = prev = shard
    return ",".join(parts)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # secrets: environment only
    fal_key: SecretStr | None = Field(default=None, alias="FAL_KEY")
    discord_token: SecretStr | None = Field(default=None, alias="DISCORD_TOKEN")
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")

    database: str = Field(default="sqlite:///data/falbot.db", alias="FALBOT_DATABASE")
    max_concurrency: int = Field(default=10, ge=1, le=1000, alias="FALBOT_MAX_CONCURRENCY")
    lease_seconds: float = Field(default=15.0, ge=2, le=600, alias="FALBOT_LEASE_SECONDS")
    instance: str | None = Field(
        default=None, min_length=1, max_length=100, alias="FALBOT_INSTANCE"
    )
    max_waiting: int = Field(default=10_000, ge=1, alias="FALBOT_MAX_WAITING")
    max_jobs_in_flight_per_user: int = Field(default=4, ge=1, alias="FALBOT_MAX_JOBS_PER_USER")
    progress_interval: float = Field(default=1.5, ge=0.1, alias="FALBOT_PROGRESS_INTERVAL")
    credit_usd: Decimal = Field(default=Decimal("0.01"), gt=0, alias="FALBOT_CREDIT_USD")
    confirm_above_usd: Decimal | None = Field(
        default=Decimal("0.20"), ge=0, alias="FALBOT_CONFIRM_ABOVE_USD"
    )
    quota_capacity: Decimal = Field(default=Decimal(100), ge=0, alias="FALBOT_QUOTA_CAPACITY")
    quota_refill_per_hour: Decimal = Field(
        default=Decimal(50), ge=0, alias="FALBOT_QUOTA_REFILL_PER_HOUR"
    )
    max_input_bytes: int = Field(default=20 * 1024 * 1024, ge=1, alias="FALBOT_MAX_INPUT_BYTES")
    max_output_bytes: int = Field(default=100 * 1024 * 1024, ge=1, alias="FALBOT_MAX_OUTPUT_BYTES")
    job_timeout: float = Field(default=1800.0, gt=0, alias="FALBOT_JOB_TIMEOUT")
    public_url: str | None = Field(default=None, alias="FALBOT_PUBLIC_URL")
    webhook_wait: float = Field(default=300.0, gt=0, alias="FALBOT_WEBHOOK_WAIT")
    circuit_threshold: int = Field(default=5, ge=1, le=1000, alias="FALBOT_CIRCUIT_THRESHOLD")
    circuit_cooldown: float = Field(default=30.0, gt=0, le=3600, alias="FALBOT_CIRCUIT_COOLDOWN")
    http_port: int = Field(default=8080, ge=0, le=65535, alias="FALBOT_HTTP_PORT")
    http_host: str = Field(default="0.0.0.0", min_length=1, alias="FALBOT_HTTP_HOST")
    http_idle_timeout: float = Field(default=15.0, gt=0, le=3600, alias="FALBOT_HTTP_IDLE_TIMEOUT")
    http_request_timeout: float = Field(
        default=30.0, gt=0, le=3600, alias="FALBOT_HTTP_REQUEST_TIMEOUT"
    )
    http_max_connections: int = Field(default=1000, ge=16, alias="FALBOT_HTTP_MAX_CONNECTIONS")
    http_max_per_address: int = Field(default=64, ge=1, alias="FALBOT_HTTP_MAX_PER_ADDRESS")
    metrics_port: int | None = Field(default=None, ge=0, le=65535, alias="FALBOT_METRICS_PORT")
    metrics_host: str = Field(default="127.0.0.1", min_length=1, alias="FALBOT_METRICS_HOST")
    debug: bool = Field(default=False, alias="FALBOT_DEBUG")
    log_level: str = Field(default="info", alias="FALBOT_LOG_LEVEL")
    admin_role: str | None = Field(default=None, alias="FALBOT_ADMIN_ROLE")
    admin_user_ids: str = Field(default="", alias="FALBOT_ADMIN_USER_IDS")
    discord_message_content: bool = Field(default=False, alias="FALBOT_DISCORD_MESSAGE_CONTENT")
    discord_dms: str = Field(default="off", alias="FALBOT_DISCORD_DMS")
    discord_shards: str | None = Field(default=None, alias="FALBOT_DISCORD_SHARDS")
    pricing_refresh: bool = Field(default=True, alias="FALBOT_PRICING_REFRESH")
    pricing_refresh_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, alias="FALBOT_PRICING_REFRESH_HOURS"
    )

    # base URLs of every outside endpoint (unset: the platform's real host)
    discord_api_url: str | None = Field(default=None, alias="FALBOT_DISCORD_API_URL")
    discord_gateway_url: str | None = Field(default=None, alias="FALBOT_DISCORD_GATEWAY_URL")
    slack_api_url: str | None = Field(default=None, alias="FALBOT_SLACK_API_URL")
    fal_queue_url: str | None = Field(default=None, alias="FALBOT_FAL_QUEUE_URL")
    fal_rest_url: str | None = Field(default=None, alias="FALBOT_FAL_REST_URL")
    fal_cdn_url: str | None = Field(default=None, alias="FALBOT_FAL_CDN_URL")
    fal_api_url: str | None = Field(default=None, alias="FALBOT_FAL_API_URL")
    fal_jwks_url: str = Field(default=FAL_JWKS_URL, alias="FALBOT_FAL_JWKS_URL")
    fal_user_id: str | None = Field(default=None, alias="FALBOT_FAL_USER_ID")
    media_hosts: str = Field(
        default=",".join(DISCORD_MEDIA_HOSTS + SLACK_MEDIA_HOSTS), alias="FALBOT_MEDIA_HOSTS"
    )

    @field_validator(
        "discord_api_url",
        "slack_api_url",
        "fal_queue_url",
        "fal_rest_url",
        "fal_cdn_url",
        "fal_api_url",
        "public_url",
    )
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return check_base_url(value)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("fal_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str) -> str:
        checked = check_base_url(value)
        if checked is None:
            raise ValueError("FALBOT_FAL_JWKS_URL must be set")
        return checked

    @field_validator("discord_dms")
    @classmethod
    def _discord_dms(cls, value: str) -> str:
        value = value.strip().lower()
        head, _, guild = value.partition(":")
        if value in ("off", "own") or (head == "home" and guild.isdigit()):
            return value
        raise ValueError(f"{value[:40]!r} must be off, own, or home:<guild id>")

    @field_validator("discord_shards")
    @classmethod
    def _discord_shards(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return str(parse_shards(value))

    @field_validator("discord_gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme == "wss" or (parts.scheme == "ws" and loopback):
            return value.rstrip("/")
        raise ValueError(f"{value!r} must be a wss URL (ws is allowed for loopback only)")

    @property
    def discord_shard_plan(self) -> DiscordShards | None:
        """The shards this process runs (FALBOT_DISCORD_SHARDS); None: one unsharded
        connection."""
        return parse_shards(self.discord_shards) if self.discord_shards else None

    @property
    def database_path(self) -> Path:
        prefix = "sqlite:///"
        if not self.database.startswith(prefix):
            raise ValueError(
                "FALBOT_DATABASE must look like sqlite:///path/to/file.db "
                "or postgresql://user@host:5432/falbot"
            )
        return Path(self.database.removeprefix(prefix))

    @property
    def database_dsn(self) -> str | None:
        """The PostgreSQL database `FALBOT_DATABASE` names; None for SQLite."""
        return self.database if self.database.startswith(POSTGRES_SCHEMES) else None

    @property
    def pricing_off(self) -> str | None:
        """Why prices are not read from fal's pricing API at start; None when they are."""
        overridden = any((self.fal_queue_url, self.fal_rest_url, self.fal_cdn_url))
        return pricing_off_reason(
            refresh=self.pricing_refresh, api_url=self.fal_api_url, fal_hosts_overridden=overridden
        )

    @property
    def effective_log_level(self) -> str:
        """FALBOT_LOG_LEVEL, or debug when FALBOT_DEBUG is on."""
        return "debug" if self.debug else self.log_level

    @property
    def media_host_list(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.media_hosts.split(",") if h.strip())

    @property
    def admin_user_id_set(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.admin_user_ids.split(",") if u.strip())

    def secrets(self) -> list[str]:
        """Every secret value that is set, for the log filter that masks them."""
        values = [self.fal_key, self.discord_token, self.slack_bot_token]
        values += [self.slack_signing_secret, self.slack_app_token]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
