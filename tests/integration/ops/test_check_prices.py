"""`falbot check` says where prices will come from, without asking fal."""

from __future__ import annotations

import io

import pytest

from bot.check import run_check

FAL_KEY = "3f1c2a9e-7b7d-4e0a:9c8b7a6f5e4d3c2b1a0f"


def prices_line(**env: str) -> str:
    out = io.StringIO()
    run_check(out, {"FAL_KEY": FAL_KEY, **env}, env_file=None)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("prices: ")]
    assert len(lines) == 1
    assert FAL_KEY not in out.getvalue()
    return lines[0]


def test_by_default_prices_come_from_fal_with_the_table_as_fallback() -> None:
    assert prices_line() == (
        "prices: fal's pricing API at https://api.fal.ai, read at start"
        " (the built-in table if it fails)"
    )


def test_a_pricing_host_is_named_without_its_credentials() -> None:
    line = prices_line(FALBOT_FAL_API_URL="https://user:pw@fal-gw.example.com/api")
    assert "at https://fal-gw.example.com/api," in line
    assert "pw" not in line


@pytest.mark.parametrize("off", ["false", "0", "off"])
def test_refresh_off_means_the_built_in_table(off: str) -> None:
    line = prices_line(FALBOT_PRICING_REFRESH=off)
    assert line == "prices: the built-in table (FALBOT_PRICING_REFRESH is off)"


def test_fal_hosts_overridden_without_a_pricing_host_means_the_built_in_table() -> None:
    line = prices_line(FALBOT_FAL_QUEUE_URL="https://fal-gw.example.com/queue")
    assert "the built-in table" in line and "FALBOT_FAL_API_URL is not set" in line
    line = prices_line(
        FALBOT_FAL_QUEUE_URL="https://fal-gw.example.com/queue",
        FALBOT_FAL_API_URL="https://fal-gw.example.com/api",
    )
    assert line.startswith("prices: fal's pricing API at https://fal-gw.example.com/api")


def test_a_plain_http_pricing_host_off_loopback_is_malformed() -> None:
    out = io.StringIO()
    code = run_check(
        out, {"FAL_KEY": FAL_KEY, "FALBOT_FAL_API_URL": "http://api.fal.ai"}, env_file=None
    )
    assert code == 1
    row = next(
        line for line in out.getvalue().splitlines() if line.startswith("FALBOT_FAL_API_URL")
    )
    assert "malformed" in row
