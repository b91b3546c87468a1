"""Reports: Frames, Sessions, Totals and AstroBin's acquisition CSV, as CSV or JSON.

Every number comes from the ledger's queries (``ledger.totals``, ``ledger.sessions``,
``ledger.iter_frames``); this module only shapes and writes them, so the CLI table, the CSV, the
JSON and the TUI show the same figures. CSV rules: header row first, RFC 4180 quoting, UTF-8
without BOM, CRLF, '.' decimals, no float noise, an empty field for missing, times ISO 8601 UTC;
a text cell a spreadsheet would run as a formula gets a leading ``'``. One report reads one
snapshot of the ledger (one read transaction), even while a retag or a scan commits.
Files are written to a temporary name and renamed: never a partial file, never inside an archive
(decided by device and inode, not by spelling).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO

from . import ledger
from .core.errors import PlTuiError
from .domain import frames
from .domain.rigs import calibration

TOTALS_COLUMNS = ("target", "filter", "total_hours", "frame_count", "first_seen", "last_seen")
SESSIONS_COLUMNS = ("session_date", "target", "filter", "frame_count", "total_exposure_s", "instrume", "telescop")
FRAMES_COLUMNS = frames.FRAME_COLUMNS
ASTROBIN_COLUMNS = (
    "date", "filter", "number", "duration", "binning", "gain", "sensorCooling", "fNumber",
    "darks", "flats", "flatDarks", "bias",
    # appended: the night's conditions, session means of what the headers recorded
    "bortle", "meanSqm", "meanFwhm", "temperature",
)  # fmt: skip
REPORTS = ("frames", "sessions", "totals", "astrobin")
EVERYTHING = ledger.EVERY_FRAME


class ExportError(PlTuiError):
    """The report cannot be written as asked; str() says why and what to do."""


def report_columns(report: str) -> tuple[str, ...]:
    return {
        "frames": FRAMES_COLUMNS,
        "sessions": SESSIONS_COLUMNS,
        "totals": TOTALS_COLUMNS,
        "astrobin": ASTROBIN_COLUMNS,
    }[report]


def report_rows(
    conn: sqlite3.Connection,
    report: str,
    where: ledger.FrameFilter = EVERYTHING,
    astrobin_filters: Mapping[str, int] | None = None,
    allow_missing_filter_ids: bool = False,
    flat_nights: int = 0,
) -> Iterator[tuple]:
    """Rows of a report in its column order, typed (None for missing). Frames stream."""
    if report == "totals":
        for t in ledger.totals(conn, where.target, where.filter, where.since, where.until):
            yield (t.target, t.filter, round(t.total_hours, 4), t.frame_count, t.first_seen, t.last_seen)
    elif report == "sessions":
        for s in ledger.sessions(conn, where.target, where.filter, where.since, where.until):
            yield (s.session_date, s.target, s.filter, s.frame_count, s.total_exposure_s, s.instrume, s.telescop)
    elif report == "frames":
        yield from frames.iter_frames(conn, where)
    elif report == "astrobin":
        if not where.target:
            raise ExportError("the AstroBin export is for one target: give --target")
        yield from astrobin_rows(conn, where.target, astrobin_filters or {}, allow_missing_filter_ids, flat_nights)
    else:
        raise ValueError(f"unknown report {report!r}")


# ---------------------------------------------------------------------------------------------
# Formats


# A text cell starting with one of these is run as a formula by spreadsheets (=HYPERLINK(…),
# +cmd|…, @SUM(…), and a tab or CR before one): written with a leading ' (OWASP's CSV rule).
FORMULA_START = frozenset("=+-@\t\r")


def defuse_formula(value: object) -> object:
    """A CSV cell as written: text that starts a formula gets a leading '; numbers never change."""
    if isinstance(value, str) and value and value[0] in FORMULA_START:
        return "'" + value
    return value


