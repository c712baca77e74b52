"""Fetch the pinned Apache Kafka jars from Maven Central, once, into a cache.

The version pin lives in pom.xml beside this file; numguard.devtools.maven runs
Maven on it and keeps the runtime classpath in `<cache>/kafka-<pom digest>/libs`.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from numguard.devtools.maven import cache_root, fetch, pinned

__all__ = ["cache_root", "ensure_kafka_jars", "kafka_version"]


def pom_text() -> str:
    return (resources.files("numguard.devtools.localkafka") / "pom.xml").read_text(encoding="utf-8")


def ensure_kafka_jars(root: Path | None = None) -> Path:
    """Return a folder holding the broker's classpath, fetching it on first use."""
    return fetch(
        pom_text(),
        name="kafka",
        folder="libs",
        goal=["dependency:copy-dependencies", "-DincludeScope=runtime"],
        expect="kafka_*.jar",
        what="the Apache Kafka jars",
        instead="or set KAFKA_BOOTSTRAP_SERVERS",
        root=root,
    )


def kafka_version() -> str:
    """The pinned Kafka version, as pom.xml states it."""
    return pinned(pom_text(), "kafka.version")


if __name__ == "__main__":
    # `python -m numguard.devtools.localkafka.jars`: fetch now (make kafka-jars) and say where.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"Apache Kafka {kafka_version()} jars: {ensure_kafka_jars()}")
