"""The Discord adapter: a discord.py client with falbot's commands, buttons and mention handler,
started and stopped by the composition root."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import discord
from discord import app_commands

from adapters.discord.account import account_commands
from adapters.discord.admin import admin_group
from adapters.discord.buttons import ImageMenu, ResultButton
from adapters.discord.commands import job_commands
from adapters.discord.context_menu import edit_image_menu
from adapters.discord.deps import Deps
from adapters.discord.help import help_command
from adapters.discord.hosts import point_discord_at
from adapters.discord.identity import AdminRule, DmPolicy
from adapters.discord.image_verbs import ImagineSuggestion, image_verb_commands
from adapters.discord.interactions import admit_dm, send_error
from adapters.discord.mentions import on_mention
from adapters.discord.quote_answers import QuoteAnswers
from adapters.discord.quotes import QuoteButton
from adapters.discord.refs import TokenPolicy
from adapters.discord.reply import DiscordReplyFactory
from adapters.discord.results import ResultButtons
from adapters.discord.settings import ResetButton, SettingMenu, settings_command
from adapters.discord.suggestion_button import SuggestionButton
from adapters.discord.webhooks import NO_MENTIONS
from core.errors import BotError, internal_error
from core.painting import Painter
from core.ports import Clock

if TYPE_CHECKING:
    from adapters.media_fetch import MediaFetcher
    from core.admin import AdminService
    from core.engine import Engine
    from core.live_catalog import LiveCatalog

log = logging.getLogger(__name__)

DEFAULT_MAX_INPUT_BYTES = 20 * 1024 * 1024


# Discord lets a bot identify `max_concurrency` shards per IDENTIFY_WINDOW seconds, in buckets
# by `shard_id % max_concurrency`.
IDENTIFY_WINDOW = 5.0


class CommandState(Protocol):
    """Where the hash of the commands last registered is kept (the Store), and the lock that
    makes one process of several register them."""

    async def state_value(self, key: str) -> str | None: ...

    async def set_state_value(self, key: str, value: str) -> None: ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]: ...


def commands_digest(tree: app_commands.CommandTree[Any]) -> str:
    """A hash of the global command payload exactly as a sync sends it."""
    payload = [command.to_dict(tree) for command in tree.get_commands()]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def intents_for(*, message_content: bool) -> discord.Intents:
    """Guilds, guild and DM messages; message content only when enabled (it is privileged)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = message_content
    return intents


class FalbotTree(app_commands.CommandTree["FalbotClient"]):
    async def interaction_check(self, interaction: discord.Interaction[FalbotClient], /) -> bool:
        """Every command and menu: a DM is what `FALBOT_DISCORD_DMS` says, or refused."""
        return await admit_dm(self.client.deps, interaction)


def _ignore_event(_data: Any) -> None:
    return None


class FalbotClient(discord.Client):
    def __init__(
        self, *, deps: Deps, ready: asyncio.Event, guild_ready_timeout: float, **options: Any
    ) -> None:
        # falbot has no voice: discord.py's warnings that voice libraries are missing say nothing.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents_for(message_content=deps.message_content),
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
            # falbot reads no message from discord.py's cache (a reply's message comes with the
            # reply, or is fetched), so it keeps none.
            max_messages=None,
            **options,
        )
        # Nor does it act on a message's edit: its buttons are dynamic items, matched by custom
        # id. Every progress edit of every job comes back as a MESSAGE_UPDATE, which discord.py
        # would turn into a Message (0.1-0.2 ms each) for nobody.
        self._connection.parsers["MESSAGE_UPDATE"] = _ignore_event
        self.deps = deps
        self.tree = FalbotTree(self)
        self.result_buttons = ResultButtons(deps)
        self.quote_buttons = QuoteAnswers(deps)
        self.imagine_suggestion = ImagineSuggestion(deps)
        self._ready_event = ready
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        for command in [
            *job_commands(self.deps),
            *image_verb_commands(self.deps),
            *account_commands(self.deps),
            settings_command(self.deps),
        ]:
            self.tree.add_command(command)
        self.tree.add_command(help_command(self.deps))
        self.tree.add_command(admin_group(self.deps))
        self.tree.add_command(edit_image_menu(self.deps))
        self.add_dynamic_items(
            ResultButton, ImageMenu, QuoteButton, SuggestionButton, SettingMenu, ResetButton
        )

    async def on_ready(self) -> None:
        shards = f" on shard(s) {_shard_list(self)}" if self.shard_count else ""
        log.info("discord: ready as %s in %d guild(s)%s", self.user, len(self.guilds), shards)
        self._ready_event.set()

    async def on_message(self, message: discord.Message) -> None:
        await on_mention(self.deps, self, message)

    async def _on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        cause = error.__cause__ if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, BotError):
            await send_error(interaction, cause)
            return
        log.error("command failed", exc_info=error)
        await send_error(interaction, internal_error())


