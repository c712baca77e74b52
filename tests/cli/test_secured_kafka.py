"""The whole flow on a TLS + SASL/SCRAM listener, configured as a user would: the
connection settings in the configuration file, the credentials in the environment."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from numguard.devtools.localkafka.broker import LocalKafka
from numguard.devtools.webhook_sink import WebhookSink
from tests.support.commands import numguard
from tests.support.kafka import SECURED_PASSWORD, SECURED_USER

pytestmark = pytest.mark.kafka

USERNAME_ENV = "NUMGUARD_TEST_KAFKA_USERNAME"
PASSWORD_ENV = "NUMGUARD_TEST_KAFKA_PASSWORD"
CRM_SECRET_ENV = "NUMGUARD_TEST_CRM_SECRET"
CRM_SECRET = "whsec_secured_flow_0123456789"
WRONG_PASSWORD = "not-the-password-1234"
# The brief's bound for a refused login: one line, well before any outage budget.
REFUSAL_SECONDS = 10.0

CONVEY = """\
MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME
12025550101,DEACTIVATE,2024-03-05T00:00Z,,Verizon Wireless
12025550102,SUSPEND,2024-03-05T00:00Z,,T-Mobile
12025550103,CHANGE_MDN,2024-03-05T00:00Z,12025550199,T-Mobile
"""


def write_config(folder: Path, broker: LocalKafka, crm_url: str) -> Path:
    """Only what a deployment writes down: where, how, which CA, which variables."""
    path = folder / "numguard.toml"
    path.write_text(f"""\
[kafka]
bootstrap_servers = "{broker.bootstrap_servers}"
topic = "secured-{uuid.uuid4().hex[:12]}"

[kafka.client]
"security.protocol" = "SASL_SSL"
"sasl.mechanisms" = "SCRAM-SHA-512"
"ssl.ca.location" = "{broker.ca_file}"

[kafka.client_secret_env]
"sasl.username" = "{USERNAME_ENV}"
"sasl.password" = "{PASSWORD_ENV}"

[store]
url = "sqlite:///{folder / "store.sqlite3"}"

[[crm.endpoints]]
name = "sink"
url = "{crm_url}"
secret_env = "{CRM_SECRET_ENV}"
""")
    return path


def environment(config: Path, password: str = SECURED_PASSWORD) -> dict[str, str]:
    return {"NUMGUARD_CONFIG": str(config), USERNAME_ENV: SECURED_USER,
            PASSWORD_ENV: password, CRM_SECRET_ENV: CRM_SECRET}  # fmt: skip


def test_ingest_consume_store_and_crm_over_tls_and_scram(
    secured_kafka: LocalKafka, tmp_path: Path
) -> None:
    report = tmp_path / "mcdn_deact_20240305.csv"
    report.write_text(CONVEY)
    with WebhookSink(CRM_SECRET) as sink:
        env = environment(write_config(tmp_path, secured_kafka, sink.url))
        ingested = numguard("ingest", "--json", str(report), env=env, clean=True)
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout)["accepted"] == 3

        stored = numguard("consume", "store", "--until-idle", env=env, clean=True)
        assert stored.returncode == 0, stored.stderr
        assert json.loads(stored.stdout.splitlines()[-1])["applied"] == 3
        checked = numguard("check", "+12025550101", env=env, clean=True)
        assert json.loads(checked.stdout)["decision"] == "block"

        notified = numguard("consume", "crm", "--until-idle", env=env, clean=True)
        assert notified.returncode == 0, notified.stderr
        assert sum(sink.received.values()) == 3
        assert sink.bad_signatures == 0
    for result in (ingested, stored, notified):
        assert SECURED_PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["ingest", "REPORT"],
        ["consume", "store", "--until-idle"],
        ["consume", "crm", "--until-idle"],
    ],
    ids=["ingest", "consume-store", "consume-crm"],
)
def test_a_wrong_password_fails_at_once_with_one_line(
    secured_kafka: LocalKafka, tmp_path: Path, command: list[str]
) -> None:
    report = tmp_path / "mcdn_deact_20240305.csv"
    report.write_text(CONVEY)
    config = write_config(tmp_path, secured_kafka, "http://127.0.0.1:9/hooks")
    args = [str(report) if part == "REPORT" else part for part in command]
    started = time.monotonic()
    result = numguard(*args, env=environment(config, WRONG_PASSWORD), clean=True)
    took = time.monotonic() - started
    assert result.returncode == 2
    assert took < REFUSAL_SECONDS
    [line] = result.stderr.splitlines()  # no retries logged, no traceback
    assert line.startswith(
        f"numguard: error: Kafka at {secured_kafka.bootstrap_servers} refused the connection: "
        "SASL authentication error: Authentication failed during authentication due to "
        "invalid credentials with SASL mechanism SCRAM-SHA-512"
    )
    assert WRONG_PASSWORD not in result.stderr
