"""Compressed reports as streams of text lines, with the standard library's gzip and
zipfile: a gzip download is decompressed as it arrives; a zip (read from its end) is
spooled to a temporary file first. Neither is ever held whole in memory.

An archive that is not one, is corrupt, or is cut off is an UnreadableReport: a
broken download must never pass for a short list.
"""

from __future__ import annotations

import gzip
import io
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from numguard.producer.sources.base import UnreadableReport


class _ChunkReader(io.RawIOBase):
    """The bytes of an iterator of chunks as a readable raw stream."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


# No line of a report is this long; a longer one (a decompressed run without a line
# break) would be held whole in memory: the report is unreadable instead.
MAX_LINE_CHARS = 1 << 20


def _lines(text: io.TextIOBase, report_id: str) -> Iterator[str]:
    while line := text.readline(MAX_LINE_CHARS):
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise UnreadableReport(f"{report_id}: a line over {MAX_LINE_CHARS} characters")
        yield line


def gunzip_lines(chunks: Iterable[bytes], report_id: str) -> Iterator[str]:
    """The lines of a gzip-compressed text (UTF-8; a byte that is not spoils its line
    only), read as the chunks come."""
    raw = io.BufferedReader(_ChunkReader(chunks))
    text = io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace",
                            newline="")  # fmt: skip
    try:
        yield from _lines(text, report_id)
    except gzip.BadGzipFile as error:
        raise UnreadableReport(f"{report_id}: not readable as gzip ({error})") from error
    except EOFError as error:
        raise UnreadableReport(f"{report_id}: the gzip stream is cut off ({error})") from error
    except zlib.error as error:
        raise UnreadableReport(f"{report_id}: the gzip stream is corrupt ({error})") from error


def file_chunks(stream: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


# A zip is read from its end (the central directory): the download is spooled, in
# memory up to SPOOL_IN_MEMORY_BYTES, on disk past it, never held whole in memory.
SPOOL_IN_MEMORY_BYTES = 16 * 1024 * 1024
# A member that claims to expand more than this many times its size is a zip bomb.
MAX_EXPANSION = 200
DATA_SUFFIXES = (".csv", ".txt", ".tsv")
# What zipfile raises for a mangled archive (a fuzzer found several): a seek before the
# start, a bad struct, an unknown compression method, an encrypted member, ...
_BROKEN_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error,
               NotImplementedError, RuntimeError, KeyError)  # fmt: skip


def unzip_lines(chunks: Iterable[bytes], report_id: str) -> Iterator[str]:
    """The lines of every data file (.csv, .txt, .tsv) in a zip, in name order, read as
    UTF-8 (a byte that is not spoils its line only). UnreadableReport for a body that is
    not a zip, a cut-off one, one without a data file, or an implausible expansion."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        try:
            archive = zipfile.ZipFile(spool)
        except _BROKEN_ZIP as error:
            raise UnreadableReport(f"{report_id}: not readable as a zip ({error})") from error
        with archive:
            members = sorted(
                (m for m in archive.infolist() if not m.is_dir()
                 and m.filename.lower().endswith(DATA_SUFFIXES)
                 and not m.filename.startswith("__MACOSX/")),
                key=lambda m: m.filename,
            )  # fmt: skip
            if not members:
                names = ", ".join(m.filename for m in archive.infolist()) or "nothing"
                raise UnreadableReport(f"{report_id}: no .csv, .txt or .tsv in the zip ({names})")
            for member in members:
                if member.file_size > MAX_EXPANSION * max(member.compress_size, 1024):
                    raise UnreadableReport(
                        f"{report_id}: {member.filename} would expand {member.file_size} bytes "
                        f"from {member.compress_size}: refused as a zip bomb"
                    )
                try:
                    with archive.open(member) as raw:
                        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace",
                                                newline="")  # fmt: skip
                        yield from _lines(text, report_id)
                except _BROKEN_ZIP as error:
                    raise UnreadableReport(
                        f"{report_id}: {member.filename} is corrupt ({error})"
                    ) from error
