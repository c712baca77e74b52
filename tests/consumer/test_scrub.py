"""numguard scrub: a CRM export back with a decision per row, on both backends."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numguard.consumer import scrub as scrubbing
from numguard.consumer.store import Consumed, SqlStore
from numguard.schemas.events import EventType
from tests.builders import change


def scrub(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "numguard", "scrub", *args, "--store", store_url],
        capture_output=True, text=True, timeout=120, check=False, env=os.environ,
    )  # fmt: skip


def seed(store: SqlStore) -> None:
    events = [
        change(EventType.DEACTIVATED, "2024-03-05T10:00", mdn="+12025550101"),
        change(EventType.SUSPENDED, "2024-03-05", mdn="+12025550102", position=2),
        change(EventType.NUMBER_CHANGED, "2024-03-05", mdn="+12025550103",
               new_mdn="+12025550199", position=3),
    ]  # fmt: skip
    store.apply_batch([Consumed(e, "t", 0, i) for i, e in enumerate(events)], {}, "g")


def test_every_row_comes_back_with_its_decision_and_the_summary_adds_up(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    seed(store)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "\ufeffname,phone,opted_in\n"  # a BOM, as spreadsheet exports have
        "Ann,(202) 555-0101,2024-01-01T00:00:00Z\n"
        "Bob,2025550101,2024-03-05T23:00:00Z\n"
        "Cy,+1 202 555 0101,2024-03-06\n"
        "Di,202-555-0102,2024-01-01\n"
        "Ed,12025550103,\n"
        "Fay,555,2024-01-01\n"
        "Gil,2025550104,last tuesday\n"
    )
    out = tmp_path / "scrubbed.csv"
    result = scrub(store_url, str(contacts), "--number-column", "phone",
                   "--consent-column", "opted_in", "-o", str(out), "--json")  # fmt: skip
    # Written whole, but 2 of 7 rows could not be read: more than the default 1%.
    assert result.returncode == 3, result.stderr
    assert "2 of 7 rows (28.6%)" in result.stderr.strip().splitlines()[-1]
    rows = list(csv.DictReader(out.open()))
    got = [(r["name"], r["numguard_decision"], r["numguard_reason"]) for r in rows]
    assert got == [
        ("Ann", "block", "deactivated"),
        ("Bob", "block", "deactivated"),  # same UTC day as the deactivation
        ("Cy", "allow", "active"),  # opted in after the deactivation date
        ("Di", "hold", "suspended"),
        ("Ed", "block", "deactivated"),
        ("Fay", "invalid", "unparseable_number"),
        ("Gil", "allow", "no_record"),
    ]
    assert rows[4]["numguard_new_mdn"] == "+12025550199"
    assert [r["numguard_deactivated_on"] for r in rows] == [
        "2024-03-05", "2024-03-05", "2024-03-05", "", "2024-03-05", "", ""
    ]  # fmt: skip
    assert rows[0]["opted_in"] == "2024-01-01T00:00:00Z"  # the input columns are kept
    assert json.loads(result.stdout) == {
        "rows": 7, "allow": 2, "hold": 1, "block": 3, "unparseable_numbers": 1,
        "unparseable_consent_dates": 1, "stale_sources": [],
    }  # fmt: skip


def test_rows_stream_to_stdout_in_chunks_without_a_consent_column(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    seed(store)
    contacts = tmp_path / "big.csv"
    with contacts.open("w") as stream:
        stream.write("phone\n")
        for n in range(5000):  # more than one lookup chunk
            stream.write(f"202555{n % 200:04d}\n")
    result = scrub(store_url, str(contacts), "--number-column", "phone")
    assert result.returncode == 0, result.stderr
    decisions = [row["numguard_decision"] for row in csv.DictReader(result.stdout.splitlines())]
    assert len(decisions) == 5000
    assert decisions.count("block") == 2 * 25  # +1202555010{1,3}: 25 times each
    assert decisions.count("hold") == 25
    assert "rows: 5000" in result.stderr


def test_a_missing_column_is_a_clear_error(store: SqlStore, store_url: str, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("name,mobile\nAnn,2025550101\n")
    result = scrub(store_url, str(contacts), "--number-column", "phone")
    assert result.returncode == 2
    assert "no column 'phone' in the input; its columns are: name, mobile" in result.stderr


def test_an_evening_opt_in_on_the_deactivation_date_is_void_unless_the_zone_says_utc(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    """Issue 11, case 6: 20:00 at UTC-5 on the deactivation date is the next day in UTC."""
    seed(store)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "name,phone,opted_in\n"
        "Eve,2025550101,2024-03-05T20:00:00-05:00\n"  # the deactivation date, in the US
        "Max,2025550101,2024-03-06T11:00:00Z\n"  # the next day has begun in UTC-11
        "Day,2025550101,2024-03-06\n"  # a date after the deactivation date
    )

    def decisions(*extra: str) -> list[str]:
        out = str(tmp_path / "o.csv")
        result = scrub(store_url, str(contacts), "--number-column", "phone",
                       "--consent-column", "opted_in", "-o", out, *extra)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return [r["numguard_decision"] for r in csv.DictReader((tmp_path / "o.csv").open())]

    assert decisions() == ["block", "allow", "allow"]
    assert decisions("--consent-day-zone", "UTC") == ["allow", "allow", "allow"]
    assert decisions("--consent-day-zone", "America/New_York") == ["block", "allow", "allow"]
    bad = scrub(store_url, str(contacts), "--number-column", "phone",
                "--consent-day-zone", "Mars/Olympus")  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("numguard: error: --consent-day-zone")


def test_us_dates_spreadsheet_numbers_and_a_given_format_are_read(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    """Issue 11, case 9: a quarter of a realistic export was read as "no consent date"."""
    seed(store)  # +12025550101 deactivated 2024-03-05
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "name,phone,opted_in\n"
        "Us,12025550101,03/06/2024\n"  # after the deactivation date: counts
        "Usb,12025550101,03/05/2024 11:45 PM\n"  # that evening: void
        "Xl,12025550101.0,03/06/2024\n"  # a spreadsheet float
        "Sci,1.2025550101E10,03/06/2024\n"
        "Lost,1.2E10,03/06/2024\n"  # digits rounded away: never guessed
    )
    out = tmp_path / "o.csv"
    result = scrub(store_url, str(contacts), "--number-column", "phone", "--consent-column",
                   "opted_in", "-o", str(out), "--max-unparseable", "50%")  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = [(r["name"], r["numguard_decision"]) for r in csv.DictReader(out.open())]
    assert got == [("Us", "allow"), ("Usb", "block"), ("Xl", "allow"), ("Sci", "allow"),
                   ("Lost", "invalid")]  # fmt: skip
    european = tmp_path / "eu.csv"
    european.write_text("phone,opted_in\n12025550101,06.03.2024\n12025550101,05.03.2024\n")
    result = scrub(store_url, str(european), "--number-column", "phone", "--consent-column",
                   "opted_in", "-o", str(out), "--consent-format", "%d.%m.%Y")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [r["numguard_decision"] for r in csv.DictReader(out.open())] == ["allow", "block"]


def test_short_long_and_blank_rows_keep_their_place_and_never_fail_the_file(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    seed(store)
    contacts = tmp_path / "ragged.csv"
    contacts.write_text(
        "name,phone,opted_in\n"
        "Ann\n"  # no number: invalid, never allow
        "Bob,2025550101,2024-01-01,an extra field\n"
        "\n"
        "Cy,2025550101\n"  # no consent date: any deactivation blocks
    )
    out = tmp_path / "scrubbed.csv"
    result = scrub(store_url, str(contacts), "--number-column", "phone", "--consent-column",
                   "opted_in", "-o", str(out), "--max-unparseable", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:4] == ["name", "phone", "opted_in", "numguard_decision"]
    assert {len(row) for row in csv.reader(lines)} == {8}  # 3 columns + 5 added, each row
    rows = list(csv.DictReader(lines))
    got = [(r["name"], r["numguard_decision"], r["numguard_reason"]) for r in rows]
    assert got == [
        ("Ann", "invalid", "unparseable_number"),
        ("Bob", "block", "deactivated"),
        ("Cy", "block", "deactivated"),
    ]


def test_worker_processes_give_the_same_rows_in_the_same_order_as_one_process(
    store: SqlStore, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(store)
    # Small chunks, few of them in-process: most of the file goes to the workers.
    monkeypatch.setattr(scrubbing, "CHUNK_ROWS", 40)
    monkeypatch.setattr(scrubbing, "IN_PROCESS_CHUNKS", 2)
    lines = ["name,phone,opted_in"]
    for i in range(1_200):
        number = ["(202) 555-0101", "202-555-0102", "12025550103", "555", f"20255{i:05d}"][i % 5]
        consent = ["2024-01-01", "2024-03-06", "", "last tuesday"][i % 4]
        lines.append(f"contact {i},{number},{consent}")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("\n".join(lines) + "\n")

    def scrubbed(jobs: int) -> tuple[str, dict[str, int]]:
        out = io.StringIO()
        with contacts.open(newline="") as source:
            summary = scrubbing.scrub(source, out, store, "phone", "opted_in",
                                      store_url=store_url, jobs=jobs)  # fmt: skip
        return out.getvalue(), summary.as_json()

    alone, in_workers = scrubbed(1), scrubbed(2)
    assert in_workers == alone
    rows = list(csv.DictReader(io.StringIO(in_workers[0])))
    assert [r["name"] for r in rows] == [f"contact {i}" for i in range(1_200)]
    assert in_workers[1]["block"] > 0 and in_workers[1]["unparseable_numbers"] == 240
