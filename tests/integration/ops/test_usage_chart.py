"""The usage chart and CSV, made from ledger rows written to a real SQLite store."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from adapters.sqlite.store import SqliteStore
from adapters.usage_chart import (
    CSV_COLUMNS,
    HEIGHT,
    WIDTH,
    file_stem,
    summary,
    table_cells,
    usage_chart_png,
    usage_csv,
)
from core.jobs import Actor, JobState
from core.markup import user_ref
from core.ports import JobSettlement, UsageFilter
from core.quota import BucketKey, BucketLimits, LedgerEntry
from core.render import render_usage
from core.usage import UsageReport, usage_report
from tests.fakes.builders import make_admission, make_job

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
ADMIN = Actor("console", "w1", "ann", is_admin=True)
LIMITS = BucketLimits(Decimal(10_000), Decimal(0))
# (days ago, user, model, USD)
ROWS = [
    (6, "ann", "flux-dev", "0.025"),
    (6, "bob", "nano-banana", "0.078"),
    (4, "ann", "veo3", "1.6"),
    (2, "bob", "flux-schnell", "0.0018"),
    (2, "bob", "nano-banana", "0.039"),
    (0, "ann", "wan-2.5", "0.5"),
    (0, "cid", "gpt-image-edit", "0.133"),
]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "falbot.db")
    try:
        yield opened
    finally:
        await opened.close()


async def charge(store: SqliteStore, *, days_ago: int, user: str, model: str, usd: str) -> str:
    """One finished job and its ledger row, written the way the engine settles a job."""
    at = NOW - timedelta(days=days_ago)
    job = make_job(user_id=user, model=model, created_at=at)
    await store.admit(job, images=(), admission=make_admission(job, capacity=10_000))
    done = job
    for state in (JobState.SUBMITTING, JobState.SUBMITTED, JobState.COMPLETED):
        done = done.moved_to(state, at=at)
    done = done.replace(credits_settled=True)
    entry = LedgerEntry(job.id, "w1", user, model, Decimal(usd), Decimal(usd) * 100, at)
    await store.settle_job(done, JobSettlement(Decimal(0), LIMITS, entry))
    return job.id


@pytest.fixture
async def ledger(store: SqliteStore) -> list[str]:
    ids = []
    for days_ago, user, model, usd in ROWS:
        ids.append(await charge(store, days_ago=days_ago, user=user, model=model, usd=usd))
    return ids


async def report(store: SqliteStore, *, everyone: bool = True) -> UsageReport:
    return await usage_report(store, ADMIN, days=7, now=NOW, everyone=everyone)


async def test_the_chart_is_a_png_of_the_expected_size(store: SqliteStore, ledger: list[str]):
    for by in ("model", "user_id"):
        png = usage_chart_png(await report(store), by=by, labels={"ann": "Ann"})
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG"
            assert image.size == (WIDTH, HEIGHT)
            image.load()  # the whole file decodes
            assert len(image.getcolors(maxcolors=1_000_000) or ()) > 10  # bars, text: not blank


async def test_the_table_and_the_chart_follow_the_ledger(store: SqliteStore, ledger: list[str]):
    usage = await report(store)
    by_user = {row.name: (row.jobs, row.usd) for row in summary(usage, by="user_id")}
    assert by_user == {
        "ann": (3, Decimal("2.125")),
        "bob": (3, Decimal("0.1188")),
        "cid": (1, Decimal("0.133")),
    }
    assert [row.name for row in summary(usage)][:2] == ["veo3", "wan-2.5"]
    own = await report(store, everyone=False)  # /usage: only the asking user's spend
    assert {row.name for row in summary(own)} == {"flux-dev", "veo3", "wan-2.5"}
    assert file_stem(own) == "usage-me-20261120"
    assert file_stem(usage) == "usage-workspace-20261120"
    different = usage_chart_png(own)
    assert different != usage_chart_png(usage)


async def test_the_chart_names_the_workspace_and_agrees_with_the_text_to_the_digit(
    store: SqliteStore, ledger: list[str]
) -> None:
    usage = await report(store)
    png = usage_chart_png(usage, by="user_id", labels={"ann": "Ann"}, workspace="Team Rocket")
    with Image.open(io.BytesIO(png)) as image:
        title, table = image.text["Title"], image.text["Description"]
    assert "· Team Rocket ·" in title and "w1" not in title  # the name, not the id
    text = render_usage(usage)
    rows = [line.split(" · ") for line in table.splitlines()]
    assert rows == table_cells(usage, by="user_id", labels={"ann": "Ann"})
    # ann spent $2.125 and bob $0.1188: the table, the title and the text round them alike
    assert ["Ann", "3", "$2.125"] in rows and ["bob", "3", "$0.1188"] in rows
    assert f"{user_ref('ann')}: $2.125" in text and f"{user_ref('bob')}: $0.1188" in text
    total = rows[-1][2]
    assert title.endswith(f"total {total}") and f": {total} over 7 jobs." in text


async def test_the_csv_rows_sum_to_the_ledger(store: SqliteStore, ledger: list[str]):
    job = await store.get_job(ledger[2])  # refund the veo3 job: a negative row
    assert job is not None
    entries = await store.ledger(_everything())
    veo3 = next(e for e in entries if e.job_id == job.id)
    assert await store.refund(veo3, bucket=BucketKey("w1", "ann"), limits=LIMITS)

    text = usage_csv(await report(store))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    written = await store.ledger(_everything())
    assert len(rows) == len(written) == len(ROWS) + 1
    assert sum(Decimal(r["cost_usd"]) for r in rows) == sum(e.cost_usd for e in written)
    assert sum(Decimal(r["cost_usd"]) for r in rows) == sum(Decimal(r[3]) for r in ROWS) - Decimal(
        "1.6"
    )
    assert {r["job_id"] for r in rows} == set(ledger)
    refund = next(r for r in rows if r["kind"] == "refund")
    assert (refund["cost_usd"], refund["user_id"]) == ("-1.6", "ann")


def test_an_empty_period_still_draws_and_the_csv_has_only_its_header() -> None:
    empty = UsageReport("w1", "ann", NOW - timedelta(days=29), NOW, ())
    with Image.open(io.BytesIO(usage_chart_png(empty))) as image:
        assert image.size == (WIDTH, HEIGHT)
    assert usage_csv(empty).splitlines() == [",".join(CSV_COLUMNS)]


def test_csv_cells_that_look_like_formulas_are_quoted_as_text() -> None:
    entry = LedgerEntry("j1", "w1", "=HYPERLINK(1)", "flux-dev", Decimal("-0.5"), Decimal(-50), NOW)
    rows = list(csv.DictReader(io.StringIO(usage_csv(UsageReport("w1", None, NOW, NOW, (entry,))))))
    assert rows[0]["user_id"] == "'=HYPERLINK(1)"
    assert rows[0]["cost_usd"] == "-0.5"  # numbers stay numbers


def _everything() -> UsageFilter:
    return UsageFilter("w1", NOW - timedelta(days=365))
