"""The app manifest is valid against Slack's published manifest schema (kept beside it, from
github.com/slackapi/manifest-schema) and declares exactly what the adapter listens for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from adapters.slack import render
from adapters.slack.commands import COMMANDS, SUBCOMMANDS

HERE = Path(__file__).parents[3] / "adapters" / "slack"
# Names other apps commonly own: falbot groups these under /falbot instead.
TAKEN = {"/admin", "/models", "/usage", "/jobs", "/cancel", "/quota", "/help"}


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load((HERE / "manifest.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_is_valid_against_slacks_schema() -> None:
    schema = json.loads((HERE / "manifest.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(manifest(), schema, cls=jsonschema.Draft7Validator)


def test_the_schema_catches_a_broken_manifest() -> None:
    schema = json.loads((HERE / "manifest.schema.json").read_text())
    broken = manifest()
    broken["features"]["slash_commands"].append({"command": "imagine-without-slash"})
    broken["features"]["app_home"]["home_tab"] = True  # not a manifest field
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert len(errors) >= 2


def test_every_command_is_in_the_manifest_and_none_is_commonly_taken() -> None:
    declared = {c["command"] for c in manifest()["features"]["slash_commands"]}
    assert declared == set(COMMANDS)
    assert {"/imagine", "/video", "/edit", "/upscale", "/describe", "/blend", "/falbot"} == declared
    assert not declared & TAKEN


def test_home_and_messages_tabs_events_shortcut_and_scopes() -> None:
    m = manifest()
    home = m["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "message.im", "app_home_opened"}
    assert m["settings"]["interactivity"]["is_enabled"] is True
    shortcuts = {s["callback_id"] for s in m["features"]["shortcuts"]}
    assert shortcuts == {render.EDIT_SHORTCUT}
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {
        "commands",
        "app_mentions:read",
        "chat:write",
        "files:read",
        "files:write",
        "users:read",
        "im:write",
        "im:history",  # message.im
        "channels:history",
        "groups:history",
    } <= scopes


def test_the_readmes_slack_commands_are_what_the_adapter_registers() -> None:
    readme = (HERE.parents[1] / "README.md").read_text()
    section = readme[readme.index("### Slack\n") :].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `/")]
    typed = [row.split("`")[1].split() for row in rows]
    assert {words[0] for words in typed} == set(COMMANDS)
    grouped = {words[1] for words in typed if words[0] == "/falbot"}
    assert grouped == set(SUBCOMMANDS)

    slack_readme = (HERE / "README.md").read_text()
    use = slack_readme[slack_readme.index("## Use") :].split("\n\n")[1]  # the table
    table = "\n".join(line for line in use.splitlines() if line.startswith("|"))
    assert set(re.findall(r"`(/[a-z]+)[ `]", table)) == set(COMMANDS)
    assert set(re.findall(r"`/falbot ([a-z]+)", table)) == set(SUBCOMMANDS)
