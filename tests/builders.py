"""Small builders for test events."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from numguard.producer.normalize import event_id
from numguard.schemas.events import EventType, StateChange

NUMBER = "+12025550100"


def at(text: str) -> datetime:
    """`2024-03-05` or `2024-03-05T11:00` as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def change(
    event_type: EventType,
    when: str,
    *,
    mdn: str = NUMBER,
    new_mdn: str | None = None,
    report_id: str = "report-1",
    position: int = 1,
    source: str = "convey",
    generated: str | None = None,
) -> StateChange:
    content = f"{mdn}|{event_type}|{when}|{new_mdn}|{position}"
    return StateChange(
        event_id=event_id(source, report_id, content),
        mdn=mdn,
        event_type=event_type,
        effective_at=at(when),
        new_mdn=new_mdn,
        carrier="Verizon Wireless",
        source=source,
        report_id=report_id,
        report_position=position,
        raw_reason=event_type.value,
        ingested_at=at("2024-06-01"),
        report_generated_at=at(generated) if generated else None,
    )


CONVEY_HEADER = "MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\n"
_CONVEY_CODES = ("DEACTIVATE", "SUSPEND", "REACTIVATE", "CHANGE_MDN")


def convey_file(folder: Path, rows: int, *, seed: int, day: str = "20240305") -> tuple[Path, int]:
    """A Convey report `mcdn_deact_<day>.csv` of `rows` rows over rows // 3 numbers (so a
    number changes several times), every 1,000th row with an unknown reason code (a dead
    letter). Returns the file and how many rows are accepted as events."""
    chance = random.Random(seed)
    moment = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    path = folder / f"mcdn_deact_{day}.csv"
    accepted = 0
    with path.open("w") as out:
        out.write(CONVEY_HEADER)
        for position in range(rows):
            index = chance.randrange(max(1, rows // 3))
            number = f"1{202 + index // 10_000 % 700}555{index % 10_000:04d}"
            code = "EXPLODE" if position % 1000 == 999 else chance.choice(_CONVEY_CODES)
            new = f"1303{chance.randint(200, 999)}{chance.randint(0, 9999):04d}"
            hour = chance.randrange(24)
            out.write(f"{number},{code},{moment}T{hour:02d}:00Z,"
                      f"{new if code == 'CHANGE_MDN' else ''},Verizon Wireless\n")  # fmt: skip
            accepted += code != "EXPLODE"
    return path, accepted
