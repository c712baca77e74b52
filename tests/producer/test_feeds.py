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
