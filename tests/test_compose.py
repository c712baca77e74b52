"""docker-compose.yml stays true to the code (no Docker engine here to run it)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from numguard.cli import build_parser
from numguard.devtools.processes import free_port

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


def producer_sources(overrides: dict[str, str]) -> list[str]:
    """The feeds the compose producer polls with its file, its environment (the compose
    defaults, unset variables left out) and `overrides` (variables set on the host)."""
    from numguard.cli import config
    from numguard.cli.commands.produce import feed_settings
    from numguard.producer.feeds import build_sources

    service = COMPOSE["services"]["producer"]
    defaults = {
        name: re.sub(r"^\$\{[A-Z_]+:-(.*)\}$", r"\1", str(value))
        for name, value in service["environment"].items() if value is not None
    }  # fmt: skip
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
    command = service["command"]
    config_file = ROOT / mounted[command[command.index("--config") + 1]]
    with pytest.MonkeyPatch.context() as patch:
        for name in service["environment"]:
            patch.delenv(name, raising=False)
        for name, value in {**defaults, **overrides}.items():
            patch.setenv(name, value)
        args = build_parser().parse_args(command[1:])
        config.apply(config.load(config_file), args)
        return [source.name for source in build_sources(feed_settings(args))]


def test_the_producer_polls_convey_infobip_and_twilio_at_the_simulator() -> None:
    from numguard.devtools.simulator import server

    assert sorted(producer_sources({})) == ["convey", "infobip", "twilio"]
    environment = COMPOSE["services"]["producer"]["environment"]
    assert environment["INFOBIP_API_KEY"].endswith(f":-{server.DEV_INFOBIP_API_KEY}}}")
    assert environment["TWILIO_ACCOUNT_SID"].endswith(f":-{server.DEV_TWILIO_ACCOUNT_SID}}}")
    assert environment["TWILIO_AUTH_TOKEN"].endswith(f":-{server.DEV_TWILIO_AUTH_TOKEN}}}")
    simulator_port = COMPOSE["services"]["simulator"]["command"]
    port = simulator_port[simulator_port.index("--port") + 1]
    assert f"http://simulator:{port}" in (ROOT / "deploy" / "producer.toml").read_text()


@pytest.mark.parametrize("feed", ["convey", "infobip", "twilio"])
def test_a_feed_whose_url_is_set_to_nothing_is_not_polled(feed: str) -> None:
    """Not polled, and its credentials are not asked for."""
    credentials = ["INFOBIP_API_KEY"] if feed == "infobip" else []
    empty = {f"NUMGUARD_{feed.upper()}_URL": "", **dict.fromkeys(credentials, "")}
    assert sorted(producer_sources(empty)) == sorted({"convey", "infobip", "twilio"} - {feed})


def test_a_feed_pointed_elsewhere_without_its_credentials_is_an_error() -> None:
    from numguard.cli.options import UsageError

    with pytest.raises(UsageError, match="TWILIO_AUTH_TOKEN is not set"):
        producer_sources({"NUMGUARD_TWILIO_URL": "https://api.twilio.example",
                          "TWILIO_AUTH_TOKEN": ""})  # fmt: skip


class _Healthz(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def api_healthcheck(port: int) -> int:
    """The API service's healthcheck command, run here against `port`."""
    test = COMPOSE["services"]["api"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    command = [sys.executable, *[part.replace(":8080/", f":{port}/") for part in test[2:]]]
    return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode


@pytest.mark.parametrize("status", [200, 503])
def test_the_api_is_healthy_only_when_healthz_answers_200(status: int) -> None:
    handler = type("Handler", (_Healthz,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        healthy = api_healthcheck(server.server_address[1]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert healthy is (status == 200)


def test_the_api_is_unhealthy_while_serve_refuses_a_store_without_tables(tmp_path: Path) -> None:
    """serve exits 2 on a store the store consumer has not made its tables in yet: nothing
    listens, and the healthcheck fails until a restart finds the tables."""
    sqlite3.connect(tmp_path / "empty.sqlite3").close()
    serve = subprocess.run(
        [sys.executable, "-m", "numguard", "serve", "--port", "0",
         "--store", f"sqlite:///{tmp_path / 'empty.sqlite3'}"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "NUMGUARD_API_TOKEN": "t"},
    )  # fmt: skip
    assert serve.returncode == 2, serve.stderr
    assert api_healthcheck(free_port()) != 0
