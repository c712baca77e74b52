"""The configuration file: every problem at once, and flag > environment > file > default."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from numguard.cli import config
from numguard.cli.commands.config import EXAMPLE
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
    assert "kafka.client_secret_env.sasl.password: KAFKA_SASL_PASSWORD is not set" in missing.stdout
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
        "  kafka.bootstrap_servers: expected str, got int 5",
        "  kafka.topik: unknown key",
        "  produce.lookback_days: expected int, got str '7'",
        "  sources.twilio.auth_token_env: the environment variable NOT_SET_ANYWHERE is not set",
        '  kafka.client: No such configuration property: "no.such.property"',
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
    assert config.client_settings(document) == {
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
                   "ssl.ca.location": "/etc/numguard/ca.pem", "ssl.key.password": "inline-pw"},
        "client_secret_env": {"sasl.password": "KAFKA_SASL_PASSWORD"},
    }}  # fmt: skip
    assert sorted(config.secret_values(document)) == ["inline-pw", "s3cret-value"]
    assert config.secret_values({}) == []


def test_the_consent_day_zone_comes_from_the_file_under_env_and_flag(tmp_path: Path) -> None:
    path = tmp_path / "numguard.toml"
    path.write_text('[rules]\nconsent_day_zone = "Mars/Olympus"\n')
    assert numguard("config", "check", str(path)).returncode == 0
    from_file = numguard("--config", str(path), "check", "2025550100")
    assert from_file.returncode == 2
    assert "--consent-day-zone: 'Mars/Olympus' is not a time zone" in from_file.stderr
    env = {"NUMGUARD_CONSENT_DAY_ZONE": "Venus/Maxwell"}
    from_env = numguard("--config", str(path), "check", "2025550100", env=env)
    assert "'Venus/Maxwell' is not a time zone" in from_env.stderr
    flag = numguard("--config", str(path), "check", "2025550100", "--consent-day-zone", "UTC",
                    env=env)  # fmt: skip
    assert "no store at" in flag.stderr  # the zone was fine: it got as far as the store
