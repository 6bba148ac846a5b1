"""The fake's state: one application and bot, one guild with roles, members and a channel (and,
for sharding, more guilds made with `add_guild`, each with a channel of its own and the same
members), the messages in them, the registered commands and every interaction handed out. Builds
the interaction payloads a Discord client would cause, from what the bot registered and sent."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord import payloads as p
from tests.fakes.discord.messages import EPHEMERAL, LOADING, ApiError, apply_body, check_body
from tests.fakes.discord.recorder import UploadedFile

ALL_PERMISSIONS = (1 << 50) - 1
ADMINISTRATOR = 1 << 3

# Which callback types each interaction type may answer with.
_ALLOWED_CALLBACKS = {
    p.APPLICATION_COMMAND: {4, 5, 9},
    p.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    p.AUTOCOMPLETE: {8},
    p.MODAL_SUBMIT: {4, 5, 6, 7},
}


@dataclass(frozen=True)
class Person:
    user: dict[str, Any]
    roles: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return str(self.user["id"])


@dataclass
class Issued:
    """An interaction the fake sent: its token's state and the messages made through it."""

    payload: dict[str, Any]
    created: float  # loop time
    acked: int | None = None
    response: dict[str, Any] | None = None
    original_id: str | None = None
    message_ids: list[str] = field(default_factory=list)
    expired: bool = False
    sessions: list[Any] = field(default_factory=list)  # the gateway sessions it was sent on

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def kind(self) -> int:
        return int(self.payload["type"])

    @property
    def size_limit(self) -> int:
        return int(self.payload["attachment_size_limit"])

    @property
    def modal(self) -> dict[str, Any]:
        """The modal this interaction was answered with."""
        assert self.response is not None and self.response["type"] == 9, self.response
        return dict(self.response["data"])


