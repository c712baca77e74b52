"""docker-compose.yml stays true to the code (no Docker engine here to run it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from numguard.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SOURCE = "\n".join(
    path.read_text() for folder in ("numguard", "producer", "consumer", "schemas")
    for path in (ROOT / folder).rglob("*.py")
)  # fmt: skip
# Variables read by libraries numguard uses rather than by its own code.
LIBRARY_VARIABLES = {"PGPASSWORD"}
# Variables the mounted configuration files name (secret_env = "..."), and the CRM
# notifier's per-endpoint overrides NUMGUARD_CRM_<ENDPOINT>_<KEY>.
CONFIG_VARIABLES = set(
    re.findall(r'_env\s*=\s*"([A-Z_]+)"', (ROOT / "deploy" / "crm.toml").read_text())
)
CRM_OVERRIDE = re.compile(r"NUMGUARD_CRM_[A-Z0-9_]+_[A-Z_]+")
NUMGUARD_SERVICES = [
    name for name, service in COMPOSE["services"].items()
    if service.get("command", [None])[0] == "numguard"
]  # fmt: skip


def test_every_numguard_process_is_a_service() -> None:
    assert {"simulator", "producer", "store-consumer", "crm-notifier", "api"} <= set(
        NUMGUARD_SERVICES
    )


@pytest.mark.parametrize("service", NUMGUARD_SERVICES)
def test_each_service_command_is_a_real_numguard_subcommand(service: str) -> None:
    command = COMPOSE["services"][service]["command"]
    args = build_parser().parse_args(command[1:])
    assert callable(args.handler)


@pytest.mark.parametrize("service", NUMGUARD_SERVICES)
def test_each_variable_a_service_sets_is_read_by_the_code(service: str) -> None:
    for name in COMPOSE["services"][service].get("environment", {}):
        read = name in LIBRARY_VARIABLES | CONFIG_VARIABLES or CRM_OVERRIDE.fullmatch(name)
        assert read or re.search(rf"[\"']{name}[\"']", SOURCE), name


def test_no_secret_is_written_into_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"PASSWORD:\s*\$\{POSTGRES_PASSWORD:\?", text)
    assert not re.search(r"postgresql://[^@\s]*:[^@\s]*@", text), "a password inside a URL"


def test_the_mounted_crm_configuration_loads_with_the_compose_environment() -> None:
    from numguard.cli.config import load_crm

    environment = {"CRM_WEBHOOK_SECRET": "s", "NUMGUARD_CRM_CRM_URL": "https://crm.example/h"}
    (endpoint,) = load_crm(ROOT / "deploy" / "crm.toml", environ=environment).endpoints
    assert (endpoint.name, endpoint.url, endpoint.secret) == ("crm", "https://crm.example/h", "s")
    service = COMPOSE["services"]["crm-notifier"]
    assert set(environment) <= set(service["environment"])


def test_the_registry_profile_keeps_numguards_subject_configuration() -> None:
    """The registry's default level is the one numguard sets on its subject, the producer
    says so explicitly, and every service reading or writing events is pointed at the
    registry by one variable (empty: no registry, single-object encoding)."""
    from numguard.schemas.registry import DEFAULT_COMPATIBILITY

    registry = COMPOSE["services"]["schema-registry"]
    assert registry["profiles"] == ["registry"]
    level = registry["environment"]["SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL"]
    assert level == DEFAULT_COMPATIBILITY
    producer = COMPOSE["services"]["producer"]["environment"]
    assert producer["NUMGUARD_SCHEMA_COMPATIBILITY"] == level
    for name in NUMGUARD_SERVICES:
        environment = COMPOSE["services"][name].get("environment", {})
        if "KAFKA_BOOTSTRAP_SERVERS" in environment:
            url = environment.get("NUMGUARD_SCHEMA_REGISTRY_URL")
            assert url == "${NUMGUARD_SCHEMA_REGISTRY_URL:-}", name
    listener = registry["environment"]["SCHEMA_REGISTRY_LISTENERS"].rsplit(":", 1)[1]
    assert f"http://schema-registry:{listener}" in (ROOT / "docker-compose.yml").read_text()


def test_an_empty_registry_url_means_no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMGUARD_SCHEMA_REGISTRY_URL", "")
    args = build_parser().parse_args(["consume", "store"])
    assert args.schema_registry_url is None  # so the configuration file still applies