# Columns pl-tui fills itself (numbers, times, nights, its own words) and the absolute path
# (it starts with '/'): no formula can start them, so the check skips them — ~0.4 µs a Frames row
# instead of ~1 µs. Every other column (and any column added later) is checked.
OWN_COLUMNS = frozenset(
    {
        "path", "exposure_s", "image_type", "date_obs_utc", "focallen", "xbinning", "gain", "ccd_temp",
        "session_date", "status", "night_basis", "inferred", "image_scale", "fwhm_arcsec", "sky_quality",
        "ambient_temp", "frame_count", "total_exposure_s", "total_hours", "first_seen", "last_seen",
    }
)  # fmt: skip


def write_csv(out: IO[str], columns: Iterable[str], rows: Iterable[tuple]) -> int:
    """RFC 4180 CSV to a text stream opened with newline=''; returns the rows written."""
    columns = tuple(columns)
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(columns)
    checked = [i for i, c in enumerate(columns) if c not in OWN_COLUMNS]
    pick = itemgetter(*checked) if len(checked) > 1 else (lambda row: tuple(row[i] for i in checked))
    start = FORMULA_START
    n = 0
    for row in rows:
        # the csv module writes None as '' and numbers by repr; only text is looked at here
        for v in pick(row):
            if v.__class__ is str and v[:1] in start:
                w.writerow(tuple(map(defuse_formula, row)))
                break
        else:
            w.writerow(row)
        n += 1
    return n


# Shown on a terminal, a control character in header text or a path is a command to the
# terminal (a screen clear, a title, an OSC 52 clipboard write): each becomes U+FFFD there.
_TERMINAL = dict.fromkeys((*range(0, 32), 127, *range(128, 160)), "\ufffd")


def terminal_text(value: object) -> object:
    """A cell as written to a terminal: text without control characters or undecodable bytes."""
    if not isinstance(value, str) or value.isprintable():
        return value
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.translate(_TERMINAL)


def terminal_rows(rows: Iterable[tuple]) -> Iterator[tuple]:
    """Rows for a report written to a terminal (in a file or a pipe the bytes stay exact)."""
    for row in rows:
        yield tuple(map(terminal_text, row))


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


WRITERS: dict[str, Callable[[IO[str], tuple[str, ...], Iterable[tuple]], int]] = {
    "csv": write_csv,
    "json": write_json,
}


def write_report(
    conn: sqlite3.Connection,
    report: str,
    out: IO[str],
    fmt: str = "csv",
    where: ledger.FrameFilter = EVERYTHING,
    astrobin_filters: Mapping[str, int] | None = None,
    allow_missing_filter_ids: bool = False,
    flat_nights: int = 0,
    for_terminal: bool = False,
) -> int:
    """Write one report to a text stream; returns the rows written. Nothing is written when
    the report cannot be made (an AstroBin filter without id): those rows are built first.
    The report is one snapshot of the ledger: its reads are one transaction. ``for_terminal``:
    the stream is a terminal (control characters in text are replaced)."""
    with snapshot(conn):
        rows = report_rows(conn, report, where, astrobin_filters, allow_missing_filter_ids, flat_nights)
        if report != "frames":  # small reports: complete before the first byte; frames stream
            rows = iter(list(rows))
        if for_terminal:
            rows = terminal_rows(rows)
        return WRITERS[fmt](out, report_columns(report), rows)


