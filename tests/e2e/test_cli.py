"""The `falbot` command as a user runs it: a real subprocess, no credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

FALBOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 90):
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FAL_", "FALBOT_", "DISCORD_", "SLACK_"))
    }
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run(
        [*FALBOT, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_script_runs_an_image_job_prints_its_cost_and_writes_the_file(
    tmp_path: Path,
) -> None:
    script = tmp_path / "script.txt"
    script.write_text(
        "/imagine --model nano-banana --count 2 a lighthouse at dawn\n"
        "/wait\n"
        "!/imagine --count 99 too many\n"
        "/quota\n"
        "/jobs\n"
        "/admin nsfw spoiler\n"
        "!/admin nsfw sometimes\n"
    )
    done = run(["demo", "--script", str(script), "--latency", "0.05"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nano-banana · $0.078" in done.stdout  # two images at $0.039
    images = sorted((tmp_path / "out").glob("falbot-*.png"))
    assert len(images) == 2
    for path in images:
        with Image.open(path) as img:
            assert img.format == "PNG"
    assert (tmp_path / "data" / "demo.db").exists()
    assert "Outputs fal flags as NSFW are shown behind a spoiler" in done.stdout


def test_demo_script_exits_non_zero_when_a_command_fails_unexpectedly(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("/imagine --model no-such-model hello\n")
    done = run(["demo", "--script", str(script), "--latency", "0"], cwd=tmp_path)
    assert done.returncode == 1
    assert "There is no model called no-such-model." in done.stdout  # no markdown marks


def test_run_without_a_platform_says_what_to_set(tmp_path: Path) -> None:
    done = run(["run"], cwd=tmp_path, env={"FAL_KEY": "k"})
    assert done.returncode == 2
    assert "DISCORD_TOKEN" in done.stderr and "SLACK_BOT_TOKEN" in done.stderr


def test_models_lists_the_catalog_with_prices(tmp_path: Path) -> None:
    done = run(["models"], cwd=tmp_path)
    assert done.returncode == 0
    assert "fal-ai/gemini-3-pro-image-preview/edit" in done.stdout
    assert "$0.15 per image" in done.stdout
