"""Report writers: Frames, Sessions and Totals as rows, CSV (RFC 4180) and JSON.

Every number comes from the ledger's queries (``ledger.totals``, ``ledger.sessions``,
``ledger.iter_frames``); this module only shapes and formats them, so the CLI table, the CSV and
the TUI show the same figures. CSV: header row, CRLF, UTF-8 without BOM, '.' decimals, no float
noise, empty field for missing.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import IO

from . import ledger as L

TOTALS_COLUMNS = ("target", "filter", "total_hours", "frame_count", "first_seen", "last_seen")
SESSIONS_COLUMNS = ("session_date", "target", "filter", "frame_count", "total_exposure_s", "instrume", "telescop")
FRAMES_COLUMNS = L.FRAME_COLUMNS
REPORTS = ("frames", "sessions", "totals")


def report_columns(report: str) -> tuple[str, ...]:
    return {"frames": FRAMES_COLUMNS, "sessions": SESSIONS_COLUMNS, "totals": TOTALS_COLUMNS}[report]


def report_rows(
    conn: sqlite3.Connection,
    report: str,
    target: str | None = None,
    filter: str | None = None,
    status: str | None = None,
) -> Iterator[tuple]:
    """Rows of a report in its column order, with typed values (None for missing)."""
    if report == "totals":
        for t in L.totals(conn, target, filter):
            yield (t.target, t.filter, round(t.total_hours, 4), t.frame_count, t.first_seen, t.last_seen)
    elif report == "sessions":
        for s in L.sessions(conn, target, filter):
            yield (
                s.session_date,
                s.target,
                s.filter,
                s.frame_count,
                _clean(s.total_exposure_s),
                s.instrume,
                s.telescop,
            )
    elif report == "frames":
        yield from L.iter_frames(conn, target, filter, status)
    else:
        raise ValueError(f"unknown report {report!r}")


def _clean(v: float) -> float:
    """Sums in whole µs → the shortest float that prints without noise."""
    return round(v, 6)


def format_value(v: object) -> str:
    """One CSV/table field: '' for missing, integers without '.0', shortest float repr."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


def write_csv(out: IO[str], columns: Iterable[str], rows: Iterable[tuple]) -> int:
    """RFC 4180 CSV to a text stream opened with newline=''; returns the rows written."""
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(columns)
    n = 0
    for row in rows:
        w.writerow([format_value(v) for v in row])
        n += 1
    return n


def write_json(out: IO[str], columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """A JSON array of objects with the report's keys; numbers as numbers, null for missing."""
    n = 0
    out.write("[")
    for row in rows:
        out.write(",\n  " if n else "\n  ")
        out.write(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n
