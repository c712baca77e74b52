"""Fetch the pinned Apache Kafka jars from Maven Central, once, into a cache.

The version pin lives in pom.xml beside this file. Maven's own repository
(~/.m2) caches the downloads; this module copies the runtime classpath into
`<cache>/kafka-<pom digest>/libs`, keyed by the pom's content so a new pin
fetches anew and an old cache is never used by mistake.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

MAVEN_TIMEOUT_SECONDS = 900
_READY_MARKER = ".complete"


class KafkaJarsUnavailable(RuntimeError):
    """Maven could not supply the Kafka jars."""


def cache_root() -> Path:
    """`NUMGUARD_CACHE_DIR`, else `$XDG_CACHE_HOME/numguard`, else `~/.cache/numguard`."""
    if explicit := os.environ.get("NUMGUARD_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "numguard"


def pom_text() -> str:
    return (resources.files("numguard.devtools.localkafka") / "pom.xml").read_text(encoding="utf-8")


def ensure_kafka_jars(root: Path | None = None) -> Path:
    """Return a folder holding the broker's classpath, fetching it on first use."""
    pom = pom_text()
    digest = hashlib.sha256(pom.encode()).hexdigest()[:12]
    libs = (root or cache_root()) / f"kafka-{digest}" / "libs"
    if (libs / _READY_MARKER).exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaJarsUnavailable(
            "Maven (mvn) is not installed; it fetches the Kafka jars from Maven Central. "
            "Install it (Debian: apt-get install maven) or set KAFKA_BOOTSTRAP_SERVERS."
        )
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    pom_file = staging.parent / "pom.xml"
    pom_file.write_text(pom, encoding="utf-8")
    log.info("fetching the Apache Kafka jars with Maven into %s (first run only)", libs)
    command = [
        mvn,
        "--batch-mode",
        "--quiet",
        "-f",
        str(pom_file),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise KafkaJarsUnavailable(f"Maven did not finish in {MAVEN_TIMEOUT_SECONDS} s") from error
    if result.returncode != 0 or not any(staging.glob("kafka_*.jar")):
        raise KafkaJarsUnavailable(
            f"Maven could not fetch the Kafka jars (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    (staging / _READY_MARKER).write_text(digest)
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


def kafka_version() -> str:
    """The pinned Kafka version, as pom.xml states it."""
    pom = pom_text()
    start = pom.index("<kafka.version>") + len("<kafka.version>")
    return pom[start : pom.index("</kafka.version>")]


if __name__ == "__main__":
    # `python -m numguard.devtools.localkafka.jars`: fetch now (make kafka-jars) and say where.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"Apache Kafka {kafka_version()} jars: {ensure_kafka_jars()}")
