"""/describe's model: its price (an estimate, charged whatever fal's tokens were), the LLM's
answer read as at most four prompts, and the /imagine a suggestion's button makes."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.describe import INSTRUCTION, VISION_MODEL, suggestion_command, suggestions
from core.errors import BotError
from core.jobs import JobKind, JobResult, Output
from core.model_table import build_catalog
from core.quotes import Quote
from core.repricing import reprice
from tests.fakes.builders import make_job


def text(value: str) -> Output:
    return Output(url="", content_type="text/plain", text=value)


def test_describe_is_about_three_tenths_of_a_cent_per_description() -> None:
    spec = build_catalog().get("describe")
    params = spec.validate({}, image_count=1)
    assert params == {}
    rule = spec.pricing
    assert rule.estimate(params, input_images=1) == D("0.003")
    assert rule.actual(params, tuple(text(f"p{i}") for i in range(4))) == D("0.003")
    assert rule.actual(params, (text("just one"),)) == D("0.003")  # fal bills the call
    assert rule.actual(params, ()) == D(0)  # nothing came back: nothing billed
    assert rule.estimated and spec.price_text == "about $0.003 per description"
    assert JobResult((text("x"),), D("0.003"), cost_estimated=True).cost_text == "about $0.003"


def test_describe_takes_one_image_and_no_options() -> None:
    spec = build_catalog().get("describe")
    with pytest.raises(BotError, match="needs an image"):
        spec.validate({}, image_count=0)
    with pytest.raises(BotError, match="at most 1"):
        spec.validate({}, image_count=2)
    with pytest.raises(BotError):
        spec.validate({"prompt": "mine"}, image_count=1)
    arguments = spec.arguments({}, ["https://cdn/a.png"])
    assert arguments["image_urls"] == ["https://cdn/a.png"]
    assert arguments["prompt"] == INSTRUCTION and arguments["model"] == VISION_MODEL
    assert arguments["max_tokens"] == 600  # the cap the price estimate rests on


def test_fals_pricing_api_never_reprices_it() -> None:
    catalog = build_catalog()
    quote = Quote("openrouter/router/vision", 0.30, "1m tokens", "USD")
    result = reprice(catalog, [quote], source="fal")
    assert result.catalog.get("describe").pricing == catalog.get("describe").pricing
    (report,) = [r for r in result.reports if r.model == "describe"]
    assert not report.refreshed and not report.refused


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "a red fox in snow, dusk light\nan oil painting of a fox\nfox portrait, studio light\n"
            "a fox in a winter forest, wide",
            4,
        ),
        (
            "1. a red fox in snow\n2) an oil painting of a fox\n- fox portrait in studio\n"
            "* a fox in a forest\n5. a fifth one too many",
            4,
        ),
        ('Prompts:\n\n"a red fox in snow at dusk"\n\n**a fox in oil paint**', 2),
    ],
)
def test_the_answer_is_read_as_at_most_four_prompts(answer: str, expected: int) -> None:
    found = suggestions(answer)
    assert len(found) == expected
    assert all(s[0] not in '-*0123456789"' and not s.endswith("*") for s in found)
    assert found[0].startswith("a red fox")


def test_a_suggestion_button_makes_an_imagine_of_that_prompt() -> None:
    result = JobResult(tuple(text(f"prompt number {i}") for i in range(4)), D("0.003"))
    job = make_job(kind=JobKind.DESCRIBE, model="describe").replace(result=result)
    command = suggestion_command(job, 2)
    assert (command.kind, command.model, dict(command.options)) == (
        JobKind.IMAGE,
        "",
        {"prompt": "prompt number 2"},
    )
    with pytest.raises(BotError, match="no suggestion 5"):
        suggestion_command(job, 4)
    with pytest.raises(BotError, match="no prompt suggestions"):
        suggestion_command(make_job(), 0)


def test_text_outputs_survive_the_jobs_record() -> None:
    result = JobResult((text("one prompt here"),), D("0.003"), cost_estimated=True)
    again = JobResult.from_dict(result.to_dict())
    assert again == result and again.texts == ("one prompt here",)
