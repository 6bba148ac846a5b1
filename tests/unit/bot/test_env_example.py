"""`.env.example` holds every setting, commented, as `bot.settings_doc` makes it."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from bot.settings_doc import env_example

ROOT = Path(__file__).resolve().parents[3]


def test_env_example_is_complete_and_current() -> None:
    text = (ROOT / ".env.example").read_text()
    assert text == env_example(), "run `python -m bot.settings_doc env > .env.example`"
    for info in Settings.model_fields.values():
        assert f"\n# {info.alias}=" in text, info.alias
    # Every line is a comment or blank: copying it to .env sets nothing by surprise.
    assert all(not line or line.startswith("#") for line in text.splitlines())
