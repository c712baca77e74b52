"""CRM endpoints: a TOML file, then the environment over it.

    [notifier]
    max_pending_per_partition = 1000
    shutdown_grace_seconds = 10

    [[endpoints]]
    name = "salesforce"
    url = "https://crm.example.com/hooks/numguard"
    secret_env = "NUMGUARD_CRM_SALESFORCE_SECRET"   # names the variable; the secret is never here
    event_types = ["DEACTIVATED", "NUMBER_CHANGED"]  # default: every type
    timeout_seconds = 10
    max_concurrency = 8
    max_attempts = 8
    backoff = { initial_seconds = 1.0, max_seconds = 60.0 }

The environment adds endpoints (NUMGUARD_CRM_ENDPOINTS=a,b) and overrides any
key: NUMGUARD_CRM_<NAME>_<KEY>, e.g. NUMGUARD_CRM_SALESFORCE_URL,
NUMGUARD_CRM_SALESFORCE_BACKOFF_MAX_SECONDS, NUMGUARD_CRM_SALESFORCE_EVENT_TYPES
(comma-separated), and NUMGUARD_CRM_MAX_PENDING_PER_PARTITION for [notifier].
Every problem is reported at once, each with its key path or variable name.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from numguard.consumer.crm import settings
from numguard.consumer.crm.settings import Backoff
from numguard.core import logs
from numguard.schemas.events import EventType

ENV_PREFIX = "NUMGUARD_CRM_"
ENDPOINTS_ENV = "NUMGUARD_CRM_ENDPOINTS"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
KNOWN_TYPES = tuple(t for t in EventType if t is not EventType.UNKNOWN)


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    secret_env: str
    # repr=False: an endpoint printed in a log or traceback never shows its secret.
    secret: str = field(repr=False)
    event_types: frozenset[EventType] = frozenset(KNOWN_TYPES)
    timeout_seconds: float = 10.0
    max_concurrency: int = 8
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=Backoff)

    def wants(self, event_type: EventType) -> bool:
        return event_type in self.event_types


@dataclass(frozen=True)
class NotifierSettings:
    # A partition with this many events not yet delivered everywhere is paused.
    max_pending_per_partition: int = 1000
    # On SIGTERM, how long in-flight deliveries may finish before being abandoned uncommitted.
    shutdown_grace_seconds: float = 10.0


@dataclass(frozen=True)
class CrmConfig:
    endpoints: tuple[Endpoint, ...]
    notifier: NotifierSettings = field(default_factory=NotifierSettings)

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)


class CrmConfigError(ValueError):
    """The configuration cannot be used; `problems` lists each with its key path."""

    def __init__(self, where: str, problems: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(problems))
        self.problems = problems


def env_name(endpoint: str, key: str) -> str:
    """NUMGUARD_CRM_<NAME>_<KEY> for an endpoint's key (dots and dashes become _)."""
    return f"{ENV_PREFIX}{endpoint}_{key}".upper().replace("-", "_").replace(".", "_")


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> CrmConfig:
    """Read `path` (if any), apply the environment, check everything, resolve the secrets."""
    environ = os.environ if environ is None else environ
    where = str(path) if path is not None else "CRM configuration"
    document = _read(path) if path is not None else {}
    problems: list[str] = []
    raw_endpoints = _endpoint_tables(document, problems)
    for name in _env_endpoint_names(environ):
        if not any(table.get("name") == name for _, table in raw_endpoints):
            raw_endpoints.append((f"endpoints.{name}", {"name": name}))
    notifier_table = document.get("notifier", {})
    if not isinstance(notifier_table, dict):
        problems.append("notifier: expected a table ([notifier])")
        notifier_table = {}
    notifier_table = dict(notifier_table)
    settings.apply_env(notifier_table, settings.NOTIFIER_KEYS, ENV_PREFIX, environ, problems)
    notifier = settings.build(NotifierSettings, notifier_table, "notifier", problems)
    for key in set(document) - {"notifier", "endpoints"}:
        problems.append(f"{key}: unknown key (expected [notifier] and [[endpoints]])")
    endpoints = [_endpoint(where_, table, environ, problems) for where_, table in raw_endpoints]
    if not raw_endpoints:
        problems.append(f"no endpoints: add [[endpoints]] tables or set {ENDPOINTS_ENV}")
    _check_unique(raw_endpoints, problems)
    if problems or notifier is None:
        raise CrmConfigError(where, list(dict.fromkeys(problems)))  # each problem once
    return CrmConfig(tuple(e for e in endpoints if e is not None), notifier)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CrmConfigError(str(path), [f"cannot read it: {error.strerror}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise CrmConfigError(str(path), [f"not valid TOML: {error}"]) from error


def _endpoint_tables(document: dict[str, Any], problems: list[str]) -> list[tuple[str, dict]]:
    tables = document.get("endpoints", [])
    if not isinstance(tables, list):
        problems.append("endpoints: expected an array of tables ([[endpoints]])")
        return []
    found = []
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            problems.append(f"endpoints[{index}]: expected a table")
            continue
        name = table.get("name")
        label = f"endpoints.{name}" if isinstance(name, str) else f"endpoints[{index}]"
        found.append((label, dict(table)))
    return found


def _env_endpoint_names(environ: Mapping[str, str]) -> list[str]:
    listed = environ.get(ENDPOINTS_ENV, "")
    return [name.strip() for name in listed.split(",") if name.strip()]


def _endpoint(
    where: str, table: dict[str, Any], environ: Mapping[str, str], problems: list[str]
) -> Endpoint | None:
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(
            f"{where}.name: expected a name of letters, digits, - and _ (starting with a "
            f"letter), got {name!r}"
        )
        return None
    before = len(problems)
    table = dict(table)
    if "backoff" in table:
        nested = table.pop("backoff")
        if not isinstance(nested, dict):
            problems.append(f"{where}.backoff: expected a table {{initial_seconds, max_seconds}}")
            nested = {}
        # Flattened so one override mechanism serves nested keys: backoff.max_seconds.
        table.update({f"backoff.{key}": value for key, value in nested.items()})
    settings.apply_env(table, settings.ENDPOINT_KEYS, env_name(name, ""), environ, problems)
    for key in ("url", "secret_env"):
        if key not in table:
            problems.append(f"{where}.{key}: missing (or set {env_name(name, key)})")
    built = settings.build_endpoint(where, table, problems)
    url = urlsplit(built.get("url", ""))
    if "url" in built and (url.scheme not in ("http", "https") or not url.hostname):
        problems.append(f"{where}.url: expected an http(s) URL with a host")
    secret = environ.get(built.get("secret_env", ""), "")
    if "secret_env" in built and not secret:
        variable = built["secret_env"]
        problems.append(f"{where}.secret_env: the environment variable {variable} is not set")
    if len(problems) > before:
        return None
    logs.redact(secret)  # the value is never written to a log line, whoever logs it
    return Endpoint(secret=secret, **built)


def _check_unique(raw_endpoints: list[tuple[str, dict]], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for where, table in raw_endpoints:
        name = table.get("name")
        if not isinstance(name, str):
            continue
        prefix = env_name(name, "")
        if prefix in seen:
            problems.append(f"{where}.name: {name!r} clashes with {seen[prefix]} "
                            "(names must differ apart from case, - and _)")  # fmt: skip
        seen[prefix] = where
