"""A loopback fake of the Slack Web API, Slack's private file host and Socket Mode.

It speaks the wire protocol slack_sdk speaks (`/api/{method}` with the bot token as a Bearer
header, form, query or JSON arguments, `{"ok": ...}` answers), keeps just enough state to answer
like Slack (messages per channel, threads, files, uploads), records every call, and lets a test
wait on a recorded call instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to your workspace</h1></body></html>"
)


@dataclass
class Call:
    """One request the fake answered: a Web API method, an upload, a response_url post, an ack."""

    method: str
    params: dict[str, Any]
    headers: Mapping[str, str]
    status: int = 200
    answer: dict[str, Any] = field(default_factory=dict)
    # the loop's monotonic time when it was answered
    at: float = field(default_factory=lambda: asyncio.get_running_loop().time())


@dataclass
class HostedFile:
    id: str
    name: str
    mimetype: str
    data: bytes
    served_type: str
    login_only: bool = False  # as if the app lacked files:read: always the login page
    redirect_to: str | None = None  # answered with a 302 to this URL (a file moved to a CDN)
    public: bool = False  # served without the bot token (a CDN link a redirect points at)

    def info(self, base: str, team_id: str) -> dict[str, Any]:
        url = f"{base}/files-pri/{team_id}-{self.id}/{self.name}"
        return {
            "id": self.id,
            "name": self.name,
            "title": self.name,
            "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1],
            "size": len(self.data),
            "url_private": url,
            "url_private_download": f"{base}/files-pri/{team_id}-{self.id}/download/{self.name}",
        }


class FakeSlack:
    """Start with `await fake.start()`, stop with `await fake.close()`."""

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str | None = None,
        team_id: str = "T0001",
        team_name: str = "Fake Team",
        bot_user_id: str = "UBOT",
        bot_id: str = "B0001",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, HostedFile] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.views: list[dict[str, Any]] = []
        self.homes: dict[str, dict[str, Any]] = {}  # the App Home tab published per user
        self._failures: dict[str, list[tuple[int, int]]] = {}
        # A Slack outage: called with each Web API call's method and arguments; a status it
        # returns (a 5xx, say) answers that call instead. None: Slack works.
        self.outage: Callable[[str, dict[str, Any]], int | None] | None = None
        self._held: dict[str, asyncio.Event] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: set[web.WebSocketResponse] = set()
        self._socket_connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{key}/{name}", self._private_file)
        app.router.add_get("/files-pri/{key}/download/{name}", self._private_file)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for gate in self._held.values():
            gate.set()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    @property
    def host(self) -> str:
        """What the bot's media-host allow list must contain to fetch this fake's files."""
        return f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ test set-up

    def add_user(
        self, user_id: str, *, name: str = "", is_admin: bool = False, is_owner: bool = False
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name or user_id.lower(),
            "real_name": name or user_id,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_bot": False,
            "profile": {"display_name": name or user_id},
        }

    def add_file(
        self,
        data: bytes,
        *,
        name: str,
        mimetype: str,
        served_type: str | None = None,
        login_only: bool = False,
        redirect_to: str | None = None,
        public: bool = False,
    ) -> dict[str, Any]:
        """Host a private file; returns its Slack file object (as in a message's `files`).
        `redirect_to`: answer its download with a redirect there; `public`: serve it to anyone."""
        file = HostedFile(
            id=f"F{next(self._ids):06d}",
            name=name,
            mimetype=mimetype,
            data=data,
            served_type=served_type or mimetype,
            login_only=login_only,
            redirect_to=redirect_to,
            public=public,
        )
        self.files[file.id] = file
        return file.info(self.base, self.team_id)

    def add_message(
        self,
        channel: str,
        *,
        user: str,
        text: str = "",
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": self._new_ts(),
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        if files:
            message["files"] = files
        self.messages.setdefault(channel, []).append(message)
        return message

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 0) -> None:
        """Answer the next `times` calls of `method` with 429 and `Retry-After`."""
        self._failures.setdefault(method, []).extend([(429, retry_after)] * times)

    def hold(self, method: str) -> asyncio.Event:
        """Calls to `method` wait (recorded as `held:<method>`) until the returned gate is set."""
        gate = self._held[method] = asyncio.Event()
        return gate

    def response_url(self) -> str:
        return f"{self.base}/response/{uuid.uuid4().hex}"

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [
            m for m in self.messages.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts
        ]

    # ------------------------------------------------------------------ waiting

    def calls_to(self, method: str, status: int | None = 200) -> list[Call]:
        return [
            c for c in self.calls if c.method == method and (status is None or c.status == status)
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 5.0,
        count: int = 1,
        status: int | None = 200,
    ) -> Call:
        """The `count`-th call to `method` matching `predicate`, waiting up to `timeout`."""

        def matches() -> list[Call]:
            return [c for c in self.calls_to(method, status) if predicate is None or predicate(c)]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matches()) >= count)
        except TimeoutError:
            seen = ", ".join(f"{c.method}:{c.status}" for c in self.calls) or "nothing"
            raise AssertionError(
                f"no {count} call(s) to {method} within {timeout} s; saw {seen}"
            ) from None
        return matches()[count - 1]

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------------------ Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        headers = dict(request.headers)
        gate = self._held.get(method)
        if gate is not None and not gate.is_set():
            await self._record(Call(f"held:{method}", params, headers))
            await gate.wait()
        down = self.outage(method, params) if self.outage is not None else None
        if down is not None:
            body = {"ok": False, "error": "internal_error"}
            await self._record(Call(method, params, headers, down, body))
            return web.json_response(body, status=down)
        failures = self._failures.get(method)
        if failures:
            status, retry_after = failures.pop(0)
            body = {"ok": False, "error": "ratelimited"}
            await self._record(Call(method, params, headers, status, body))
            return web.json_response(body, status=status, headers={"Retry-After": str(retry_after)})
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(params.get("token", ""))
        if not expected or token != expected:
            body = {"ok": False, "error": "invalid_auth"}
        else:
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            body = handler(params) if handler else {"ok": False, "error": "unknown_method"}
        await self._record(Call(method, params, headers, 200, body))
        return web.json_response(body)

    def _new_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _m_auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": self.team_name,
            "user": "falbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4().hex}"}

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": params.get("text", ""),
            "ts": self._new_ts(),
        }
        blocks = params.get("blocks")
        if blocks:
            message["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        return message

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel.startswith("CNOTIN"):
            return {"ok": False, "error": "not_in_channel"}
        message = self._bot_message(params)
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        message = self.message(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message["text"] = params.get("text", "")
        blocks = params.get("blocks")
        message["blocks"] = json.loads(blocks) if isinstance(blocks, str) else (blocks or [])
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        message = self.message(channel, ts)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        self.messages[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": ts}

    def _m_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("message_ts", "")
        if self.message(channel, ts) is None:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": self._new_ts()}

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        thread = self.thread(channel, ts)
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        limit = int(params.get("limit", 1000))
        return {"ok": True, "messages": thread[:limit], "has_more": len(thread) > limit}

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = str(params.get("users", ""))
        if not users or any(u not in self.users for u in users.split(",")):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + users.replace(",", "")[:10]}}

    def _m_team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        team = str(params.get("team") or self.team_id)
        if team != self.team_id:
            return {"ok": False, "error": "team_not_found"}
        domain = self.team_name.lower().replace(" ", "-")
        return {
            "ok": True,
            "team": {"id": self.team_id, "name": self.team_name, "domain": domain},
        }

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        view["id"] = f"V{next(self._ids):06d}"
        self.views.append(view)
        return {"ok": True, "view": view}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = str(params.get("user_id", ""))
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        if view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        view["id"] = f"V{next(self._ids):06d}"
        self.homes[user_id] = view
        return {"ok": True, "view": view}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):06d}"
        self.uploads[file_id] = {
            "filename": params["filename"],
            "length": int(params["length"]),
            "data": None,
            "shared": False,
        }
        return {"ok": True, "upload_url": f"{self.base}/upload/v1/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(params.get("files", "[]"))
        out = []
        for f in files:
            upload = self.uploads.get(f.get("id", ""))
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            upload.update(
                shared=True,
                title=f.get("title"),
                channel=params.get("channel_id"),
                thread_ts=params.get("thread_ts"),
                initial_comment=params.get("initial_comment"),
            )
            hosted = HostedFile(
                id=f["id"],
                name=upload["filename"],
                mimetype=_guess_type(upload["filename"]),
                data=upload["data"],
                served_type=_guess_type(upload["filename"]),
            )
            self.files[hosted.id] = hosted
            out.append({**hosted.info(self.base, self.team_id), "title": f.get("title")})
        channel = params.get("channel_id")
        if channel:
            message = self._bot_message(
                {"text": params.get("initial_comment", ""), "thread_ts": params.get("thread_ts")}
            )
            message["files"] = out
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "files": out}

    def _m_files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(str(params.get("file", "")))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": file.info(self.base, self.team_id)}

    def _m_files_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file", "")
        if self.files.pop(file_id, None) is None:
            return {"ok": False, "error": "file_not_found"}
        for messages in self.messages.values():
            for m in list(messages):
                if any(f["id"] == file_id for f in m.get("files", [])):
                    messages.remove(m)
        return {"ok": True}

    # ------------------------------------------------------------------ files and uploads

    async def _private_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["key"].split("-", 1)[-1]
        file = self.files.get(file_id)
        authorised = request.headers.get("Authorization") == f"Bearer {self.bot_token}"
        await self._record(
            Call(
                "files.download", {"file": file_id, "authorised": authorised}, dict(request.headers)
            )
        )
        if file is None:
            return web.Response(status=404, text="file not found")
        if file.redirect_to is not None:
            raise web.HTTPFound(file.redirect_to)
        if file.public:
            return web.Response(body=file.data, content_type=file.served_type)
        if not authorised or file.login_only:
            # What Slack does for a private file fetched without the bot token.
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        return web.Response(body=file.data, content_type=file.served_type)

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        await self._record(
            Call("files.upload_url", {"file_id": file_id, "size": len(data)}, dict(request.headers))
        )
        upload = self.uploads.get(file_id)
        if upload is None:
            return web.Response(status=404, text="no such upload")
        upload["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self._record(
            Call("response_url", body, dict(request.headers), answer={"url": str(request.url)})
        )
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0001"},
            }
        )
        self._socket_connected.set()
        await self._record(Call("socket.connect", {}, dict(request.headers)))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    await self._record(Call("socket.ack", data, {}))
        finally:
            self._sockets.discard(ws)
        return ws

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection, as Slack does now and then."""
        for ws in list(self._sockets):
            await ws.close()

    async def wait_socket_connected(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            await self._socket_connected.wait()

    async def socket_send(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0
    ) -> str:
        """Push one envelope (`events_api`, `slash_commands` or `interactive`); returns its id."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        for ws in list(self._sockets):
            await ws.send_json(envelope)
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> Call:
        return await self.wait_for(
            "socket.ack", lambda c: c.params.get("envelope_id") == envelope_id, timeout=timeout
        )


def _guess_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "gif": "image/gif",
        "mp4": "video/mp4",
    }.get(ext, "application/octet-stream")