class ShardedFalbotClient(FalbotClient, discord.AutoShardedClient):
    """The same client on some of the bot's shards (`shard_ids` of `shard_count`): one gateway
    session per shard; Discord sends each guild's events to the shard `(guild_id >> 22) %
    shard_count`, and DMs to shard 0."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._identified: dict[int, float] = {}  # bucket → loop time of its last IDENTIFY
        self._max_concurrency: int | None = None

    async def on_shard_ready(self, shard_id: int) -> None:
        log.info(
            "discord: shard %d of %d ready",
            shard_id,
            self.shard_count,
            extra={"falbot": {"event": "discord_shard_ready", "shard": shard_id}},
        )

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Discord's identify rate limit: shards in different buckets (`shard_id %
        max_concurrency`) identify at once, one per bucket every IDENTIFY_WINDOW seconds
        (discord.py's own hook waits 5 s before every shard but the first)."""
        if self._max_concurrency is None:
            try:
                limits = await self.fetch_session_start_limits()
                self._max_concurrency = max(1, limits.max_concurrency)
            except (OSError, aiohttp.ClientError, discord.DiscordException):
                self._max_concurrency = 1  # the strictest: what every bot may do
        bucket = (shard_id or 0) % self._max_concurrency
        loop = asyncio.get_running_loop()
        last = self._identified.get(bucket)
        if last is not None and loop.time() < last + IDENTIFY_WINDOW:
            await asyncio.sleep(last + IDENTIFY_WINDOW - loop.time())
        self._identified[bucket] = loop.time()


