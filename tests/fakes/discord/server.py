"""A loopback fake of Discord: REST API, gateway websocket and attachment CDN.

It answers the way Discord's documented API does for what falbot uses (login, application
commands, interaction callbacks, interaction webhooks, channel messages), keeps just enough state
to do so (one guild, or more with `add_guild`; channels and roles, messages, interactions and
their tokens), records every request, and lets a test wait on a request instead of sleeping.
Its gateway shards as Discord's does (see gateway.py): GET /gateway/bot recommends `shards`, and
each guild's events go to the session of the shard that holds it; `peer_owner`, when a test sets
it, names who holds the client's end of each connection (a test with several bot processes).
Message content is hidden from a client without the message-content intent, as Discord hides it.

Faults, for tests of what falbot does when Discord fails: 429s (`rate_limit`), 5xx answers
(`outage`), requests held unanswered until the test lets them go (`hold`), gateway connections
asked to reconnect or dropped (`reconnect`, `drop_gateway`, then the client's RESUME), and CDN
downloads that fail or hang (`cdn_fault`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.discord import payloads as p
from tests.fakes.discord.gateway import (
    INVALID_SESSION,
    INVALID_SHARD,
    PRIVILEGED,
    GatewayConnection,
    GatewaySession,
    shard_problem,
)
from tests.fakes.discord.messages import ApiError
from tests.fakes.discord.recorder import Predicate, Recorded, Recorder, UploadedFile
from tests.fakes.discord.rest import API, JSON, Handler, RestApi, guess_type
from tests.fakes.discord.world import Issued, Person

log = logging.getLogger(__name__)


# What Discord's edge answers when it fails: its API's own JSON for a 500, the proxies' text
# and pages for the others (discord.py reads either).
SERVER_ERRORS: dict[int, tuple[str, str]] = {
    500: (JSON, json.dumps({"message": "500: Internal Server Error", "code": 0})),
    502: (
        "text/html",
        "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
    ),
    503: (
        "text/plain",
        "upstream connect error or disconnect/reset before headers. reset reason: overflow",
    ),
    504: ("text/html", "<html><head><title>504 Gateway Time-out</title></head></html>"),
    # not a server error: the bot lost access to the channel (Discord's JSON error 50001)
    403: (JSON, json.dumps({"message": "Missing Access", "code": 50001})),
}

Outage = Callable[[Recorded], "int | None"]
# A request held before it is answered until the event is set (None: answered at once).
Hold = Callable[[Recorded], "asyncio.Event | None"]
# A CDN fault: for a file's path, a status to answer with, an event to wait on before serving
# it (a slow download), or None to serve it at once.
CdnFault = Callable[[str], "int | asyncio.Event | None"]


@dataclass
class RateLimitRule:
    pred: Predicate
    times: int
    retry_after: float
    via: bool
    hits: list[Recorded] = field(default_factory=list)


class FakeDiscord(RestApi):
    """Start with `await fake.start()`, stop with `await fake.close()`."""

    def __init__(
        self,
        *,
        bot_token: str = "fake-bot-token.XYZ",
        message_content_allowed: bool = True,
        callback_window: float = 3.0,
        token_lifetime: float = 15 * 60,
        shards: int = 1,
        max_concurrency: int = 1,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.shards = shards  # what GET /gateway/bot recommends
        self.max_concurrency = max_concurrency  # IDENTIFYs per 5 s it allows (by bucket)
        # For a connection's client port: who holds that end (a test's; None: not asked).
        self.peer_owner: Callable[[int], object] | None = None
        self.message_content_allowed = message_content_allowed
        self.callback_window = callback_window
        self.token_lifetime = token_lifetime
        self.recorder = Recorder()
        self.sessions: list[GatewaySession] = []  # identified ones, oldest first
        self.connections: list[GatewayConnection] = []
        self.outage: Outage | None = None
        self.hold: Hold | None = None
        self.cdn_fault: CdnFault | None = None
        self.cdn_requests: list[tuple[str, int]] = []  # (path, status) of each CDN download
        self._rules: list[RateLimitRule] = []
        self._cdn_files: dict[str, tuple[bytes, str]] = {}
        self._runners: list[web.AppRunner] = []
        self.api_url = ""
        self.gateway_url = ""
        self.cdn_host = ""

    # lifecycle

    async def start(self) -> None:
        api = web.Application(client_max_size=64 * 1024 * 1024)
        api.router.add_get("/gateway", self._gateway)
        for method, path, name, handler, auth in self._routes():
            api.router.add_route(method, API + path, self._wrap(name, handler, auth=auth))
        api.router.add_route("*", API + "/{tail:.*}", self._not_found)
        cdn = web.Application()
        cdn.router.add_get("/attachments/{channel}/{id}/{name}", self._cdn)
        base, cdn_base = await self._serve(api), await self._serve(cdn)
        self.api_url = f"http://{base}{API}"
        self.gateway_url = f"ws://{base}/gateway"
        self.cdn_host = cdn_base

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"{host}:{port}"

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    # what tests use

    @property
    def requests(self) -> list[Recorded]:
        return self.recorder.requests

    def mark(self) -> int:
        return self.recorder.mark()

    async def wait_for(self, pred: Predicate, *, timeout: float = 5.0, after: int = 0) -> Recorded:
        return await self.recorder.wait_for(pred, timeout=timeout, after=after)

    def rate_limit(
        self, pred: Predicate, *, times: int = 1, retry_after: float = 0.05, via: bool = True
    ) -> RateLimitRule:
        """Answer the next `times` requests matching `pred` with a 429, as Discord does."""
        rule = RateLimitRule(pred, times, retry_after, via)
        self._rules.append(rule)
        return rule

    def expire(self, issued: Issued) -> None:
        """End an interaction token's life now (Discord's is 15 minutes)."""
        issued.expired = True

    async def create_role(self, name: str, *, permissions: int = 0) -> str:
        """A role made while the bot is connected: GUILD_ROLE_CREATE tells it."""
        role_id = self.add_role(None, name, permissions=permissions)
        await self._dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": self.guild_id, "role": self.roles[role_id]}
        )
        return role_id

    def host_file(self, filename: str, data: bytes, content_type: str | None) -> dict[str, Any]:
        """Put a file on the CDN and return its attachment object."""
        attachment_id = p.snowflake()
        path = f"/attachments/{self.channel_id}/{attachment_id}/{filename}"
        self._cdn_files[path] = (data, content_type or "application/octet-stream")
        return p.attachment(
            attachment_id,
            filename,
            url=f"http://{self.cdn_host}{path}",
            size=len(data),
            content_type=content_type,
        )

    def cdn_bytes(self, attachment: Mapping[str, Any]) -> bytes:
        path = str(attachment["url"]).split(self.cdn_host, 1)[1]
        return self._cdn_files[path][0]

    async def send_interaction(self, payload: dict[str, Any]) -> Issued:
        """Register an interaction (its id and token) and dispatch INTERACTION_CREATE."""
        issued = Issued(payload=payload, created=asyncio.get_running_loop().time())
        self.interactions[payload["id"]] = issued
        issued.sessions = await self._dispatch("INTERACTION_CREATE", payload)
        return issued

    async def post_message(
        self,
        author: Person,
        content: str = "",
        *,
        attachments: list[dict[str, Any]] | None = None,
        mention_bot: bool = False,
        reply_to: Mapping[str, Any] | None = None,
        dm: bool = False,
    ) -> dict[str, Any]:
        """A user posts a message; MESSAGE_CREATE goes out as the bot's intents allow."""
        if mention_bot:
            content = f"<@{self.bot['id']}> {content}".strip()
        channel_id = self.dm_channel(author)["id"] if dm else self.channel_id
        msg = p.message(
            message_id=p.snowflake(),
            channel_id=channel_id,
            author=author.user,
            content=content,
            guild_id=None if dm else self.guild_id,
            member_data=None if dm else self.member_of(author, with_permissions=False),
            attachments=attachments or [],
            mentions=[self.bot] if mention_bot else [],
            referenced=reply_to,
        )
        if dm:
            msg["member"] = None
            del msg["member"]
        self.messages[msg["id"]] = msg
        await self._dispatch("MESSAGE_CREATE", msg)
        return msg

    async def callback(self, issued: Issued, *, timeout: float = 5.0) -> Recorded:
        """The interaction's callback request, once it has come."""
        iid = issued.id
        return await self.wait_for(
            lambda r: r.route.startswith("POST /interactions") and r.path.split("/")[2] == iid,
            timeout=timeout,
        )

    # gateway

    async def reconnect(self) -> None:
        """Send op 7 RECONNECT on the bot's connection: it should resume on a new one."""
        await self._live_connection().request_reconnect()

    async def drop_gateway(self, *, code: int | None = 4000) -> None:
        """Close the bot's gateway connection with `code` (None: cut it without a close
        frame). Until the client resumes, events wait in its session."""
        await self._live_connection().drop(code)

    def _live_connection(self) -> GatewayConnection:
        session = self._session()
        assert session.connection is not None, "the bot is not connected to the gateway"
        return session.connection

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = GatewayConnection(
            ws,
            request,
            compress=request.query.get("compress") == "zlib-stream",
            on_identify=self._on_identify,
            on_resume=self._on_resume,
            heartbeat_interval_ms=41_250,
        )
        if self.peer_owner is not None and connection.peer_port is not None:
            connection.owner = self.peer_owner(connection.peer_port)
        self.connections.append(connection)
        await connection.run()
        return ws

    def _gateway_record(self, route: str, data: Mapping[str, Any], status: int) -> Recorded:
        rec = Recorded(
            method="GATEWAY",
            path="/gateway",
            route=route,
            query={},
            headers={},
            json={k: v for k, v in data.items() if k != "token"},
            at=asyncio.get_running_loop().time(),
            status=status,
        )
        self.recorder.add(rec)
        return rec

    async def _on_identify(self, connection: GatewayConnection, data: Mapping[str, Any]) -> None:
        refusal = self._identify_refusal(data)
        self._gateway_record("GATEWAY IDENTIFY", data, refusal or 0)
        if refusal is not None:
            await connection.ws.close(code=refusal, message=b"Identify refused")
            return
        session = GatewaySession(data)
        session.connection, connection.session = connection, session
        session.owner = connection.owner
        for event, payload in self._ready_payloads(session):
            await session.dispatch(event, payload)
        self.sessions.append(session)

    async def _on_resume(self, connection: GatewayConnection, data: Mapping[str, Any]) -> None:
        """RESUME: recorded with status 0 and the replayed events as its answer when it
        worked, 4004 for a wrong token, 4007 for a bad seq, 9 when the session is gone."""
        session = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        seq = int(data.get("seq") or 0)
        if data.get("token") != self.bot_token:
            self._gateway_record("GATEWAY RESUME", data, 4004)
            await connection.ws.close(code=4004, message=b"Authentication failed")
        elif session is None or session.ended:
            self._gateway_record("GATEWAY RESUME", data, INVALID_SESSION)
            await connection.send({"op": INVALID_SESSION, "d": False})
        elif seq > session.seq:
            self._gateway_record("GATEWAY RESUME", data, 4007)
            await connection.ws.close(code=4007, message=b"Invalid seq")
        else:
            rec = self._gateway_record("GATEWAY RESUME", data, 0)
            rec.answer = [
                (f["t"], f["d"].get("id")) for f in await session.resume_on(connection, seq)
            ]

    def _identify_refusal(self, data: Mapping[str, Any]) -> int | None:
        if data.get("token") != self.bot_token:
            return 4004  # Authentication failed
        if shard_problem(data) is not None:
            return INVALID_SHARD
        intents = int(data.get("intents", 0))
        privileged = intents & PRIVILEGED
        if privileged & ~p.INTENT_MESSAGE_CONTENT or (
            privileged and not self.message_content_allowed
        ):
            return 4014  # Disallowed intent(s)
        return None

    def _ready_payloads(self, session: GatewaySession) -> list[tuple[str, dict[str, Any]]]:
        """READY (its guilds unavailable), then GUILD_CREATE for each: the session's shard's
        guilds only."""
        guilds = [gid for gid in self.guilds if session.receives(gid)]
        flags = (1 << 19) if self.message_content_allowed else 0
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot,
            "guilds": [{"id": gid, "unavailable": True} for gid in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "session_type": "normal",
            "application": {"id": self.app_id, "flags": flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
        }
        if "shard" in session.identify:
            ready["shard"] = session.identify["shard"]
        return [("READY", ready)] + [("GUILD_CREATE", self.guild_payload(g)) for g in guilds]

    def _session(self) -> GatewaySession:
        """The bot's session: the newest connected one, else the newest not ended (its client
        is away and may resume), else the newest."""
        if not self.sessions:
            raise AssertionError("no gateway session was ever identified")
        for wanted in (lambda s: s.open, lambda s: not s.ended, lambda s: True):
            found = [s for s in self.sessions if wanted(s)]
            if found:
                return found[-1]
        raise AssertionError("unreachable")

    def _recipients(self, guild_id: str | None) -> list[GatewaySession]:
        """The sessions a guild's event goes to (None: a DM's): of each shard that holds it,
        the newest connected session, else the newest not ended (its client is away and may
        resume), else the newest."""
        if not self.sessions:
            raise AssertionError("no gateway session was ever identified")
        by_shard: dict[tuple[int, int], list[GatewaySession]] = {}
        for session in self.sessions:
            by_shard.setdefault(session.shard, []).append(session)
        chosen = []
        for group in by_shard.values():
            if not group[0].receives(guild_id):
                continue
            for wanted in (lambda s: s.open, lambda s: not s.ended, lambda s: True):
                found = [s for s in group if wanted(s)]
                if found:
                    chosen.append(found[-1])
                    break
        return chosen

    async def _dispatch(self, event: str, data: Mapping[str, Any]) -> list[GatewaySession]:
        """Send an event to the sessions Discord would; those it went to."""
        sent = []
        for session in self._recipients(data.get("guild_id")):
            shown = data
            if event.startswith("MESSAGE_"):
                guild = data.get("guild_id")
                needed = p.INTENT_GUILD_MESSAGES if guild else p.INTENT_DIRECT_MESSAGES
                if not session.intents & needed:
                    continue
                if event != "MESSAGE_DELETE":
                    shown = self.visible(data, session.intents)
            await session.dispatch(event, dict(shown))
            sent.append(session)
        return sent

    # REST plumbing

    def _wrap(self, name: str, handler: Handler, *, auth: bool) -> Callable[..., Any]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            rec = await self._read(request, name)
            headers = {
                "X-RateLimit-Limit": "50",
                "X-RateLimit-Remaining": "49",
                "X-RateLimit-Reset-After": "1.000",
                "X-RateLimit-Bucket": name.replace(" ", "-"),
            }
            gate = self.hold(rec) if self.hold is not None else None
            if gate is not None:
                await gate.wait()
            failing = self.outage(rec) if self.outage is not None else None
            if failing is not None:
                rec.status, (ctype, text) = failing, SERVER_ERRORS[failing]
                rec.answer = json.loads(text) if ctype == JSON else text
                self.recorder.add(rec)
                return web.Response(status=failing, text=text, content_type=ctype)
            try:
                if auth and request.headers.get("Authorization") != f"Bot {self.bot_token}":
                    raise ApiError(401, 0, "401: Unauthorized")
                rule = self._limited(rec)
                if rule is not None:
                    status, body = (
                        429,
                        {
                            "message": "You are being rate limited.",
                            "retry_after": rule.retry_after,
                            "global": False,
                            "code": 0,
                        },
                    )
                    headers.update(
                        {
                            "Retry-After": str(max(1, round(rule.retry_after))),
                            "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
                            "X-RateLimit-Scope": "user",
                        }
                    )
                    if rule.via:
                        headers["Via"] = "1.1 google"
                else:
                    status, body = await handler(rec, request.match_info)
            except ApiError as exc:
                status, body = exc.status, exc.body
            rec.status, rec.answer = status, body
            self.recorder.add(rec)
            if body is None:
                return web.Response(status=status, headers=headers)
            return web.Response(
                status=status, body=json.dumps(body), content_type=JSON, headers=headers
            )

        return endpoint

    def _limited(self, rec: Recorded) -> RateLimitRule | None:
        for rule in self._rules:
            if rule.times > 0 and rule.pred(rec):
                rule.times -= 1
                rule.hits.append(rec)
                return rule
        return None

    async def _read(self, request: web.Request, name: str) -> Recorded:
        body: Any = None
        files: list[UploadedFile] = []
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append(
                        UploadedFile(
                            field=part.name or "",
                            filename=part.filename or "",
                            content_type=part.headers.get("Content-Type", ""),
                            data=bytes(await part.read()),
                        )
                    )
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = int(peer[1]) if peer else None
        owner = self.peer_owner(port) if self.peer_owner is not None and port else None
        return Recorded(
            peer_port=port,
            owner=owner,
            method=request.method,
            path=request.path.removeprefix(API),
            route=name,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
            at=asyncio.get_running_loop().time(),
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        rec = await self._read(request, f"{request.method} (unknown)")
        rec.status, rec.answer = 404, {"message": "404: Not Found", "code": 0}
        self.recorder.add(rec)
        return web.Response(status=404, body=json.dumps(rec.answer), content_type=JSON)

    async def _cdn(self, request: web.Request) -> web.Response:
        fault = self.cdn_fault(request.path) if self.cdn_fault is not None else None
        if isinstance(fault, asyncio.Event):
            await fault.wait()
        elif fault is not None:
            self.cdn_requests.append((request.path, fault))
            return web.Response(status=fault, text=SERVER_ERRORS.get(fault, ("", "Error"))[1])
        found = self._cdn_files.get(request.path)
        status = 200 if found is not None else 404
        self.cdn_requests.append((request.path, status))
        if found is None:
            return web.Response(status=404, text="Not Found")
        data, ctype = found
        return web.Response(body=data, headers={"Content-Type": ctype})

    def _host_upload(self, upload: UploadedFile) -> dict[str, Any]:
        return self.host_file(upload.filename, upload.data, guess_type(upload.filename))
