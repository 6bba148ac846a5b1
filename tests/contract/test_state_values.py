"""The facts a store keeps for the bot (`state_value`): the commands last registered, and
people's /settings (`core.preferences`), on every store."""

from __future__ import annotations

from core.catalog import Catalog
from core.commands import Generate
from core.jobs import Actor, JobKind
from core.live_catalog import LiveCatalog
from core.model_table import build_catalog
from core.ports import Store
from core.preferences import PreferenceBook

ALICE = Actor("discord", "w1", "alice")
BOB = Actor("discord", "w1", "bob")
ADMIN = Actor("discord", "w1", "mod", is_admin=True)


def _book(store: Store, catalog: Catalog | None = None) -> PreferenceBook:
    return PreferenceBook(store=store, models=LiveCatalog(catalog or build_catalog()))


async def test_a_value_is_kept_replaced_and_missing_is_none(store: Store) -> None:
    assert await store.state_value("k") is None
    await store.set_state_value("k", "one")
    await store.set_state_value("other", "two")
    await store.set_state_value("k", "three")
    assert await store.state_value("k") == "three"
    assert await store.state_value("other") == "two"


async def test_a_users_defaults_apply_to_their_commands_and_nobody_elses(store: Store) -> None:
    book = _book(store)
    await book.change(ALICE, {"model": "flux-dev", "aspect_ratio": "16:9"})
    await book.change(ALICE, {"num_images": "3", "remix": "on"})

    command = Generate(JobKind.IMAGE, "", {"prompt": "a fox"})
    mine = await book.apply(command, ALICE)
    theirs = await book.apply(command, BOB)
    assert (mine.model, mine.options) == (
        "flux-dev",
        {"prompt": "a fox", "aspect_ratio": "16:9", "num_images": 3},
    )
    assert theirs == command
    assert (await book.effective(ALICE)).remix is True
    assert (await book.effective(BOB)).remix is False
    # what the person typed wins over their defaults
    typed = Generate(JobKind.IMAGE, "nano-banana", {"prompt": "x", "aspect_ratio": "1:1"})
    assert (await book.apply(typed, ALICE)).options["aspect_ratio"] == "1:1"
    assert (await book.apply(typed, ALICE)).model == "nano-banana"


async def test_reset_forgets_a_users_own_and_the_workspaces_defaults_show_again(
    store: Store,
) -> None:
    book = _book(store)
    await book.change(ADMIN, {"aspect_ratio": "9:16"}, scope="workspace")
    await book.change(ALICE, {"aspect_ratio": "16:9"})
    assert (await book.effective(ALICE)).aspect_ratio == "16:9"
    assert (await book.effective(BOB)).aspect_ratio == "9:16"

    settings = await book.reset(ALICE)
    assert settings.effective.aspect_ratio == "9:16"
    assert settings.source("aspect_ratio") == "workspace default"
    await book.reset(ADMIN, scope="workspace")
    assert (await book.effective(ALICE)).aspect_ratio == "1:1"
