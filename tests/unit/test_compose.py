"""deploy/compose.yaml, read as YAML (no Docker engine runs here, so `docker compose config`
cannot): PostgreSQL 15 and two falbot replicas built from the repository's Dockerfile, on one
database URL, each with a health check on /healthz, and no secret in the file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SECRET_NAMES = ("FAL_KEY", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


def load() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def replicas(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("falbot")
    }


def test_postgresql_15_keeps_its_data_in_a_volume_and_says_when_it_is_ready() -> None:
    compose = load()
    postgres = compose["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    volume = postgres["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data" and volume[0] in compose["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_two_replicas_of_the_dockerfile_share_one_database_url_on_the_postgres_service() -> None:
    compose = load()
    found = replicas(compose)
    assert len(found) == 2, list(compose["services"])
    urls = {service["environment"]["FALBOT_DATABASE"] for service in found.values()}
    assert len(urls) == 1
    url = urls.pop()
    assert re.fullmatch(
        r"postgresql://falbot:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/falbot", url
    )
    postgres = compose["services"]["postgres"]["environment"]
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("falbot", "falbot")
    for service in found.values():
        assert (
            ROOT / "deploy" / service["build"]["context"] / service["build"]["dockerfile"]
        ).is_file()
        assert service["env_file"] == ["../.env"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        port = service["environment"]["FALBOT_HTTP_PORT"]
        health = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in health
        assert [p.split(":")[-1] for p in service["ports"]] == [port]
    published = [p.split(":")[0] for s in found.values() for p in s["ports"]]
    assert len(set(published)) == len(published)  # the replicas do not fight over a host port


def test_nothing_secret_is_written_in_it() -> None:
    text = COMPOSE.read_text()
    compose = load()
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            assert name not in SECRET_NAMES, name
            if "PASSWORD" in name:
                assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", str(value)), name
    # No token shapes, no literal password in a URL (only the variable).
    assert not re.search(r"xox[abp]-|xapp-|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}", text)
    for url in re.findall(r"postgresql://[^\s]+", text):
        password = url.removeprefix("postgresql://").split("@")[0].partition(":")[2]
        assert password in ("", "PASSWORD") or password.startswith("${POSTGRES_PASSWORD"), url


def test_each_replica_has_its_own_name_and_half_of_discords_shards() -> None:
    found = replicas(load())
    names = {service["environment"]["FALBOT_INSTANCE"] for service in found.values()}
    shards = sorted(service["environment"]["FALBOT_DISCORD_SHARDS"] for service in found.values())
    assert len(names) == 2
    assert shards == ["0/2", "1/2"]  # every shard in exactly one replica
