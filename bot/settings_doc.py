"""The README's settings table and `.env.example`, made from `bot.settings.Settings`:
`python -m bot.settings_doc` (the table) and `python -m bot.settings_doc env` (the example).

Tests keep the README's table and `.env.example` equal to this output, and every setting
described here.
"""

from __future__ import annotations

from typing import Any

from bot.settings import Settings

DESCRIPTIONS: dict[str, str] = {
    "FAL_KEY": "fal API key (`key-id:key-secret`); every job needs it",
    "DISCORD_TOKEN": "Discord bot token; when set, `falbot run` starts Discord",
    "SLACK_BOT_TOKEN": (
        "Slack bot token (`xoxb-…`); starts Slack with the signing secret (HTTP) or the app "
        "token (Socket Mode)"
    ),
    "SLACK_SIGNING_SECRET": "Slack signing secret; checks every HTTP request from Slack",
    "SLACK_APP_TOKEN": "Slack app-level token (`xapp-…`); when set, Slack runs over Socket Mode",
    "FALBOT_DATABASE": (
        "the SQLite file (`sqlite:///relative` or `sqlite:////absolute`), or PostgreSQL "
        "for several processes (`postgresql://user@host:5432/falbot`)"
    ),
    "FALBOT_MAX_CONCURRENCY": "jobs at fal at once (fal starts accounts at 2, raises up to 40); "
    "on PostgreSQL, across every process together",
    "FALBOT_LEASE_SECONDS": "PostgreSQL: seconds a process's hold on its jobs lasts unrenewed; "
    "another process takes the jobs of one that died this long after",
    "FALBOT_INSTANCE": "PostgreSQL: this process's name in /healthz and the logs "
    "(default: host, pid and a random suffix)",
    "FALBOT_MAX_WAITING": "jobs waiting in falbot's line; more are refused with `busy`",
    "FALBOT_MAX_JOBS_PER_USER": "unfinished jobs one user may have",
    "FALBOT_PROGRESS_INTERVAL": "seconds between two edits of a progress message",
    "FALBOT_CREDIT_USD": "what one credit is worth in USD",
    "FALBOT_CONFIRM_ABOVE_USD": "jobs estimated above this many USD show their price and wait"
    " for Confirm; a workspace's `/admin confirm-above` overrides it",
    "FALBOT_QUOTA_CAPACITY": "default token bucket size, in credits (the burst)",
    "FALBOT_QUOTA_REFILL_PER_HOUR": "default bucket refill, in credits per hour",
    "FALBOT_MAX_INPUT_BYTES": "largest input image accepted, in bytes",
    "FALBOT_MAX_OUTPUT_BYTES": "largest output fetched from fal; bigger ones are linked",
    "FALBOT_JOB_TIMEOUT": "seconds a job may take at fal before it is cancelled",
    "FALBOT_PUBLIC_URL": (
        "this bot's public https URL; fal then calls `/fal/webhook` on it, and Edit region "
        "links open its painter page (`/paint/…`)"
    ),
    "FALBOT_WEBHOOK_WAIT": "seconds to wait for fal's webhook before watching the job's status",
    "FALBOT_CIRCUIT_THRESHOLD": "fal failures in a row after which new jobs are refused a while",
    "FALBOT_CIRCUIT_COOLDOWN": "seconds the fal circuit stays open before one probe job",
    "FALBOT_HTTP_PORT": (
        "public HTTP port (`/healthz`, `/slack/events`, `/fal/webhook`, `/paint/…`)"
    ),
    "FALBOT_HTTP_HOST": "address the HTTP server binds (`127.0.0.1` behind a local proxy)",
    "FALBOT_HTTP_IDLE_TIMEOUT": "seconds a connection may take to send a request head, or idle",
    "FALBOT_HTTP_REQUEST_TIMEOUT": "seconds a request may take to send its body and be answered",
    "FALBOT_HTTP_MAX_CONNECTIONS": "open HTTP connections in all (kept under the open-file limit)",
    "FALBOT_HTTP_MAX_PER_ADDRESS": "HTTP connections per client address (raise it behind a proxy)",
    "FALBOT_METRICS_PORT": "port serving `/metrics` (Prometheus); unset: not served",
    "FALBOT_METRICS_HOST": "address the metrics port binds (keep it off the internet)",
    "FALBOT_DEBUG": "debug logs, prompts included (otherwise their length and hash)",
    "FALBOT_LOG_LEVEL": "`debug`, `info`, `warning` or `error`: the least severe log line kept",
    "FALBOT_ADMIN_ROLE": "Discord role whose members are falbot admins",
    "FALBOT_ADMIN_USER_IDS": "comma-separated user ids who are falbot admins",
    "FALBOT_DISCORD_MESSAGE_CONTENT": "use Discord's message-content intent (reply-to-edit)",
    "FALBOT_DISCORD_DMS": (
        "Discord DMs: `off` (a note saying where to use the bot), `home:<guild id>` (that "
        "server's rules and quotas, for its members only), or `own` (every Discord user gets "
        "their own free quota)"
    ),
    "FALBOT_DISCORD_SHARDS": (
        "the Discord shards this process runs and the total, e.g. `0-3/8`, `0,2/4` or `1/2` "
        "(several processes on one PostgreSQL share a bot); unset: one unsharded connection"
    ),
    "FALBOT_PRICING_REFRESH": "read prices from fal's pricing API at start (else built-in)",
    "FALBOT_PRICING_REFRESH_HOURS": "hours between reads of fal's prices while running",
    "FALBOT_DISCORD_API_URL": "Discord REST base URL (a shared REST proxy)",
    "FALBOT_DISCORD_GATEWAY_URL": "Discord gateway URL (`wss://…`)",
    "FALBOT_SLACK_API_URL": "Slack Web API base URL (GovSlack: `https://slack-gov.com/api/`)",
    "FALBOT_FAL_QUEUE_URL": "fal queue host (a fal gateway or proxy)",
    "FALBOT_FAL_REST_URL": "fal REST host (storage tokens, uploads)",
    "FALBOT_FAL_CDN_URL": "fal CDN host (uploads)",
    "FALBOT_FAL_API_URL": "fal platform API host (pricing); needed when fal's hosts are overridden",
    "FALBOT_FAL_JWKS_URL": "fal's webhook signing keys (JWKS), cached 24 h",
    "FALBOT_FAL_USER_ID": "fal's user id of the account (`X-Fal-Webhook-User-Id`); else learned",
    "FALBOT_MEDIA_HOSTS": "the only hosts user images are downloaded from",
}


