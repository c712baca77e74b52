"""Fetch pinned artifacts from Maven Central with Maven, once, into a cache.

Each local server pins its versions in a pom.xml of its own (localkafka/pom.xml,
localregistry/pom.xml). Maven's own repository (~/.m2) caches the downloads; `fetch`
lays out what a run needs in `<cache>/<name>-<pom digest>/<folder>`, keyed by the
pom's content so a new pin fetches anew and an old cache is never used by mistake.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

MAVEN_TIMEOUT_SECONDS = 900
_READY_MARKER = ".complete"
_DIGEST_CHARACTERS = 12


class ArtifactsUnavailable(RuntimeError):
    """Maven could not supply the pinned artifacts."""


def cache_root() -> Path:
    """`NUMGUARD_CACHE_DIR`, else `$XDG_CACHE_HOME/numguard`, else `~/.cache/numguard`."""
    if explicit := os.environ.get("NUMGUARD_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "numguard"


def fetch(
    pom: str,
    *,
    name: str,
    folder: str,
    goal: Sequence[str],
    expect: str,
    what: str,
    instead: str,
    root: Path | None = None,
) -> Path:
    """Run `mvn GOAL -DoutputDirectory=<staging>` on `pom` the first time, then return
    `<root>/<name>-<digest>/<folder>`. The folder appears whole or not at all: Maven
    writes into a staging folder, renamed once it holds a file matching `expect`.
    `what` and `instead` word the errors ("the Kafka jars"; "or set ...")."""
    digest = hashlib.sha256(pom.encode()).hexdigest()[:_DIGEST_CHARACTERS]
    target = (root or cache_root()) / f"{name}-{digest}" / folder
    if (target / _READY_MARKER).exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArtifactsUnavailable(
            f"Maven (mvn) is not installed; it fetches {what} from Maven Central. "
            f"Install it (Debian: apt-get install maven) {instead}."
        )
    staging = target.with_name(f"{folder}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    pom_file = staging.parent / "pom.xml"
    pom_file.write_text(pom, encoding="utf-8")
    log.info("fetching %s with Maven into %s (first run only)", what, target)
    command = [
        mvn,
        "--batch-mode",
        "--quiet",
        "-f",
        str(pom_file),
        *goal,
        f"-DoutputDirectory={staging}",
        # Unpack goals remember what they unpacked; kept beside the pom, not in a target/.
        f"-DmarkersDirectory={staging.parent / 'markers'}",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ArtifactsUnavailable(
            f"Maven did not fetch {what} in {MAVEN_TIMEOUT_SECONDS} s"
        ) from error
    finally:
        shutil.rmtree(staging.parent / "markers", ignore_errors=True)
    if result.returncode != 0 or not any(staging.glob(expect)):
        raise ArtifactsUnavailable(
            f"Maven could not fetch {what} (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-4000:]
        )
    (staging / _READY_MARKER).write_text(digest)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def pinned(pom: str, property_name: str) -> str:
    """A version pin as the pom states it: `<property_name>VALUE</property_name>`."""
    start = pom.index(f"<{property_name}>") + len(property_name) + 2
    return pom[start : pom.index(f"</{property_name}>")]
