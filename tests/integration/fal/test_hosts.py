"""point_fal_client_at: fal-client's hosts moved, and put back."""

from __future__ import annotations

from collections.abc import Iterator

import fal_client.client as fal
import pytest

from adapters.fal.hosts import current_fal_hosts, point_fal_client_at

REAL = ("https://queue.fal.run", "https://rest.fal.ai", "https://v3.fal.media")


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    point_fal_client_at(queue_url=None, rest_url=None, cdn_url=None)


def test_points_every_constant_and_none_restores_the_real_hosts() -> None:
    point_fal_client_at(
        queue_url="http://127.0.0.1:9/queue/",
        rest_url="http://localhost:9/rest",
        cdn_url="https://cdn.example.com",
    )
    assert fal.QUEUE_URL_FORMAT == "http://127.0.0.1:9/queue/"
    assert fal.REST_URL == "http://localhost:9/rest"
    assert fal.CDN_URL == "https://cdn.example.com"
    point_fal_client_at(queue_url=None, rest_url=None, cdn_url=None)
    assert current_fal_hosts() == REAL


def test_each_host_is_set_on_its_own() -> None:
    point_fal_client_at(queue_url="https://gw.example.com/fal", rest_url=None, cdn_url=None)
    assert current_fal_hosts() == ("https://gw.example.com/fal", *REAL[1:])


@pytest.mark.parametrize(
    "url", ["http://example.com", "ftp://127.0.0.1", "127.0.0.1:8080", "https://x.com/?a=1"]
)
def test_refuses_plain_http_off_loopback_and_odd_urls(url: str) -> None:
    with pytest.raises(ValueError):
        point_fal_client_at(queue_url=url, rest_url=None, cdn_url=None)
    assert current_fal_hosts() == REAL
