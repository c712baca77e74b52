"""Poll each source once: publish every report it has that is not published yet.

source -> normalize -> encode -> publish: the rows of each report go through
the source's normalizer into ReportPublisher, one report at a time, oldest
first. A report the carrier has not delivered is reported (late or not yet
due), a report that cannot be read is rejected whole and retried next poll,
and a source that fails stops only itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from numguard.core.checkpoints import Checkpoint
from numguard.core.kafka.outage import PROBE_SECONDS
from numguard.producer.metrics import ProducerMetrics
from numguard.producer.publish import PublishError, ReportPublisher
from numguard.producer.sources.base import (
    CredentialsRejected,
    Normalized,
    Report,
    ReportMissing,
    Source,
    SourceUnavailable,
    UnreadableReport,
)

log = logging.getLogger(__name__)

# A daily report for day D is due this long after D ends (carriers publish one day behind).
DEFAULT_EXPECTED_DELAY = timedelta(hours=12)


class Interrupted(Exception):
    """Stop was requested mid-report: its open transaction is aborted, it resumes later."""


@dataclass
class PollOutcome:
    source: str
    reports: int = 0
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    flagged: int = 0  # of the accepted: published with a warning dead letter
    late: list[str] = field(default_factory=list)
    not_yet_due: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    error: str | None = None
    credentials_rejected: bool = False

    def as_json(self) -> dict[str, object]:
        """What a person reads: the fields that say something."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], False)}

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.unreadable)


class Poller:
    def __init__(
        self,
        publisher: ReportPublisher,
        checkpoints: dict[str, Checkpoint],
        metrics: ProducerMetrics,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        expected_delay: timedelta = DEFAULT_EXPECTED_DELAY,
        stop: threading.Event | None = None,
    ) -> None:
        self._publisher = publisher
        self._checkpoints = checkpoints
        self._metrics = metrics
        self._now = now
        self._expected_delay = expected_delay
        self._stop = stop or threading.Event()

    def prime_metrics(self, source: str, expected_cadence: timedelta) -> None:
        """Freshness survives restarts: the newest done checkpoint says when it was published."""
        self._metrics.expected_cadence.labels(source).set(expected_cadence.total_seconds())
        stamps = [c.committed_at for c in self._checkpoints.values()
                  if c.source == source and c.done and c.committed_at]  # fmt: skip
        if stamps:
            self._metrics.last_published.labels(source).set(max(stamps))

    def wait(self, seconds: float) -> bool:
        """Until the next poll, `seconds` from now (Kafka checked meanwhile); True when
        stop was requested."""
        deadline = time.monotonic() + seconds
        while not self._stop.wait(min(PROBE_SECONDS, max(0.0, deadline - time.monotonic()))):
            self._publisher.check_kafka()
            if time.monotonic() >= deadline:
                return False
        return True

    def published(self, source: str) -> set[str]:
        return {c.report_id for c in self._checkpoints.values() if c.source == source and c.done}

    def poll(self, source: Source) -> PollOutcome:
        outcome = PollOutcome(source.name)
        try:
            for report in source.reports(self.published(source.name)):
                if self._stop.is_set():
                    break
                self._publish(source, report, outcome)
        except CredentialsRejected as error:
            outcome.error, outcome.credentials_rejected = str(error), True
        except (SourceUnavailable, Interrupted, PublishError) as error:
            outcome.error = str(error) or "stopped"
        label = "credentials_rejected" if outcome.credentials_rejected else (
            "failed" if outcome.failed else "ok"
        )  # fmt: skip
        self._metrics.polls.labels(source.name, label).inc()
        if outcome.error:
            log.error("%s: poll failed: %s", source.name, outcome.error)
        return outcome

    def _publish(self, source: Source, report: Report, outcome: PollOutcome) -> None:
        start = self._checkpoints.get(f"{source.name}/{report.report_id}") or Checkpoint(
            source.name, report.report_id
        )
        if report.covers is not None and not start.covers:
            start = replace(start, covers=report.covers.isoformat())
        try:
            done = self._publisher.publish(self._changes(source, report), start)
        except PublishError as failed:
            # Kafka could not take it now: the next poll publishes the rest, from the last
            # committed transaction (the source stops for this poll).
            if failed.committed is not None:
                self._checkpoints[failed.committed.key] = failed.committed
            raise
        except ReportMissing as missing:
            self._missing(source.name, report, str(missing), outcome)
            if report.report_id in outcome.late and start.position == 0 and not start.missed:
                # The store learns the day is uncovered: numbers checked against it
                # answer no_data, not a confident no_record.
                missed = self._publisher.record_missed(replace(start, missed=True))
                self._checkpoints[missed.key] = missed
            return
        except UnreadableReport as error:
            log.error("%s: rejected whole, not marked done: %s", source.name, error)
            self._metrics.reports_unreadable.labels(source.name).inc()
            outcome.unreadable.append(report.report_id)
            return
        self._checkpoints[done.key] = done
        added = (done.rows - start.rows, done.accepted - start.accepted,
                 done.rejected - start.rejected)  # fmt: skip
        outcome.reports += 1
        outcome.rows += added[0]
        outcome.accepted += added[1]
        outcome.rejected += added[2]
        outcome.flagged += done.flagged - start.flagged
        self._metrics.reports_published.labels(source.name).inc()
        self._metrics.rows.labels(source.name, "accepted").inc(added[1])
        self._metrics.rows.labels(source.name, "rejected").inc(added[2])
        self._metrics.last_published.labels(source.name).set(self._now().timestamp())

    def _changes(self, source: Source, report: Report) -> Iterator[Normalized]:
        ingested_at = self._now()
        for row in source.rows(report):
            if self._stop.is_set():
                raise Interrupted(f"stopped during {report.report_id}")
            yield source.normalize(row, ingested_at)

    def _missing(self, source: str, report: Report, why: str, outcome: PollOutcome) -> None:
        if report.covers is None:
            log.warning("%s: %s", source, why)
            outcome.late.append(report.report_id)
            self._metrics.reports_missing.labels(source).inc()
            return
        due = datetime.combine(report.covers + timedelta(days=1), clock_time(), UTC)
        due += self._expected_delay
        if self._now() >= due:
            log.warning("%s: %s, expected by %s: a missed day", source, why, due.isoformat())
            outcome.late.append(report.report_id)
            self._metrics.reports_missing.labels(source).inc()
        else:
            log.info("%s: %s (not due until %s)", source, why, due.isoformat())
            outcome.not_yet_due.append(report.report_id)
