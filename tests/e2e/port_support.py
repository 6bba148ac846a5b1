"""Raw sockets against `falbot run`'s public port, and what the child holds (/proc/<pid>)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
from dataclasses import dataclass

import aiohttp


@dataclass
class RawConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def closed_by_server(self, *, within: float) -> bool:
        """True once the server closed it (EOF or reset), False if still open after `within`.
        Whatever the server answers before closing is read and dropped."""
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except OSError:
            return True  # reset: the server aborted it
        return True

    def close(self) -> None:
        self.writer.close()


async def connect(port: int, *, source: str = "127.0.0.1") -> RawConnection:
    """A TCP connection that sends nothing unless told to, from a loopback `source` address
    (all of 127.0.0.0/8 is loopback on Linux: many client addresses on one machine)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawConnection(reader, writer)


async def connect_many(port: int, count: int, *, sources: list[str]) -> list[RawConnection]:
    """`count` idle connections, spread evenly over `sources`."""
    opened: list[RawConnection] = []
    for i in range(count):
        opened.append(await connect(port, source=sources[i % len(sources)]))
    return opened


def close_all(connections: list[RawConnection]) -> None:
    for connection in connections:
        with contextlib.suppress(Exception):
            connection.close()


def open_files(pid: int) -> int:
    """The child's open file descriptors."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def healthz_seconds(port: int, *, within: float = 1.0) -> float:
    """How long /healthz took to answer 200; fails past `within` (a fresh connection)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    timeout = aiohttp.ClientTimeout(total=within)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        assert response.status == 200, await response.text()
        await response.read()
    return loop.time() - started


def raise_open_file_limit(wanted: int) -> None:
    """This test process may need more sockets than the default 1,024 (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


_PROBE = """
import sys, time, urllib.request
while True:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
            answer.read()
            status = str(answer.status)
    except Exception as exc:
        status = type(exc).__name__
    print(f"{started:.3f} {time.monotonic() - started:.3f} {status}", flush=True)
    time.sleep(0.25)
"""


class HealthProbe:
    """`/healthz` asked every 0.25 s by a process of its own, so what it measures is falbot's
    answer, not how busy this test's own event loop is (it runs the attack and the fakes)."""

    def __init__(self, port: int) -> None:
        self._url = f"http://127.0.0.1:{port}/healthz"
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PROBE,
            self._url,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )

    async def stop(self) -> list[tuple[float, float, str]]:
        """(when it asked, monotonic; seconds to the answer; HTTP status or error) per probe."""
        proc, self._proc = self._proc, None
        if proc is None or proc.stdout is None:
            return []
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        out = await proc.stdout.read()
        await proc.wait()
        samples = []
        for line in out.decode().splitlines():
            started, seconds, status = line.split()
            samples.append((float(started), float(seconds), status))
        return samples
