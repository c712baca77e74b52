"""Which carrier feeds to poll, and the sources that poll them.

One wiring for every caller: `numguard produce` fills FeedSettings from its flags
and environment, `numguard demo` from the simulator's address and development
credentials. Each HTTP source gets a client of its own (closed by its close()).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from numguard.producer.sources.base import Source
from numguard.producer.sources.convey import ConveyDirectorySource, ConveyHttpSource
from numguard.producer.sources.govdelivery import GovDeliverySource
from numguard.producer.sources.http import REQUEST_TIMEOUT_SECONDS, RetryPolicy
from numguard.producer.sources.infobip import InfobipSource
from numguard.producer.sources.telesign import TelesignSource
from numguard.producer.sources.twilio import TwilioSource
from numguard.producer.sources.vibes import VibesDirectorySource, VibesHttpSource
from numguard.producer.sources.vonage import VonageSource


class FeedSettingsError(ValueError):
    """The feeds cannot be polled as configured; the message names the setting."""


@dataclass(frozen=True)
class FeedSettings:
    lookback_days: int
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    convey_url: str | None = None  # a template with {date:%Y%m%d}
    convey_dir: Path | None = None
    infobip_url: str | None = None
    infobip_api_key: str | None = None
    twilio_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    govdelivery_url: str | None = None
    govdelivery_token: str | None = None
    vibes_url: str | None = None  # a template with {date:%Y_%m_%d}
    vibes_dir: Path | None = None
    vibes_username: str | None = None  # HTTP Basic, when the host asks for it
    vibes_password: str | None = None
    vonage_url: str | None = None
    vonage_api_key: str | None = None
    vonage_api_secret: str | None = None
    vonage_bearer_token: str | None = None  # an application JWT, instead of key and secret
    telesign_url: str | None = None
    telesign_customer_id: str | None = None
    telesign_api_key: str | None = None
    aws_sms: bool = False  # AWS End User Messaging's reports bucket, with the SDK's credentials
    aws_region: str = "us-east-1"
    aws_bucket: str | None = None  # default: {region}-pinpoint-sms-voice
    aws_endpoint_url: str | None = None  # an S3-compatible server instead of AWS
    aws_access_key_id: str | None = None  # None: the SDK's own chain
    aws_secret_access_key: str | None = None


def utc_today() -> date:
    return datetime.now(UTC).date()


def build_sources(feeds: FeedSettings) -> list[Source]:
    """A source per configured feed. Raises FeedSettingsError when none is configured,
    or one is configured without what it needs."""
    days, policy = feeds.lookback_days, feeds.policy
    sources: list[Source] = []
    if feeds.convey_url:
        if "{date" not in feeds.convey_url:
            raise FeedSettingsError("--convey-url needs a {date:%Y%m%d} placeholder")
        sources.append(ConveyHttpSource(feeds.convey_url, client=_client(), policy=policy,
                                        lookback_days=days, today=utc_today))  # fmt: skip
    if feeds.convey_dir is not None:
        if not feeds.convey_dir.is_dir():
            raise FeedSettingsError(f"--convey-dir {feeds.convey_dir}: not a directory")
        sources.append(ConveyDirectorySource(feeds.convey_dir, lookback_days=days,
                                             today=utc_today))  # fmt: skip
    if feeds.infobip_url:
        key = _required(feeds.infobip_api_key, "the Infobip API key")
        sources.append(InfobipSource(feeds.infobip_url, key, client=_client(), policy=policy,
                                     lookback_days=days))  # fmt: skip
    if feeds.twilio_url:
        sid = _required(feeds.twilio_account_sid, "the Twilio account SID")
        token = _required(feeds.twilio_auth_token, "the Twilio auth token")
        sources.append(TwilioSource(feeds.twilio_url, sid, token, client=_client(),
                                    policy=policy, lookback_days=days))  # fmt: skip
    if feeds.govdelivery_url:
        token = _required(feeds.govdelivery_token, "the GovDelivery TMS token")
        sources.append(GovDeliverySource(
            feeds.govdelivery_url, token, client=_client(), policy=policy,
            lookback_days=days, today=utc_today,
        ))  # fmt: skip
    if feeds.vibes_url:
        if "{date" not in feeds.vibes_url:
            raise FeedSettingsError("--vibes-url needs a {date:%Y_%m_%d} placeholder")
        sources.append(VibesHttpSource(
            feeds.vibes_url, username=feeds.vibes_username, password=feeds.vibes_password,
            client=_client(), policy=policy, lookback_days=days, today=utc_today,
        ))  # fmt: skip
    if feeds.vibes_dir is not None:
        if not feeds.vibes_dir.is_dir():
            raise FeedSettingsError(f"--vibes-dir {feeds.vibes_dir}: not a directory")
        sources.append(VibesDirectorySource(feeds.vibes_dir, lookback_days=days,
                                            today=utc_today))  # fmt: skip
    if feeds.vonage_url:
        if not feeds.vonage_bearer_token and not (feeds.vonage_api_key and feeds.vonage_api_secret):
            raise FeedSettingsError(
                "Vonage needs VONAGE_API_KEY and VONAGE_API_SECRET, or VONAGE_BEARER_TOKEN"
            )
        sources.append(VonageSource(
            feeds.vonage_url, api_key=feeds.vonage_api_key, api_secret=feeds.vonage_api_secret,
            bearer_token=feeds.vonage_bearer_token, client=_client(), policy=policy,
            lookback_days=days, today=utc_today,
        ))  # fmt: skip
    if feeds.telesign_url:
        customer = _required(feeds.telesign_customer_id, "the Telesign customer ID")
        key = _required(feeds.telesign_api_key, "the Telesign API key")
        sources.append(TelesignSource(feeds.telesign_url, customer, key, client=_client(),
                                      policy=policy))  # fmt: skip
    if feeds.aws_sms:
        sources.append(_aws_sms_source(feeds))
    if not sources:
        raise FeedSettingsError(
            "no source configured: give --convey-url, --convey-dir, --infobip-url, "
            "--twilio-url, --govdelivery-url, --vibes-url, --vibes-dir, --vonage-url, "
            "--telesign-url or --aws-sms"
        )
    return sources


def _aws_sms_source(feeds: FeedSettings) -> Source:
    # The AWS SDK is imported only when its feed is polled: it costs a startup.
    import boto3
    from botocore.config import Config

    from numguard.producer.sources.aws_sms import AwsSmsSource

    client = boto3.client(
        "s3", region_name=feeds.aws_region, endpoint_url=feeds.aws_endpoint_url,
        aws_access_key_id=feeds.aws_access_key_id,
        aws_secret_access_key=feeds.aws_secret_access_key,
        config=Config(retries={"max_attempts": feeds.policy.attempts, "mode": "standard"}),
    )  # fmt: skip
    return AwsSmsSource(lookback_days=feeds.lookback_days, region=feeds.aws_region,
                        bucket=feeds.aws_bucket, client=client, today=utc_today)  # fmt: skip


def _client() -> httpx.Client:
    # Redirects are not followed: Twilio's 307 carries the signed link in its body.
    return httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS)


def _required(value: str | None, what: str) -> str:
    if not value:
        raise FeedSettingsError(f"{what} is missing")
    return value
