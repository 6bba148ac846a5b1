"""The Dockerfile's steps, run in order outside Docker (no Docker engine runs here), up to the
image's own HEALTHCHECK passing against `falbot run`.

Run as written: the build stage's RUN lines (`python -m venv`, `pip install .`), its COPY lines
(honouring .dockerignore), the runtime stage's ENV, WORKDIR and VOLUME, the HEALTHCHECK command
and the CMD. What differs, and why:
- container paths (/src, /opt/venv, /data) live under a temporary root;
- a test does not download: the dependencies come from this CI virtualenv (built from
  pyproject.toml by `make test`) through a .pth file in the new virtualenv, so `pip install` gets
  `--no-index --no-build-isolation`; falbot itself is still built from the copied sources and
  installed into the new virtualenv, and `falbot run` imports it from there;
- the runtime stage's RUN (useradd) would change this machine's users: the test checks that it
  makes a system user and that USER runs as it, instead of running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from string import Template
from typing import Any

import aiohttp
import pytest

from adapters.fal.simulator import FalSimulator
from tests.e2e.process import free_port
from tests.fakes.slack import FakeSlack
from tests.integration.fal.fixtures import SIM_KEY

ROOT = Path(__file__).resolve().parents[2]
MAPPED = ("/opt/venv", "/src", "/data")  # every container path the Dockerfile uses
BOT_TOKEN = "xoxb-docker-steps-0123456789"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [args for ins, args in self.steps if ins == instruction]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages and their (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    stages: list[Stage] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        instruction, _, args = (logical + line).partition(" ")
        logical = ""
        instruction, args = instruction.upper(), " ".join(args.split())
        if instruction == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        else:
            stages[-1].steps.append((instruction, args))
    return stages


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [p.strip().rstrip("/") for p in lines if p.strip() and not p.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `relative` (a path in the build context) out of the context."""
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            return True
    return False


class Machine:
    """Container paths mapped under `root`; runs steps with a clean environment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "host-bin"  # `python` on PATH, as in the python:3.11 image
        self.bin.mkdir(parents=True)
        (self.bin / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
        self.env: dict[str, str] = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOME": str(root / "home"),
            "PIP_CONFIG_FILE": os.devnull,  # this machine's pip configuration stays out
        }
        self.cwd = root

    def host(self, text: str) -> str:
        for path in MAPPED:
            text = re.sub(rf"(?<![\w.-]){re.escape(path)}(?![\w.-])", f"{self.root}{path}", text)
        return text

    def workdir(self, path: str) -> None:
        assert path.startswith(MAPPED), f"{path} is not mapped by this test"
        self.cwd = Path(self.host(path))
        self.cwd.mkdir(parents=True, exist_ok=True)

    def set_env(self, args: str) -> None:
        for token in shlex.split(args):
            key, sep, value = token.partition("=")
            assert sep, f"ENV {token}: use the KEY=value form"
            self.env[key] = self.host(Template(value).safe_substitute(self.env))

    def copy_from_context(self, args: str) -> None:
        *sources, dest = shlex.split(args)
        patterns = ignore_patterns()
        target = self.cwd / dest if not dest.startswith("/") else Path(self.host(dest))
        for source in sources:
            assert not ignored(source, patterns), f".dockerignore leaves out {source}"
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(
                    origin,
                    target,
                    ignore=lambda d, names: [
                        n for n in names if ignored(str((Path(d) / n).relative_to(ROOT)), patterns)
                    ],
                )
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)

    def run(self, command: str) -> None:
        done = subprocess.run(
            ["/bin/sh", "-c", self.host(command)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, f"RUN {command}\n{done.stdout}\n{done.stderr}"


def offline(command: str, machine: Machine) -> str:
    """The pip install of the Dockerfile, fed from this CI virtualenv instead of an index."""
    if "pip install" not in command:
        return command
    for site in machine.root.glob("opt/venv/lib/python3*/site-packages"):
        paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        (site / "ci-dependencies.pth").write_text("\n".join(sorted(paths)) + "\n")
    return command.replace("pip install ", "pip install --no-index --no-build-isolation ", 1)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def test_the_dockerfile_has_the_promised_shape() -> None:
    build, runtime = parse_dockerfile((ROOT / "Dockerfile").read_text())
    assert build.base == runtime.base == "python:3.11-slim"
    assert build.name is not None
    (user,) = runtime.args("USER")
    assert user not in ("root", "0")
    (create_user,) = runtime.args("RUN")
    assert "useradd --system" in create_user and create_user.endswith("/data")
    assert f" {user}" in create_user
    assert runtime.args("VOLUME") == ['["/data"]']
    (health,) = runtime.args("HEALTHCHECK")
    assert "/healthz" in health and "--interval=" in health
    assert runtime.args("CMD") == ['["falbot", "run"]']
    patterns = ignore_patterns()
    for secret_or_state in (".env", "prod.env", ".venv", "data/falbot.db", ".git/config"):
        assert ignored(secret_or_state, patterns), secret_or_state
    assert ignored("adapters/fal/__pycache__/gateway.cpython-311.pyc", patterns)
    assert not ignored("adapters/fal/gateway.py", patterns)


@dataclass
class Image:
    """What the steps left: the runtime stage's environment, folder, CMD and HEALTHCHECK."""

    env: dict[str, str]
    workdir: Path
    command: list[str]
    healthcheck: list[str]


