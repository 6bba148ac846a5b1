"""The fake's REST routes: what Discord's API answers to login, application commands,
interaction callbacks and webhooks, and channel messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tests.fakes.discord import payloads as p
from tests.fakes.discord.gateway import GatewaySession
from tests.fakes.discord.messages import ApiError, apply_body, check_body
from tests.fakes.discord.recorder import Recorded
from tests.fakes.discord.world import Issued, World

API = "/api/v10"
GUILD_FILE_LIMIT = 10 * 1024 * 1024
JSON = "application/json"

Handler = Callable[[Recorded, Mapping[str, str]], Awaitable[tuple[int, Any]]]


class RestApi(World):
    """Route handlers on the world's state; `FakeDiscord` serves them and the gateway."""

    sessions: list[GatewaySession]
    gateway_url: str
    shards: int
    max_concurrency: int
    callback_window: float
    token_lifetime: float

    async def _dispatch(self, event: str, data: Mapping[str, Any]) -> list[GatewaySession]:
        raise NotImplementedError

    def _routes(self) -> list[tuple[str, str, str, Handler, bool]]:
        app = "/applications/{app}"
        hook = "/webhooks/{app}/{token}"
        return [
            ("GET", "/users/@me", "GET /users/@me", self._me, True),
            ("POST", "/users/@me/channels", "POST /users/@me/channels", self._open_dm, True),
            ("GET", "/oauth2/applications/@me", "GET /oauth2/applications/@me", self._app, True),
            ("GET", "/gateway/bot", "GET /gateway/bot", self._gateway_bot, True),
            ("GET", "/gateway", "GET /gateway", self._gateway_info, False),
            ("GET", app + "/commands", "GET /applications/{id}/commands", self._commands, True),
            ("PUT", app + "/commands", "PUT /applications/{id}/commands", self._put_cmds, True),
            (
                "GET",
                app + "/guilds/{guild}/commands",
                "GET /applications/{id}/guilds/{guild.id}/commands",
                self._commands,
                True,
            ),
            (
                "PUT",
                app + "/guilds/{guild}/commands",
                "PUT /applications/{id}/guilds/{guild.id}/commands",
                self._put_cmds,
                True,
            ),
            (
                "POST",
                "/interactions/{id}/{token}/callback",
                "POST /interactions/{id}/{token}/callback",
                self._callback,
                False,
            ),
            ("POST", hook, "POST /webhooks/{app}/{token}", self._followup, False),
            (
                "GET",
                hook + "/messages/{message}",
                "GET /webhooks/{app}/{token}/messages/{message}",
                self._hook_get,
                False,
            ),
            (
                "PATCH",
                hook + "/messages/{message}",
                "PATCH /webhooks/{app}/{token}/messages/{message}",
                self._hook_edit,
                False,
            ),
            (
                "DELETE",
                hook + "/messages/{message}",
                "DELETE /webhooks/{app}/{token}/messages/{message}",
                self._hook_delete,
                False,
            ),
            ("GET", "/channels/{channel}", "GET /channels/{channel}", self._get_channel, True),
            (
                "GET",
                "/guilds/{guild}/members/{user}",
                "GET /guilds/{guild}/members/{user}",
                self._get_member,
                True,
            ),
            (
                "POST",
                "/channels/{channel}/messages",
                "POST /channels/{channel}/messages",
                self._channel_post,
                True,
            ),
            (
                "GET",
                "/channels/{channel}/messages/{message}",
                "GET /channels/{channel}/messages/{message}",
                self._channel_get,
                True,
            ),
            (
                "PATCH",
                "/channels/{channel}/messages/{message}",
                "PATCH /channels/{channel}/messages/{message}",
                self._channel_edit,
                True,
            ),
            (
                "DELETE",
                "/channels/{channel}/messages/{message}",
                "DELETE /channels/{channel}/messages/{message}",
                self._channel_delete,
                True,
            ),
        ]

    async def _me(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        return 200, self.bot

    async def _app(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        return 200, self.application_payload()

    async def _gateway_bot(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        limit = {
            "total": 1000,
            "remaining": 999,
            "reset_after": 0,
            "max_concurrency": self.max_concurrency,
        }
        return 200, {"url": self.gateway_url, "shards": self.shards, "session_start_limit": limit}

    async def _gateway_info(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _commands(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        self._check_app(m)
        return 200, self.commands.get(m.get("guild"), [])

    async def _put_cmds(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        self._check_app(m)
        return 200, self.register_commands(rec.json or [], guild_id=m.get("guild"))

    def _check_app(self, m: Mapping[str, str]) -> None:
        if m["app"] != self.app_id:
            raise ApiError(403, 50001, "Missing Access")

    async def _callback(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        issued = self.interactions.get(m["id"])
        loop_now = asyncio.get_running_loop().time()
        if issued is None or issued.token != m["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if issued.acked is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if loop_now - issued.created > self.callback_window:
            raise ApiError(404, 10062, "Unknown interaction")
        body = rec.json or {}
        rtype = int(body.get("type", 0))
        data = body.get("data") or {}
        message = self.respond(issued, rtype, data, rec.files)
        issued.acked = rtype
        issued.response = body
        if message is not None and not message["flags"] & 64:
            await self._dispatch("MESSAGE_CREATE", message)
        if rec.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        answer: dict[str, Any] = {"interaction": {"id": issued.id, "type": issued.kind}}
        if message is not None:
            answer["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=bool(message["flags"] & 128),
                response_message_ephemeral=bool(message["flags"] & 64),
            )
            answer["resource"] = {"type": rtype, "message": message}
        return 200, answer

    def _issued_for_hook(self, m: Mapping[str, str]) -> Issued:
        issued = next(
            (i for i in self.interactions.values() if i.token == m["token"]),
            None,
        )
        if issued is None or m["app"] != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        alive = asyncio.get_running_loop().time() - issued.created < self.token_lifetime
        if issued.expired or not alive:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if issued.acked is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        return issued

    def _hook_message(self, issued: Issued, message_id: str) -> dict[str, Any]:
        wanted = issued.original_id if message_id == "@original" else message_id
        if wanted is None or wanted not in issued.message_ids or wanted not in self.messages:
            raise ApiError(404, 10008, "Unknown Message")
        return self.messages[wanted]

    async def _followup(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        issued = self._issued_for_hook(m)
        body = rec.json or {}
        check_body(body, rec.files, issued.size_limit)
        msg = self.new_interaction_message(issued, flags=int(body.get("flags") or 0))
        apply_body(msg, body, rec.files, self._host_upload, editing=False)
        issued.message_ids.append(msg["id"])
        self.messages[msg["id"]] = msg
        if not msg["flags"] & 64:
            await self._dispatch("MESSAGE_CREATE", msg)
        if rec.query.get("wait") in ("1", "true", "True"):
            return 200, msg
        return 204, None

    async def _hook_get(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        issued = self._issued_for_hook(m)
        return 200, self._hook_message(issued, m["message"])

    async def _hook_edit(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        issued = self._issued_for_hook(m)
        msg = self._hook_message(issued, m["message"])
        body = rec.json or {}
        check_body(body, rec.files, issued.size_limit)
        apply_body(msg, body, rec.files, self._host_upload, editing=True)
        msg.setdefault("edits", 0)
        if not msg["flags"] & 64:
            await self._dispatch("MESSAGE_UPDATE", msg)
        return 200, msg

    async def _hook_delete(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        issued = self._issued_for_hook(m)
        msg = self._hook_message(issued, m["message"])
        await self._delete(msg)
        return 204, None

    async def _delete(self, msg: Mapping[str, Any]) -> None:
        self.messages.pop(msg["id"], None)
        self.deleted.add(msg["id"])
        if not msg["flags"] & 64:
            event = {"id": msg["id"], "channel_id": msg["channel_id"]}
            if msg.get("guild_id"):
                event["guild_id"] = msg["guild_id"]
            await self._dispatch("MESSAGE_DELETE", event)

    def _channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    async def _open_dm(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        """Create DM: the DM channel with `recipient_id` (the same one each time)."""
        recipient = str((rec.json or {}).get("recipient_id", ""))
        person = next((x for x in self.people.values() if x.id == recipient), None)
        if person is None:
            raise ApiError(400, 50007, "Cannot send messages to this user")
        return 200, self.dm_channel(person)

    async def _get_member(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        """Get Guild Member: the member object; 10004 Unknown Guild, or 10007 Unknown Member for
        someone who is not in it (`add_person(member=False)`)."""
        if m["guild"] not in self.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        member = self.member_payload(m["guild"], m["user"])
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member

    async def _get_channel(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        return 200, self._channel(m["channel"])

    def _channel_message(self, m: Mapping[str, str]) -> dict[str, Any]:
        self._channel(m["channel"])
        msg = self.messages.get(m["message"])
        if msg is None or msg["channel_id"] != m["channel"]:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    async def _channel_post(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        channel = self._channel(m["channel"])
        body = rec.json or {}
        check_body(body, rec.files, GUILD_FILE_LIMIT)
        if not any((body.get("content"), body.get("embeds"), body.get("components"), rec.files)):
            raise ApiError(400, 50006, "Cannot send an empty message")
        msg = p.message(
            message_id=p.snowflake(),
            channel_id=channel["id"],
            author=self.bot,
            guild_id=channel.get("guild_id"),
            referenced=self._reference(body.get("message_reference")),
        )
        apply_body(msg, body, rec.files, self._host_upload, editing=False)
        self.messages[msg["id"]] = msg
        await self._dispatch("MESSAGE_CREATE", msg)
        return 200, msg

    def _reference(self, ref: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not ref:
            return None
        target = self.messages.get(str(ref.get("message_id")))
        if target is None:
            raise ApiError(400, 50035, "Invalid Form Body")
        return target

    async def _channel_get(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        msg = self._channel_message(m)
        intents = self.sessions[-1].intents if self.sessions else 0
        return 200, self.visible(msg, intents)

    async def _channel_edit(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        msg = self._channel_message(m)
        if msg["author"]["id"] != self.bot["id"]:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body = rec.json or {}
        check_body(body, rec.files, GUILD_FILE_LIMIT)
        apply_body(msg, body, rec.files, self._host_upload, editing=True)
        await self._dispatch("MESSAGE_UPDATE", msg)
        return 200, msg

    async def _channel_delete(self, rec: Recorded, m: Mapping[str, str]) -> tuple[int, Any]:
        msg = self._channel_message(m)
        if msg["author"]["id"] != self.bot["id"]:
            raise ApiError(403, 50013, "Missing Permissions")
        await self._delete(msg)
        return 204, None


def guess_type(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "gif": "image/gif",
        "mp4": "video/mp4",
    }.get(ext, "application/octet-stream")
