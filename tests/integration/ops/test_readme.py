"""The README's operator sections stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings
from bot.settings_doc import DESCRIPTIONS, settings_table

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_described() -> None:
    assert set(DESCRIPTIONS) == {info.alias for info in Settings.model_fields.values()}


def test_the_readme_lists_every_setting_with_its_default() -> None:
    table = settings_table()
    assert table in README, "run `python -m bot.settings_doc` and paste it into the README"
    for info in Settings.model_fields.values():
        assert re.search(rf"^\| `{info.alias}` \| ", table, re.MULTILINE), info.alias
    assert "| `FALBOT_HTTP_PORT` | `8080` |" in README


def test_the_readme_starts_with_the_two_commands_and_draws_the_architecture() -> None:
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block.splitlines()[0].startswith("make demo")
    assert first_block.splitlines()[1].startswith("make test")
    mermaid = README.split("```mermaid\n", 1)[1].split("```", 1)[0]
    for part in ("adapters/discord", "adapters/slack", "Engine", "adapters/fal", "fal.ai"):
        assert part in mermaid


def test_the_files_the_operator_sections_point_to_exist() -> None:
    assert (ROOT / "Dockerfile").is_file() and "docker build -t falbot ." in README
    links = (
        "deploy/falbot.service",
        "adapters/discord/README.md",
        "adapters/slack/README.md",
        "adapters/slack/manifest.yaml",
    )
    for link in links:
        assert f"]({link})" in README and (ROOT / link).is_file()


def test_the_readme_models_table_is_the_catalog() -> None:
    """Each model in the README's table with its endpoint and kind, and no other."""
    from core.model_table import build_catalog

    section = README.split("### Models\n", 1)[1].strip().split("\n\n", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines()[2:] if line.startswith("| ")]
    table = {row[0].lstrip("| "): (row[1], row[2].split(" ")[0]) for row in rows}
    catalog = {spec.name: (spec.endpoint, spec.kind.value) for spec in build_catalog().all()}
    assert table == catalog
