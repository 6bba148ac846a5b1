"""A loopback fake of Discord (REST, gateway, CDN) for driving the real discord.py in tests."""

from tests.fakes.discord.recorder import Recorded, UploadedFile
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.discord.world import Issued, Person

__all__ = ["FakeDiscord", "Issued", "Person", "Recorded", "UploadedFile"]
