"""The configuration file: every problem at once, and flag > environment > file > default."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from numguard.cli import build_parser, config, options
from numguard.cli.commands.config import EXAMPLE
from numguard.cli.config.model import NumguardConfig
from tests.support.commands import numguard as run_numguard


def numguard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Without the caller's NUMGUARD_* and KAFKA_* settings: only the file's count."""
    return run_numguard(*args, env=env, clean=True, timeout=60)


def test_the_example_is_valid_once_its_secrets_are_in_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text(numguard("config", "example").stdout)
    missing = numguard("config", "check", str(path))
    assert missing.returncode == 1
    assert (
        "serve.token_env: the environment variable NUMGUARD_API_TOKEN is not set" in missing.stdout
    )
    unset = "the environment variable KAFKA_SASL_PASSWORD is not set"
    assert f"kafka.client_secret_env.sasl.password: {unset}" in missing.stdout
    env = {"NUMGUARD_API_TOKEN": "t", "KAFKA_SASL_PASSWORD": "p"}
    ok = numguard("config", "check", str(path), env=env)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.startswith(f"{path}: ok")


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[kafka]\nbootstrap_servers = 5\ntopik = "x"\n'
        '[kafka.client]\n"no.such.property" = "1"\n'
        '[produce]\nlookback_days = "7"\n[sources.twilio]\nauth_token_env = "NOT_SET_ANYWHERE"\n'
    )
    result = numguard("config", "check", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:] == [
        "  kafka.bootstrap_servers: expected a string, got int 5",
        '  kafka.client: No such configuration property: "no.such.property"',
        "  kafka.topik: unknown key",
        "  sources.twilio.auth_token_env: the environment variable NOT_SET_ANYWHERE is not set",
        "  produce.lookback_days: expected an integer, got str '7'",
    ]


def test_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[kafka\n")
    result = numguard("--config", str(path), "check", "2025550100")
    assert result.returncode == 2
    assert "not valid TOML" in result.stderr


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (False, False, "from-file"),
        (False, True, "from-env"),
        (True, True, "from-flag"),
    ],
)
def test_a_flag_beats_the_environment_which_beats_the_file(
    tmp_path: Path, flag: bool, env: bool, expected: str
) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/from-file.db"\n')
    args = ["--config", str(path), "check", "2025550100"]
    if flag:
        args += ["--store", f"sqlite:///{tmp_path}/from-flag.db"]
    variables = {"NUMGUARD_STORE_URL": f"sqlite:///{tmp_path}/from-env.db"} if env else {}
    result = numguard(*args, env=variables)
    assert result.returncode == 2  # none of the stores exists: the message names the one used
    assert f"no store at {tmp_path}/{expected}.db" in result.stderr


def test_the_default_applies_when_nothing_sets_a_value(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text('[kafka]\ntopic = "x"\n')
    result = numguard("--config", str(path), "check", "2025550100")
    assert "no store at numguard.sqlite3" in result.stderr


def test_client_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-value")
    secret_env = {"sasl.password": "KAFKA_SASL_PASSWORD"}
    document = {"kafka": {"client": {"sasl.username": "u"}, "client_secret_env": secret_env}}
    assert config.client_settings(NumguardConfig.model_validate(document)) == {
        "sasl.username": "u", "sasl.password": "s3cret-value"
    }  # fmt: skip
    assert "s3cret-value" not in EXAMPLE


def test_config_check_warns_of_a_secret_written_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text('[kafka.client]\n"sasl.username" = "numguard"\n"sasl.password" = "hunter22"\n')
    result = numguard("config", "check", str(path))
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"{path}: ok (1 settings), 1 warning(s)",
        f"  warning: kafka.client.sasl.password: {config.INLINE_SECRET}",
    ]
    assert "hunter22" not in result.stdout


