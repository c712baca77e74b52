"""A real PostgreSQL server for tests and benchmarks, from Debian's package, on loopback.

PostgreSQL refuses to run as root, so when the tests run as root the server is
initialised and started as the `postgres` system user the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from numguard.devtools.processes import free_port

START_TIMEOUT_SECONDS = 60


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam("postgres")
    except KeyError as error:
        raise PostgresUnavailable("running as root and there is no 'postgres' user") from error
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def local_postgres(*, durable: bool = False) -> Iterator[str]:
    """Yield the URL of a fresh server in a temp dir; stop and remove it afterwards.
    Not `durable` (for tests): no fsync, no full-page writes; durable: the defaults a
    production server keeps, for benchmarks."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="numguard-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()

    def run(*command: str) -> None:
        result = subprocess.run(
            _as_server_user(list(command)),
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_SECONDS,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"{command[0]} failed:\n{result.stdout}{result.stderr}")

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "numguard",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "start",
        )
        try:
            yield f"postgresql://numguard@127.0.0.1:{port}/postgres"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"
