"""Model inputs from hostile users: every model's schema either accepts options (and then they are
within its caps and build valid fal arguments and a price) or refuses them with `invalid_input`.
Nothing else ever escapes, and a refused job leaves no trace."""

from __future__ import annotations

import asyncio
import math
import unicodedata
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.fal.outputs import parse_output
from core.engine import Engine, EngineConfig
from core.errors import BotError, ErrorCode
from core.jobs import Actor, InputImage, JobKind
from core.live_catalog import LiveCatalog
from core.model_inputs import ALIASES, MAX_PROMPT, SEED_MAX
from core.model_table import build_catalog
from core.quota import BucketKey, BucketLimits
from tests.fakes.asking import Ask, submit
from tests.fakes.clock import START, FakeClock
from tests.fakes.fal import FakeFal
from tests.fakes.memory_store import MemoryStore
from tests.fakes.reply import RecordingReply
from tests.property.strategies import any_text, json_like, tricky_text

CATALOG = build_catalog()
SPECS = CATALOG.all()
FIELDS = sorted({name for spec in SPECS for name in spec.input_model.model_fields} | set(ALIASES))
option_names = st.one_of(st.sampled_from(FIELDS), any_text)
options = st.dictionaries(option_names, json_like, max_size=6)
plausible_options = st.fixed_dictionaries(
    {"prompt": tricky_text},
    optional={
        "num_images": st.one_of(st.integers(-5, 10), tricky_text),
        "seed": st.one_of(st.integers(-(2**40), 2**40), tricky_text),
        "aspect_ratio": st.sampled_from(["1:1", "16:9", "9:16", "3:2", "21:9", "1:0", "x"]),
        "duration": st.one_of(st.integers(-1, 20), st.sampled_from(["5", "8", "8s", "²"])),
        "resolution": st.sampled_from(["480p", "720p", "1080p", "4K", "1K", "8K"]),
        "quality": st.sampled_from(["low", "medium", "high", "ultra"]),
        "generate_audio": st.one_of(st.booleans(), tricky_text),
        "scale": st.one_of(st.integers(-3, 9), tricky_text),
    },
)
CLEAN = frozenset({"Cc", "Cf", "Cs", "Co"})


def check_accepted(kind: JobKind, validated: dict[str, Any]) -> None:
    prompt = validated.get("prompt")
    if prompt is not None and kind is not JobKind.UPSCALE:
        assert 0 < len(prompt) <= MAX_PROMPT
        assert prompt == prompt.strip()
        assert not any(unicodedata.category(ch) in CLEAN for ch in prompt)
    if "num_images" in validated:
        assert 1 <= validated["num_images"] <= 4
    if validated.get("seed") is not None:
        assert 0 <= validated["seed"] <= SEED_MAX


@settings(max_examples=300, deadline=None)
@given(spec=st.sampled_from(SPECS), params=st.one_of(options, plausible_options))
def test_every_schema_accepts_within_its_caps_or_refuses_as_invalid_input(
    spec: Any, params: dict[str, Any]
) -> None:
    images = spec.max_input_images or 0
    try:
        validated = spec.validate(params, image_count=images)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        assert error.message and len(error.message) < 2000
        return
    assert set(validated) <= set(spec.input_model.model_fields)
    check_accepted(spec.kind, validated)
    arguments = spec.arguments(validated, ["https://fal.media/in.png"] * images)
    assert isinstance(arguments, dict)
    estimate = spec.pricing.estimate(validated)
    assert isinstance(estimate, Decimal) and estimate.is_finite() and estimate >= 0


@given(name=tricky_text, kind=st.sampled_from(list(JobKind)))
def test_model_names_and_kinds_resolve_or_are_refused(name: str, kind: JobKind) -> None:
    try:
        spec = LiveCatalog(CATALOG).for_kind(kind, name)
    except BotError as error:
        assert error.code is ErrorCode.INVALID_INPUT
        return
    assert spec in SPECS


@given(kind=st.sampled_from(list(JobKind)), data=st.dictionaries(any_text, json_like, max_size=5))
def test_any_output_fal_sends_is_read_or_is_fals_failure(
    kind: JobKind, data: dict[str, Any]
) -> None:
    _check_output(kind, data)


image_item = st.fixed_dictionaries(
    {"url": st.one_of(any_text, st.just("https://fal.media/x.png"))},
    optional={
        "width": json_like,
        "height": json_like,
        "content_type": json_like,
        "file_size": json_like,
    },
)


@example(kind=JobKind.IMAGE, images=[{"url": "", "width": 10**400}], flags=None, seed=None)
@given(
    kind=st.sampled_from(list(JobKind)),
    images=st.lists(st.one_of(image_item, json_like), max_size=4),
    flags=json_like,
    seed=json_like,
)
def test_image_shaped_outputs_are_read_or_are_fals_failure(
    kind: JobKind, images: list[Any], flags: Any, seed: Any
) -> None:
    data = {"images": images, "has_nsfw_concepts": flags, "seed": seed, "video": images[:1]}
    _check_output(kind, data)


def _check_output(kind: JobKind, data: dict[str, Any]) -> None:
    try:
        outputs, seed = parse_output(kind, data)
    except BotError as error:
        assert error.code is ErrorCode.PROVIDER_UNAVAILABLE
        return
    assert outputs
    for output in outputs:
        assert isinstance(output.url, str)
        for size in (output.width, output.height, output.file_size):
            assert size is None or (isinstance(size, int) and not isinstance(size, bool))
    assert seed is None or (isinstance(seed, int) and seed >= 0)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    model=st.one_of(st.sampled_from([s.name for s in SPECS]), tricky_text),
    params=st.one_of(options, plausible_options),
    image_count=st.integers(0, 3),
)
def test_admission_of_anything_is_a_job_or_a_refusal_that_leaves_no_trace(
    model: str, params: dict[str, Any], image_count: int
) -> None:
    asyncio.run(_admit(model, params, image_count))


async def _admit(model: str, params: dict[str, Any], image_count: int) -> None:
    store, fal, clock = MemoryStore(), FakeFal(auto_finish=False), FakeClock()
    limits = BucketLimits(Decimal(100), Decimal(0))
    engine = Engine(
        store=store,
        fal=fal,
        clock=clock,
        catalog=CATALOG,
        config=EngineConfig(default_limits=limits, progress_interval=0),
    )
    actor = Actor("console", "w1", "mallory")
    images = tuple(
        InputImage(content_type="image/png", url=f"https://fal.media/{n}.png")
        for n in range(image_count)
    )
    await engine.start()
    try:
        job = await submit(engine, Ask(actor, model, params, images), RecordingReply())
    except BotError as error:
        assert error.code in (ErrorCode.INVALID_INPUT, ErrorCode.QUOTA_EXHAUSTED)
        assert store.jobs == {}
        bucket = await store.bucket(BucketKey("w1", "mallory"), limits, START)
        assert bucket.level == Decimal(100)
        return
    finally:
        await engine.stop()
    assert list(store.jobs) == [job.id]
    assert job.credits.is_finite() and job.credits >= 0
    assert math.isfinite(float(job.estimate_usd))
