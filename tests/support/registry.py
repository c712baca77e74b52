"""A real Confluent-compatible Schema Registry for tests, in order of preference:
SCHEMA_REGISTRY_URL -> testcontainers (if a Docker engine answers) -> local Apicurio.

Both of the last two run the same Apicurio Registry release (the pin in
numguard/devtools/localregistry/pom.xml), in memory, answering the Confluent API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from numguard.devtools.localregistry.app import registry_version
from numguard.devtools.localregistry.server import CONFLUENT_API, LocalRegistry
from tests.support.docker import docker_engine_answers

REGISTRY_IMAGE = "apicurio/apicurio-registry"
REGISTRY_PORT = 8080


@contextmanager
def registry_for_tests(workdir: Path) -> Iterator[str]:
    """Yield the URL a Schema Registry client is given (…/apis/ccompat/v7 for Apicurio)."""
    if existing := os.environ.get("SCHEMA_REGISTRY_URL"):
        yield existing.rstrip("/")
    elif docker_engine_answers():
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import HttpWaitStrategy

        container = (
            DockerContainer(f"{REGISTRY_IMAGE}:{registry_version()}")
            .with_exposed_ports(REGISTRY_PORT)
            .waiting_for(HttpWaitStrategy(REGISTRY_PORT, f"{CONFLUENT_API}/subjects"))
        )
        with container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(REGISTRY_PORT)
            yield f"http://{host}:{port}{CONFLUENT_API}"
    else:
        with LocalRegistry(workdir) as registry:
            yield registry.url
