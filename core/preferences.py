"""/settings: a person's defaults for their next jobs (image model, aspect, count, remix mode,
private mode), over their workspace's defaults (set by admins), over falbot's own.

Kept in the store's key/value facts (`Store.state_value`), one JSON object per user and one per
workspace, so no table is needed. A default fills only what a command leaves out, and only for
the person (or workspace) it belongs to: a changed default applies to that person's next job
and to nobody else's."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args

from core.commands import Generate
from core.errors import invalid, not_allowed
from core.jobs import Actor, Job, JobKind
from core.live_catalog import LiveCatalog
from core.model_inputs import ImageAspect
from core.ports import Store

log = logging.getLogger(__name__)

Scope = Literal["user", "workspace"]
Field = Literal["model", "aspect_ratio", "num_images", "remix", "private"]
FIELDS: tuple[Field, ...] = get_args(Field)
ASPECTS: tuple[str, ...] = get_args(ImageAspect)
COUNTS = (1, 2, 3, 4)
# The verbs that open a modal with the prompt first when remix mode is on (the Midjourney
# habit): each makes the job again, so the prompt is the thing worth changing. A family
# covers its variants (`vary_strong`, `pan_left`, `zoom_1.5`).
REMIX_FAMILIES = ("rerun", "vary", "pan", "zoom")


@dataclass(frozen=True)
class Preferences:
    """Defaults; None is "not set here" (the next level down decides)."""

    model: str | None = None  # an image model's name
    aspect_ratio: str | None = None
    num_images: int | None = None
    remix: bool | None = None
    private: bool | None = None

    def over(self, below: Preferences) -> Preferences:
        """These, with what they leave unset taken from `below`."""
        return replace(below, **self._set())

    def to_json(self) -> str:
        return json.dumps(self._set())

    def _set(self) -> dict[str, Any]:
        # Every field is a scalar: no need for `asdict`'s recursive deep copy.
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: value for name, value in values if value is not None}

    @classmethod
    def from_json(cls, text: str | None) -> Preferences:
        """What was stored; anything unreadable counts as nothing set (and is logged)."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in dict(data).items() if k in known})
        except (ValueError, TypeError):
            log.warning("stored preferences could not be read; using none")
            return cls()


@dataclass(frozen=True)
class Settings:
    """What /settings shows: the person's own, the workspace's, and the two merged."""

    own: Preferences
    workspace: Preferences
    default_model: str  # falbot's own image default, under both

    @property
    def effective(self) -> Preferences:
        """What the person's next job gets: theirs, else the workspace's, else falbot's."""
        return self.own.over(self.shown("workspace"))

    def shown(self, scope: Scope) -> Preferences:
        """The values a panel for `scope` shows (a workspace's: its own over falbot's)."""
        if scope == "user":
            return self.effective
        return self.workspace.over(Preferences(self.default_model, "1:1", 1, False, False))

    def source(self, name: Field, *, scope: Scope = "user") -> str:
        """Where a value shown comes from: `yours`, `workspace default`, `falbot default`."""
        if scope == "user" and getattr(self.own, name) is not None:
            return "yours"
        if getattr(self.workspace, name) is not None:
            return "workspace default"
        return "falbot default"


def _key(workspace_id: str, user_id: str | None) -> str:
    return f"prefs:{workspace_id}:{user_id}" if user_id else f"prefs:{workspace_id}:*"