def test_only_secret_values_are_redacted_from_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A username, a protocol or a path is not a secret: redacting it mangles log lines."""
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-value")
    document = {"kafka": {
        "client": {"sasl.username": "numguard", "security.protocol": "SASL_SSL",
                   "sasl.mechanism": "PLAIN",
                   "client.id": "/srv/numguard/producer", "ssl.key.password": "inline-pw"},
        "client_secret_env": {"sasl.password": "KAFKA_SASL_PASSWORD"},
    }}  # fmt: skip
    assert sorted(config.secret_values(NumguardConfig.model_validate(document))) == [
        "inline-pw",
        "s3cret-value",
    ]
    assert config.secret_values(NumguardConfig()) == []


def test_the_consent_day_zone_comes_from_the_file_under_env_and_flag(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text('[rules]\nconsent_day_zone = "Mars/Olympus"\n')
    checked = numguard("config", "check", str(path))
    assert checked.returncode == 1
    assert "  rules.consent_day_zone: 'Mars/Olympus' is not a time zone" in checked.stdout
    path.write_text('[rules]\nconsent_day_zone = "America/New_York"\n')
    env = {"NUMGUARD_CONSENT_DAY_ZONE": "Venus/Maxwell"}
    from_env = numguard("--config", str(path), "check", "2025550100", env=env)
    assert from_env.returncode == 2
    assert "--consent-day-zone: 'Venus/Maxwell' is not a time zone" in from_env.stderr
    flag = numguard("--config", str(path), "check", "2025550100", "--consent-day-zone", "UTC",
                    env=env)  # fmt: skip
    assert "no store at" in flag.stderr  # the zone was fine: it got as far as the store


INLINE_CRM = """\
[serve]
port = 8081
[crm.notifier]
max_pending_per_partition = 20
[[crm.endpoints]]
name = "hub"
url = "https://hub.example.com/in"
secret_env = "HUB_SECRET"
"""


def test_crm_endpoints_in_the_main_file_are_one_model_with_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text(INLINE_CRM)
    # A command that sends no webhook does not need the CRM's secrets...
    settings = config.load(path, {})
    assert settings.serve.port == 8081
    # ...the CRM commands resolve them, with the environment over the section.
    environ = {"HUB_SECRET": "hub-s3cret", "NUMGUARD_CRM_HUB_MAX_ATTEMPTS": "3"}
    crm = config.load_crm(None, settings, environ)
    (hub,) = crm.endpoints
    assert (hub.url, hub.secret, hub.max_attempts) == (
        "https://hub.example.com/in",
        "hub-s3cret",
        3,
    )
    assert crm.notifier.max_pending_per_partition == 20
    with pytest.raises(config.ConfigError) as raised:
        config.load_crm(None, settings, {})
    assert raised.value.problems == [
        "endpoints.hub.secret_env: the environment variable HUB_SECRET is not set"
    ]


def test_config_check_reports_crm_problems_in_the_main_file(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text(INLINE_CRM.replace("max_pending_per_partition = 20", "max_pending = 20"))
    result = numguard("config", "check", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:] == [
        "  crm.notifier.max_pending: unknown key",
        "  crm.endpoints.hub.secret_env: the environment variable HUB_SECRET is not set",
    ]


def test_out_of_range_values_are_refused_with_their_bounds(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text("[produce]\nlookback_days = 0\ninterval_seconds = -5\nmetrics_port = 70000\n")
    with pytest.raises(config.ConfigError) as raised:
        config.load(path, {})
    assert raised.value.problems == [
        "produce.interval_seconds: must be greater than 0, got -5",
        "produce.lookback_days: must be at least 1, got 0",
        "produce.metrics_port: must be at most 65535, got 70000",
    ]


@pytest.mark.kafka
def test_a_crm_secret_missing_stops_only_the_commands_that_send_webhooks(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    """The shared file's [crm] section must not stop `consume store` or `check` on a host
    that holds no CRM secret."""
    path = tmp_path / "numguard.toml"
    store = f"sqlite:///{tmp_path}/store.sqlite3"
    path.write_text(INLINE_CRM + f'[store]\nurl = "{store}"\n')
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    consumed = numguard("--config", str(path), "consume", "store", "--until-idle",
                        "--topic", f"cfg-{tmp_path.name[-12:]}", env=env)  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr
    assert numguard("--config", str(path), "check", "2025550100").returncode == 0
    refused = numguard("--config", str(path), "consume", "crm", "--until-idle", env=env)
    assert refused.returncode == 2
    assert "the environment variable HUB_SECRET is not set" in refused.stderr


@pytest.mark.parametrize(
    ("flag", "env", "file", "expected"),
    [
        (None, None, None, "BACKWARD"),
        (None, None, "FULL", "FULL"),
        (None, "NONE", "FULL", "NONE"),
        ("FORWARD_TRANSITIVE", "NONE", "FULL", "FORWARD_TRANSITIVE"),
    ],
)
def test_the_schema_compatibility_is_a_flag_then_the_environment_then_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    flag: str | None, env: str | None, file: str | None, expected: str,
) -> None:  # fmt: skip
    monkeypatch.delenv("NUMGUARD_SCHEMA_COMPATIBILITY", raising=False)
    if env is not None:
        monkeypatch.setenv("NUMGUARD_SCHEMA_COMPATIBILITY", env)
    path = tmp_path / "numguard.toml"
    path.write_text(f'[kafka]\nschema_compatibility = "{file}"\n' if file else "")
    argv = ["ingest", "x.csv", *(["--schema-compatibility", flag] if flag else [])]
    args = build_parser().parse_args(argv)  # reads the environment, as main() does
    config.apply(config.load(path), args)
    assert options.schema_compatibility(args) == expected


def test_a_schema_compatibility_that_is_no_level_is_refused_wherever_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text('[kafka]\nschema_compatibility = "LOOSE"\n')
    checked = numguard("config", "check", str(path))
    assert checked.returncode == 1
    assert "kafka.schema_compatibility: Input should be 'BACKWARD'" in checked.stdout
    monkeypatch.setenv("NUMGUARD_SCHEMA_COMPATIBILITY", "LOOSE")
    args = build_parser().parse_args(["produce", "--once"])
    config.apply(config.load(None), args)
    with pytest.raises(options.UsageError, match="--schema-compatibility: expected one of BACK"):
        options.schema_compatibility(args)
    with pytest.raises(SystemExit):  # argparse: invalid choice
        build_parser().parse_args(["ingest", "x.csv", "--schema-compatibility", "LOOSE"])
