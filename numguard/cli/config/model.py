"""numguard's configuration as one typed model: every key, its type, bounds and default.

The TOML file is this model's document; flags and the environment win over it
(numguard.cli.config.apply), and the built-in defaults are the ones written here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from numguard.cli.config.probe import librdkafka_problem
from numguard.consumer.crm.config import Endpoint, NotifierSettings
from numguard.consumer.store_consumer import DEFAULT_GROUP as DEFAULT_STORE_GROUP
from numguard.core.settings import EnvName, Integer, Port, Seconds, Settings, Text
from numguard.core.times import parse_zone
from numguard.schemas.registry import DEFAULT_COMPATIBILITY, Compatibility

DEFAULT_TOPIC = "numguard.number-state"
DEFAULT_STORE = "sqlite:///numguard.sqlite3"
DEFAULT_CONSENT_DAY_ZONE = "UTC-11"
DEFAULT_INTERVAL_SECONDS = 3600
DEFAULT_LOOKBACK_DAYS = 14
DEFAULT_CADENCE_HOURS = 24.0
DEFAULT_PORT = 8080
DEFAULT_TOKEN_ENV = "NUMGUARD_API_TOKEN"

ClientValue = str | int | float | bool


class Kafka(Settings):
    bootstrap_servers: Text | None = None
    topic: Text = DEFAULT_TOPIC
    schema_registry_url: Text | None = None
    # Set on the subject whenever numguard registers its schema (produce, ingest, receive).
    schema_compatibility: Compatibility = DEFAULT_COMPATIBILITY
    # librdkafka setting -> the environment variable holding its value (before `client`,
    # whose check needs to know which settings these fill).
    client_secret_env: dict[str, EnvName] = Field(default_factory=dict)
    # librdkafka settings, passed through as they are.
    client: dict[str, ClientValue] = Field(default_factory=dict)

    @field_validator("client")
    @classmethod
    def _librdkafka_accepts(
        cls, client: dict[str, ClientValue], info: ValidationInfo
    ) -> dict[str, ClientValue]:
        if "client_secret_env" not in info.data:
            return client  # it failed, and is reported: the probe would only echo it
        secrets = dict.fromkeys(info.data["client_secret_env"], "placeholder")
        if problem := librdkafka_problem({**client, **secrets}):
            raise ValueError(problem)
        return client


class Store(Settings):
    url: Text = DEFAULT_STORE


class Rules(Settings):
    consent_day_zone: Text = DEFAULT_CONSENT_DAY_ZONE
    # The verdict for a number with no record when a day since its consent is uncovered.
    no_data: Literal["allow", "hold"] = "allow"

    @field_validator("consent_day_zone")
    @classmethod
    def _a_zone(cls, value: str) -> str:
        parse_zone(value)  # its ValueError says what is wrong
        return value


class Convey(Settings):
    url: Text | None = None
    dir: Text | None = None


class Infobip(Settings):
    url: Text | None = None
    api_key_env: EnvName = "INFOBIP_API_KEY"


class Twilio(Settings):
    url: Text | None = None
    account_sid_env: EnvName = "TWILIO_ACCOUNT_SID"
    auth_token_env: EnvName = "TWILIO_AUTH_TOKEN"


class GovDelivery(Settings):
    url: Text | None = None
    auth_token_env: EnvName = "GOVDELIVERY_AUTH_TOKEN"


class Vibes(Settings):
    url: Text | None = None
    dir: Text | None = None


class Vonage(Settings):
    url: Text | None = None


class Telesign(Settings):
    url: Text | None = None


class AwsSms(Settings):
    enabled: bool = False
    region: Text = "us-east-1"
    bucket: Text | None = None
    endpoint_url: Text | None = None


class Sources(Settings):
    convey: Convey = Convey()
    infobip: Infobip = Infobip()
    twilio: Twilio = Twilio()
    govdelivery: GovDelivery = GovDelivery()
    vibes: Vibes = Vibes()
    vonage: Vonage = Vonage()
    telesign: Telesign = Telesign()
    aws_sms: AwsSms = AwsSms()


class Produce(Settings):
    interval_seconds: Seconds = DEFAULT_INTERVAL_SECONDS
    lookback_days: Integer = Field(DEFAULT_LOOKBACK_DAYS, ge=1)
    expected_cadence_hours: Seconds = DEFAULT_CADENCE_HOURS
    metrics_port: Port | None = None


class ConsumeStore(Settings):
    group: Text = DEFAULT_STORE_GROUP
    metrics_port: Port | None = None


class ConsumeCrm(Settings):
    metrics_port: Port | None = None


class Serve(Settings):
    port: Port = DEFAULT_PORT
    token_env: EnvName = DEFAULT_TOKEN_ENV


class Crm(Settings):
    """The CRM endpoints here, or `config` naming a file of their own (the same tables)."""

    config: Text | None = None
    notifier: NotifierSettings = NotifierSettings()
    endpoints: tuple[Endpoint, ...] = ()


class NumguardConfig(Settings):
    kafka: Kafka = Kafka()
    store: Store = Store()
    rules: Rules = Rules()
    sources: Sources = Sources()
    produce: Produce = Produce()
    consume_store: ConsumeStore = ConsumeStore()
    consume_crm: ConsumeCrm = ConsumeCrm()
    serve: Serve = Serve()
    crm: Crm = Crm()

    def value_at(self, path: str) -> Any:
        node: Any = self
        for part in path.split("."):
            node = getattr(node, part)
        return node