class PreferenceBook:
    """Reads and changes people's and workspaces' defaults, and applies them to commands."""

    def __init__(self, *, store: Store, models: LiveCatalog) -> None:
        self._store = store
        self._models = models

    async def _read(self, workspace_id: str, user_id: str | None) -> Preferences:
        return Preferences.from_json(await self._store.state_value(_key(workspace_id, user_id)))

    async def settings(self, actor: Actor) -> Settings:
        own, workspace = await _own_and_workspace(self._store, actor)
        return Settings(
            own=own,
            workspace=workspace,
            default_model=self._models.default_for(JobKind.IMAGE).name,
        )

    async def effective(self, actor: Actor) -> Preferences:
        return (await self.settings(actor)).effective

    async def change(
        self, actor: Actor, changes: Mapping[str, object], *, scope: Scope = "user"
    ) -> Settings:
        """Set defaults (a value None clears one) for the actor, or (admins) the workspace;
        every value is checked before any is kept."""
        user = self._owner(actor, scope)
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            field = check_field(name)
            checked[field] = None if value is None else await self._checked(actor, field, value)
        current = await self._read(actor.workspace_id, user)
        changed = replace(current, **checked)
        await self._store.set_state_value(_key(actor.workspace_id, user), changed.to_json())
        return await self.settings(actor)

    async def reset(self, actor: Actor, *, scope: Scope = "user") -> Settings:
        """Forget every default of the actor (or, admins, of the workspace)."""
        user = self._owner(actor, scope)
        await self._store.set_state_value(_key(actor.workspace_id, user), Preferences().to_json())
        return await self.settings(actor)

    def check_scope(self, actor: Actor, scope: Scope) -> None:
        """Refuse a workspace panel to someone who is not an admin (before it is shown)."""
        self._owner(actor, scope)

    def _owner(self, actor: Actor, scope: Scope) -> str | None:
        if scope == "workspace":
            if not actor.is_admin:
                raise not_allowed(
                    "Only falbot admins can change the workspace's defaults.",
                    "Your own settings are yours to change: /settings.",
                )
            return None
        return actor.user_id

    async def _checked(self, actor: Actor, field: Field, value: object) -> object:
        if field == "model":
            spec = self._models.for_kind(JobKind.IMAGE, str(value))
            if spec.name in (await self._store.policy(actor.workspace_id)).denied_models:
                raise not_allowed(f"{spec.name} is not allowed in this workspace.", "See /models.")
            return spec.name
        if field == "aspect_ratio":
            if str(value) not in ASPECTS:
                raise invalid(
                    f"`{str(value)[:20]}` is not an aspect.", f"One of {', '.join(ASPECTS)}."
                )
            return str(value)
        if field == "num_images":
            count = _whole(value)
            if count not in COUNTS:
                raise invalid("The count is 1 to 4 images.")
            return count
        return _yes_no(value)

    async def apply(self, command: Generate, actor: Actor) -> Generate:
        """`command` with the actor's defaults filled in where it leaves them out: an image
        job's model, aspect and count. Other kinds, and what the person typed, are untouched;
        a person is never refused over a model they did not name."""
        if command.kind is not JobKind.IMAGE:
            return command
        settings = await self.settings(actor)
        prefs = settings.own.over(settings.workspace)  # set by someone: the model fills the rest
        model = command.model
        if not model and prefs.model:
            # A default the catalog no longer has, or the workspace has since denied, is
            # skipped: the kind's default runs.
            known = {s.name for s in self._models.all() if s.kind is JobKind.IMAGE}
            denied = (await self._store.policy(actor.workspace_id)).denied_models
            model = prefs.model if prefs.model in known - denied else ""
        options = dict(command.options)
        for name, value in (("aspect_ratio", prefs.aspect_ratio), ("num_images", prefs.num_images)):
            if options.get(name) is None and value is not None:
                options[name] = value
        return dataclasses.replace(command, model=model, options=options)  # keeps `private`

    async def wants_remix(self, actor: Actor, action: str, job: Job) -> bool:
        """Whether a press of `action` on `job` first opens a modal with its prompt: remix mode
        is on, the action remakes the job (`remixes`), and the job had a prompt."""
        if not remixes(action) or not isinstance(job.arguments.get("prompt"), str):
            return False
        return bool((await self.effective(actor)).remix)

    async def wants_private(self, actor: Actor) -> bool:
        """The actor's private-mode preference (theirs, else the workspace's default). What
        private mode does, and whether a workspace allows it, is decided where results go."""
        return bool(await private_preference(self._store, actor))


def remixes(action: str) -> bool:
    """Whether a follow-up `action` is one remix mode asks the prompt for first."""
    family = action.split("_", 1)[0]
    return family in REMIX_FAMILIES


async def private_preference(store: Store, actor: Actor) -> bool | None:
    """The actor's private-mode setting (theirs, else their workspace's default); None when
    neither is set. For where private mode is decided (it needs no catalog)."""
    own, workspace = await _own_and_workspace(store, actor)
    return own.over(workspace).private


async def _own_and_workspace(store: Store, actor: Actor) -> tuple[Preferences, Preferences]:
    """The actor's own defaults and their workspace's, read in one trip to the store."""
    own_key, workspace_key = _key(actor.workspace_id, actor.user_id), _key(actor.workspace_id, None)
    values = await store.state_values((own_key, workspace_key))
    own, workspace = values.get(own_key), values.get(workspace_key)
    return Preferences.from_json(own), Preferences.from_json(workspace)


def check_field(name: str) -> Field:
    for field in FIELDS:
        if name == field:
            return field
    raise invalid(f"There is no setting `{name[:30]}`.", f"Settings: {', '.join(FIELDS)}.")


def _whole(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 2:
        return int(value.strip())
    return None


_YES = frozenset({"on", "yes", "true", "1"})
_NO = frozenset({"off", "no", "false", "0"})


def _yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _YES | _NO:
        return word in _YES
    raise invalid(f"`{word[:20]}` is not on or off.", "Say on or off.")