class DiscordAdapter:
    """`start()` logs in and connects (returns once ready); `close()` disconnects.

    Wire `reply_factory` into the engine before the engine starts, so jobs left running by a
    previous process report back here.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        admin: AdminService,
        models: LiveCatalog,
        fetcher: MediaFetcher,
        token: str,
        clock: Clock,
        api_url: str | None = None,
        gateway_url: str | None = None,
        admin_role: str | None = None,
        admin_user_ids: Collection[str] = (),
        message_content: bool = False,
        max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
        dms: DmPolicy | str = "off",
        token_lifetime: timedelta = timedelta(minutes=15),
        token_margin: timedelta | None = None,
        guild_ready_timeout: float = 2.0,
        connect_timeout: float = 60.0,
        shard_ids: Sequence[int] | None = None,
        shard_count: int | None = None,
        painter: Painter | None = None,
    ) -> None:
        margin = (
            token_margin
            if token_margin is not None
            else min(timedelta(minutes=1), token_lifetime / 10)
        )
        tokens = TokenPolicy(lifetime=token_lifetime, margin=margin)
        self.deps = Deps(
            engine=engine,
            models=models,
            admin=admin,
            fetcher=fetcher,
            clock=clock,
            rule=AdminRule(role=admin_role, user_ids=frozenset(admin_user_ids)),
            tokens=tokens,
            max_input_bytes=max_input_bytes,
            message_content=message_content,
            dms=dms if isinstance(dms, DmPolicy) else DmPolicy.parse(dms),
            painter=painter,
        )
        self._token = token
        self._api_url = api_url
        self._gateway_url = gateway_url
        self._connect_timeout = connect_timeout
        self._ready = asyncio.Event()
        self.client: FalbotClient
        if shard_count is None:
            self.client = FalbotClient(
                deps=self.deps, ready=self._ready, guild_ready_timeout=guild_ready_timeout
            )
        else:
            self.client = ShardedFalbotClient(
                deps=self.deps,
                ready=self._ready,
                guild_ready_timeout=guild_ready_timeout,
                shard_ids=list(shard_ids if shard_ids is not None else range(shard_count)),
                shard_count=shard_count,
            )
        self.reply_factory = DiscordReplyFactory(
            client=self.client, clock=clock, tokens=tokens, ready=self._ready
        )
        self._runner: asyncio.Task[None] | None = None
        self._logged_in = False

    def __repr__(self) -> str:
        return f"<DiscordAdapter ready={self._ready.is_set()}>"

    async def _login(self) -> None:
        if not self._logged_in:
            point_discord_at(api_url=self._api_url, gateway_url=self._gateway_url)
            await self.client.login(self._token)
            self._logged_in = True

    async def start(self) -> None:
        """Log in, connect to the gateway and return once Discord says the bot is ready."""
        await self._login()
        self._runner = asyncio.create_task(self._connect(), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait(), name="discord-ready")
        try:
            done, _ = await asyncio.wait(
                {ready, self._runner},
                timeout=self._connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            ready.cancel()
        if self._runner in done:
            self._runner.result()  # raises what stopped the connection
            raise ConnectionError("the Discord gateway connection ended before it was ready")
        if not self._ready.is_set():
            raise TimeoutError("Discord did not become ready in time")

    async def _connect(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except (OSError, aiohttp.ClientError, discord.DiscordException) as exc:
            # Known ways to fail (unreachable, refused): the caller says what to do.
            log.error("the Discord gateway connection failed: %s", type(exc).__name__)
            raise
        except Exception:
            log.exception("the Discord gateway connection failed")
            raise

    async def close(self) -> None:
        await self.reply_factory.aclose()
        await self.client.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                await runner
            except Exception:
                log.debug("the gateway task ended with an error at close", exc_info=True)
        self._ready.clear()

    async def sync_commands(
        self,
        guild_id: int | str | None = None,
        *,
        state: CommandState | None = None,
        clear: bool = False,
    ) -> int:
        """Register the slash commands and the Edit image menu, globally or in one guild
        (guild commands appear at once; global ones can take up to an hour); `clear` removes a
        guild's copies instead. A global sync is remembered in `state`, so `register_commands`
        knows it is done."""
        await self._login()
        guild = discord.Object(id=int(guild_id)) if guild_id else None
        digest = commands_digest(self.client.tree)
        if guild is not None and clear:
            self.client.tree.clear_commands(guild=guild)
        elif guild is not None:
            self.client.tree.copy_global_to(guild=guild)
        synced = await self.client.tree.sync(guild=guild)
        where = f"to guild {guild_id}" if guild else "globally"
        log.info("synced %d command(s) %s", len(synced), where)
        if guild is None and state is not None:
            await state.set_state_value(self._commands_key(), digest)
        return len(synced)

    async def register_commands(self, state: CommandState) -> bool:
        """Register the commands globally (one bulk overwrite) when they differ from the ones
        last registered by this application; True when they were sent.

        Under the store's lock: of several processes starting at once, the first registers
        and saves the hash, the others wait, then find it equal."""
        await self._login()
        key = self._commands_key()
        async with state.exclusive(key):
            if await state.state_value(key) == commands_digest(self.client.tree):
                log.info("discord: the registered commands are up to date")
                return False
            await self.sync_commands(state=state)
            return True

    def _commands_key(self) -> str:
        return f"discord:commands:{self.client.application_id}"


def _shard_list(client: discord.Client) -> str:
    ids = getattr(client, "shard_ids", None) or [client.shard_id or 0]
    return f"{','.join(str(i) for i in ids)} of {client.shard_count}"