def settings_table() -> str:
    """A markdown table: every setting, its default and what it does."""
    lines = ["| setting | default | what it does |", "|---|---|---|"]
    for info in Settings.model_fields.values():
        name = str(info.alias)
        lines.append(f"| `{name}` | {_default(info.default)} | {DESCRIPTIONS[name]} |")
    return "\n".join(lines) + "\n"


ENV_EXAMPLE_HEAD = """\
# falbot's settings: copy this file to .env (or set them in the environment, which wins),
# uncomment what you use, and check with `falbot check`. Made by `python -m bot.settings_doc env`.
# The minimum: FAL_KEY, and DISCORD_TOKEN or SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET (HTTP
# mode) or SLACK_APP_TOKEN (Socket Mode). Never commit the filled-in .env.
"""


def env_example() -> str:
    """`.env.example`: every setting, commented out, with what it does and its default."""
    parts = [ENV_EXAMPLE_HEAD]
    for info in Settings.model_fields.values():
        name = str(info.alias)
        default = "" if info.default is None else _env_default(info.default)
        parts.append(f"\n# {DESCRIPTIONS[name].replace('`', '')}\n# {name}={default}\n")
    return "".join(parts)


def _env_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _default(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


if __name__ == "__main__":
    import sys

    print(env_example() if sys.argv[1:] == ["env"] else settings_table(), end="")
