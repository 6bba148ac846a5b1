"""The first run, as a person meets it: `make demo` again and again, and `falbot` answering a
missing or refused setting with one line that says what to do (never a traceback)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from pathlib import Path

import pytest

from tests.e2e.process import ROOT, clean_environment, free_port
from tests.e2e.support import FAL_KEY, running_discord, running_slack
from tests.fakes.discord import FakeDiscord

BIN = Path(sys.executable).parent


def demo_command() -> list[str]:
    """The command `make demo` runs, read from the Makefile, on this test's virtualenv."""
    recipe = re.search(r"^demo:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe is not None, "the Makefile has a demo target"
    return recipe.group(1).replace("$(BIN)", str(BIN)).split()


def json_lines(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line.strip().lstrip("\r"))
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found.append(line)
    return found


async def falbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, within: float = 60
) -> tuple[int, str, str]:
    """`falbot ARGS` as a child process (its installed entry point), without a terminal."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "falbot"),
        *args,
        cwd=cwd,
        env=clean_environment(env or {}),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(within):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def assert_one_clear_line(err: str, *words: str) -> None:
    """Besides the JSON log lines (`falbot run` logs on stderr), one line for the person, and
    no traceback anywhere."""
    assert "Traceback" not in err, err
    logs = set(json_lines(err))
    lines = [line for line in err.splitlines() if line.strip() and line not in logs]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


async def test_make_demo_exits_0_three_times_in_a_row_and_prints_no_log_line(
    tmp_path: Path,
) -> None:
    command = demo_command()
    assert Path(command[0]).name == "falbot" and command[1:] == ["demo"]
    for run in range(3):
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=tmp_path,  # a fresh folder: no data/ or out/ of an earlier run, at first
            env=clean_environment({}),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            out_bytes, err_bytes = await proc.communicate()
        out, err = out_bytes.decode(), err_bytes.decode()
        assert proc.returncode == 0, f"run {run + 1}:\n{out}\n{err}"
        assert json_lines(out) == [] and json_lines(err) == [], f"run {run + 1}:\n{out}\n{err}"
        assert "**" not in out
        assert "wan-2.5 · $0.50" in out  # the tour's video was made, every time
    logged = (tmp_path / "data" / "demo.log").read_text()
    assert json_lines(logged) and "job_succeeded" in logged  # the logs are kept, in the file


async def test_demo_verbose_shows_the_logs(tmp_path: Path) -> None:
    script = tmp_path / "one.txt"
    script.write_text("/quota\n")
    code, out, err = await falbot(
        "demo", "--verbose", "--script", str(script), "--latency", "0", cwd=tmp_path
    )
    assert code == 0, out + err
    assert json_lines(err)
    assert not (tmp_path / "data" / "demo.log").exists()


async def test_demo_says_did_you_mean_for_a_mistyped_command_or_option(tmp_path: Path) -> None:
    script = tmp_path / "typos.txt"
    script.write_text("!/imagin a cat\n!/imagine --modle flux-dev a cat\n")
    code, out, err = await falbot("demo", "--script", str(script), "--latency", "0", cwd=tmp_path)
    assert code == 0, out + err
    assert "Unknown command /imagin. Did you mean /imagine?" in out
    assert "I don't know the option --modle" in out and "Did you mean --model?" in out


async def test_demo_with_a_missing_script_says_so_in_one_line(tmp_path: Path) -> None:
    code, _, err = await falbot("demo", "--script", "nope.txt", cwd=tmp_path)
    assert code == 2
    assert_one_clear_line(err, "nope.txt", "No such file")


async def test_a_mistyped_falbot_command_gets_did_you_mean(tmp_path: Path) -> None:
    code, _, err = await falbot("chek", cwd=tmp_path)
    assert code == 2 and "did you mean check?" in err and "Traceback" not in err


async def test_version(tmp_path: Path) -> None:
    code, out, _ = await falbot("--version", cwd=tmp_path)
    assert code == 0 and re.fullmatch(r"falbot \d+\.\d+\.\d+\n", out), out


async def test_sync_commands_without_fal_key_is_one_line(tmp_path: Path) -> None:
    code, _, err = await falbot(
        "sync-commands", cwd=tmp_path, env={"DISCORD_TOKEN": "a" * 24 + ".abcd." + "b" * 27}
    )
    assert code != 0
    assert_one_clear_line(err, "FAL_KEY is not set")


def _no_fal_env(tmp_path: Path) -> dict[str, str]:
    return {
        "FAL_KEY": FAL_KEY,
        "FALBOT_PRICING_REFRESH": "false",
        "FALBOT_DATABASE": f"sqlite:///{tmp_path / 'falbot.db'}",
        "FALBOT_HTTP_HOST": "127.0.0.1",
        "FALBOT_HTTP_PORT": str(free_port()),
    }


def _discord_env(tmp_path: Path, fake: FakeDiscord, *, token: str) -> dict[str, str]:
    return _no_fal_env(tmp_path) | {
        "DISCORD_TOKEN": token,
        "FALBOT_DISCORD_API_URL": fake.api_url,
        "FALBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
    }


async def test_run_when_discord_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    env = _no_fal_env(tmp_path) | {
        "DISCORD_TOKEN": "a" * 24 + ".abcd." + "b" * 27,
        "FALBOT_DISCORD_API_URL": f"http://127.0.0.1:{free_port()}/api/v10",
    }
    code, _, err = await falbot("run", cwd=tmp_path, env=env)
    assert code == 1
    assert_one_clear_line(err, "Could not reach Discord", "FALBOT_DISCORD_API_URL")


async def test_run_with_a_discord_token_discord_refuses_is_one_line(tmp_path: Path) -> None:
    async with running_discord(()) as fake:
        env = _discord_env(tmp_path, fake, token="not-" + fake.bot_token)
        code, _, err = await falbot("run", cwd=tmp_path, env=env)
        assert fake.recorder.find(lambda r: r.route == "GET /users/@me")  # it asked Discord
    assert code == 1
    assert_one_clear_line(err, "Discord refused DISCORD_TOKEN", "Reset Token")


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_run_with_a_slack_token_slack_refuses_is_one_line(tmp_path: Path, mode: str) -> None:
    async with running_slack(()) as fake:
        env = _no_fal_env(tmp_path) | {
            "SLACK_BOT_TOKEN": "xoxb-not-the-right-one",
            "FALBOT_SLACK_API_URL": fake.api_url,
        }
        if mode == "http":
            env["SLACK_SIGNING_SECRET"] = "0123456789abcdef0123456789abcdef"
        else:
            env["SLACK_APP_TOKEN"] = "xapp-1-whatever"
        code, _, err = await falbot("run", cwd=tmp_path, env=env)
        assert [c.method for c in fake.calls][:1] == ["auth.test"]
    assert code == 1
    assert_one_clear_line(err, "Slack refused SLACK_BOT_TOKEN (invalid_auth)", "OAuth")


async def test_run_with_only_the_slack_bot_token_says_what_is_missing(tmp_path: Path) -> None:
    env = _no_fal_env(tmp_path) | {"SLACK_BOT_TOKEN": "xoxb-1-2-3"}
    code, _, err = await falbot("run", cwd=tmp_path, env=env)
    assert code == 2
    assert_one_clear_line(err, "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


async def test_run_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = _no_fal_env(tmp_path) | {
            "DISCORD_TOKEN": "a" * 24 + ".abcd." + "b" * 27,
            "FALBOT_HTTP_PORT": str(taken.getsockname()[1]),
        }
        code, _, err = await falbot("run", cwd=tmp_path, env=env)
    assert code == 1
    assert_one_clear_line(err, "already in use", "FALBOT_HTTP_PORT")
