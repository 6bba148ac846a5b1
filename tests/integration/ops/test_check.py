"""`falbot check`: each setting ok, default, missing or malformed; never a secret in its output."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.check import run_check
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
FAL_KEY = "3f1c2a9e-7b7d-4e0a:9c8b7a6f5e4d3c2b1a0f"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123"
SLACK_BOT_TOKEN = "xoxb-1111-2222-abcdefSECRET"
SLACK_SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
SECRETS = (FAL_KEY, DISCORD_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)


def good(tmp_path: Path) -> dict[str, str]:
    return {
        "FAL_KEY": FAL_KEY,
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "FALBOT_DATABASE": f"sqlite:///{tmp_path / 'data' / 'falbot.db'}",
        "FALBOT_PUBLIC_URL": "https://bot.example.com",
        "FALBOT_MAX_CONCURRENCY": "20",
    }


def check(env: dict[str, str], env_file: Path | None = None) -> tuple[int, dict[str, str], str]:
    """Exit code, each setting's "state detail", and the whole output."""
    out = io.StringIO()
    code = run_check(out, env, env_file=env_file)
    text = out.getvalue()
    states = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        states[name] = rest.strip()
    return code, states, text


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert secret[-12:] not in text  # not even a piece of one


def test_the_command_with_good_settings_says_ok_and_what_starts(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FAL_", "FALBOT_", "DISCORD_", "SLACK_"))
    }
    env.update(good(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()}
    for name in ("FAL_KEY", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        assert lines[name] == ["ok", "set", "(hidden)"]
    assert lines["FALBOT_MAX_CONCURRENCY"] == ["ok", "20"]
    assert lines["FALBOT_PUBLIC_URL"] == ["ok", "https://bot.example.com"]
    assert lines["FALBOT_DATABASE"][0] == "ok"
    assert lines["FALBOT_JOB_TIMEOUT"] == ["default", "1800.0"]
    assert "will start: Discord, Slack (HTTP), the HTTP server on 0.0.0.0:8080" in done.stdout
    assert "/fal/webhook /paint/…)" in done.stdout  # FALBOT_PUBLIC_URL: webhooks, Edit region
    assert not (tmp_path / "data").exists()  # checking made nothing
    assert_no_secret(done.stdout + done.stderr)


def test_every_setting_gets_a_line(tmp_path: Path) -> None:
    _, states, _ = check(good(tmp_path))
    for info in Settings.model_fields.values():
        assert info.alias in states


def test_missing_settings_are_reported_and_a_missing_fal_key_fails(tmp_path: Path) -> None:
    env = good(tmp_path)
    del env["FAL_KEY"], env["DISCORD_TOKEN"]
    code, states, text = check(env)
    assert code == 1
    assert states["FAL_KEY"] == "missing    needed for every job"
    assert states["DISCORD_TOKEN"] == "missing    needed for Discord"
    assert states["SLACK_BOT_TOKEN"].startswith("ok")
    assert "will start: Slack (HTTP)" in text
    assert_no_secret(text)


def test_nothing_to_start_fails(tmp_path: Path) -> None:
    code, _, text = check({"FAL_KEY": FAL_KEY})
    assert code == 1
    assert "will start: nothing (set a platform token)" in text


def test_malformed_settings_are_reported_without_their_values(tmp_path: Path) -> None:
    env = good(tmp_path)
    env["SLACK_BOT_TOKEN"] = "xoxp-user-token-s3cr3t-1234"  # a user token, not a bot token
    env["DISCORD_TOKEN"] = "not-a-discord-token-s3cr3t-5678"
    env["FALBOT_PUBLIC_URL"] = "http://bot.example.com/?key=s3cr3t-9012"
    env["FALBOT_MAX_CONCURRENCY"] = "lots"
    code, states, text = check(env)
    assert code == 1
    assert states["SLACK_BOT_TOKEN"] == "malformed  does not look like xoxb-…"
    assert states["DISCORD_TOKEN"] == "malformed  does not look like three dot-separated parts"
    assert states["FALBOT_PUBLIC_URL"].startswith("malformed  the value must be an https URL")
    assert states["FALBOT_MAX_CONCURRENCY"].startswith("malformed  Input should be a valid integer")
    assert states["FAL_KEY"].startswith("ok")
    assert "s3cr3t" not in text
    assert_no_secret(text)


def test_the_database_must_be_writable_and_sqlite(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello")
    blocked = tmp_path / "file"
    blocked.write_text("")
    cases = {
        f"sqlite:///{not_sqlite}": "is not a SQLite database",
        f"sqlite:///{blocked}/sub/falbot.db": "cannot create",  # a file where a folder must be
        f"sqlite:///{tmp_path}": "is a folder",
        "mysql://db/falbot": "must look like sqlite:///path/to/falbot.db",
    }
    for url, problem in cases.items():
        _, states, _ = check({**good(tmp_path), "FALBOT_DATABASE": url})
        assert states["FALBOT_DATABASE"].startswith("malformed"), url
        assert problem in states["FALBOT_DATABASE"], url


def test_settings_in_the_env_file_count_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"FAL_KEY={FAL_KEY}\nFALBOT_MAX_CONCURRENCY=3\n")
    env = {k: v for k, v in good(tmp_path).items() if k != "FAL_KEY"}
    code, states, text = check(env, env_file)
    assert code == 0
    assert states["FAL_KEY"] == "ok         set (hidden)"
    assert states["FALBOT_MAX_CONCURRENCY"] == "ok         20"
    assert_no_secret(text)
