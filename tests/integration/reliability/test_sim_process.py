"""The fal simulator as its own process (`python -m adapters.fal.sim`): it announces its URLs,
runs jobs for fal-client, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from adapters.fal.hosts import point_fal_client_at
from tests.e2e.process import ROOT, clean_environment
from tests.integration.fal.fixtures import fast_gateway


async def test_the_simulator_runs_as_a_process_and_serves_fal_client() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.fal.sim",
        "--key",
        "proc-key-123456",
        "--run-time",
        "0",
        cwd=ROOT,
        env=clean_environment({}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    gateway = fast_gateway("proc-key-123456")
    try:
        assert proc.stdout is not None
        urls = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
        point_fal_client_at(
            queue_url=urls["queue_url"], rest_url=urls["rest_url"], cdn_url=urls["cdn_url"]
        )
        request_id = await gateway.submit("fal-ai/flux/schnell", {"prompt": "a process"})
        async for status in gateway.watch("fal-ai/flux/schnell", request_id):
            last = status
        assert last.state == "completed"
        result = await gateway.result("fal-ai/flux/schnell", request_id)
        png = await gateway.download(result["images"][0]["url"], max_bytes=10_000_000)
        assert png.startswith(b"\x89PNG")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        point_fal_client_at(queue_url=None, rest_url=None, cdn_url=None)
        await gateway.aclose()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
