"""The public server's connection cap stays under the process's open-file limit."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from bot.connections import FILES_RESERVED, IN_FLIGHT, connection_cap


@pytest.fixture
def files_1024() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, soft), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_cap_is_lowered_under_the_open_file_limit_and_says_so(
    files_1024: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert connection_cap(1000) == 1024 - FILES_RESERVED - IN_FLIGHT
    assert "raise it (LimitNOFILE, ulimit -n)" in caplog.text


def test_a_cap_under_the_limit_is_kept(files_1024: None) -> None:
    assert connection_cap(100) == 100
