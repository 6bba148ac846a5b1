"""FALBOT_LOG_LEVEL sets the least severe log line kept; FALBOT_DEBUG still means debug."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pydantic import ValidationError

from bot.logging_setup import configure_logging
from bot.settings import Settings


def test_falbot_log_level_is_read_and_checked() -> None:
    assert Settings(_env_file=None, FALBOT_LOG_LEVEL="WARNING").effective_log_level == "warning"  # type: ignore[call-arg]
    assert Settings(_env_file=None, FALBOT_DEBUG=True).effective_log_level == "debug"  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, FALBOT_LOG_LEVEL="loud")  # type: ignore[call-arg]


def test_a_warning_level_drops_info_lines() -> None:
    out = io.StringIO()
    configure_logging(secrets=[], level="warning", stream=out)
    try:
        logging.getLogger("falbot.test").info("quiet")
        logging.getLogger("falbot.test").warning("loud")
        lines = [json.loads(line)["msg"] for line in out.getvalue().splitlines()]
        assert lines == ["loud"]
    finally:
        configure_logging(secrets=[], stream=io.StringIO())