@contextlib.contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """The reads inside see one state of the ledger (WAL: a read transaction is a snapshot), while
    retags and scans commit beside them. Inside a transaction already, that one is the snapshot."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")  # nothing was written: ends the read


def export_file(
    conn: sqlite3.Connection,
    report: str,
    path: str | os.PathLike[str],
    fmt: str = "csv",
    force: bool = False,
    where: ledger.FrameFilter = EVERYTHING,
    astrobin_filters: Mapping[str, int] | None = None,
    allow_missing_filter_ids: bool = False,
    flat_nights: int = 0,
) -> int:
    """Write a report to a file, atomically: an unnamed file in the destination folder, given its
    name only when complete (Linux O_TMPFILE: a process killed mid-export leaves nothing behind;
    elsewhere a hidden temporary file, renamed). Refuses to replace a file without ``force`` and
    to write anywhere inside a scanned archive."""
    target = Path(path).expanduser().absolute()
    _check_destination(conn, target, force)
    fd, tmp = _open_unnamed(target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
            n = write_report(conn, report, f, fmt, where, astrobin_filters, allow_missing_filter_ids, flat_nights)
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:
                tmp = _give_name(f.fileno(), target, force)
        if tmp is not None:
            os.replace(tmp, target)
    except FileExistsError:
        raise ExportError(f"{target} exists: add --force to replace it") from None
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a share gone away: nothing was left behind
            raise ExportError(f"cannot write {target}: {e.strerror or e}; {_what_to_do(e)}") from e
        raise
    return n


def _what_to_do(e: OSError) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space there, or write elsewhere"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "write to a folder you can write to"
    return "check the disk and try again"


def _open_unnamed(target: Path) -> tuple[int, str | None]:
    """(fd, None) for an O_TMPFILE file, else (fd, path) of a hidden temporary file."""
    flags = getattr(os, "O_TMPFILE", 0)
    if flags:
        try:
            return os.open(target.parent, flags | os.O_WRONLY, 0o666), None  # the umask applies
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):  # else: no O_TMPFILE here
                raise ExportError(f"cannot write to {target.parent}: {e.strerror or e}") from e
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as e:
        raise ExportError(f"cannot write to {target.parent}: {e.strerror or e}") from e
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
    return fd, tmp


def _give_name(fd: int, target: Path, force: bool) -> str | None:
    """Link the finished unnamed file in: straight to its name (which fails, atomically, if the
    name appeared meanwhile), or, to replace a file, to a temporary name to be renamed over it."""
    if not force:
        _link_fd(fd, str(target))
        return None
    tmp = str(target.parent / f".{target.name}.{os.getpid()}.{fd}.part")
    _link_fd(fd, tmp)
    return tmp


def _link_fd(fd: int, dst: str) -> None:
    """linkat(/proc/self/fd/N, AT_SYMLINK_FOLLOW): os.link passes no flag and fails with EXDEV."""
    import ctypes

    at_fdcwd, at_symlink_follow = -100, 0x400
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, os.fsencode(dst), at_symlink_follow):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), dst)  # EEXIST becomes FileExistsError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_destination(conn: sqlite3.Connection, target: Path, force: bool) -> None:
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give a file name")
    if target.exists() and not force:
        raise ExportError(f"{target} exists: add --force to replace it")
    if not target.parent.is_dir():
        raise ExportError(f"folder {target.parent} does not exist")
    # by device and inode of the folder and each one above it: a symlink, a bind mount or '..'
    # into the archive is the archive
    holder = ledger.inside(target.parent, ledger.root_paths(conn))
    if holder is not None:
        raise ExportError(f"{target} is inside the archive {holder}: pl-tui never writes there; choose another folder")


# ---------------------------------------------------------------------------------------------
# AstroBin


@dataclass(slots=True)
class _Acquisition:
    night: str | None
    filter: str | None
    duration: float | None
    binning: int | None
    gain: float | None
    camera: str | None
    number: int
    cooling: float | None
    f_number: float | None
    sqm: float | None
    fwhm: float | None
    temperature: float | None


def astrobin_rows(
    conn: sqlite3.Connection,
    target: str,
    filter_ids: Mapping[str, int],
    allow_missing: bool = False,
    flat_nights: int = 0,
) -> list[tuple]:
    """AstroBin's long-exposure acquisition rows for one target: one per night × filter ×
    exposure × binning × gain (and camera), counting frames only. The darks, flats, flat-darks
    and bias are those ``pl-tui calibration`` matches to the same light sessions (one rule for
    both); the conditions are session means of what the headers recorded, empty when none did."""
    acquisitions = [
        _Acquisition(*r)
        for r in conn.execute(
            "SELECT e.session_date, e.eff_filter, e.exposure_s, s.xbinning, s.gain, s.instrume, count(*), "
            "avg(e.ccd_temp), avg(COALESCE(s.focratio, s.focallen_mm / s.aperture_mm)), "
            "avg(e.sky_quality), avg(e.fwhm_arcsec), avg(e.ambient_temp) "
            "FROM exposures e JOIN setups s ON s.id = e.setup_id WHERE e.counting AND e.eff_target = ? "
            "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
            (target,),
        )
    ]
    if not acquisitions:
        raise ExportError(f"no counting frames of target {target!r} in the ledger")
    missing = sorted({a.filter for a in acquisitions if a.filter and _filter_id(filter_ids, a.filter) is None})
    if missing and not allow_missing:
        names = ", ".join(repr(m) for m in missing)
        example = "\n".join(f'"{m}" = 0000' for m in missing)
        raise ExportError(
            f"no AstroBin filter id for {names}: add them to the config under [astrobin.filters], e.g.\n"
            f"[astrobin.filters]\n{example}\n(ids are in the URL of the filter's page on AstroBin), "
            "or export with --allow-missing-filter-ids to leave them empty"
        )
    # the light sessions of calibration coverage are finer (offset, readout, set-point, optic):
    # an acquisition row has the most of each kind any of its sessions has
    matched: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in calibration(conn, target, flat_nights):
        best = matched[(c.night, c.filter, c.exposure_s, c.xbinning, c.gain, c.camera)]
        for i, n in enumerate((c.darks, c.flats, c.flat_darks, c.biases)):
            best[i] = max(best[i], n)
    rows = []
    for a in acquisitions:
        if a.duration is None or not 0.0001 <= a.duration <= 999999.9999:
            continue  # AstroBin requires a duration; such frames are in the Unknown bucket
        cal = matched.get((a.night, a.filter, a.duration, a.binning, a.gain, a.camera), [0, 0, 0, 0])
        rows.append(
            (
                a.night,
                _filter_id(filter_ids, a.filter) if a.filter else None,
                a.number,
                _decimals(a.duration, 4),
                a.binning if a.binning in (1, 2, 3, 4) else None,
                _decimals(a.gain, 2) if a.gain is not None else None,
                _whole_in(a.cooling, -274, 100),
                _decimals(a.f_number, 2) if a.f_number is not None and a.f_number > 0 else None,
                *(n or None for n in cal),
                bortle_of(a.sqm),
                _decimals(a.sqm, 2) if a.sqm is not None and 10 <= a.sqm <= 25 else None,
                _decimals(a.fwhm, 2) if a.fwhm is not None and 0 < a.fwhm < 100 else None,
                _decimals(a.temperature, 2) if a.temperature is not None and -88 <= a.temperature <= 58 else None,
            )
        )
    return rows


# Sky brightness (mag/arcsec², an SQM reading) → Bortle class, by the usual SQM-to-Bortle table.
_BORTLE_SQM = ((21.99, 1), (21.89, 2), (21.69, 3), (20.49, 4), (19.50, 5), (18.94, 6), (18.38, 7), (17.80, 8))


def bortle_of(sqm: float | None) -> int | None:
    """The Bortle class of a measured sky brightness; None without a plausible reading."""
    if sqm is None or not 10 <= sqm <= 25:
        return None
    for limit, bortle in _BORTLE_SQM:
        if sqm >= limit:
            return bortle
    return 9


def _filter_id(ids: Mapping[str, int], name: str) -> int | None:
    if name in ids:
        return ids[name]
    folded = {k.casefold(): v for k, v in ids.items()}
    return folded.get(name.casefold())


def _decimals(v: float, places: int) -> float | int:
    r = round(float(v), places)
    return int(r) if r.is_integer() else r


def _whole_in(v: float | None, low: int, high: int) -> int | None:
    if v is None:
        return None
    r = round(v)
    return r if low <= r <= high else None
