"""Fetch the pinned Apicurio Registry application from Maven Central, once, into a cache.

The version pin lives in pom.xml beside this file; numguard.devtools.maven runs
Maven on it and keeps the unpacked Quarkus application (quarkus-run.jar and its
lib/) in `<cache>/apicurio-registry-<pom digest>/app`.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from numguard.devtools.maven import fetch, pinned


def pom_text() -> str:
    return (resources.files("numguard.devtools.localregistry") / "pom.xml").read_text(
        encoding="utf-8"
    )


def ensure_registry_app(root: Path | None = None) -> Path:
    """Return the folder holding quarkus-run.jar, fetching it on first use."""
    return fetch(
        pom_text(),
        name="apicurio-registry",
        folder="app",
        goal=["dependency:unpack-dependencies"],
        expect="quarkus-run.jar",
        what="Apicurio Registry",
        instead="or set SCHEMA_REGISTRY_URL",
        root=root,
    )


def registry_version() -> str:
    """The pinned Apicurio Registry version, as pom.xml states it."""
    return pinned(pom_text(), "apicurio.version")


if __name__ == "__main__":
    # `python -m numguard.devtools.localregistry.app`: fetch now (make registry-app).
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"Apicurio Registry {registry_version()}: {ensure_registry_app()}")
