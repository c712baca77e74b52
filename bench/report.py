"""The results: bench/results.json, bench/results.md, and the same table in README.md
between its bench markers."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import confluent_kafka

from bench.notes import NOTES
from numguard.devtools.localkafka.jars import kafka_version

HERE = Path(__file__).parent
README = HERE.parent / "README.md"
README_START = "<!-- bench:start (written by python -m bench) -->"
README_END = "<!-- bench:end -->"


@dataclass
class Row:
    """One stage: numguard's median rate beside its reference's, and its target."""

    stage: str
    key: str  # the stage's entry in notes.NOTES
    rate: float
    unit: str
    reference: str
    reference_rate: float
    target: str
    met: bool
    detail: str = ""  # latency, time for the whole input, ...
    peak_rss_mb: float | None = None
    profile: str = ""  # the top frames of one profiled run

    @property
    def ratio(self) -> float:
        return self.rate / self.reference_rate if self.reference_rate else 0.0


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    references: dict[str, float] = field(default_factory=dict)  # other ceilings measured
    settings: dict[str, object] = field(default_factory=dict)
    recorded: dict[str, object] | None = None  # the machine of a run read back from JSON

    def machine(self) -> dict[str, object]:
        if self.recorded is not None:
            return self.recorded
        return {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numguard": version("numguard"),
            "librdkafka": confluent_kafka.libversion()[0],
            "kafka": kafka_version(),
            "sqlite": sqlite3.sqlite_version,
            **self.settings,
        }


def read() -> Results:
    """The last run's results.json, to write its tables again (after the notes changed)."""
    document = json.loads((HERE / "results.json").read_text())
    names = {f.name for f in fields(Row)}
    rows = [Row(**{k: v for k, v in row.items() if k in names}) for row in document["stages"]]
    return Results(rows, document["references"], recorded=document["machine"])


def write(results: Results, *, files: bool, readme: bool) -> str:
    """Write results.json and results.md (with `files`) and README's table (with
    `readme`); return the markdown."""
    markdown = table(results)
    if files:
        document = {
            "machine": results.machine(),
            "stages": [{**asdict(row), "ratio": row.ratio} for row in results.rows],
            "references": results.references,
        }
        (HERE / "results.json").write_text(json.dumps(document, indent=2) + "\n")
        (HERE / "results.md").write_text(markdown)
    if readme:
        text = README.read_text()
        before, _, rest = text.partition(README_START)
        _, _, after = rest.partition(README_END)
        README.write_text(f"{before}{README_START}\n{markdown}{README_END}{after}")
    return markdown


def table(results: Results) -> str:
    machine = results.machine()
    lines = [
        ", ".join(f"{k}: {v}" for k, v in machine.items()) + "\n",
        "| stage | numguard | reference (same run) | ratio | target | met "
        "| peak RSS (largest process) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in results.rows:
        rss = f"{row.peak_rss_mb:,.0f} MB" if row.peak_rss_mb else ""
        detail = f" ({row.detail})" if row.detail else ""
        lines.append(
            f"| {row.stage} | {row.rate:,.0f} {row.unit}{detail} | {row.reference}: "
            f"{row.reference_rate:,.0f} | {row.ratio:.2f} | {row.target} | "
            f"{'yes' if row.met else 'no'} | {rss} |"
        )
    if results.references:
        lines += ["", "Other ceilings in the same run: " + "; ".join(
            f"{name} {rate:,.0f}" for name, rate in results.references.items()) + "."]  # fmt: skip
    unmet = [row for row in results.rows if not row.met]
    if unmet:
        lines += ["", "Where the time goes, for each target not met (the top frames of "
                  "one run under cProfile, by time spent in the function itself):"]  # fmt: skip
        for row in unmet:
            lines += ["", f"**{row.stage}**: {NOTES.get(row.key, '')}"]
            if row.profile:
                lines += ["", "```", row.profile, "```"]
    return "\n".join(lines) + "\n"
