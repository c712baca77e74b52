"""CRM endpoints from a TOML file and the environment; every problem listed with its path.

The same wording as every other setting (numguard.cli.config.problems)."""

from __future__ import annotations

from pathlib import Path

import pytest

from numguard.cli.config import ConfigError as CrmConfigError
from numguard.cli.config import load_crm
from numguard.consumer.crm.config import Backoff
from numguard.core.logs import scrub
from numguard.schemas.events import EventType

FILE = """\
[notifier]
max_pending_per_partition = 50

[[endpoints]]
name = "salesforce"
url = "https://crm.example.com/hooks"
secret_env = "SF_SECRET"
event_types = ["DEACTIVATED", "number_changed"]
max_attempts = 12
backoff = { initial_seconds = 0.5, max_seconds = 30 }

[[endpoints]]
name = "hub-spot"
url = "http://127.0.0.1:9000/x"
secret_env = "HS_SECRET"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crm.toml"
    path.write_text(text)
    return path


def test_a_file_with_defaults_filled_in(tmp_path: Path) -> None:
    config = load_crm(
        write(tmp_path, FILE), environ={"SF_SECRET": "s3cret-sf", "HS_SECRET": "hs-key"}
    )
    salesforce, hubspot = config.endpoints
    assert salesforce.name == "salesforce"
    assert salesforce.secret == "s3cret-sf"
    assert salesforce.event_types == {EventType.DEACTIVATED, EventType.NUMBER_CHANGED}
    assert salesforce.wants(EventType.DEACTIVATED)
    assert not salesforce.wants(EventType.SUSPENDED)
    assert (salesforce.max_attempts, salesforce.backoff) == (
        12,
        Backoff(initial_seconds=0.5, max_seconds=30.0),
    )
    assert hubspot.event_types == set(EventType) - {EventType.UNKNOWN}
    assert (hubspot.timeout_seconds, hubspot.max_concurrency, hubspot.max_attempts) == (10, 8, 8)
    assert config.notifier.max_pending_per_partition == 50
    assert config.notifier.shutdown_grace_seconds == 10


def test_the_environment_overrides_the_file_and_adds_endpoints(tmp_path: Path) -> None:
    environ = {
        "SF_SECRET": "s3cret-sf", "HS_SECRET": "hs-key", "MK_SECRET": "mk-key",
        "NUMGUARD_CRM_SALESFORCE_URL": "https://other.example.com/h",
        "NUMGUARD_CRM_SALESFORCE_BACKOFF_MAX_SECONDS": "5",
        "NUMGUARD_CRM_HUB_SPOT_EVENT_TYPES": "SUSPENDED, REACTIVATED",
        "NUMGUARD_CRM_MAX_PENDING_PER_PARTITION": "7",
        "NUMGUARD_CRM_ENDPOINTS": "marketo",
        "NUMGUARD_CRM_MARKETO_URL": "https://mk.example.com/in",
        "NUMGUARD_CRM_MARKETO_SECRET_ENV": "MK_SECRET",
        "NUMGUARD_CRM_MARKETO_MAX_CONCURRENCY": "2",
    }  # fmt: skip
    config = load_crm(write(tmp_path, FILE), environ=environ)
    salesforce, hubspot, marketo = config.endpoints
    assert salesforce.url == "https://other.example.com/h"
    assert salesforce.backoff == Backoff(initial_seconds=0.5, max_seconds=5.0)
    assert hubspot.event_types == {EventType.SUSPENDED, EventType.REACTIVATED}
    assert (marketo.url, marketo.secret, marketo.max_concurrency) == (
        "https://mk.example.com/in", "mk-key", 2,
    )  # fmt: skip
    assert config.notifier.max_pending_per_partition == 7


def test_endpoints_from_the_environment_alone() -> None:
    config = load_crm(None, environ={
        "NUMGUARD_CRM_ENDPOINTS": "a", "NUMGUARD_CRM_A_URL": "https://a.example.com",
        "NUMGUARD_CRM_A_SECRET_ENV": "A_SECRET", "A_SECRET": "a-secret",
    })  # fmt: skip
    assert [e.name for e in config.endpoints] == ["a"]


def test_every_problem_is_listed_with_its_key_path(tmp_path: Path) -> None:
    text = """\
