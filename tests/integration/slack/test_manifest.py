"""The manifest declares what the adapter listens for (read as text: no YAML dependency)."""

from __future__ import annotations

from pathlib import Path

from adapters.slack import render
from adapters.slack.commands import COMMANDS

MANIFEST = (Path(__file__).parents[3] / "adapters" / "slack" / "manifest.yaml").read_text()


def test_every_command_is_in_the_manifest() -> None:
    declared = {
        line.split(":", 1)[1].strip()
        for line in MANIFEST.splitlines()
        if line.strip().startswith("- command:")
    }
    assert declared == set(COMMANDS)


def test_shortcut_event_interactivity_and_scopes() -> None:
    assert f"callback_id: {render.EDIT_SHORTCUT}" in MANIFEST
    assert "- app_mention" in MANIFEST
    assert "is_enabled: true" in MANIFEST
    for scope in (
        "commands",
        "app_mentions:read",
        "chat:write",
        "files:read",
        "files:write",
        "users:read",
        "im:write",
        "channels:history",
        "groups:history",
    ):
        assert f"- {scope} " in MANIFEST, scope
