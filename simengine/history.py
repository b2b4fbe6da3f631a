"""Read one column of a user's history file (CSV or Parquet) for `simengine fit`.

Every cell is accounted for: the finite numbers are returned, and the cells that are not
numbers (empty, or text such as "n/a", "1,5" or "inf") are counted with the first few
rows, so that a fit never rests silently on a fraction of the column. Rows count from 1,
the first row under the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .errors import InputError

#: How many offending rows (and their cells) are named in messages and JSON.
SHOWN = 5
#: Longer cell texts are cut to this many characters when shown.
SHOWN_CHARS = 30


@dataclass(frozen=True)
class Column:
    """The finite numbers of one column, and the cells skipped on the way."""

    path: Path
    name: str
    values: np.ndarray
    cells: int
    empty: int
    empty_rows: tuple[int, ...]              # the first SHOWN, 1-based
    unparseable: int
    unparseable_cells: tuple[tuple[int, str], ...]  # (row, text) of the first SHOWN

    def skipped(self) -> dict:
        """What was skipped, for JSON."""
        return {"cells": self.empty + self.unparseable,
                "empty": {"count": self.empty, "rows": list(self.empty_rows)},
                "unparseable": {"count": self.unparseable,
                                "cells": [{"row": r, "value": v} for r, v in self.unparseable_cells]}}

    def skipped_text(self) -> str:
        """E.g. "3 of 50 cells skipped: 1 empty (row 7), 2 unparseable (row 3 'n/a', row 9 '1,5')";
        '' when nothing was."""
        if not self.empty + self.unparseable:
            return ""
        parts = []
        if self.empty:
            rows = ", ".join(map(str, self.empty_rows)) + (", ..." if self.empty > SHOWN else "")
            parts.append(f"{self.empty} empty (row{'s' if self.empty > 1 else ''} {rows})")
        if self.unparseable:
            cells = ", ".join(f"row {r} {v!r}" for r, v in self.unparseable_cells)
            parts.append(f"{self.unparseable} unparseable ({cells}{', ...' if self.unparseable > SHOWN else ''})")
        return f"{self.empty + self.unparseable} of {self.cells} cells skipped: {', '.join(parts)}"


def parse_cells(cells: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, empty mask, unparseable mask) of a column's cells: None or blank text is empty;
    text that is not a finite number, and a NaN or infinite float, is unparseable."""
    values = np.full(len(cells), np.nan)
    empty = np.zeros(len(cells), dtype=bool)
    for i, cell in enumerate(cells):
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            empty[i] = True
            continue
        try:
            values[i] = float(cell)
        except (TypeError, ValueError):
            continue
    return values, empty, ~empty & ~np.isfinite(values)


def read_table(path: Path) -> pa.Table:
    """The whole file; a CSV is read as text, cell for cell (blank lines are rows of empty cells)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq
        try:
            return pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InputError(f"{path}: cannot read as Parquet ({exc})") from None
    from pyarrow import csv
    try:
        with csv.open_csv(path) as reader:
            names = reader.schema.names
        return csv.read_csv(path, parse_options=csv.ParseOptions(ignore_empty_lines=False),
                            convert_options=csv.ConvertOptions(
                                column_types={n: pa.string() for n in names}, null_values=[],
                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except Exception as exc:  # pyarrow raises several types for malformed CSV
        raise InputError(f"{path}: cannot read as CSV ({exc})") from None


def cells_of(table: pa.Table, name: str) -> list | None:
    """A column's cells as Python values, or None when its type cannot hold numbers (dates, booleans)."""
    column = table.column(name)
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind) or \
            pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.to_pylist()
    return None


def read_column(path: Path, column: str | None) -> Column:
    """One column of a CSV or Parquet file (without `column`: the only one holding numbers)."""
    table = read_table(path)
    if column is None:
        numeric = [n for n in table.schema.names if has_numbers(cells_of(table, n))]
        if len(numeric) != 1:
            raise InputError(f"{path}: give --column, one of {', '.join(numeric) or '(no numeric columns)'}")
        column = numeric[0]
    if column not in table.schema.names:
        raise InputError(f"--column: {column!r} is not a column of {path}; columns: {', '.join(table.schema.names)}")
    cells = cells_of(table, column)
    if cells is None:
        raise InputError(f"--column: {column!r} is not numeric (it holds {table.schema.field(column).type})")
    values, empty, bad = parse_cells(cells)
    empty_rows = tuple(int(i) + 1 for i in np.flatnonzero(empty)[:SHOWN])
    bad_cells = tuple((int(i) + 1, shown(cells[i])) for i in np.flatnonzero(bad)[:SHOWN])
    return Column(path=path, name=column, values=values[~empty & ~bad], cells=len(cells),
                  empty=int(empty.sum()), empty_rows=empty_rows, unparseable=int(bad.sum()),
                  unparseable_cells=bad_cells)


def has_numbers(cells: list | None) -> bool:
    """Whether any cell is a finite number."""
    return cells is not None and bool(np.isfinite(parse_cells(cells)[0]).any())



def shown(cell) -> str:
    """A cell's text as it is shown, cut to SHOWN_CHARS."""
    text = str(cell)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."
