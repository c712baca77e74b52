"""Every feed parser, fed arbitrary bytes: it never raises anything but UnreadableReport
(the file as a whole), and never accepts a row whose number is not an ASCII NANP number.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numguard.producer.ingest import FILE_FORMATS, file_changes
from numguard.producer.normalize import printable
from numguard.producer.sources.base import Flagged, SourceRow, UnreadableReport
from numguard.schemas.events import StateChange

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _zipped(name: str, data: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as written:
        written.writestr(name, data)
    return archive.getvalue()


NANP = re.compile(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}")
NAMES = {
    "convey": "mcdn_deact_20240530.csv",
    "twilio": "twilio_deactivations_2024-05-30.txt",
    "infobip": "report.json",
    "delivery-failures": "delivery-failures-2024-05-30.csv",
    "govdelivery": "govdelivery_deactivations_2024-05-30.csv",
    "vibes": "disconnect_2024_05_30.tsv.gz",
    "vonage": "vonage-deactivations-2024-05-30.zip",
    "telesign": "verizon-deacts_20240530.zip",
    "aws-sms": "2024-05-30-deact-report.csv",
}
SEEDS = {  # well-formed starts that the fuzzer mutates, so it reaches the row parsers
    "convey": b"MDN,REASON_CODE,MODIFICATION_DATE,NEW_MDN,CARRIER_NAME\r\n"
              b"12025550143,CHANGE_MDN,2024-05-30T00:00Z,12025550144,Verizon\r\n",
    "twilio": b"+12025550143\r\n2025550144\n",
    "infobip": b'{"results": [{"date": "2024-05-30T11:00:00.000+0000", '
               b'"destination": "12025550143", "type": "DEACTIVATION"}]}',
    "delivery-failures": b"number,provider,code,failed_at,message_id\r\n"
                         b"+12025550143,twilio,30005,2024-05-30T11:00:00Z,SM1\r\n",
    "govdelivery": b"12025550143\r\n15075551212\r\n",
    "vibes": gzip.compress(b"MDN\tCarrier Code\r\n2025550143\t104\r\n", mtime=0),
    "vonage": _zipped("deactivations.csv", b"phone_number\r\n12025550143\r\n"),
    "telesign": _zipped("verizon.csv", b"phone_number,date,status\r\n"
                                       b"12025550143,2024-05-30,deactivated\r\n"),
    "aws-sms": b"phone_number\r\n12025550143\r\n",
}  # fmt: skip


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """The seed with a random slice replaced by random bytes, or random bytes alone."""
    splice = st.tuples(
        st.integers(0, len(seed)), st.integers(0, len(seed)), st.binary(max_size=40)
    ).map(lambda cut: seed[: min(cut[:2])] + cut[2] + seed[max(cut[:2]) :])
    return st.one_of(splice, st.binary(max_size=200))


@pytest.mark.parametrize("feed", sorted(FILE_FORMATS))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_parser_never_raises_and_never_accepts_a_number_that_is_not_nanp(
    feed: str, data: st.DataObject, tmp_path: Path
) -> None:
    raw = data.draw(mutated(SEEDS[feed]))
    path = tmp_path / NAMES[feed]
    path.write_bytes(raw)
    try:
        results = list(file_changes(path, FILE_FORMATS[feed], NOW))
    except UnreadableReport:
        return  # the whole file refused, with a reason: fine
    for result in results:
        change = result.change if isinstance(result, Flagged) else result
        if isinstance(change, StateChange):
            assert NANP.fullmatch(change.mdn), change.mdn
            assert change.new_mdn is None or NANP.fullmatch(change.new_mdn), change.new_mdn


def test_the_seeds_are_read_as_events(tmp_path: Path) -> None:
    """The fuzzer's starting points are valid: the mutations start from real rows."""
    for feed, seed in SEEDS.items():
        path = tmp_path / NAMES[feed]
        path.write_bytes(seed)
        assert any(isinstance(r, StateChange) for r in file_changes(path, FILE_FORMATS[feed], NOW))


def test_utf16_files_are_unreadable_not_a_crash(tmp_path: Path) -> None:
    for feed, seed in SEEDS.items():
        if FILE_FORMATS[feed].binary:
            continue  # a compressed file: its text is read inside the archive
        for encoding in ("utf-16", "utf-16-be", "utf-32"):
            path = tmp_path / NAMES[feed]
            path.write_bytes(seed.decode().encode(encoding))
            with pytest.raises(UnreadableReport, match="save it as UTF-8"):
                list(file_changes(path, FILE_FORMATS[feed], NOW))


def test_a_byte_that_is_not_utf8_spoils_its_row_only(tmp_path: Path) -> None:
    path = tmp_path / NAMES["convey"]
    latin1 = "20255501\xe943,DEACTIVATE,2024-05-30T00:00Z,1,Cl\xe9ar\r\n".encode("latin-1")
    path.write_bytes(SEEDS["convey"] + latin1 + b"12025550145,SUSPEND,2024-05-30T00:00Z,1,V\r\n")
    results = list(file_changes(path, FILE_FORMATS["convey"], NOW))
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["StateChange", "Rejection", "StateChange"]


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_a_field_reads_each_control_character_as_a_space_whatever_else_it_holds(
    text: str,
) -> None:
    (read,) = printable(SourceRow("convey", "mcdn_deact_20240530.csv", 1, {"MDN": text})).values()
    assert read == re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", text).strip()
