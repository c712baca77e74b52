"""Every command starts without the web stacks and the registry client that only some
commands use: each `numguard` process (hundreds in a day of cron jobs and in tests)
would pay about half a second and 30 MB for them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY_AND_OPTIONAL = ("fastapi", "starlette", "confluent_kafka.schema_registry", "psycopg")


def test_the_command_line_imports_no_web_stack_registry_client_or_postgres_driver() -> None:
    probe = (
        "import json, sys; import numguard.cli; "
        f"print(json.dumps([m for m in {list(HEAVY_AND_OPTIONAL)!r} if m in sys.modules]))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60).stdout  # fmt: skip
    assert json.loads(loaded) == []