class World:
    def __init__(self) -> None:
        self.app_id = p.snowflake()
        self.bot = p.user(self.app_id, "falbot", bot=True)
        self.guild_id = p.snowflake()
        self.channel_id = p.snowflake()
        self.guilds: dict[str, str] = {self.guild_id: "Test Guild"}  # id → name
        self.guild_channels: dict[str, str] = {self.guild_id: self.channel_id}  # its channel
        self.roles: dict[str, dict[str, Any]] = {}
        self.people: dict[str, Person] = {}
        self.outsiders: set[str] = set()  # user ids of people who are not in the guild
        self.channels: dict[str, dict[str, Any]] = {
            self.channel_id: p.text_channel(self.channel_id, self.guild_id)
        }
        self.messages: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.interactions: dict[str, Issued] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}
        self._dms: dict[str, dict[str, Any]] = {}
        self._command_ids = itertools.count(1)
        self.add_role(self.guild_id, "@everyone", permissions=p.MEMBER_PERMISSIONS, position=0)
        self.owner = self.add_person("owner")

    # people and roles

    def add_role(
        self, role_id: str | None, name: str, *, permissions: int = 0, position: int = 1
    ) -> str:
        rid = role_id or p.snowflake()
        self.roles[rid] = p.role(rid, name, permissions=permissions, position=position)
        return rid

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> str:
        """Another guild the bot is in, with a text channel; every person is a member. With
        `shard` (id, count), its id is one Discord routes to that shard: `(guild_id >> 22) %
        count == id` (the top bits of a snowflake are its time in ms since Discord's epoch)."""
        ms = int(time.time() * 1000)
        if shard is not None:
            shard_id, count = shard
            ms += (shard_id - (ms - p.DISCORD_EPOCH_MS)) % count
        guild_id, channel_id = p.snowflake(ms), p.snowflake()
        self.guilds[guild_id] = name
        self.guild_channels[guild_id] = channel_id
        self.channels[channel_id] = p.text_channel(channel_id, guild_id)
        self.add_role(guild_id, "@everyone", permissions=p.MEMBER_PERMISSIONS, position=0)
        return guild_id

    def role_id(self, name: str) -> str:
        return next(rid for rid, r in self.roles.items() if r["name"] == name)

    def add_person(self, name: str, *, roles: Sequence[str] = (), member: bool = True) -> Person:
        """Someone on Discord: a member of the guild, or (`member=False`) only able to DM."""
        person = Person(p.user(p.snowflake(), name), tuple(roles))
        self.people[name] = person
        if not member:
            self.outsiders.add(person.id)
        return person

    def member_payload(self, guild_id: str, user_id: str) -> dict[str, Any] | None:
        """GET /guilds/{guild}/members/{user}: the member, or None when not in the guild."""
        if guild_id not in self.guilds or user_id in self.outsiders:
            return None
        person = next((x for x in self.people.values() if x.id == user_id), None)
        return None if person is None else self.member_of(person, with_permissions=False)

    def permissions(self, person: Person) -> int:
        if person is self.people.get("owner"):
            return ALL_PERMISSIONS
        total = int(self.roles[self.guild_id]["permissions"])
        for rid in person.roles:
            total |= int(self.roles[rid]["permissions"])
        return ALL_PERMISSIONS if total & ADMINISTRATOR else total

    def member_of(self, person: Person, *, with_permissions: bool = True) -> dict[str, Any]:
        perms = self.permissions(person) if with_permissions else None
        return p.member(person.user, roles=person.roles, permissions=perms)

    def dm_channel(self, person: Person) -> dict[str, Any]:
        if person.id not in self._dms:
            channel = p.dm_channel(p.snowflake(), person.user)
            self._dms[person.id] = channel
            self.channels[channel["id"]] = channel
        return self._dms[person.id]

    def guild_payload(self, guild_id: str | None = None) -> dict[str, Any]:
        """GUILD_CREATE's payload: the main guild's roles are every role not another guild's
        @everyone."""
        guild_id = guild_id or self.guild_id
        others = set(self.guilds) - {guild_id}
        if guild_id == self.guild_id:
            roles = [r for rid, r in self.roles.items() if rid not in others]
        else:
            roles = [self.roles[guild_id]]
        return p.guild(
            guild_id,
            self.guilds[guild_id],
            owner_id=self.people["owner"].id,
            channels=[c for c in self.channels.values() if c.get("guild_id") == guild_id],
            roles=roles,
            members=[p.member(self.bot)],
        )

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": self.app_id,
            "name": "falbot",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": p.user(self.people["owner"].id, "owner"),
            "verify_key": "0" * 64,
            "flags": 1 << 19,
            "team": None,
            "summary": "",
            "bot": self.bot,
        }

    # application commands

    def register_commands(
        self, commands: Sequence[Mapping[str, Any]], *, guild_id: str | None
    ) -> list[dict[str, Any]]:
        stored = []
        for cmd in commands:
            if len(cmd.get("name", "")) > 32 or len(cmd.get("description", "")) > 100:
                raise ApiError(400, 50035, "Invalid Form Body")
            entry: dict[str, Any] = {
                "description": "",
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                "integration_types": [0],
                "contexts": None,
            }
            entry.update({k: v for k, v in cmd.items() if v is not None})
            entry.update(
                id=p.snowflake(),
                application_id=self.app_id,
                version=p.snowflake(),
                type=cmd.get("type", p.CHAT_INPUT),
            )
            if guild_id is not None:
                entry["guild_id"] = guild_id
            stored.append(entry)
        self.commands[guild_id] = stored
        return stored

    def command(self, name: str, kind: int = p.CHAT_INPUT) -> dict[str, Any]:
        """A registered command (guild commands first, as Discord shows them)."""
        scopes = self.commands
        for scope in (self.guild_id, None):
            for cmd in scopes.get(scope, []):
                if cmd["name"] == name and cmd["type"] == kind:
                    return dict(cmd)
        raise AssertionError(f"command {name!r} (type {kind}) is not registered")

    # interaction payloads

    def _interaction(
        self,
        person: Person,
        kind: int,
        data: Mapping[str, Any] | None,
        *,
        dm: bool = False,
        message: Mapping[str, Any] | None = None,
        size_limit: int = 10 * 1024 * 1024,
        guild: str | None = None,
    ) -> dict[str, Any]:
        guild = guild or self.guild_id
        channel = self.dm_channel(person) if dm else self.channels[self.guild_channels[guild]]
        return p.interaction(
            kind=kind,
            application_id=self.app_id,
            data=data,
            channel=channel,
            guild_id=None if dm else guild,
            member_data=None if dm else self.member_of(person),
            user_data=person.user if dm else None,
            message_data=message,
            attachment_size_limit=size_limit,
        )

    def slash(
        self,
        person: Person,
        name: str,
        options: Sequence[Mapping[str, Any]] = (),
        *,
        attachments: Sequence[Mapping[str, Any]] = (),
        dm: bool = False,
        size_limit: int = 10 * 1024 * 1024,
        autocomplete: bool = False,
        resolved: Mapping[str, Any] | None = None,
        guild: str | None = None,
    ) -> dict[str, Any]:
        """`name` used by `person` in the main guild's channel, in `guild`'s, or in a DM."""
        cmd = self.command(name)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": name,
            "type": p.CHAT_INPUT,
            "options": [dict(o) for o in options],
        }
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        if attachments or resolved:
            data["resolved"] = dict(resolved or {})
        if attachments:
            data["resolved"]["attachments"] = {a["id"]: dict(a) for a in attachments}
        kind = p.AUTOCOMPLETE if autocomplete else p.APPLICATION_COMMAND
        return self._interaction(person, kind, data, dm=dm, size_limit=size_limit, guild=guild)

    def resolved_member(self, person: Person) -> dict[str, Any]:
        """The `resolved` part of an interaction naming a member in an option."""
        member = self.member_of(person)
        member.pop("user")
        return {"users": {person.id: person.user}, "members": {person.id: member}}

    def resolved_role(self, role_id: str) -> dict[str, Any]:
        return {"roles": {role_id: self.roles[role_id]}}

    def message_command(
        self, person: Person, name: str, target: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A message context menu on `target` (its content is always resolved)."""
        cmd = self.command(name, p.MESSAGE_COMMAND)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": name,
            "type": p.MESSAGE_COMMAND,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: dict(target)}},
        }
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        return self._interaction(person, p.APPLICATION_COMMAND, data)

    def click(self, person: Person, message: Mapping[str, Any], custom_id: str) -> dict[str, Any]:
        """A button press on `message`; `custom_id` must be on one of its buttons."""
        ids = [
            c.get("custom_id")
            for row in message.get("components", [])
            for c in row.get("components", [])
        ]
        assert custom_id in ids, f"{custom_id!r} is not a button of the message: {ids}"
        data = {"custom_id": custom_id, "component_type": 2}
        dm = not message.get("guild_id")
        return self._interaction(person, p.MESSAGE_COMPONENT, data, dm=dm, message=message)

    def choose(
        self, person: Person, message: Mapping[str, Any], custom_id: str, values: Sequence[str]
    ) -> dict[str, Any]:
        """A select menu on `message` answered with `values` (each one of its options)."""
        menus = [c for row in message.get("components", []) for c in row.get("components", [])]
        menu = next((c for c in menus if c.get("custom_id") == custom_id), None)
        assert menu is not None and menu["type"] == 3, f"{custom_id!r} is not a select menu"
        offered = [o["value"] for o in menu["options"]]
        assert all(v in offered for v in values), f"{values} not among {offered}"
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        dm = not message.get("guild_id")
        return self._interaction(person, p.MESSAGE_COMPONENT, data, dm=dm, message=message)

    def modal_submit(
        self,
        person: Person,
        answered: Issued,
        values: Mapping[str, str],
    ) -> dict[str, Any]:
        """Submit the modal `answered` was answered with; text inputs take `values` by custom_id."""
        modal = answered.modal
        components = [_filled(c, values) for c in modal["components"]]
        data = {"custom_id": modal["custom_id"], "components": components}
        message = answered.payload.get("message")
        dm = "guild_id" not in answered.payload
        return self._interaction(person, p.MODAL_SUBMIT, data, dm=dm, message=message)

    def button_ids(self, message: Mapping[str, Any]) -> dict[str, str]:
        """label (or, without one, emoji) → custom_id of the buttons and menus on a message."""
        return {
            c.get("label") or (c.get("emoji") or {}).get("name") or c.get("placeholder", ""): (
                c.get("custom_id", "")
            )
            for row in message.get("components", [])
            for c in row.get("components", [])
        }

    # interaction callbacks and their messages

    def respond(
        self, issued: Issued, rtype: int, data: Mapping[str, Any], files: list[UploadedFile]
    ) -> dict[str, Any] | None:
        """Apply an interaction callback; the message it made or changed, if any."""
        if rtype not in _ALLOWED_CALLBACKS.get(issued.kind, set()):
            raise ApiError(400, 50035, "Invalid Form Body: interaction response type")
        if rtype == 4:
            check_body(data, files, issued.size_limit)
            msg = self.new_interaction_message(issued, flags=int(data.get("flags") or 0))
            apply_body(msg, data, files, self._host_upload, editing=False)
            return self._keep(issued, msg)
        if rtype == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            return self._keep(issued, self.new_interaction_message(issued, flags=flags))
        if rtype in (6, 7):
            source = issued.payload.get("message")
            if source is None or source["id"] not in self.messages:
                raise ApiError(404, 10008, "Unknown Message")
            msg = self.messages[source["id"]]
            if rtype == 7:
                check_body(data, files, issued.size_limit)
                apply_body(msg, data, files, self._host_upload, editing=True)
            issued.original_id = msg["id"]
            issued.message_ids.append(msg["id"])
            return None
        if rtype == 8:
            if len(data.get("choices") or []) > 25:
                raise ApiError(400, 50035, "Invalid Form Body: choices")
            return None
        if len(data.get("title") or "") > 45 or not 1 <= len(data.get("components") or []) <= 5:
            raise ApiError(400, 50035, "Invalid Form Body: modal")
        return None

    def _keep(self, issued: Issued, msg: dict[str, Any]) -> dict[str, Any]:
        self.messages[msg["id"]] = msg
        issued.original_id = msg["id"]
        issued.message_ids.append(msg["id"])
        return msg

    def new_interaction_message(self, issued: Issued, *, flags: int) -> dict[str, Any]:
        payload = issued.payload
        who = payload["member"]["user"] if "member" in payload else payload["user"]
        metadata: dict[str, Any] = {
            "id": issued.id,
            "type": issued.kind,
            "user": who,
            "authorizing_integration_owners": payload["authorizing_integration_owners"],
        }
        if issued.kind == p.MESSAGE_COMPONENT:
            metadata["interacted_message_id"] = payload["message"]["id"]
        msg_type = 0
        if issued.kind == p.APPLICATION_COMMAND:
            msg_type = 20 if payload["data"]["type"] == p.CHAT_INPUT else 23
        msg = p.message(
            message_id=p.snowflake(),
            channel_id=payload["channel_id"],
            author=self.bot,
            guild_id=payload.get("guild_id"),
            flags=flags,
            extra={
                "webhook_id": self.app_id,
                "application_id": self.app_id,
                "interaction_metadata": metadata,
            },
        )
        msg["type"] = msg_type
        return msg

    def visible(self, msg: Mapping[str, Any], intents: int) -> dict[str, Any]:
        """`msg` as a client with `intents` sees it (Discord blanks user content without the
        message-content intent, except in DMs, its own messages and messages mentioning it)."""
        shown = copy.deepcopy(dict(msg))
        if shown.get("referenced_message"):
            shown["referenced_message"] = self.visible(shown["referenced_message"], intents)
        if intents & p.INTENT_MESSAGE_CONTENT or not shown.get("guild_id"):
            return shown
        bot_id = self.bot["id"]
        if shown["author"]["id"] == bot_id or any(m["id"] == bot_id for m in shown["mentions"]):
            return shown
        shown.update(content="", embeds=[], attachments=[], components=[])
        shown.pop("poll", None)
        return shown

    def _host_upload(self, upload: UploadedFile) -> dict[str, Any]:
        raise NotImplementedError

    def original(self, issued: Issued) -> dict[str, Any]:
        """The interaction's original response message as it stands."""
        assert issued.original_id is not None, "the interaction has no original response"
        return self.messages[issued.original_id]


def _filled(component: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    if component["type"] == 1:
        return {"type": 1, "components": [_filled(c, values) for c in component["components"]]}
    if component["type"] == 18:  # a label around one input
        return {"type": 18, "component": _filled(component["component"], values)}
    out = {"type": component["type"], "custom_id": component["custom_id"]}
    if component["type"] == 4:
        out["value"] = values.get(component["custom_id"], component.get("value") or "")
    if "id" in component:
        out["id"] = component["id"]
    return out
