"""The README's command lists are what each adapter registers: Discord's from the commands
falbot registers at the fake Discord, Slack's from the adapter's command table. Both sides are
read, not written down here, so the test keeps holding as commands are added or regrouped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from adapters.slack import commands as slack_commands
from adapters.slack.commands import COMMANDS
from tests.integration.discord.conftest import Env

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()
SUBCOMMAND, GROUP, CHAT_INPUT = 1, 2, 1


def readme_rows(platform: str) -> tuple[set[str], set[str]]:
    """The command paths (first code span of each row) and menu names (italics) listed under
    "## Commands" → "### <platform>"."""
    commands = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    section = commands.split(f"\n### {platform}\n", 1)[1].split("\n### ", 1)[0]
    paths, menus = set(), set()
    for row in re.findall(r"^\| (.+?) \|", section, re.MULTILINE):
        if code := re.match(r"`(/[^`]+)`", row):
            paths.add(code.group(1))
        elif menu := re.match(r"\*([^*]+)\*", row):
            menus.add(menu.group(1))
    return paths, menus


def leaf_paths(commands: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """Every invocable slash path (`/admin quota set`) and every context-menu name."""
    paths, menus = set(), set()

    def walk(prefix: str, options: Iterable[Mapping[str, Any]]) -> None:
        subs = [o for o in options if o.get("type") in (SUBCOMMAND, GROUP)]
        if not subs:
            paths.add(prefix)
        for sub in subs:
            walk(f"{prefix} {sub['name']}", sub.get("options") or ())

    for command in commands:
        if command.get("type", CHAT_INPUT) == CHAT_INPUT:
            walk("/" + command["name"], command.get("options") or ())
        else:
            menus.add(command["name"])
    return paths, menus


async def test_the_readme_lists_exactly_the_discord_commands_falbot_registers(env: Env) -> None:
    await env.start_bot()
    put = await env.fake.wait_for(lambda r: r.route == "PUT /applications/{id}/commands")

    assert readme_rows("Discord") == leaf_paths(put.json)


def test_the_readme_lists_exactly_the_slack_commands_the_adapter_handles() -> None:
    paths, _ = readme_rows("Slack")
    assert {path.split()[0] for path in paths} == set(COMMANDS)
    # Commands grouped under one top-level command (`/falbot quota`): the group's own table.
    for group, table in {"/falbot": getattr(slack_commands, "SUBCOMMANDS", None)}.items():
        if group in COMMANDS and table is not None:
            listed = {p.split()[1] for p in paths if p.startswith(group + " ")}
            assert listed == set(table), group
