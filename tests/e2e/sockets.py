"""Which process holds the client end of a loopback TCP connection, read from Linux's /proc: the
socket's inode from /proc/net/tcp (by its two ports), then the process whose open files include
it. A fake server asks this while the connection is open, to tell which of several `falbot run`
children a request came from (their User-Agents are the same)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def available() -> bool:
    return all(table.exists() for table in TABLES)


def socket_owner(client_port: int, server_port: int, pids: Iterable[int]) -> int | None:
    """The pid among `pids` holding the socket from `client_port` to `server_port`."""
    inode = _inode(client_port, server_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def _inode(local_port: int, remote_port: int) -> int | None:
    for table in TABLES:
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if _port(local) == local_port and _port(remote) == remote_port and inode:
                return inode
    return None


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)
