"""build_sources: the one wiring from feed settings to sources (produce and demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from numguard.producer.feeds import FeedSettings, FeedSettingsError, build_sources


def test_each_configured_feed_gets_its_source(tmp_path: Path) -> None:
    sources = build_sources(FeedSettings(
        lookback_days=3, convey_url="http://127.0.0.1:9/mcdn_deact_{date:%Y%m%d}.csv",
        convey_dir=tmp_path, infobip_url="http://127.0.0.1:9", infobip_api_key="k",
        twilio_url="http://127.0.0.1:9", twilio_account_sid="AC1", twilio_auth_token="t",
    ))  # fmt: skip
    try:
        assert [s.name for s in sources] == ["convey", "convey", "infobip", "twilio"]
    finally:
        for source in sources:
            source.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (FeedSettings(lookback_days=3), "no source configured"),
        (FeedSettings(lookback_days=3, convey_url="http://x/file.csv"), "placeholder"),
        (FeedSettings(lookback_days=3, convey_dir=Path("/nonexistent")), "not a directory"),
        (FeedSettings(lookback_days=3, infobip_url="http://x"), "Infobip API key"),
        (FeedSettings(lookback_days=3, twilio_url="http://x", twilio_account_sid="AC1"),
         "Twilio auth token"),
    ],
)  # fmt: skip
def test_a_feed_without_what_it_needs_is_a_settings_error(
    settings: FeedSettings, message: str
) -> None:
    with pytest.raises(FeedSettingsError, match=message):
        build_sources(settings)


def test_each_event_carries_when_its_report_was_generated() -> None:
    """The tie-break between reports (issue 11, case 5): Infobip's generatedDate, or the
    day of a daily file; never a field a file could smuggle in."""
    from datetime import UTC, datetime

    from numguard.producer.normalize import convey_row, daily_list_line, infobip_item
    from numguard.producer.sources.base import SourceRow

    now = datetime(2024, 3, 7, tzinfo=UTC)
    convey = {"MDN": "12025550100", "REASON_CODE": "DEACTIVATE",
              "MODIFICATION_DATE": "2024-03-05T00:00Z", "NEW_MDN": "1",
              "CARRIER_NAME": "Verizon", "generatedDate": "2099-01-01T00:00:00Z"}  # fmt: skip
    event = convey_row(SourceRow("convey", "mcdn_deact_20240305.csv", 1, convey), now)
    assert getattr(event, "report_generated_at", None) == datetime(2024, 3, 5, tzinfo=UTC)
    line = {"number": "+12025550100", "date": "2024-03-05"}
    event = daily_list_line(SourceRow("twilio", "twilio-deactivations-2024-03-05", 1, line), now)
    assert getattr(event, "report_generated_at", None) == datetime(2024, 3, 5, tzinfo=UTC)
    item = {"date": "2024-03-05T11:00:00.000+0000", "destination": "12025550100",
            "type": "DEACTIVATION", "networkName": "AT&T Mobility",
            "generatedDate": "2024-03-06T01:00:00+00:00"}  # fmt: skip
    event = infobip_item(SourceRow("infobip", "3f0c-uuid", 1, item), now)
    assert getattr(event, "report_generated_at", None) == datetime(2024, 3, 6, 1, tzinfo=UTC)
    del item["generatedDate"]  # a saved report file: no listing, so unknown
    event = infobip_item(SourceRow("infobip", "3f0c-uuid", 1, item), now)
    assert getattr(event, "report_generated_at", "missing") is None
