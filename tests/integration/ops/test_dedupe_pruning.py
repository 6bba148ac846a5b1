"""`falbot run` forgets old dedupe keys: the pruning starts with it, on the real SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.fal.simulator import FalSimulator
from adapters.sqlite.store import SqliteStore
from bot.run import serving
from tests.integration.ops.conftest import ops_settings


def keys(db_path: Path) -> set[str]:
    with sqlite3.connect(db_path) as db:  # a second reader: the WAL lets it look alongside
        return {row[0] for row in db.execute("SELECT key FROM dedupe")}


async def test_falbot_run_prunes_keys_older_than_a_day(
    fal_sim: FalSimulator, db_path: Path
) -> None:
    now = datetime.now(UTC)
    async with await SqliteStore.open(db_path) as store:
        await store.claim("slack:Ev-two-days-old", now - timedelta(days=2))
        await store.claim("fal:webhook:req-an-hour-old", now - timedelta(hours=1))

    async with serving(ops_settings(fal_sim, db_path)):
        async with asyncio.timeout(5):
            while "slack:Ev-two-days-old" in keys(db_path):  # noqa: ASYNC110 - a file, no event
                await asyncio.sleep(0.01)
        assert keys(db_path) == {"fal:webhook:req-an-hour-old"}
