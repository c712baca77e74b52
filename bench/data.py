"""Synthetic inputs: state changes, a Convey daily file, a contacts export."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from numguard.producer.sources import convey
from numguard.schemas.events import EventType, StateChange

REASONS = ["DEACTIVATE", "SUSPEND", "REACTIVATE", "CHANGE_MDN"]
FIRST_NUMBER, LAST_NUMBER = 2_000_000, 9_999_999  # the subscriber part of +1202...


def sample_changes(count: int) -> list[StateChange]:
    generator = random.Random(1)
    now = datetime.now(UTC)
    return [
        StateChange(
            event_id=f"{i:032x}", mdn=f"+1202{generator.randint(FIRST_NUMBER, LAST_NUMBER)}",
            event_type=generator.choice(list(EventType)[:5]),
            effective_at=datetime(2024, 3, generator.randint(1, 28), tzinfo=UTC),
            new_mdn=None, carrier="Verizon Wireless", source="convey",
            report_id="mcdn_deact_20240305.csv", report_position=i, raw_reason="DEACTIVATE",
            ingested_at=now,
        )
        for i in range(count)
    ]  # fmt: skip


def write_convey_file(path: Path, rows: int) -> None:
    generator = random.Random(2)
    with path.open("w") as out:
        out.write(",".join(convey.COLUMNS) + "\n")
        for _ in range(rows):
            reason = generator.choice(REASONS)
            new = f"1303{generator.randint(2000000, 9999999)}" if reason == "CHANGE_MDN" else "1"
            out.write(f"1202{generator.randint(FIRST_NUMBER, LAST_NUMBER)},{reason},"
                      f"2024-03-05T00:00Z,{new},Verizon Wireless\n")  # fmt: skip


def write_contacts(path: Path, rows: int) -> None:
    """A CRM export: a name, a number as people type it, the opt-in date."""
    generator = random.Random(3)
    with path.open("w") as out:
        out.write("name,phone,consented_at\n")
        for i in range(rows):
            number = generator.randint(FIRST_NUMBER, LAST_NUMBER)
            out.write(f"contact {i},(202) {str(number)[:3]}-{str(number)[3:]},"
                      f"2024-0{generator.randint(1, 6)}-1{generator.randint(0, 9)}\n")  # fmt: skip
