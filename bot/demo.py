"""`falbot demo`: the whole flow in a terminal, on the fal simulator, with no credentials."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path
from typing import TextIO

from adapters.console import ConsoleReplyFactory, ConsoleSession, Terminal
from adapters.fal.simulator import FalSimulator
from adapters.web import PaintRoutes
from bot.app import build_app
from bot.http import Health, HttpServer
from bot.settings import Settings

DATA_DIR = Path("data")
TOUR = """\
/models
/imagine --model flux-schnell --aspect 16:9 a lighthouse on a cliff at dawn, oil painting
/wait
/vary {job} strong
/zoom {job} 2
/edit {last} make it a stormy night
/upscale {last}
/video --model wan-2.5 --duration 5 waves crashing against the lighthouse
/confirm
/wait
/jobs
/quota
/usage
!/imagine --count 99 too many
/admin usage --csv
"""


async def run_demo(
    *,
    script: list[str] | None,
    interactive: bool,
    data_dir: Path = DATA_DIR,
    out_dir: Path = Path("out"),
    out: TextIO = sys.stdout,
    latency: float = 0.3,
) -> int:
    """Run the tour (or `script`), then, when `interactive`, read commands. Returns an exit code.

    Each run starts from a fresh database, so the tour finds full credits however often it is
    run."""
    database = fresh_database(data_dir)
    terminal = Terminal(out)
    key = secrets.token_urlsafe(24)  # the simulator's own key; never a real one
    simulator = FalSimulator(key=key)
    simulator.queue_wait = latency / 3
    simulator.run_time = latency
    simulator.log_lines = ["loading model", "denoising 50%", "denoising 100%"]
    await simulator.start()
    settings = Settings(
        FAL_KEY=key,
        FALBOT_DATABASE=f"sqlite:///{database}",
        FALBOT_FAL_QUEUE_URL=simulator.queue_url,
        FALBOT_FAL_REST_URL=simulator.rest_url,
        FALBOT_FAL_CDN_URL=simulator.cdn_url,
        FALBOT_FAL_API_URL=simulator.api_url,  # prices come from its pricing API
        FALBOT_PROGRESS_INTERVAL=0.5,
    )
    app = await build_app(settings)
    # The region painter's page (`/edit region JOB`), on loopback at a port the OS picks.
    server = HttpServer(host="127.0.0.1", port=0, health=Health(database=_no_probe))
    server.add_routes(PaintRoutes(app.painter).add_routes)
    try:
        app.add_reply_factory(ConsoleReplyFactory(terminal=terminal, out_dir=out_dir))
        await app.engine.start()
        await server.start()
        app.painter.serve_at(f"http://127.0.0.1:{server.port}")
        session = ConsoleSession(
            engine=app.engine,
            admin=app.admin,
            terminal=terminal,
            out_dir=out_dir,
            max_input_bytes=settings.max_input_bytes,
            painter=app.painter,
        )
        lines = script if script is not None else TOUR.splitlines()
        ok = await _run_lines(session, lines, terminal)
        ok = await session.wait() and ok
        if interactive:
            await _interactive(session, terminal)
        return 0 if ok else 1
    finally:
        await server.close()
        await app.close()
        await simulator.close()


async def _no_probe() -> None:
    """The demo's page server has no health to report."""


def fresh_database(data_dir: Path) -> Path:
    """The demo's database path, with what an earlier run left there removed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "demo.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    return database


async def _run_lines(session: ConsoleSession, lines: list[str], terminal: Terminal) -> bool:
    ok = True
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{job}" in line:
            await session.wait()
            made = [r.label for r in session.replies if any(p.suffix != ".mp4" for p in r.saved)]
            if not made:
                terminal.say(f"skipped `{line}`: no image made yet")
                ok = False
                continue
            line = line.replace("{job}", made[-1])
        if "{last}" in line:
            await session.wait()
            saved = [p for r in session.replies for p in r.saved if p.suffix != ".mp4"]
            if not saved:
                terminal.say(f"skipped `{line}`: no image made yet")
                ok = False
                continue
            line = line.replace("{last}", str(saved[-1]))
        terminal.say(f"> {line}")
        ok = await session.handle(line) and ok
    return ok


async def _interactive(session: ConsoleSession, terminal: Terminal) -> None:
    terminal.say("\nYour turn: type /help for the commands, /quit to leave.")
    loop = asyncio.get_running_loop()
    while True:
        try:
            line = await loop.run_in_executor(None, input, terminal.prompt("falbot> "))
        except EOFError:
            break
        finally:
            terminal.typed()
        if line.strip() in ("/quit", "/exit"):
            break
        await session.handle(line)
    await session.wait()
