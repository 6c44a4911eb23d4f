"""The CSV bundle's file format: header checks and physical line numbers for error messages.

Validation and loading run inside DuckDB (warehouse/load.py); the tables are those of warehouse/schema.py.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from warehouse.schema import TABLES, Table


class BundleError(Exception):
    """A bundle problem, located as file:line:column."""

    def __init__(self, file: str, line: int, column: str | None, message: str) -> None:
        self.file, self.line, self.column, self.message = file, line, column, message
        where = f"{file}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")


BOM = b"\xef\xbb\xbf"
# An undecodable byte is read as a lone surrogate (errors="surrogateescape"), found again by this pattern.
UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Record:
    """One CSV record of a file: its first and last physical line, its size in bytes, its cells."""

    first_line: int
    last_line: int
    size: int
    cells: list[str]


class _Lines:
    """A file's lines as editors and `grep -n` count them: split at LF only (a CRLF is one line end, a bare
    CR is no line end), decoded as UTF-8 with undecodable bytes kept as surrogates to be found later.
    A file with CRs and no LF (old Mac line ends, which DuckDB reads too) is split at its CRs."""

    def __init__(self, handle: BinaryIO) -> None:
        head = handle.read(1 << 16)
        handle.seek(0)
        if b"\n" not in head and b"\r" in head:
            handle = io.BytesIO(handle.read().replace(b"\r", b"\n"))
        self.handle, self.offset = handle, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline()
        if not raw:
            raise StopIteration
        if self.offset == 0:
            raw = raw.removeprefix(BOM)
        self.offset += len(raw)
        return raw.decode("utf-8", "surrogateescape")


def records(path: Path) -> Generator[Record]:
    """The records of a CSV file with their physical lines (the header is line 1), read by Python: for the
    header, and to locate an error (the rows themselves are read by DuckDB). Stops where the CSV is
    malformed."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    with path.open("rb") as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        last_line, last_offset = 0, 0
        try:
            for cells in reader:
                yield Record(last_line + 1, reader.line_num, lines.offset - last_offset, cells)
                last_line, last_offset = reader.line_num, lines.offset
        except csv.Error:
            return


def read_header(path: Path, table: Table) -> list[str]:
    """The header row, checked for every column the table requires."""
    rows = records(path)
    first = next(rows, None)
    rows.close()
    header = [h.strip() for h in first.cells] if first else []
    if not header:
        raise BundleError(path.name, 1, None, "empty file: a header row is required")
    for cell in header:
        if UNDECODABLE.search(cell):
            raise BundleError(path.name, 1, None, f"the header is {_not_utf8(cell)}")
    for column in table.columns:
        if column.name not in header and not column.optional_in_file:
            raise BundleError(path.name, 1, column.name, f"missing column {column.name!r} in the header")
    duplicated = {h for h in header if header.count(h) > 1}
    if duplicated:
        raise BundleError(path.name, 1, sorted(duplicated)[0], "column appears twice in the header")
    return header


def _not_utf8(text: str) -> str:
    found = UNDECODABLE.search(text)
    byte = ord(found.group()) - 0xDC00 if found else 0
    return f"not UTF-8 (byte 0x{byte:02x}): save the file as UTF-8"


def _data_rows(path: Path) -> Iterator[Record]:
    """The data records, as DuckDB numbers them: the header and blank lines left out."""
    rows = records(path)
    next(rows, None)
    return (r for r in rows if r.cells)


def physical_line(path: Path, row_index: int) -> int:
    """The line where data row `row_index` (0-based, header excluded) starts, counting the lines of a
    quoted message as editors do."""
    last = 1
    for index, record in enumerate(_data_rows(path)):
        if index == row_index:
            return record.first_line
        last = record.last_line
    return last + 1


def _column(header: list[str], index: int) -> str:
    return header[index] if index < len(header) else f"column {index + 1}"


def undecodable(path: Path, header: list[str]) -> BundleError | None:
    """The first byte that is not UTF-8, at its physical line and column."""
    for record in _data_rows(path):
        for index, cell in enumerate(record.cells):
            found = UNDECODABLE.search(cell)
            if found:
                line = record.first_line + sum(c.count("\n") for c in record.cells[:index])
                line += cell[: found.start()].count("\n")
                return BundleError(path.name, line, _column(header, index), _not_utf8(cell))
    return None


def oversized(path: Path, header: list[str], limit: int, limit_text: str) -> BundleError | None:
    """The first row longer than `limit` bytes, named with its largest cell and the limit."""
    for record in _data_rows(path):
        if record.size > limit:
            index = max(range(len(record.cells)), key=lambda i: len(record.cells[i]))
            cell = len(record.cells[index].encode(errors="surrogateescape"))
            return BundleError(
                path.name,
                record.first_line,
                _column(header, index),
                f"a row of {record.size:,} bytes (this cell: {cell:,}) is beyond the limit of "
                f"{limit_text} per row of a bundle file",
            )
    return None


def present_files(folder: Path) -> list[tuple[Table, Path]]:
    return [(t, folder / t.file) for t in TABLES if (folder / t.file).is_file()]
