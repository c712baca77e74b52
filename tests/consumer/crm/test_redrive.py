"""numguard dlq redrive: dead-lettered events delivered again, each redrive picking up
where the last one stopped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from numguard.consumer.crm.redrive import Redriver, redrive_group
from numguard.core.kafka.clients import consumer_config, idempotent_producer_config
from numguard.core.kafka.topics import TopicNames
from tests.consumer.crm import (
    CLI,
    SECRET,
    WAIT_SECONDS,
    Answer,
    cli_env,
    crm_config,
    dead_letters,
    endpoint,
    history,
    make_notifier,
    publish,
    receiver,
    write_config,
)

pytestmark = pytest.mark.kafka

REFUSED, OTHERS = "+12025550001", "+12025550002"


class Switchable:
    """Answers 410 for the refused number until told to accept everything."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.accept = False

    def __call__(self, event: dict[str, Any], _attempt: int) -> Answer:
        ok = self.accept or event["subject"] != self.refused
        return (200 if ok else 410), {}, 0.0


def redrive(bootstrap: str, names: TopicNames, url: str, name: str = "crm") -> Any:
    redriver = Redriver(
        consumer_config(bootstrap, redrive_group(name)), idempotent_producer_config(bootstrap),
        names.crm_dead_letter, endpoint(name, url),
    )  # fmt: skip
    return redriver.run()


def test_redrive_delivers_and_a_second_redrive_sends_nothing(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    changes = history([REFUSED, OTHERS, "+12025550003"], per_number=2)
    publish(kafka_bootstrap, topics.events, changes)
    crm_answer, other_answer = Switchable(REFUSED), Switchable(OTHERS)
    with receiver(crm_answer) as crm, receiver(other_answer) as other:
        config = crm_config(endpoint("crm", crm.url), endpoint("other", other.url))
        make_notifier(kafka_bootstrap, topics, config).run(until_idle=True)
        assert len(dead_letters(kafka_bootstrap, topics.events)) == 4
        refused = [c.event_id for c in changes if c.mdn == REFUSED]
        before = len(crm.requests)

        crm_answer.accept = True
        first = redrive(kafka_bootstrap, topics, crm.url)
        assert (first.read, first.matched, first.delivered, first.dead_lettered_again) == (
            4, 2, 2, 0,
        )  # fmt: skip
        # In dead-letter order, which is the number's order.
        assert [r.event_id for r in crm.requests[before:]] == refused

        second = redrive(kafka_bootstrap, topics, crm.url)
        assert (second.read, second.delivered) == (0, 0)
        assert len(crm.requests) == before + 2

        # Each endpoint's redrive keeps its own place: "other" still has its two.
        other_answer.accept = True
        assert redrive(kafka_bootstrap, topics, other.url, "other").delivered == 2


def test_a_redrive_that_fails_again_dead_letters_anew_for_the_next_one(
    kafka_bootstrap: str, topics: TopicNames
) -> None:
    changes = history([REFUSED], per_number=2)
    publish(kafka_bootstrap, topics.events, changes)
    answer = Switchable(REFUSED)
    with receiver(answer) as crm:
        make_notifier(kafka_bootstrap, topics, crm_config(endpoint("crm", crm.url))).run(
            until_idle=True
        )
        failed = redrive(kafka_bootstrap, topics, crm.url)
        assert (failed.matched, failed.delivered, failed.dead_lettered_again) == (2, 0, 2)
        letters = dead_letters(kafka_bootstrap, topics.events)
        assert [x.get("redriven_from_offset") for x in letters] == [None, None, 0, 1]
        assert all(x["status"] == 410 and x["endpoint"] == "crm" for x in letters)

        answer.accept = True
        retried = redrive(kafka_bootstrap, topics, crm.url)
        assert (retried.read, retried.delivered) == (2, 2)
        assert crm.delivered_ids() == {c.event_id for c in changes}


def test_the_redrive_command(kafka_bootstrap: str, topics: TopicNames, tmp_path: Path) -> None:
    changes = history([REFUSED], per_number=1)
    publish(kafka_bootstrap, topics.events, changes)
    answer = Switchable(REFUSED)
    with receiver(answer) as crm:
        make_notifier(kafka_bootstrap, topics, crm_config(endpoint("crm", crm.url))).run(
            until_idle=True
        )
        config = write_config(tmp_path, crm.url)
        env = cli_env(kafka_bootstrap, topics.events)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*CLI, "dlq", "redrive", "--config", str(config), *args], env=env,
                capture_output=True, text=True, timeout=WAIT_SECONDS, check=False,
            )  # fmt: skip

        unknown = run("--endpoint", "nope")
        assert unknown.returncode == 2
        assert "no endpoint named 'nope' (configured: crm)" in unknown.stderr

        still_refused = run("--endpoint", "crm")
        assert still_refused.returncode == 1, still_refused.stderr
        assert json.loads(still_refused.stdout)["dead_lettered_again"] == 1
        assert "+12025550001" not in still_refused.stderr  # masked in the log line
        assert SECRET not in still_refused.stderr

        answer.accept = True
        done = run("--endpoint", "crm")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "endpoint": "crm", "read": 1, "matched": 1, "delivered": 1,
            "dead_lettered_again": 0, "not_redrivable": 0,
        }  # fmt: skip
        assert crm.delivered_ids() == {changes[0].event_id}
