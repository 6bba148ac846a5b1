"""Flagged outputs: Discord spoilers or withholds them and says so; Slack never shows them."""

from __future__ import annotations

from decimal import Decimal

from adapters.discord import render as discord_render
from adapters.slack import render as slack_render
from core.jobs import DeliveredFile, Delivery, JobResult, Output
from tests.fakes.builders import make_job


def delivery(*, spoiler: bool, withheld: int) -> Delivery:
    flagged = Output("https://fal.media/a.png", "image/png", nsfw=True)
    result = JobResult(outputs=(flagged,), cost_usd=Decimal("0.039"), seed=1)
    files = (DeliveredFile(flagged, None, "a.png", spoiler=spoiler),)
    return Delivery(make_job(), result, files, 1.0, withheld=withheld)


def test_discord_spoilers_links_and_counts_withheld_outputs() -> None:
    text = discord_render.delivery(
        delivery(spoiler=True, withheld=2), links=["https://fal.media/a.png"]
    )
    assert "||<https://fal.media/a.png>||" in text
    assert "2 output(s) withheld" in text
    plain = discord_render.delivery(
        delivery(spoiler=False, withheld=0), links=["https://fal.media/a.png"]
    )
    assert "||" not in plain and "withheld" not in plain


def test_slack_holds_back_spoilered_outputs_and_says_how_many() -> None:
    _, blocks = slack_render.result(
        delivery(spoiler=True, withheld=1), user_id="U1", links=[], file_ids=[]
    )
    assert "2 output(s) withheld" in str(blocks)
    assert "fal.media/a.png" not in str(blocks)


def test_slack_warns_about_an_output_made_from_a_flagged_one() -> None:
    plain = Output("https://fal.media/b.png", "image/png", nsfw=False)
    result = JobResult(outputs=(plain,), cost_usd=Decimal("0.039"), seed=1)
    job = make_job(nsfw_input=True)
    shown = Delivery(job, result, (DeliveredFile(plain, b"x", "b.png"),), 1.0)
    _, blocks = slack_render.result(shown, user_id="U1", links=[], file_ids=[])
    assert "flagged an output as possibly NSFW" in str(blocks)