colour = "blue"
[notifier]
max_pending_per_partition = 0
[[endpoints]]
name = "a"
url = "ftp://example.com"
secret_env = "A_SECRET"
[[endpoints]]
name = "b"
secret_env = "NOT_SET"
event_types = ["DEACTIVATED", "EXPLODED"]
timeout_seconds = -1
max_concurrency = "many"
retries = 3
backoff = { initial_seconds = 2, max_seconds = 1 }
[[endpoints]]
url = "https://x.example.com"
"""
    with pytest.raises(CrmConfigError) as raised:
        load_crm(write(tmp_path, text), environ={
            "A_SECRET": "a-secret", "NUMGUARD_CRM_A_MAX_ATTEMPTS": "lots",
        })  # fmt: skip
    problems = "\n".join(raised.value.problems)
    for expected in (
        "colour: unknown key",
        "notifier.max_pending_per_partition: must be at least 1, got 0",
        "endpoints.a.url: expected an http(s) URL with a host",
        "NUMGUARD_CRM_A_MAX_ATTEMPTS: expected an integer, got str 'lots'",
        "endpoints.b.url: missing",
        "endpoints.b.event_types: unknown event type(s) EXPLODED",
        "endpoints.b.timeout_seconds: must be greater than 0, got -1",
        "endpoints.b.max_concurrency: expected an integer, got str 'many'",
        "endpoints.b.retries: unknown key",
        "endpoints.b.backoff.max_seconds: must be at least initial_seconds (2)",
        "endpoints.b.secret_env: the environment variable NOT_SET is not set",
        "endpoints[2].name: missing",
    ):
        assert expected in problems, f"{expected!r} not in:\n{problems}"
    assert str(tmp_path / "crm.toml") in str(raised.value)


def test_names_that_would_share_variables_are_refused(tmp_path: Path) -> None:
    """Checked once the endpoints themselves are valid (it needs their names)."""
    text = (
        FILE
        + '[[endpoints]]\nname = "HUB_spot"\nurl = "https://h.example.com"\n'
        + 'secret_env = "HS_SECRET"\n'
    )
    with pytest.raises(CrmConfigError) as raised:
        load_crm(write(tmp_path, text), environ={"SF_SECRET": "s", "HS_SECRET": "h"})
    assert raised.value.problems == [
        "endpoints: 'HUB_spot' clashes with 'hub-spot' (names must differ apart from case, - and _)"
    ]


def test_a_secret_written_in_the_file_is_refused(tmp_path: Path) -> None:
    text = FILE.replace('secret_env = "HS_SECRET"', 'secret_env = "HS_SECRET"\nsecret = "hunter2"')
    with pytest.raises(CrmConfigError) as raised:
        load_crm(write(tmp_path, text), environ={"SF_SECRET": "s", "HS_SECRET": "h"})
    assert raised.value.problems == [
        "endpoints.hub-spot.secret: a secret written in the file; name its variable with secret_env"
    ]
    assert "hunter2" not in str(raised.value)


def test_a_missing_secret_names_the_variable_and_a_secret_is_never_shown(tmp_path: Path) -> None:
    with pytest.raises(CrmConfigError) as raised:
        load_crm(write(tmp_path, FILE), environ={"SF_SECRET": "s3cret-sf"})
    assert raised.value.problems == [
        "endpoints.hub-spot.secret_env: the environment variable HS_SECRET is not set"
    ]
    config = load_crm(
        write(tmp_path, FILE), environ={"SF_SECRET": "s3cret-sf", "HS_SECRET": "hs-k3y"}
    )
    assert "s3cret-sf" not in repr(config)
    # Registered with the log redactor: no log line can carry it.
    assert scrub("token s3cret-sf here") == "token [redacted] here"


def test_unreadable_files_and_no_endpoints(tmp_path: Path) -> None:
    with pytest.raises(CrmConfigError, match="cannot read it"):
        load_crm(tmp_path / "missing.toml", environ={})
    with pytest.raises(CrmConfigError, match="not valid TOML"):
        load_crm(write(tmp_path, "[[endpoints]\n"), environ={})
    with pytest.raises(CrmConfigError, match="no endpoints"):
        load_crm(None, environ={})
