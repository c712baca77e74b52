"""Compressed reports as streams of text lines: a gzip download is decompressed as
it arrives, never held whole (the standard library's gzip over a chunk stream).

A stream that is not gzip, is corrupt, or ends before gzip's end marker is an
UnreadableReport: a cut-off download must never pass for a short list.
"""

from __future__ import annotations

import gzip
import io
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


def gunzip_lines(chunks: Iterable[bytes], report_id: str) -> Iterator[str]:
    """The lines of a gzip-compressed text (UTF-8; a byte that is not spoils its line
    only), read as the chunks come."""
    raw = io.BufferedReader(_ChunkReader(chunks))
    text = io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace",
                            newline="")  # fmt: skip
    try:
        yield from text
    except gzip.BadGzipFile as error:
        raise UnreadableReport(f"{report_id}: not readable as gzip ({error})") from error
    except EOFError as error:
        raise UnreadableReport(f"{report_id}: the gzip stream is cut off ({error})") from error
    except zlib.error as error:
        raise UnreadableReport(f"{report_id}: the gzip stream is corrupt ({error})") from error


def file_chunks(stream: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
