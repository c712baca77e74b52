"""schemathesis against the live server and its own /openapi.json, every check on:
schema-valid requests are answered 2xx (or 401/404), schema-violating ones 4xx, every
answer matches its documented shape, status and content type, and nothing is a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from numguard.consumer.store import open_store
from tests.support.serve import TOKEN, running_api

EXAMPLES_PER_OPERATION = 200
SEED = 20261201
RUN_TIMEOUT_SECONDS = 600
# 413 is the documented answer to a batch over its item limit: a rejection too.
CONFIG = """\
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "405", "413"]
"""


def test_the_server_keeps_its_published_contract(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    open_store(f"sqlite:///{store}").close()
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    with running_api(f"sqlite:///{store}") as (base, _process):
        result = subprocess.run(
            [st, "--config-file", str(config), "run", f"{base}/openapi.json",
             "--checks", "all", "--header", f"Authorization: Bearer {TOKEN}",
             "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
             "--generation-database", "none", "--no-color"],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False,
            cwd=tmp_path,  # its cache of crashes stays out of the repository
        )  # fmt: skip
    report = "\n".join(line[:300] for line in result.stdout.splitlines()[-60:])
    assert result.returncode == 0, report
    assert " passed" in result.stdout and "5 passed" in result.stdout, report
