"""The `numguard` command as a user runs it: subprocesses, a real broker, real files."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from numguard.core.kafka.topics import TopicNames
from tests.support.commands import numguard

COMMAND_TIMEOUT_SECONDS = 120


def write_report(folder: Path, name: str, *rows: str) -> Path:
    report = folder / name
    report.write_text("MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n" + "\n".join(rows))
    return report


def test_help_lists_the_subcommands() -> None:
    result = numguard("--help")
    assert result.returncode == 0
    for command in ("ingest", "consume", "check", "demo"):
        assert command in result.stdout


def test_check_rejects_an_unparseable_number_with_exit_code_2(tmp_path: Path) -> None:
    result = numguard("check", "12345", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert result.returncode == 2
    assert "not a phone number" in result.stderr


def test_check_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    """An empty store would answer allow for every number: a missing one is an error."""
    result = numguard("check", "+12025550100", "--store", f"sqlite:///{tmp_path / 'missing.db'}")
    assert result.returncode == 2
    assert "no store at" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_ingest_without_kafka_says_how_to_give_it() -> None:
    result = numguard("ingest", "x.csv", clean=True)
    assert result.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stderr


@pytest.mark.kafka
def test_an_unsafe_events_topic_stops_with_one_line_not_a_traceback(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A compacted events topic would erase deactivations on replay: a setup error, said once."""
    names = TopicNames.for_events_topic(f"compacted-{uuid.uuid4().hex[:8]}")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = NewTopic(names.events, 1, 1, config={"cleanup.policy": "compact"})
    admin.create_topics([topic])[names.events].result(30)
    report = write_report(tmp_path, "mcdn_deact_20240307.csv",
                          "2025550143,DEACTIVATE,2024-03-07T08:00:00-05:00,,Verizon")  # fmt: skip
    result = numguard("ingest", str(report), env={
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "NUMGUARD_TOPIC": names.events,
    })  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("numguard: error: topic ")
    assert "cleanup.policy=compact" in result.stderr


@pytest.mark.kafka
def test_ingest_consume_check_slice_from_the_shell(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    report = write_report(
        tmp_path, "mcdn_deact_20240305.csv",
        "12223334444,DEACTIVATE,2024-03-05T00:00Z,1,Verizon Wireless",
        "12223335555,SUSPEND,2024-03-05T00:00Z,1,Verizon Wireless",
        "not-a-number,DEACTIVATE,2024-03-05T00:00Z,1,Verizon Wireless",
    )  # fmt: skip
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NUMGUARD_TOPIC": topics.events,
        "NUMGUARD_STORE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
    }
    ingested = numguard("ingest", "--json", str(report), env=env)
    assert ingested.returncode == 3, ingested.stderr  # published, one row rejected
    assert json.loads(ingested.stdout) == {
        "files": 1, "rows": 3, "accepted": 2, "rejected": 1, "flagged": 0, "ignored": 0,
        "already_published": [], "reissued": [], "unreadable": [],
    }  # fmt: skip

    consumed = numguard("consume", "store", "--until-idle", env=env)
    assert consumed.returncode == 0, consumed.stderr
    assert json.loads(consumed.stdout)["applied"] == 2

    checked = numguard("check", "+12223334444", "--consented-at", "2024-01-01T00:00:00Z", env=env)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "mdn": "+12223334444", "decision": "block", "reason": "deactivated",
        "deactivated_on": "2024-03-05",
    }  # fmt: skip
    held = json.loads(numguard("check", "(222) 333-5555", env=env).stdout)
    assert (held["mdn"], held["decision"], held["reason"]) == ("+12223335555", "hold", "suspended")

    again = numguard("ingest", str(report), env=env)
    assert again.returncode == 0
    assert "published before, skipped: mcdn_deact_20240305.csv" in again.stdout


@pytest.mark.kafka
def test_logs_of_the_slice_never_show_a_whole_number(
    kafka_bootstrap: str, topics: TopicNames, tmp_path: Path
) -> None:
    report = write_report(
        tmp_path, "mcdn_deact_20240306.csv",
        "12223336666,NONSENSE,2024-03-06T00:00Z,1,Cingular",
        "22233366666,DEACTIVATE,2024-03-06T00:00Z,1,Cingular",
    )  # fmt: skip
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "NUMGUARD_TOPIC": topics.events}
    result = numguard("--log-level", "debug", "ingest", str(report), env=env)
    assert result.returncode == 3, result.stderr  # published; both rows rejected
    assert "2223336666" not in result.stderr + result.stdout
    assert "22233366666" not in result.stderr + result.stdout
