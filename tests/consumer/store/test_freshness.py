"""How current the store is, per source: recorded with each batch, never moved back by a
backfill, filled from the history for a store made before it, and reported (with the
stale ones) by check, scrub, `store freshness` and the API's /healthz."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from numguard.consumer.store import Consumed, SqlStore, open_store
from numguard.consumer.store.freshness import updated_rows
from numguard.schemas.events import EventType
from tests.builders import change
from tests.support.commands import numguard
from tests.support.serve import client, running_api


def apply(store: SqlStore, *changes: tuple[str, str]) -> None:
    events = [
        change(EventType.DEACTIVATED, when, source=source, mdn=f"+120255501{i:02d}",
               report_id=f"{source}-{when}")
        for i, (source, when) in enumerate(changes)
    ]  # fmt: skip
    store.apply_batch([Consumed(e, "t", 0, i) for i, e in enumerate(events)], {}, "g")


def age_everything(url: str, days: int) -> None:
    """As if nothing had been applied for `days` days."""
    millis = int((datetime.now(UTC) - timedelta(days=days)).timestamp() * 1000)
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as database:
            database.execute("UPDATE source_freshness SET last_applied_ms = ?", (millis,))
    else:
        with psycopg.connect(url, autocommit=True) as database:
            database.execute("UPDATE source_freshness SET last_applied_ms = %s", (millis,))


def test_a_backfill_of_old_days_never_moves_the_latest_change_back() -> None:
    current = {"convey": (2_000, 10)}
    rows = updated_rows(current, [("convey", 1_000), ("twilio", 5), ("twilio", 7)], 99)
    assert sorted(rows) == [("convey", 2_000, 99), ("twilio", 7, 99)]


def test_each_batch_records_its_sources(store: SqlStore) -> None:
    apply(store, ("convey", "2024-03-05"), ("convey", "2024-03-07"), ("twilio", "2024-03-06"))
    apply(store, ("convey", "2024-03-01"))  # an old file ingested late
    report = {f.source: f for f in store.freshness()}
    assert report["convey"].latest_change == datetime(2024, 3, 7, tzinfo=UTC)
    assert report["twilio"].latest_change == datetime(2024, 3, 6, tzinfo=UTC)
    assert datetime.now(UTC) - report["convey"].last_applied < timedelta(minutes=5)


def test_a_store_made_before_the_table_is_filled_from_its_history(store_url: str) -> None:
    store = open_store(store_url)
    apply(store, ("convey", "2024-03-05"))
    store.close()
    if store_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as database:
            database.execute("DROP TABLE source_freshness")
    else:
        with psycopg.connect(store_url, autocommit=True) as database:
            database.execute("DROP TABLE source_freshness")
    reader = open_store(store_url, create=False)
    assert reader.freshness() == []  # an old store read as it is
    reader.close()
    upgraded = open_store(store_url)
    (convey,) = upgraded.freshness()
    assert convey.latest_change == datetime(2024, 3, 5, tzinfo=UTC)
    upgraded.close()


def test_check_scrub_store_and_healthz_say_when_a_source_is_stale(
    store: SqlStore, store_url: str, tmp_path: Path
) -> None:
    apply(store, ("convey", "2024-03-05"))
    fresh = numguard("store", "freshness", "--store", store_url)
    assert fresh.returncode == 0
    (source,) = json.loads(fresh.stdout)["sources"]
    assert (source["source"], source["stale"]) == ("convey", False)
    assert source["latest_change"] == "2024-03-05T00:00:00Z"

    age_everything(store_url, days=3)
    stale = numguard("store", "freshness", "--store", store_url)
    assert stale.returncode == 1
    assert json.loads(stale.stdout)["sources"][0]["stale"] is True
    checked = numguard("check", "2025550100", "--store", store_url)
    assert checked.returncode == 0  # the answer still comes, with the warning beside it
    assert "numguard: warning: source convey is stale: nothing applied since" in checked.stderr
    assert numguard("check", "2025550100", "--store", store_url,
                    "--stale-after-hours", "100").stderr == ""  # fmt: skip
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n2025550100\n")
    scrubbed = numguard("scrub", str(contacts), "--number-column", "phone", "--store", store_url,
                        "--json",
                        "-o", str(tmp_path / "out.csv"))  # fmt: skip
    assert json.loads(scrubbed.stdout)["stale_sources"] == ["convey"]

    with running_api(store_url) as (base, _process), client(base, None) as http:
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "stale"
        assert health.json()["sources"][0]["source"] == "convey"
    with (
        running_api(store_url, "--stale-after-hours", "0") as (base, _process),
        client(base, None) as http,
    ):
        assert http.get("/healthz").json()["status"] == "ok"