def build_image(root: Path) -> Image:
    """Run the build stage's steps, then set up the runtime stage's environment."""
    build, runtime = parse_dockerfile((ROOT / "Dockerfile").read_text())
    machine = Machine(root)
    for instruction, args in build.steps:
        if instruction == "ENV":
            machine.set_env(args)
        elif instruction == "WORKDIR":
            machine.workdir(args)
        elif instruction == "COPY":
            machine.copy_from_context(args)
        elif instruction == "RUN":
            machine.run(offline(args, machine))
        else:
            raise AssertionError(f"the test does not know {instruction} in the build stage")

    # The runtime stage: a fresh environment, the build's virtualenv at the same path.
    machine.env = {k: v for k, v in machine.env.items() if not k.startswith("PIP_")}
    command: list[str] = []
    healthcheck: list[str] = []
    for instruction, args in runtime.steps:
        if instruction == "COPY":
            flags = [a for a in shlex.split(args) if a.startswith("--")]
            source, dest = [a for a in shlex.split(args) if not a.startswith("--")]
            assert flags == [f"--from={build.name}"] and source == dest
            assert Path(machine.host(source)).is_dir()
        elif instruction == "ENV":
            machine.set_env(args)
        elif instruction == "WORKDIR":
            machine.workdir(args)
        elif instruction == "VOLUME":
            for path in json.loads(args):
                Path(machine.host(path)).mkdir(parents=True, exist_ok=True)
        elif instruction == "HEALTHCHECK":
            healthcheck = json.loads(args.split(" CMD ", 1)[1])
        elif instruction == "CMD":
            command = json.loads(args)
        else:
            assert instruction in ("RUN", "USER", "EXPOSE"), instruction  # see the shape test
    return Image(machine.env, machine.cwd, command, healthcheck)


def imported_from(image: Image, env: dict[str, str]) -> str:
    """Where the image's python finds falbot's code."""
    python = shutil.which("python", path=env["PATH"])
    assert python is not None
    done = subprocess.run(
        [python, "-c", "import bot.run; print(bot.run.__file__)"],
        cwd=image.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


async def test_the_dockerfile_steps_install_falbot_and_its_healthcheck_passes(
    tmp_path: Path, fal_sim: FalSimulator, slack: FakeSlack
) -> None:
    image = await asyncio.to_thread(build_image, tmp_path)
    port = free_port()
    env = {
        **image.env,
        # what an operator passes with `docker run --env-file`, pointed at loopback fakes
        "FAL_KEY": SIM_KEY,
        "FALBOT_FAL_QUEUE_URL": fal_sim.queue_url,
        "FALBOT_FAL_REST_URL": fal_sim.rest_url,
        "FALBOT_FAL_CDN_URL": fal_sim.cdn_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "FALBOT_SLACK_API_URL": slack.api_url,
        "FALBOT_HTTP_HOST": "127.0.0.1",
        "FALBOT_HTTP_PORT": str(port),
    }
    executable = shutil.which(image.command[0], path=env["PATH"])
    assert executable == str(tmp_path / "opt/venv/bin/falbot")
    installed = await asyncio.to_thread(imported_from, image, env)
    assert installed.startswith(str(tmp_path / "opt/venv/lib"))  # not this source tree

    async with running(executable, image.command[1:], cwd=image.workdir, env=env) as lines:
        await lines.wait_for(lambda line: line.get("event") == "started", within=60)
        check = await asyncio.create_subprocess_exec(
            shutil.which(image.healthcheck[0], path=env["PATH"]) or image.healthcheck[0],
            *image.healthcheck[1:],
            cwd=image.workdir,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, problem = await asyncio.wait_for(check.communicate(), 30)
        assert check.returncode == 0, problem.decode()
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            async with http.get("/healthz") as response:
                assert response.status == 200
                assert (await response.json())["adapters"] == {"slack": "connected"}
            async with http.post("/slack/events", data=b"{}") as response:
                assert response.status == 401  # Slack's route, same server, checks signatures
        assert await asyncio.to_thread((tmp_path / "data" / "falbot.db").exists)  # on the volume
        lines.stop()
        assert await lines.exit_code(within=30) == 0
    assert SIM_KEY not in "\n".join(lines.raw) and BOT_TOKEN not in "\n".join(lines.raw)


class Lines:
    """A child's stderr, one JSON log line at a time, with waits on what it writes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._changed = asyncio.Condition()
        self.raw: list[str] = []
        self.parsed: list[dict[str, Any]] = []

    async def read(self) -> None:
        assert self._process.stderr is not None
        async for line in self._process.stderr:
            text = line.decode(errors="replace").rstrip()
            async with self._changed:
                self.raw.append(text)
                with contextlib.suppress(ValueError):
                    self.parsed.append(json.loads(text))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], *, within: float) -> None:
        def seen() -> bool:
            return any(match(line) for line in self.parsed) or self._process.returncode is not None

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(seen)
        assert any(match(line) for line in self.parsed), "\n".join(self.raw[-30:])

    def stop(self) -> None:
        self._process.send_signal(signal.SIGTERM)

    async def exit_code(self, *, within: float) -> int:
        return await asyncio.wait_for(self._process.wait(), within)


@contextlib.asynccontextmanager
async def running(
    executable: str, args: list[str], *, cwd: Path, env: dict[str, str]
) -> AsyncIterator[Lines]:
    process = await asyncio.create_subprocess_exec(
        executable,
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    lines = Lines(process)
    reader = asyncio.create_task(lines.read(), name="falbot-stderr")
    try:
        yield lines
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader
