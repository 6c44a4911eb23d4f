"""The CSV bundle's file format: header checks and physical line numbers for error messages.

Validation and loading run inside DuckDB (warehouse/load.py); the tables are those of warehouse/schema.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

from warehouse.schema import TABLES, Table


class BundleError(Exception):
    """A bundle problem, located as file:line:column."""

    def __init__(self, file: str, line: int, column: str | None, message: str) -> None:
        self.file, self.line, self.column, self.message = file, line, column, message
        where = f"{file}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")


def read_header(path: Path, table: Table) -> list[str]:
    """The header row, checked for every column the table requires."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            header = next(csv.reader(handle), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BundleError(path.name, 1, None, f"unreadable header: {exc}") from exc
    if not header:
        raise BundleError(path.name, 1, None, "empty file: a header row is required")
    header = [h.strip() for h in header]
    for column in table.columns:
        if column.name not in header and not column.optional_in_file:
            raise BundleError(path.name, 1, column.name, f"missing column {column.name!r} in the header")
    duplicated = {h for h in header if header.count(h) > 1}
    if duplicated:
        raise BundleError(path.name, 1, sorted(duplicated)[0], "column appears twice in the header")
    return header


def physical_line(path: Path, row_index: int) -> int:
    """The line where data row `row_index` (0-based, header excluded) starts, counting quoted newlines.

    Only called when a row is bad, so reading the file with the csv module here costs nothing in
    the normal case.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        previous_end = 0
        seen = -1
        for record in reader:
            if record:  # DuckDB skips blank lines as well
                if seen == row_index:
                    return previous_end + 1
                seen += 1
            previous_end = reader.line_num
    return previous_end + 1


def present_files(folder: Path) -> list[tuple[Table, Path]]:
    return [(t, folder / t.file) for t in TABLES if (folder / t.file).is_file()]
