"""The Slack adapter: a slack-bolt `AsyncApp` whose listeners ack at once and hand the work to
owned tasks. Served over HTTP (`/slack/events`, signatures checked by Bolt) or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.media_fetch import MediaFetcher
from adapters.slack import render
from adapters.slack.buttons import on_result_button
from adapters.slack.commands import COMMANDS
from adapters.slack.context import Answers, Origin
from adapters.slack.deps import Deps
from adapters.slack.files import TOKEN_HOSTS, SlackFiles
from adapters.slack.help import publish_home
from adapters.slack.identity import Identities
from adapters.slack.image_verbs import (
    IMAGE_VERB_MODAL,
    on_image_verb_submitted,
    on_suggestion_button,
)
from adapters.slack.mentions import on_direct_message, on_mention
from adapters.slack.modals import on_upload_submitted
from adapters.slack.quote_answers import on_quote_button
from adapters.slack.quotes import QUOTE_ACTION
from adapters.slack.remix import REMIX_MODAL, on_remix_submitted
from adapters.slack.reply import SlackReplyFactory
from adapters.slack.settings import SETTINGS_ACTION, on_settings_action
from adapters.slack.shortcuts import modal_origin, on_edit_shortcut, on_edit_submitted
from adapters.slack.submit import Starter
from core.admin import AdminService
from core.engine import Engine
from core.errors import BotError, internal_error
from core.live_catalog import LiveCatalog
from core.painting import Painter
from core.ports import Claims
from core.tasks import OwnedTasks

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
_COMMAND = re.compile("^(" + "|".join(re.escape(c) for c in COMMANDS) + ")$")
_RESULT_ACTION = re.compile("^" + render.RESULT_ACTION.pattern + "$")

Work = Callable[[], Awaitable[None]]


class SlackAdapter:
    """Slack in front of the engine. Build it, then serve `web_app()` (or mount `add_routes`)
    or `await start_socket_mode()`; `await close()` when done."""

    def __init__(
        self,
        *,
        engine: Engine,
        admin: AdminService,
        fetcher: MediaFetcher,
        bot_token: str,
        signing_secret: str | None = None,
        app_token: str | None = None,
        api_url: str | None = None,
        admin_user_ids: Collection[str] = (),
        claims: Claims,
        models: LiveCatalog,
        shutdown_grace: float = 5.0,
        painter: Painter | None = None,
    ) -> None:
        client_args: dict[str, Any] = {"base_url": api_url} if api_url else {}
        self.client = AsyncWebClient(
            token=bot_token,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
            **client_args,
        )
        token_hosts = set(TOKEN_HOSTS)
        if api_url:  # a GovSlack or test API host serves its files from the same host
            token_hosts.add(urlsplit(api_url).netloc.lower())
        self._deps = Deps(
            client=self.client,
            engine=engine,
            models=models,
            admin=admin,
            identities=Identities(self.client, admin_user_ids=admin_user_ids),
            answers=Answers(self.client),
            files=SlackFiles(self.client, fetcher, bot_token=bot_token, token_hosts=token_hosts),
            starter=Starter(self.client, engine),
            painter=painter,
        )
        # Retried events are dropped by their event_id, claimed where every process sees them.
        self._claims = claims
        self._app_token = app_token
        self._signing_secret = signing_secret
        self._grace = shutdown_grace
        self._tasks = OwnedTasks()
        self._socket: AsyncSocketModeHandler | None = None
        self.reply_factory = SlackReplyFactory(self.client, name_reply=engine.set_reply_ref)
        self._token_accepted: bool | None = None  # not asked yet
        bolt_log = logging.getLogger(__name__ + ".bolt")
        # Bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns
        # that it will not use it: it is the client's token, so the warning says nothing.
        bolt_log.addFilter(_not_the_unused_token_warning)
        self.app = AsyncApp(
            name="falbot",
            client=self.client,
            # Socket Mode needs no signing secret; HTTP mode refuses to start without one.
            signing_secret=signing_secret or "",
            # Listeners only ack and start a task, so Bolt may wait for them before answering.
            process_before_response=True,
            logger=bolt_log,
        )
        self._register()

    # ---- serving

    def web_app(self, path: str = EVENTS_PATH) -> web.Application:
        """An aiohttp application serving Slack's HTTP requests at `path`."""
        app = web.Application()
        self.add_routes(app, path)
        return app

    def add_routes(self, app: web.Application, path: str = EVENTS_PATH) -> None:
        """Mount the Slack endpoint on an existing aiohttp application."""
        if not self._signing_secret:
            raise ValueError("HTTP mode needs SLACK_SIGNING_SECRET to check Slack's signatures")
        app.router.add_post(path, self._http)

    async def _http(self, request: web.Request) -> web.Response:
        response: BoltResponse = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def start_socket_mode(self) -> None:
        """Connect to Slack over Socket Mode (no public URL needed); returns once connected."""
        if not self._app_token:
            raise ValueError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
        self._socket = AsyncSocketModeHandler(self.app, self._app_token)
        await self._socket.connect_async()  # type: ignore[no-untyped-call]

    async def verify(self) -> None:
        """Ask Slack whose token this is (`auth.test`); raises SlackApiError when Slack refuses
        it, so a wrong token stops the start instead of every command later."""
        try:
            answer = await self.client.auth_test()
        except Exception:
            self._token_accepted = False
            raise
        self._token_accepted = True
        log.debug("slack: signed in to %s as %s", answer.get("team"), answer.get("user"))

    @property
    def connected(self) -> bool | None:
        """Socket Mode: whether the websocket to Slack is up. HTTP mode (Slack calls us):
        whether Slack accepted the token at start; None before `verify()`."""
        if self._socket is None:
            return self._token_accepted
        client = self._socket.client
        session = client.current_session
        return not client.closed and not client.stale and session is not None and not session.closed

    async def close(self) -> None:
        """Disconnect, let running work finish for a moment, then cancel what is left."""
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close_async()  # type: ignore[no-untyped-call]
            client = socket.client
            # The SDK cancels its tasks on close without waiting for them; wait here.
            pending = [
                t
                for t in (
                    client.message_processor,
                    client.current_session_monitor,
                    client.message_receiver,
                )
                if t is not None
            ]
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        await self._tasks.close(grace=self._grace)

    # ---- listeners: ack now, work in an owned task

    def _register(self) -> None:
        self.app.middleware(self._dedupe)
        self.app.command(_COMMAND)(self._on_command)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.event("app_home_opened")(self._on_home)
        self.app.shortcut(render.EDIT_SHORTCUT)(self._on_shortcut)
        self.app.view(render.EDIT_MODAL)(self._on_modal)
        self.app.view(render.UPLOAD_MODAL)(self._on_upload)
        self.app.action(_RESULT_ACTION)(self._on_action)
        # /settings' panel, remix's modal, /describe's and /blend's upload modal
        suggestion = re.compile("^" + render.IMAGINE_ACTION.pattern + "$")
        self.app.action(suggestion)(
            self._listener(on_suggestion_button, "suggestion", _interaction_origin)
        )
        self.app.action(SETTINGS_ACTION)(
            self._listener(on_settings_action, "settings", _interaction_origin)
        )
        self.app.view(REMIX_MODAL)(
            self._listener(on_remix_submitted, "remix", modal_origin, "view")
        )
        self.app.view(IMAGE_VERB_MODAL)(
            self._listener(on_image_verb_submitted, "image-verb", modal_origin, "view")
        )
        self.app.action(QUOTE_ACTION)(self._listener(on_quote_button, "quote", _interaction_origin))

    async def _dedupe(self, body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            key = f"slack:event:{body.get('team_id', '')}:{event_id}"
            if not await self._claims.claim(key, datetime.now(UTC)):
                log.info("dropped retried Slack event %s", event_id)
                return BoltResponse(status=200, body="")
        return await next()

    def _spawn(self, origin: Origin, work: Work, *, name: str) -> None:
        self._tasks.spawn(self._guarded(origin, work, name), name=f"slack-{name}")

    async def _guarded(self, origin: Origin, work: Work, name: str) -> None:
        """Every failure ends as an answer to the user: a BotError as it is, anything else as
        an internal error (logged, never shown)."""
        try:
            await work()
        except BotError as err:
            await self._deps.answers.error(origin, err)
        except Exception:
            log.exception("Slack %s failed", name)
            await self._deps.answers.error(origin, internal_error())

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack()
        name = str(command.get("command", ""))
        origin = Origin(
            team_id=str(command.get("team_id", "")),
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            response_url=command.get("response_url"),
            user_name=str(command.get("user_name", "")),
            trigger_id=command.get("trigger_id"),
        )
        handler = COMMANDS[name]
        text = str(command.get("text", ""))
        self._spawn(origin, lambda: handler(self._deps, origin, text), name=name.lstrip("/"))

    async def _on_mention(
        self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        ts = str(event.get("ts", ""))
        origin = Origin(
            team_id=str(body.get("team_id") or event.get("team") or ""),
            user_id=str(event.get("user", "")),
            channel_id=str(event.get("channel", "")),
            thread_ts=str(event.get("thread_ts") or ts),
        )
        bot_user_id = context.bot_user_id
        self._spawn(
            origin, lambda: on_mention(self._deps, origin, event, bot_user_id), name="mention"
        )

    async def _on_message(
        self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """A message in a DM with falbot (`message.im`): an image and a prompt make an edit.
        Messages elsewhere, edits, and bots' messages (falbot's own included) are ignored."""
        await ack()
        bot_user_id = context.bot_user_id
        user = str(event.get("user") or "")
        if (
            event.get("channel_type") != "im"
            or event.get("bot_id")
            or event.get("subtype") not in (None, "file_share")
            or not user
            or user == bot_user_id
        ):
            return
        ts = str(event.get("ts", ""))
        origin = Origin(
            team_id=str(body.get("team_id") or event.get("team") or ""),
            user_id=user,
            channel_id=str(event.get("channel", "")),
            thread_ts=str(event.get("thread_ts") or ts),
        )
        self._spawn(
            origin, lambda: on_direct_message(self._deps, origin, event, bot_user_id), name="dm"
        )

    async def _on_home(self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        if event.get("tab") != "home":
            return
        origin = Origin(
            team_id=str(body.get("team_id") or ""),
            user_id=str(event.get("user", "")),
            channel_id=str(event.get("channel", "")),
        )
        self._spawn(origin, lambda: publish_home(self._deps, origin), name="home")

    async def _on_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin = _interaction_origin(body)
        self._spawn(origin, lambda: on_edit_shortcut(self._deps, origin, body), name="shortcut")

    async def _on_modal(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        origin = modal_origin(body)
        self._spawn(origin, lambda: on_edit_submitted(self._deps, origin, view), name="modal")

    async def _on_upload(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        origin = modal_origin(body)
        self._spawn(origin, lambda: on_upload_submitted(self._deps, origin, view), name="upload")

    def _listener(
        self,
        work: Callable[[Deps, Origin, dict[str, Any]], Awaitable[None]],
        name: str,
        origin_of: Callable[[dict[str, Any]], Origin],
        part: str = "",
    ) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
        """A listener that acks, then runs `work` on the body (or its `part`) in a task."""

        async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
            await ack()
            origin = origin_of(body)
            given = body.get(part) or {} if part else body
            self._spawn(origin, lambda: work(self._deps, origin, given), name=name)

        return listener

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        origin = _interaction_origin(body)
        self._spawn(origin, lambda: on_result_button(self._deps, origin, body), name="button")


def _not_the_unused_token_warning(record: logging.LogRecord) -> bool:
    return "will be unused" not in record.getMessage()


def _interaction_origin(body: dict[str, Any]) -> Origin:
    user = body.get("user") or {}
    message = body.get("message") or {}
    channel = body.get("channel") or {}
    return Origin(
        team_id=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        user_id=str(user.get("id", "")),
        channel_id=str(channel.get("id") or (body.get("container") or {}).get("channel_id") or ""),
        thread_ts=str(message.get("thread_ts") or message.get("ts") or "") or None,
        response_url=body.get("response_url"),
        user_name=str(user.get("username") or user.get("name") or ""),
        trigger_id=body.get("trigger_id"),
    )
