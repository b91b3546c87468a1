"""The ledger: an embedded SQLite database of files, exposures and the user's corrections.

Owns the schema and its forward migrations, the writer lock, the batched upserts the scanner
makes, and the queries behind every number pl-tui shows (Frames, Sessions, Totals, buckets).

Layout, briefly:

* ``files`` — one row per file found (path = dir + name, size, mtime, identity, status, reason);
* ``exposures`` — one row per exposure identity (normalised header fields), so that copies of
  a frame count once and a moved file keeps its identity, retags and status;
* ``setups`` — the camera, telescope, site and software settings an exposure was taken with,
  stored once and referenced (they repeat for thousands of frames: the ledger stays small);
* ``overrides`` / ``aliases`` / ``audit`` / ``audit_items`` — per-exposure retags (keyed by
  identity), global name rules, and the undo log;
* ``tallies`` — frame counts and exposure sums per (night, target, filter, camera, telescope)
  kept exact by triggers on ``exposures`` (integer microseconds), so Totals and Sessions answer
  in milliseconds on a million frames and always agree with each other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from .core.errors import PlTuiError, finite, user_text
from .core.normalize import ACCEPTED as ACCEPTED  # the statuses are the ledger's, defined in the core
from .core.normalize import DERIVED as DERIVED  # for the reader processes (which import no ledger)
from .core.normalize import EXPOSURE_COLUMNS, EXPOSURE_ONLY, NIGHT_BASIS, SETUP_COLUMNS
from .core.normalize import MISSING as MISSING
from .core.normalize import REJECTED as REJECTED
from .core.normalize import UNREADABLE as UNREADABLE

SCHEMA_VERSION = 6


class LedgerError(PlTuiError):
    """The ledger cannot be used; str() says why and what to do."""


class LedgerBusy(LedgerError):
    """Another process is writing to this ledger (its pid is in the message)."""


class LedgerReadOnly(LedgerError):
    """The ledger, or its folder, cannot be written (permissions, a read-only file system)."""


class LedgerFull(LedgerError):
    """The disk holding the ledger is full."""


class LedgerLocked(LedgerError):
    """Another program (not pl-tui) held the database longer than the busy timeout."""


class LedgerCorrupt(LedgerError):
    """SQLite says the file is corrupt or not a database (and only then is it called corrupt)."""


class LedgerInsideArchive(LedgerError):
    """The ledger would live inside an archive that is scanned."""


# How long a write waits for another program that holds the database (a sqlite3 shell, a DB
# browser) before saying so. PL_TUI_BUSY_TIMEOUT (seconds) changes it; tests use 1 s.
BUSY_TIMEOUT_S = 30.0


def busy_timeout_s() -> float:
    text = os.environ.get("PL_TUI_BUSY_TIMEOUT")
    if text is None:
        return BUSY_TIMEOUT_S
    return finite(text, "PL_TUI_BUSY_TIMEOUT (seconds)", 0, 86_400)


# SQLite's primary result codes (the low byte of an extended code)
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def ledger_trouble(path: str | os.PathLike[str], error: sqlite3.Error) -> LedgerError:
    """An SQLite error on the ledger → the LedgerError that says what is wrong and what to do.
    Decided by SQLite's result code: "corrupt" only when SQLite says so."""
    where = f"the ledger {os.fspath(path)}"
    said = f"(SQLite: {error})"
    code = _primary_code(error)
    if code == _SQLITE_CORRUPT:
        return LedgerCorrupt(
            f"{where} is corrupt {said}; restore it from a backup, or move it aside and run 'pl-tui scan' "
            "to build a new one (retags, aliases and goals are kept only in the ledger)"
        )
    if code == _SQLITE_NOTADB:
        return LedgerCorrupt(
            f"{os.fspath(path)} is not a pl-tui ledger, or it is corrupt {said}; if it is a ledger, restore it "
            "from a backup; else choose another file with --ledger"
        )
    if code in (_SQLITE_READONLY, _SQLITE_PERM):
        return LedgerReadOnly(
            f"{where} cannot be written {said}; make it and its folder writable, or choose another with --ledger"
        )
    if code == _SQLITE_FULL or (code == _SQLITE_IOERR and disk_full(path)):
        # a full disk shows as an I/O error where SQLite grows its -shm or -wal file
        return LedgerFull(f"{where} cannot grow: the disk is full {said}; free some space and try again")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return LedgerLocked(
            f"{where} was held by another program for {busy_timeout_s():g} s {said}; close the program "
            "that has it open (a sqlite3 shell, a database browser) and try again"
        )
    if code == _SQLITE_CANTOPEN:
        return LedgerError(
            f"cannot open {where} {said}; check that it is a file, and that it and its folder can be read and written"
        )
    if code == _SQLITE_IOERR:
        return LedgerError(f"{where}: the disk reported an error {said}; check the disk (or the network share)")
    return LedgerError(f"{where} failed {said}; try again, and report it if it persists")


def disk_full(path: str | os.PathLike[str]) -> bool:
    """No block left for an ordinary user on the file system holding ``path`` (or its folder)."""
    for candidate in (path, os.path.dirname(os.path.abspath(path))):
        try:
            return os.statvfs(candidate).f_bavail == 0
        except OSError:
            continue
    return False


def file_trouble(path: str | os.PathLike[str], error: OSError, doing: str) -> LedgerError:
    """An OSError on the ledger's file or folder (``doing``: 'create the folder', …) → LedgerError."""
    reason = error.strerror or str(error)
    name = os.fspath(path)
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return LedgerReadOnly(
            f"cannot {doing} {name}: {reason}; pl-tui needs to write beside the ledger: make the folder "
            "writable, or choose another ledger with --ledger"
        )
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return LedgerFull(f"cannot {doing} {name}: {reason}; free some space and try again")
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        return LedgerError(
            f"cannot {doing} {name}: a file is in the way of the ledger's folder; choose another with --ledger"
        )
    return LedgerError(f"cannot {doing} {name}: {reason}; choose another ledger with --ledger")


_EXPOSURE_TYPES = {
    # a UNIQUE index, not the table's key: random 64-bit keys would scatter every insert over
    # the whole table; with a rowid the table grows at its end and only the narrow index is random
    "identity": "INTEGER NOT NULL UNIQUE",
    "exposure_s": "REAL",
    "t_obs_ms": "INTEGER",
    "loc_offset_min": "INTEGER",
    "focallen_mm": "REAL",
    "aperture_mm": "REAL",
    "focratio": "REAL",
    "xbinning": "INTEGER",
    "ybinning": "INTEGER",
    "xpixsz": "REAL",
    "ypixsz": "REAL",
    "gain": "REAL",
    "offset": "REAL",
    "ccd_temp": "REAL",
    "set_temp": "REAL",
    "osc": "INTEGER NOT NULL DEFAULT 0",
    "ra_deg": "REAL",
    "dec_deg": "REAL",
    "alt_deg": "REAL",
    "az_deg": "REAL",
    "airmass": "REAL",
    "fwhm_arcsec": "REAL",
    "sky_quality": "REAL",
    "ambient_temp": "REAL",
    "site_lat": "REAL",
    "site_lon": "REAL",
    "site_elev": "REAL",
    "naxis1": "INTEGER",
    "naxis2": "INTEGER",
    "inferred": "INTEGER NOT NULL DEFAULT 0",
    "flags": "INTEGER NOT NULL DEFAULT 0",
}


setup_part = itemgetter(*(EXPOSURE_COLUMNS.index(c) for c in SETUP_COLUMNS))
exposure_part = itemgetter(*(EXPOSURE_COLUMNS.index(c) for c in EXPOSURE_ONLY))


def split_row(row: tuple) -> tuple[tuple, tuple]:
    """A full normalize.exposure_row → (exposure values, setup values) as the ledger stores them."""
    return exposure_part(row), setup_part(row)


def _columns_sql(names: tuple[str, ...]) -> str:
    return ",\n  ".join(f"{c} {_EXPOSURE_TYPES.get(c, 'TEXT')}" for c in names)


# Exposure columns added by later migrations: the first migration creates the table without them.
ADDED_IN_4 = ("fwhm_arcsec", "sky_quality", "ambient_temp")


def _exposure_columns_sql() -> str:
    cols = ["id INTEGER PRIMARY KEY", _columns_sql(tuple(c for c in EXPOSURE_ONLY if c not in ADDED_IN_4))]
    cols += [
        "setup_id INTEGER NOT NULL REFERENCES setups(id)",
        "exposure_us INTEGER",  # exposure in whole microseconds: exact sums
        "status TEXT NOT NULL DEFAULT 'accepted'",  # best status among the exposure's files
        "copies INTEGER NOT NULL DEFAULT 1",  # its present files: more than one means duplicates
        *_OVERRIDE_COLUMNS,
        *_EFFECTIVE_COLUMNS,
    ]
    return ",\n  ".join(cols)


# denormalised from overrides / aliases so the effective values are plain columns
_OVERRIDE_COLUMNS = (
    "ov_target TEXT",
    "ov_filter TEXT",
    "ov_type TEXT",
    "ov_status TEXT",
    "alias_target TEXT",
    "alias_filter TEXT",
)
_EFFECTIVE_COLUMNS = (
    "eff_target TEXT GENERATED ALWAYS AS (COALESCE(ov_target, alias_target, target)) VIRTUAL",
    "eff_filter TEXT GENERATED ALWAYS AS (COALESCE(ov_filter, alias_filter, filter)) VIRTUAL",
    "eff_type TEXT GENERATED ALWAYS AS (COALESCE(ov_type, image_type)) VIRTUAL",
    "eff_status TEXT GENERATED ALWAYS AS (COALESCE(ov_status, status)) VIRTUAL",
    "counting INTEGER GENERATED ALWAYS AS "
    "(COALESCE(ov_status, status) = 'accepted' AND COALESCE(ov_type, image_type) IS 'LIGHT') VIRTUAL",
)


# Tally keys use '' for "none" internally (a UNIQUE key cannot hold NULLs that collide);
# queries turn '' back into NULL. Normalisation never produces an empty name.
# Keyed in report order: Sessions read the table in key order, and --target is a key prefix.
_TALLY_KEY = "target, filter, session_date, setup_id"
_TALLY_SOURCES = (("target", "eff_target"), ("filter", "eff_filter"), ("session_date", "session_date"))


def _tally_values(row: str) -> str:
    return ", ".join(f"COALESCE({row}.{c}, '')" for _, c in _TALLY_SOURCES) + f", {row}.setup_id"


def _tally_match(row: str) -> str:
    return " AND ".join(f"{k} = COALESCE({row}.{c}, '')" for k, c in _TALLY_SOURCES) + f" AND setup_id = {row}.setup_id"


def _tally_add(row: str) -> str:
    return (
        f"INSERT INTO tallies ({_TALLY_KEY}, frame_count, total_us) "
        f"SELECT {_tally_values(row)}, 1, COALESCE({row}.exposure_us, 0) WHERE {row}.counting "
        "ON CONFLICT DO UPDATE SET frame_count = frame_count + 1, "
        "total_us = total_us + excluded.total_us;"
    )


def _tally_remove(row: str) -> str:
    match = _tally_match(row)
    return (
        f"UPDATE tallies SET frame_count = frame_count - 1, "
        f"total_us = total_us - COALESCE({row}.exposure_us, 0) WHERE {row}.counting AND {match};"
        f"DELETE FROM tallies WHERE {row}.counting AND frame_count = 0 AND {match};"
    )


# Schema 6 stores what repeats another column as (almost) nothing, behind virtual columns of the
# old names, so every query reads them as before. {x} in an expression is the value written for
# column x: a parameter when the scanner inserts, the old column when migration 6 copies a row.
# * a raw text equal to its normalised value, and a folder type equal to the header's, is NULL;
#   one that is absent while the other is not is '' (normalisation never makes an empty text);
# * the night's basis is its index in NIGHT_BASIS (0 and 1 take no bytes at all);
# * exposure_s is exposure_us / 1e6 unless that is not exactly it (sub-microsecond exposures);
# * status (exposures and files) is NULL for 'accepted', the status of nearly every row;
# * readings with a few decimals are stored as scaled integers when that is exact (_SCALED).
# Readings written with a few decimals (CENTALT 30.5548, AIRMASS 1.967101, SKYQUAL 18.47,
# AMBTEMP 15.06): stored as the integer reading × k when that gives the reading back exactly — two
# to four bytes instead of a REAL's eight —, else as the REAL itself.
_SCALED = {
    "ccd_temp": 100,
    "alt_deg": 10_000,
    "az_deg": 10_000,
    "airmass": 1_000_000,
    "fwhm_arcsec": 1_000,
    "sky_quality": 100,
    "ambient_temp": 100,
}
_SAME_AS = {"target_raw": "target", "filter_raw": "filter", "image_type_raw": "image_type", "folder_type": "image_type"}
_BASIS_CODES = " ".join(f"WHEN {i} THEN '{b}'" for i, b in enumerate(NIGHT_BASIS))
_STORED_AS: dict[str, tuple[str, str, str]] = {  # column → (stored column, its type, stored value)
    **{
        c: (f"{c}_d", "TEXT", f"IIF({{{c}}} IS {{{base}}}, NULL, COALESCE({{{c}}}, ''))")
        for c, base in _SAME_AS.items()
    },
    "night_basis": (
        "night_basis_d",
        "",
        "CASE {night_basis} "
        + " ".join(f"WHEN '{b}' THEN {i}" for i, b in enumerate(NIGHT_BASIS))
        + " ELSE {night_basis} END",
    ),
    "exposure_s": ("exposure_s_d", "REAL", "IIF({exposure_s} IS {exposure_us} / 1e6, NULL, {exposure_s})"),
    "status": ("state", "TEXT", "NULLIF({status}, 'accepted')"),
    **{
        c: (
            f"{c}_d",
            "",  # no affinity: an INTEGER stays the scaled reading, a REAL the reading itself
            f"IIF(abs({{{c}}}) < 1e9 AND round({{{c}}} * {k}) / {k}.0 = {{{c}}}, "
            f"CAST(round({{{c}}} * {k}) AS INTEGER), {{{c}}})",
        )
        for c, k in _SCALED.items()
    },
}
_VIRTUAL_6 = {
    **{c: f"IIF({c}_d IS NULL, {base}, NULLIF({c}_d, ''))" for c, base in _SAME_AS.items()},
    "night_basis": f"CASE night_basis_d {_BASIS_CODES} ELSE night_basis_d END",
    "exposure_s": "COALESCE(exposure_s_d, exposure_us / 1e6)",
    "status": "COALESCE(state, 'accepted')",
    **{c: f"IIF(typeof({c}_d) = 'integer', {c}_d / {k}.0, {c}_d)" for c, k in _SCALED.items()},
}
_VIRTUAL_TYPES = {"exposure_s": "REAL", **dict.fromkeys(_SCALED, "REAL")}


def _stored(column: str) -> str:
    return _STORED_AS[column][0] if column in _STORED_AS else column


def _stored_value(column: str, value_of: dict[str, str]) -> str:
    """The value stored for ``column`` given how each column's written value is spelled."""
    if column not in _STORED_AS:
        return value_of[column]
    return _STORED_AS[column][2].format(**value_of)


def _exposures_6_sql() -> str:
    own = [c for c in EXPOSURE_ONLY if c != "identity"]
    stored = ["id INTEGER PRIMARY KEY", "identity INTEGER NOT NULL UNIQUE"]
    stored += [
        f"{_stored(c)} {_STORED_AS[c][1] if c in _STORED_AS else _EXPOSURE_TYPES.get(c, 'TEXT')}".rstrip() for c in own
    ]
    stored += [
        "setup_id INTEGER NOT NULL REFERENCES setups(id)",
        "exposure_us INTEGER",  # exposure in whole microseconds: exact sums
        "state TEXT",  # best status among the exposure's files; NULL: accepted
        "copies INTEGER NOT NULL DEFAULT 1",  # its present files: more than one means duplicates
        *_OVERRIDE_COLUMNS,
    ]
    virtual = [
        f"{c} {_VIRTUAL_TYPES.get(c, 'TEXT')} GENERATED ALWAYS AS ({expr}) VIRTUAL" for c, expr in _VIRTUAL_6.items()
    ]
    return ",\n  ".join([*stored, *virtual, *_EFFECTIVE_COLUMNS])


# An update or a delete of an exposure moves its tallies (a batch of inserts adds its own: LedgerWriter.write).
_TALLY_TRIGGERS = f"""CREATE TRIGGER exposures_tally_delete AFTER DELETE ON exposures BEGIN
  {_tally_remove("OLD")}
END;
CREATE TRIGGER exposures_tally_update AFTER UPDATE ON exposures BEGIN
  {_tally_remove("OLD")}
  {_tally_add("NEW")}
END;
"""


def _migration_6() -> str:
    copied = ["id", *EXPOSURE_ONLY, "setup_id", "exposure_us", "status", "copies",
              "ov_target", "ov_filter", "ov_type", "ov_status", "alias_target", "alias_filter"]  # fmt: skip
    by_name = {c: c for c in copied}
    return f"""
DROP TRIGGER exposures_tally_delete;
DROP TRIGGER exposures_tally_update;
DROP INDEX exposures_night;
DROP INDEX exposures_status_set;
CREATE TABLE exposures_6 (
  {_exposures_6_sql()}
);
INSERT INTO exposures_6 ({", ".join(_stored(c) for c in copied)})
SELECT {", ".join(_stored_value(c, by_name) for c in copied)} FROM exposures;
DROP TABLE exposures;
ALTER TABLE exposures_6 RENAME TO exposures;
CREATE INDEX exposures_night ON exposures(session_date);
CREATE INDEX exposures_status_set ON exposures(ov_status) WHERE ov_status IS NOT NULL;
{_TALLY_TRIGGERS}DROP INDEX files_dir;
DROP INDEX files_identity;
DROP INDEX files_status;
CREATE TABLE files_6 (
  id INTEGER PRIMARY KEY,
  dir_id INTEGER NOT NULL REFERENCES dirs(id),
  name TEXT NOT NULL,
  size INTEGER,
  mtime_ns INTEGER,
  identity INTEGER,
  exposure_id INTEGER,
  state TEXT,
  reason TEXT,
  status TEXT GENERATED ALWAYS AS (COALESCE(state, 'accepted')) VIRTUAL
);
INSERT INTO files_6 (id, dir_id, name, size, mtime_ns, identity, exposure_id, state, reason)
SELECT id, dir_id, name, size, mtime_ns, identity, exposure_id, NULLIF(status, 'accepted'), reason FROM files;
DROP TABLE files;
ALTER TABLE files_6 RENAME TO files;
CREATE INDEX files_dir ON files(dir_id);
CREATE INDEX files_identity ON files(identity);
CREATE INDEX files_status ON files(status) WHERE status <> 'accepted';
"""


# The tallies of the counting exposures a WHERE clause (to be continued with AND …) picks, grouped
# by tally key (GROUP BY 1, 2, 3, 4 follows): what rebuild_tallies and a batch of inserts add.
_TALLY_GROUPED = (
    "SELECT COALESCE(eff_target, ''), COALESCE(eff_filter, ''), COALESCE(session_date, ''), "
    "setup_id, count(*), COALESCE(SUM(exposure_us), 0) FROM exposures WHERE counting"
)


MIGRATIONS: dict[int, str] = {
    1: f"""
CREATE TABLE roots (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  night_rule TEXT,
  last_walk_ms INTEGER
);
CREATE TABLE dirs (
  id INTEGER PRIMARY KEY,
  root_id INTEGER NOT NULL REFERENCES roots(id),
  path TEXT NOT NULL UNIQUE
);
-- (dir_id, name) is unique by construction: only the lock-holding scanner inserts, after
-- listing the folder's known files. A UNIQUE index would store every name a second time.
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  dir_id INTEGER NOT NULL REFERENCES dirs(id),
  name TEXT NOT NULL,
  size INTEGER,
  mtime_ns INTEGER,
  identity INTEGER,
  exposure_id INTEGER,  -- exposures.id of that identity: reports join on it (one seek, not two)
  status TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX files_dir ON files(dir_id);
CREATE INDEX files_identity ON files(identity);
CREATE TABLE setups (
  id INTEGER PRIMARY KEY,
  {_columns_sql(SETUP_COLUMNS)}
);
CREATE INDEX files_status ON files(status) WHERE status <> 'accepted';
CREATE TABLE exposures (
  {_exposure_columns_sql()}
);
CREATE INDEX exposures_night ON exposures(session_date);
CREATE TABLE tallies (
  target TEXT NOT NULL,
  filter TEXT NOT NULL,
  session_date TEXT NOT NULL,
  setup_id INTEGER NOT NULL,
  frame_count INTEGER NOT NULL,
  total_us INTEGER NOT NULL,
  PRIMARY KEY ({_TALLY_KEY})
) WITHOUT ROWID;
CREATE TRIGGER exposures_tally_insert AFTER INSERT ON exposures BEGIN
  {_tally_add("NEW")}
END;
{_TALLY_TRIGGERS}CREATE TABLE overrides (
  identity INTEGER PRIMARY KEY,
  target TEXT,
  filter TEXT,
  image_type TEXT,
  status TEXT
);
CREATE TABLE aliases (
  kind TEXT NOT NULL CHECK (kind IN ('target', 'filter')),
  from_name TEXT NOT NULL,
  to_name TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT 'user',
  created_ms INTEGER,
  PRIMARY KEY (kind, from_name)
) WITHOUT ROWID;
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  action TEXT NOT NULL,
  selection TEXT,
  field TEXT,
  new_value TEXT,
  frame_count INTEGER NOT NULL DEFAULT 0,
  undone_ms INTEGER
);
CREATE TABLE audit_items (
  audit_id INTEGER NOT NULL REFERENCES audit(id),
  identity INTEGER NOT NULL,
  old_value TEXT,
  PRIMARY KEY (audit_id, identity)
) WITHOUT ROWID;
CREATE TABLE scans (
  id INTEGER PRIMARY KEY,
  pid INTEGER,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER,
  state TEXT NOT NULL,
  roots TEXT,
  found INTEGER, new INTEGER, changed INTEGER, unchanged INTEGER,
  unreadable INTEGER, missing INTEGER, deferred INTEGER
);
""",
    # retag and undo: what the audit shows and what undo restores, and a seek for
    # the frames whose status was set by hand
    2: """
ALTER TABLE audit ADD COLUMN old_values TEXT;
ALTER TABLE audit ADD COLUMN undo TEXT;
CREATE INDEX exposures_status_set ON exposures(ov_status) WHERE ov_status IS NOT NULL;
""",
    # rigs and goals: the user's names and merges of rigs, and hour goals set in the app
    3: """
CREATE TABLE rig_rules (
  rig TEXT PRIMARY KEY,
  name TEXT,
  merged_into TEXT
) WITHOUT ROWID;
CREATE TABLE goals (
  target TEXT NOT NULL,
  filter TEXT NOT NULL,
  hours REAL NOT NULL,
  PRIMARY KEY (target, filter)
) WITHOUT ROWID;
""",
    # the night's conditions per exposure (AstroBin's meanFwhm, meanSqm, temperature); the
    # next scan re-reads every header (the normalising rules changed), which fills them
    4: "".join(f"ALTER TABLE exposures ADD COLUMN {c} REAL;\n" for c in ADDED_IN_4),
    # the scanner adds the tallies of the exposures it inserts in one statement per batch
    # (LedgerWriter.write); updates and deletes keep their triggers
    5: "DROP TRIGGER exposures_tally_insert;",
    # smaller rows: values that repeat another column are stored as (almost) nothing, behind
    # virtual columns of the same names (_STORED_AS); exposures and files are copied once
    6: _migration_6(),
}


@contextlib.contextmanager
def reading(ledger_path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """The ledger open to read (it must exist), closed afterwards. Never waits for a writer (WAL).
    A ledger on a read-only disk or folder is still read. An SQLite error inside the block
    becomes the LedgerError that says what is wrong (read-only, full, locked, corrupt)."""
    with _opened(ledger_path, read_only_ok=True) as conn:
        yield conn


@contextlib.contextmanager
def writing(ledger_path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """The ledger open for a change (retag, undo, alias) under the writer lock, without waiting:
    while a scan runs, LedgerBusy says so."""
    with writer_lock(ledger_path), _opened(ledger_path, read_only_ok=False) as conn:
        yield conn


@contextlib.contextmanager
def _opened(ledger_path: str | os.PathLike[str], read_only_ok: bool) -> Iterator[sqlite3.Connection]:
    conn = connect(ledger_path, create=False, read_only_ok=read_only_ok)
    try:
        with sqlite_errors(ledger_path):
            yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def sqlite_errors(ledger_path: str | os.PathLike[str]) -> Iterator[None]:
    """SQLite errors raised inside → ledger_trouble (one line for the user, never a traceback)."""
    try:
        yield
    except sqlite3.Error as e:
        raise ledger_trouble(ledger_path, e) from e


# ---------------------------------------------------------------------------------------------
# Paths: a name that is not valid UTF-8 (the OS allows any bytes) is stored as a BLOB of its
# exact bytes, so it can be opened again; everything else as text.


def to_db(name: str) -> str | bytes:
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name


def from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def join_path(directory: str | bytes, name: str | bytes) -> str:
    """A folder's path and a file name as stored (text, or bytes for a name that is not UTF-8)
    → the file's path. An export joins a million: the common case skips os.path.join."""
    if directory.__class__ is str and name.__class__ is str:
        return f"{directory}{name}" if directory.endswith(os.sep) else f"{directory}{os.sep}{name}"
    return os.path.join(from_db(directory), from_db(name))


# ---------------------------------------------------------------------------------------------
# Opening


def connect(path: str | os.PathLike[str], create: bool = True, read_only_ok: bool = False) -> sqlite3.Connection:
    """Open (and create or migrate) the ledger. A clear LedgerError instead of a traceback.

    ``read_only_ok``: a ledger that cannot be written (a read-only disk or folder) is opened
    read-only instead of failing — for the commands that only read."""
    path = Path(path)
    if not path.exists():
        if not create:
            if path.is_symlink():
                raise LedgerError(f"{path} is a symbolic link to nothing; fix it, or choose another with --ledger")
            raise LedgerError(f"no ledger at {path}: run 'pl-tui scan ARCHIVE' first")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise file_trouble(path.parent, e, "create the ledger's folder") from e
    if path.is_dir():
        raise LedgerError(f"{path} is a folder; give the ledger's file name with --ledger")
    read_only = False
    try:
        conn = _open(path, "", busy_timeout_s())
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error:
            conn.close()
            raise
    except sqlite3.Error as e:
        code = _primary_code(e)
        cannot_write = code in (_SQLITE_CANTOPEN, _SQLITE_READONLY, _SQLITE_PERM) or (
            code == _SQLITE_IOERR and disk_full(path)
        )
        if not (read_only_ok and cannot_write):
            raise ledger_trouble(path, e) from e
        conn, version = _open_read_only(path, e)
        read_only = True
    if version > SCHEMA_VERSION:
        conn.close()
        raise LedgerError(
            f"{path} was written by a newer pl-tui (schema {version}, this one knows {SCHEMA_VERSION});"
            " upgrade pl-tui — the ledger was not changed"
        )
    try:
        if version == 0 and _has_foreign_tables(conn):
            conn.close()
            raise LedgerError(f"{path} is an SQLite database but not a pl-tui ledger; not touching it")
        if read_only:
            if version < SCHEMA_VERSION:
                conn.close()
                raise LedgerReadOnly(
                    f"the ledger {path} cannot be written, and this pl-tui must first upgrade it (schema "
                    f"{version} → {SCHEMA_VERSION}); make it writable once, or use the pl-tui that wrote it"
                )
            return conn
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version < SCHEMA_VERSION:
            _migrate(conn)
    except sqlite3.Error as e:
        conn.close()
        raise ledger_trouble(path, e) from e
    return conn


def _open(path: Path, query: str, timeout: float) -> sqlite3.Connection:
    target: str | Path = path
    if query:
        target = path.absolute().as_uri() + "?" + query
    conn = sqlite3.connect(target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=bool(query))
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def _open_read_only(path: Path, first: sqlite3.Error) -> tuple[sqlite3.Connection, int]:
    """A ledger SQLite cannot open for writing (a read-only or full disk or folder: no -shm can be
    made), opened to read. Without a -wal file (no writer is in the middle of anything) SQLite is told
    the file is immutable, which a read-only folder needs; with one, it must be read through it."""
    wal = Path(f"{path}-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0
    for query in ("mode=ro", *(() if has_wal else ("immutable=1",))):
        try:
            conn = _open(path, query, busy_timeout_s())
        except sqlite3.Error:
            continue
        try:
            conn.execute("PRAGMA query_only = 1")
            return conn, conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error:
            conn.close()
    raise ledger_trouble(path, first) from first


def _has_foreign_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        # re-read inside the write transaction: another process may have migrated meanwhile
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for v in range(current + 1, SCHEMA_VERSION + 1):
            for stmt in _split_sql(MIGRATIONS[v]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {v}")


def _split_sql(script: str) -> Iterator[str]:
    """Statements of a migration (triggers keep their inner semicolons)."""
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                yield buf.strip()
            buf = ""


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # SQLite may have rolled back already (a full disk does): the error that did it is the
        # one to report, not "cannot rollback - no transaction is active"
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def writer_lock(ledger_path: str | os.PathLike[str], wait: bool = False) -> Iterator[None]:
    """One writer (scan, retag) at a time per ledger; readers never wait for it.

    The lock is an flock on ``<ledger>.lock`` holding the writer's pid: the kernel drops it
    when the process dies, so a killed scan never leaves a stale lock behind. It sits beside the
    ledger's real path (symbolic links resolved), so every spelling of the ledger — a symlink,
    ``..``, a bind mount of its folder — takes the same lock."""
    real = Path(os.path.realpath(ledger_path))
    lock_path = real.with_name(real.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise file_trouble(lock_path.parent, e, "create the ledger's folder") from e
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise file_trouble(lock_path, e, "create the ledger's lock file") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise file_trouble(lock_path, e, "lock") from e
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise LedgerBusy(f"ledger is busy (scan in progress by pid {holder}); try again when it finishes") from None
        with contextlib.suppress(OSError):  # the pid is for the message only (a full disk may refuse it)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# Where things are: decided by device and inode, never by spelling (symlinks, bind mounts, '..')


def stat_key(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(st_dev, st_ino) of what ``path`` names (symlinks followed); None when it cannot be reached."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _real_ancestry(path: str | os.PathLike[str]) -> list[tuple[str, tuple[int, int]]]:
    """(folder, key) of ``path`` (which need not exist yet) and of each folder above it, innermost
    first. The real path has no symlink left, so its folders are the real chain; a folder reached
    through a bind mount has the inode of the folder mounted there."""
    out = []
    current = os.path.realpath(path)
    while True:
        key = stat_key(current)
        if key is not None:
            out.append((current, key))
        parent = os.path.dirname(current)
        if parent == current:
            return out
        current = parent


def inside(path: str | os.PathLike[str], roots: Iterable[str]) -> str | None:
    """The first of ``roots`` that is ``path`` or holds it (``path`` need not exist yet); None."""
    keys = {key for _, key in _real_ancestry(path)}
    for root in roots:
        key = stat_key(root)
        if key is not None and key in keys:
            return root
    return None


def check_ledger_outside(ledger_path: str | os.PathLike[str], roots: Iterable[str]) -> None:
    """Raise LedgerInsideArchive when the ledger (its files: -wal, -shm, .lock) would be written
    inside one of the archive ``roots`` (archives are never written)."""
    # the real path: a ledger that is a symlink has its -wal, -shm and lock beside its target
    holder = inside(os.path.dirname(os.path.realpath(ledger_path)), roots)
    if holder is not None:
        raise LedgerInsideArchive(
            f"the ledger {os.fspath(ledger_path)} is inside the archive {holder}: pl-tui never writes in an "
            "archive; choose a ledger outside it with --ledger (or PL_TUI_LEDGER)"
        )


@dataclass(slots=True, frozen=True)
class RootPlan:
    """How one archive root given to a scan is walked. A folder has one row whatever root reached
    it: a root inside a known root is walked as part of that root (spelled as its rows are)."""

    walk: str  # the folder to walk, spelled under its root
    root: str  # the path of its roots row
    root_id: int
    whole: bool  # the walk covers the whole root (its stamp may be renewed)


def plan_roots(conn: sqlite3.Connection, given: Sequence[str]) -> list[RootPlan]:
    """Place the roots of a scan among the ledger's known roots (the caller holds the writer lock).

    A root inside another given root is dropped (its walk covers it); one inside a known root is
    walked as part of it; a new root is added. Then every known root inside another is absorbed
    into the outer one: its folder rows are re-parented (re-spelled if reached by another name),
    file rows a folder got twice are merged, and its roots row goes. Roots are compared by device
    and inode, so a symlink or a bind mount of a root is that root."""
    chains = {r: _real_ancestry(r) for r in given}
    keys = {r: chains[r][0][1] if chains[r] and chains[r][0][0] == os.path.realpath(r) else None for r in given}
    kept: list[str] = []
    for r in given:
        above = {k for _, k in chains[r][1:]}
        if r in kept or keys[r] in {keys[o] for o in kept if keys[o] is not None}:
            continue  # the same folder twice
        if any(keys[o] in above for o in given if o != r and keys[o] is not None):
            continue  # inside another root of this scan
        kept.append(r)
    with transaction(conn):
        known = {from_db(p): i for i, p in conn.execute("SELECT id, path FROM roots")}
        placed: list[tuple[str, str | None]] = []  # (given root, the known root that holds it)
        for r in kept:
            placed.append((r, r if r in known else _outermost_holder(r, known)))
        for r, holder in placed:
            if holder is None:
                known[r] = conn.execute("INSERT INTO roots (path) VALUES (?)", (to_db(r),)).lastrowid
        for k in list(known):
            holder = _outermost_holder(k, {p: i for p, i in known.items() if p != k})
            if holder is not None:
                _absorb_root(conn, k, known.pop(k), holder, known[holder])
        plans = []
        for r, holder in placed:
            owner = r if holder is None else holder
            if owner not in known:  # absorbed just now into a root found later
                owner = _outermost_holder(owner, known) or owner
            walk = _spelled_under(r, owner)
            plans.append(RootPlan(walk, owner, known[owner], walk == owner))
    return plans


def _outermost_holder(path: str, roots: dict[str, int]) -> str | None:
    """The outermost of ``roots`` that is ``path`` or holds it, by device and inode."""
    by_key: dict[tuple[int, int], str] = {}
    for r in roots:
        key = stat_key(r)
        if key is not None:
            by_key.setdefault(key, r)
    holder = None
    for _, key in _real_ancestry(path):
        if key in by_key:
            holder = by_key[key]
    if holder is None and path in roots:  # unreachable now (an unmounted share): by its name
        holder = path
    return holder


def _spelled_under(path: str, root: str) -> str:
    """``path`` spelled as a folder below ``root`` (which holds it, by device and inode)."""
    if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
        return path
    root_key = stat_key(root)
    for folder, key in _real_ancestry(path):
        if key == root_key:
            rel = os.path.relpath(os.path.realpath(path), folder)
            return root if rel == "." else os.path.join(root, rel)
    return path


def dirs_within(conn: sqlite3.Connection, folder: str) -> dict[str, int]:
    """path → id of the folder rows at or below ``folder`` (whatever root made them)."""
    prefix = folder.rstrip(os.sep) + os.sep
    out = {}
    for p, i in conn.execute("SELECT path, id FROM dirs"):
        path = from_db(p)
        if path == folder or path.startswith(prefix):
            out[path] = i
    return out


def _absorb_root(conn: sqlite3.Connection, path: str, root_id: int, into: str, into_id: int) -> None:
    """A known root inside another known root becomes part of it (in the caller's transaction)."""
    new_prefix = _spelled_under(path, into)
    touched: set[int] = set()
    for did, p in conn.execute("SELECT id, path FROM dirs WHERE root_id = ?", (root_id,)).fetchall():
        old = from_db(p)
        new = new_prefix + old[len(path) :] if old == path or old.startswith(path.rstrip(os.sep) + os.sep) else old
        twin = conn.execute("SELECT id FROM dirs WHERE path = ? AND id <> ?", (to_db(new), did)).fetchone()
        if twin:  # the folder has a row under the outer root's spelling too: one row
            conn.execute("UPDATE files SET dir_id = ? WHERE dir_id = ?", (twin[0], did))
            conn.execute("DELETE FROM dirs WHERE id = ?", (did,))
            touched.add(twin[0])
        else:
            conn.execute("UPDATE dirs SET root_id = ?, path = ? WHERE id = ?", (into_id, to_db(new), did))
            touched.add(did)
    conn.execute("UPDATE dirs SET root_id = ? WHERE root_id = ?", (into_id, root_id))
    conn.execute("DELETE FROM roots WHERE id = ?", (root_id,))
    _merge_twin_files(conn, touched)


def _merge_twin_files(conn: sqlite3.Connection, dir_ids: Iterable[int]) -> None:
    """One row per (folder, name): rows a folder got twice (two roots reached it; ledgers written
    before roots were placed) are merged, keeping the newest present one."""
    idents: set[int] = set()
    for did in dir_ids:
        rows = conn.execute(
            "SELECT id, name, identity, status FROM files WHERE dir_id = ? AND name IN "
            "(SELECT name FROM files WHERE dir_id = ? GROUP BY name HAVING count(*) > 1) "
            "ORDER BY name, status = 'missing', id DESC",
            (did, did),
        ).fetchall()
        last = object()
        for fid, name, identity, _status in rows:
            if name == last:
                conn.execute("DELETE FROM files WHERE id = ?", (fid,))
                if identity is not None:
                    idents.add(identity)
            last = name
    for i in idents:
        conn.execute(_SQL_REFRESH_STATUS, (i,))
        conn.execute(_SQL_DROP_ORPHAN, (i,))


# ---------------------------------------------------------------------------------------------
# Writing (the scanner's side)


@dataclass(slots=True)
class FileRecord:
    """What the scanner learnt about one file, ready to write."""

    dir_id: int
    name: str
    size: int
    mtime_ns: int
    status: str
    reason: str | None
    exposure: tuple | None  # exposure_part(row): EXPOSURE_ONLY values, None when unreadable
    setup: tuple | None = None  # setup_part(row): SETUP_COLUMNS values
    file_id: int | None = None  # the file's row when the ledger knew it already
    old_identity: int | None = None  # the identity it had then


_EXP_INSERT_COLS = (
    *EXPOSURE_ONLY, "setup_id", "exposure_us", "status",
    "ov_target", "ov_filter", "ov_type", "ov_status", "alias_target", "alias_filter",
)  # fmt: skip
# On conflict (a copy, a changed file) refresh everything but the status, which is recomputed
# from the files; the override and alias columns too, from their tables: they never drift.
_EXP_PARAMS = {c: f"?{i}" for i, c in enumerate(_EXP_INSERT_COLS, 1)}
_EXP_STORED = ", ".join(_stored(c) for c in _EXP_INSERT_COLS)
_EXP_VALUES = ", ".join(_stored_value(c, _EXP_PARAMS) for c in _EXP_INSERT_COLS)
_UPDATABLE = [_stored(c) for c in _EXP_INSERT_COLS if c not in ("identity", "status")]
_SQL_INSERT_EXPOSURE = (
    f"INSERT INTO exposures ({_EXP_STORED}) VALUES ({_EXP_VALUES}) "
    f"ON CONFLICT(identity) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _UPDATABLE)}"
)
# a new identity, with the id the writer gave it (the last parameter)
_SQL_INSERT_NEW_EXPOSURE = (
    f"INSERT INTO exposures ({_EXP_STORED}, id) VALUES ({_EXP_VALUES}, ?{len(_EXP_INSERT_COLS) + 1})"
)
# … when the ledger has no override and no alias (a first scan, as a rule): their six columns are
# left to their default, NULL, instead of bound (1.7 µs a row less)
_EXP_PLAIN_COLS = _EXP_INSERT_COLS[: _EXP_INSERT_COLS.index("ov_target")]
_SQL_INSERT_NEW_PLAIN_EXPOSURE = (
    f"INSERT INTO exposures ({', '.join(_stored(c) for c in _EXP_PLAIN_COLS)}, id) "
    f"VALUES ({', '.join(_stored_value(c, _EXP_PARAMS) for c in _EXP_PLAIN_COLS)}, ?{len(_EXP_PLAIN_COLS) + 1})"
)
# the tallies of the exposures just inserted (ids ?1..?2), as the per-row trigger would add them
_SQL_TALLY_ADD_RANGE = (
    f"INSERT INTO tallies ({_TALLY_KEY}, frame_count, total_us) {_TALLY_GROUPED} "
    "AND id BETWEEN ?1 AND ?2 GROUP BY 1, 2, 3, 4 "
    "ON CONFLICT DO UPDATE SET frame_count = frame_count + excluded.frame_count, "
    "total_us = total_us + excluded.total_us"
)
_SQL_INSERT_FILE = (
    "INSERT INTO files (dir_id, name, size, mtime_ns, identity, exposure_id, state, reason) "
    "VALUES (?, ?, ?, ?, ?, ?, NULLIF(?, 'accepted'), ?)"
)
_SQL_INSERT_ACCEPTED_FILE = (
    "INSERT INTO files (dir_id, name, size, mtime_ns, identity, exposure_id) VALUES (?, ?, ?, ?, ?, ?)"
)
_SQL_UPDATE_FILE = (
    "UPDATE files SET size = ?2, mtime_ns = ?3, identity = ?4, exposure_id = ?5, state = NULLIF(?6, 'accepted'), "
    "reason = ?7 WHERE id = ?1"
)
_SQL_INSERT_SETUP = f"INSERT INTO setups ({', '.join(SETUP_COLUMNS)}) VALUES ({', '.join('?' * len(SETUP_COLUMNS))})"
_BEST_STATUS = (
    "SELECT status FROM files WHERE identity = ?1 AND status IN ('accepted', 'rejected', 'derived') "
    "ORDER BY CASE status WHEN 'accepted' THEN 0 WHEN 'rejected' THEN 1 ELSE 2 END LIMIT 1"
)
_PRESENT = "SELECT count(*) FROM files WHERE identity = ?1 AND status NOT IN ('missing', 'unreadable')"
_SQL_REFRESH_STATUS = (
    f"UPDATE exposures SET state = NULLIF(COALESCE(({_BEST_STATUS}), 'missing'), 'accepted'), copies = ({_PRESENT}) "
    "WHERE identity = ?1"
)
_SQL_DROP_ORPHAN = "DELETE FROM exposures WHERE identity = ?1 AND NOT EXISTS (SELECT 1 FROM files WHERE identity = ?1)"
_EXPOSURE_S = EXPOSURE_ONLY.index("exposure_s")
_NO_OVERRIDES = (None, None, None, None)
_NO_EXTRAS = (*_NO_OVERRIDES, None, None)  # no override, no alias
_TARGET = EXPOSURE_ONLY.index("target")
_FILTER = EXPOSURE_ONLY.index("filter")


class KnownFile(NamedTuple):
    """A file as the ledger last saw it: what a rescan compares the disk with."""

    id: int
    size: int | None
    mtime_ns: int | None
    status: str
    identity: int | None


class LedgerWriter:
    """The scanner's handle: dir ids, per-folder file lists, batched writes.

    Holds the setups, overrides and aliases in memory (they are small) so a new exposure is
    written with its effective values in one statement. Everything it writes goes into one open
    transaction until :meth:`commit`: a batch of files, their exposures and their folders become
    visible together or not at all. Use it only while holding :func:`writer_lock`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: the identity indexes stay in memory
        self._dirs: dict[str, int] = {}
        self._setups: dict[tuple, int] = {
            tuple(r[1:]): r[0] for r in conn.execute(f"SELECT id, {', '.join(SETUP_COLUMNS)} FROM setups")
        }
        self._overrides = {
            r[0]: r[1:] for r in conn.execute("SELECT identity, target, filter, image_type, status FROM overrides")
        }
        self._aliases: dict[tuple[str, str], str] = {
            (k, f): t for k, f, t in conn.execute("SELECT kind, from_name, to_name FROM aliases")
        }

    def _begin(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def root_id(self, path: str) -> int:
        self._begin()
        key = to_db(path)
        row = self.conn.execute("SELECT id FROM roots WHERE path = ?", (key,)).fetchone()
        if row:
            return row[0]
        return new_rowid(self.conn.execute("INSERT INTO roots (path) VALUES (?)", (key,)))

    def dir_id(self, path: str, root_id: int) -> int:
        did = self._dirs.get(path)
        if did is None:
            self._begin()
            key = to_db(path)
            row = self.conn.execute("SELECT id FROM dirs WHERE path = ?", (key,)).fetchone()
            if row:
                did = row[0]
            else:
                did = new_rowid(self.conn.execute("INSERT INTO dirs (root_id, path) VALUES (?, ?)", (root_id, key)))
            self._dirs[path] = did
        return did

    def files_in_dir(self, dir_id: int) -> dict[str, KnownFile]:
        """name → what the ledger knows of each file of one folder."""
        return {name: KnownFile._make(row) for name, row in self.known_rows(dir_id).items()}

    def known_rows(self, dir_id: int) -> dict[str, tuple]:
        """:meth:`files_in_dir` as plain tuples in KnownFile's order (``KnownFile._make`` names
        one): a no-change rescan compares 100,000 files a second and names none of them."""
        return {
            r[5] if r[5].__class__ is str else from_db(r[5]): r[:5]
            for r in self.conn.execute(
                "SELECT id, size, mtime_ns, status, identity, name FROM files WHERE dir_id = ?", (dir_id,)
            )
        }

    def dirs_under(self, root_id: int) -> dict[str, int]:
        return {from_db(p): i for p, i in self.conn.execute("SELECT path, id FROM dirs WHERE root_id = ?", (root_id,))}

    def _setup_id(self, setup: tuple) -> int:
        sid = self._setups.get(setup)
        if sid is None:
            sid = self._setups[setup] = new_rowid(self.conn.execute(_SQL_INSERT_SETUP, setup))
        return sid

    def _exposure_params(self, rec: FileRecord, setup_ids: dict[int, int], tails: dict[tuple, tuple]) -> tuple:
        """The exposure insert's parameters. ``setup_ids``: setup ids by the setup tuple's
        identity, for this write only (the records keep the tuples alive): the frames of a batch
        share one tuple per setup, so its 22 values are hashed once, not per frame. ``tails``:
        the parameters after the exposure's own values, when there is no override or alias; then
        the override and alias columns are not among the parameters (see write)."""
        row = rec.exposure
        setup = rec.setup
        assert row is not None and setup is not None
        sid = setup_ids.get(id(setup))
        if sid is None:
            sid = setup_ids[id(setup)] = self._setup_id(setup)
        exp = row[_EXPOSURE_S]
        overrides, aliases = self._overrides, self._aliases
        if not overrides and not aliases:  # a first scan, as a rule: nothing to look up
            # frames of a setup share their exposure and status too: the tail is built once;
            # without the override and alias columns (_SQL_INSERT_NEW_PLAIN_EXPOSURE)
            key = (sid, exp, rec.status)
            tail = tails.get(key)
            if tail is None:
                us = round(exp * 1_000_000) if exp is not None else None
                tail = tails[key] = (sid, us, rec.status)
            return row + tail
        target, filt = row[_TARGET], row[_FILTER]
        return (
            *row,
            sid,
            round(exp * 1_000_000) if exp is not None else None,
            rec.status,
            *overrides.get(row[0], _NO_OVERRIDES),
            aliases.get(("target", target)) if target else None,
            aliases.get(("filter", filt)) if filt else None,
        )

    def write(self, records: Sequence[FileRecord]) -> None:
        """Exposures, files, then the status of every identity touched (commit() makes it durable).

        An identity new to the ledger gets its row id here and is inserted plainly (no upsert, no
        per-row trigger): its tallies are added afterwards in one aggregated statement over the ids
        just inserted. A known identity (or a second copy in this batch) is upserted, and the update
        trigger moves its tallies. The files are written with their exposure's id."""
        if not records:
            return
        conn = self.conn
        self._begin()
        readable = [r for r in records if r.exposure is not None]
        # identity → exposures.id, for those the ledger has (their status needs recomputing: they
        # had files already), then for the new ones as they are numbered
        ids = _exposure_ids(conn, {r.exposure[0] for r in readable if r.exposure is not None})
        touched = set(ids)
        first_new = next_id = 0
        inserts: list[tuple] = []
        upserts: list[tuple] = []
        setup_ids: dict[int, int] = {}
        tails: dict[tuple, tuple] = {}
        for r in readable:
            ident = r.exposure[0] if r.exposure is not None else None
            if ident in ids:
                touched.add(ident)  # known, or a second copy in this batch: its status is recomputed
                upserts.append(self._exposure_params(r, setup_ids, tails))
            else:
                if not next_id:
                    first_new = next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM exposures").fetchone()[0]
                ids[ident] = next_id
                inserts.append((*self._exposure_params(r, setup_ids, tails), next_id))
                next_id += 1
        touched.update(r.old_identity for r in records if r.old_identity is not None)
        plain = not self._overrides and not self._aliases  # _exposure_params left those columns out
        if inserts:
            conn.executemany(_SQL_INSERT_NEW_PLAIN_EXPOSURE if plain else _SQL_INSERT_NEW_EXPOSURE, inserts)
            conn.execute(_SQL_TALLY_ADD_RANGE, (first_new, next_id - 1))
        if upserts:
            conn.executemany(_SQL_INSERT_EXPOSURE, [p + _NO_EXTRAS for p in upserts] if plain else upserts)
        get_id = ids.get  # None for an unreadable file (no identity)
        accepted: list[tuple] = []  # nearly every new file: its state and reason stay NULL, unbound
        others: list[tuple] = []
        for r in records:
            if r.file_id is None:
                ident = r.exposure[0] if r.exposure else None
                row = (r.dir_id, to_db(r.name), r.size, r.mtime_ns, ident, get_id(ident))
                if r.status == ACCEPTED and r.reason is None:
                    accepted.append(row)
                else:
                    others.append((*row, r.status, r.reason))
        conn.executemany(_SQL_INSERT_ACCEPTED_FILE, accepted)
        conn.executemany(_SQL_INSERT_FILE, others)
        conn.executemany(
            _SQL_UPDATE_FILE,
            [
                (r.file_id, r.size, r.mtime_ns, ident, get_id(ident), r.status, r.reason)
                for r in records
                if r.file_id is not None
                for ident in (r.exposure[0] if r.exposure else None,)
            ],
        )
        if touched:
            params = [(i,) for i in touched]
            conn.executemany(_SQL_REFRESH_STATUS, params)
            conn.executemany(_SQL_DROP_ORPHAN, params)

    def mark_missing(self, file_ids: Iterable[int]) -> int:
        ids = list(file_ids)
        if not ids:
            return 0
        self._begin()
        conn = self.conn
        idents: set[int] = set()
        for chunk in chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            idents.update(
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT identity FROM files WHERE id IN ({marks}) AND identity IS NOT NULL", chunk
                )
            )
            conn.execute(f"UPDATE files SET state = 'missing' WHERE id IN ({marks})", chunk)
        conn.executemany(_SQL_REFRESH_STATUS, [(i,) for i in idents])
        return len(ids)


def _exposure_ids(conn: sqlite3.Connection, idents: set[int]) -> dict[int | None, int]:
    """identity → exposures.id of those of ``idents`` the ledger has (None, no identity, is never
    a key: ``get(None)`` is the exposure id of an unreadable file)."""
    out: dict[int | None, int] = {}
    items = list(idents)
    for chunk in chunks(items, 500):
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(f"SELECT identity, id FROM exposures WHERE identity IN ({marks})", chunk).fetchall())
    return out


def chunks(items: list, n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


# ---------------------------------------------------------------------------------------------
# Scan bookkeeping


def new_rowid(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (SQLite always sets it after an INSERT)."""
    rowid = cursor.lastrowid
    assert rowid is not None
    return rowid


def begin_scan(conn: sqlite3.Connection, roots: Sequence[str]) -> int:
    _close_dead_scans(conn)
    return new_rowid(
        conn.execute(
            "INSERT INTO scans (pid, started_ms, state, roots) VALUES (?, ?, 'running', ?)",
            (os.getpid(), now_ms(), "\n".join(roots)),
        )
    )


def finish_scan(conn: sqlite3.Connection, scan_id: int, state: str, counts: dict[str, int]) -> None:
    conn.execute(
        "UPDATE scans SET finished_ms = ?, state = ?, found = ?, new = ?, changed = ?, unchanged = ?, "
        "unreadable = ?, missing = ?, deferred = ? WHERE id = ?",
        (
            now_ms(),
            state,
            *(counts.get(k, 0) for k in ("found", "new", "changed", "unchanged", "unreadable", "missing", "deferred")),
            scan_id,
        ),
    )


def _close_dead_scans(conn: sqlite3.Connection) -> None:
    """Scans left 'running' by a killed process become 'interrupted' (we hold the lock now)."""
    conn.execute("UPDATE scans SET state = 'interrupted' WHERE state = 'running'")


def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------
# Queries: the only source of the numbers pl-tui shows


@dataclass(slots=True, frozen=True)
class TotalsRow:
    target: str | None
    filter: str | None
    total_hours: float
    frame_count: int
    first_seen: str | None
    last_seen: str | None
    total_exposure_s: float


@dataclass(slots=True, frozen=True)
class SessionRow:
    session_date: str | None
    target: str | None
    filter: str | None
    frame_count: int
    total_exposure_s: float
    instrume: str | None
    telescop: str | None


def where_clause(
    target: str | None, filter: str | None, since: str | None, until: str | None, prefix: str = ""
) -> tuple[str, list[str]]:
    """WHERE over tallies: '' stands for none there (the CLI spells it '-')."""
    clauses, params = [], []
    for column, op, value in (
        ("target", "=", tally_key(target)),
        ("filter", "=", tally_key(filter)),
        ("session_date", ">=", since),
        ("session_date", "<=", until),
    ):
        if value is not None:
            clauses.append(f"{prefix}{column} {op} ?")
            params.append(value)
    if since is not None or until is not None:
        clauses.append(f"{prefix}session_date <> ''")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _none(v: str) -> str | None:
    return v if v != "" else None


def totals(
    conn: sqlite3.Connection,
    target: str | None = None,
    filter: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[TotalsRow]:
    """Hours and frames per target × filter, counting frames only (LIGHT, accepted, once each),
    optionally for the nights from ``since`` to ``until`` (YYYY-MM-DD, inclusive)."""
    where, params = where_clause(target, filter, since, until)
    rows = conn.execute(
        "SELECT target, filter, SUM(total_us), SUM(frame_count), "
        "MIN(NULLIF(session_date, '')), MAX(NULLIF(session_date, '')) "
        f"FROM tallies{where} GROUP BY target, filter ORDER BY target = '', target, filter = '', filter",
        params,
    ).fetchall()
    return [
        TotalsRow(_none(t), _none(f), us / 3_600_000_000, n, first, last, us / 1_000_000)
        for t, f, us, n, first, last in rows
    ]


def sessions(
    conn: sqlite3.Connection,
    target: str | None = None,
    filter: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[SessionRow]:
    """One row per (night, target, filter), with the cameras and telescopes used (';'-joined)."""
    where, params = where_clause(target, filter, since, until, "t.")
    rows = conn.execute(
        "SELECT t.target, t.filter, t.session_date, s.instrume, s.telescop, t.frame_count, t.total_us "
        f"FROM tallies t JOIN setups s ON s.id = t.setup_id{where} "
        "ORDER BY t.target = '', t.target, t.filter = '', t.filter, t.session_date = '', t.session_date",
        params,
    ).fetchall()
    out: list[SessionRow] = []
    i, n_rows = 0, len(rows)
    while i < n_rows:
        t, f, d, cam, scope, n, us = rows[i]
        j = i + 1
        if j < n_rows and rows[j][:3] == (t, f, d):  # several setups in one session: merge them
            cams, scopes = {cam}, {scope}
            while j < n_rows and rows[j][:3] == (t, f, d):
                cams.add(rows[j][3])
                scopes.add(rows[j][4])
                n += rows[j][5]
                us += rows[j][6]
                j += 1
            cam = ";".join(sorted(c for c in cams if c)) or None
            scope = ";".join(sorted(s for s in scopes if s)) or None
        out.append(SessionRow(_none(d), _none(t), _none(f), n, round(us / 1_000_000, 6), cam, scope))
        i = j
    return out


def tally_key(v: str | None) -> str | None:
    """A user's filter value → the tallies key ('' stands for none; the CLI spells it '-')."""
    if v is None:
        return None
    return "" if v in ("", "-") else user_text(v)


@dataclass(slots=True, frozen=True)
class Summary:
    """One node of the target → filter tree: counting frames only, from the tallies."""

    name: str | None
    hours: float
    frames: int
    nights: int
    last_seen: str | None


def target_summaries(conn: sqlite3.Connection, search: str | None = None) -> list[Summary]:
    """Every target with counting frames (a case-insensitive substring filter by ``search``)."""
    where, params = "", []
    if search:
        where = " WHERE target LIKE ? ESCAPE '\\'"
        params = ["%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    return _summaries(conn, "target", where, params)


def filter_summaries(conn: sqlite3.Connection, target: str | None) -> list[Summary]:
    return _summaries(conn, "filter", " WHERE target = ?", [tally_key(target) if target is not None else ""])


def _summaries(conn: sqlite3.Connection, column: str, where: str, params: list) -> list[Summary]:
    rows = conn.execute(
        f"SELECT {column}, SUM(total_us), SUM(frame_count), COUNT(DISTINCT NULLIF(session_date, '')), "
        f"MAX(NULLIF(session_date, '')) FROM tallies{where} GROUP BY {column} ORDER BY {column} = '', {column}",
        params,
    )
    return [Summary(_none(n), us / 3_600_000_000, count, nights, last) for n, us, count, nights, last in rows]


def overview(conn: sqlite3.Connection) -> tuple[int, float, int]:
    """(counting frames, hours, targets) of the whole ledger."""
    frames, us, targets = conn.execute(
        "SELECT COALESCE(SUM(frame_count), 0), COALESCE(SUM(total_us), 0), COUNT(DISTINCT target) FROM tallies"
    ).fetchone()
    return frames, us / 3_600_000_000, targets


@dataclass(slots=True, frozen=True)
class NightFrame:
    path: str
    date_obs_utc: str | None
    exposure_s: float | None
    ccd_temp: float | None
    status: str


def night_frames(
    conn: sqlite3.Connection, night: str, target: str | None, filter: str | None, limit: int = 1000
) -> list[NightFrame]:
    """The files of one session (night × target × filter), in time order, at most ``limit``."""
    rows = conn.execute(
        f"SELECT d.path, f.name, {UTC_SQL}, e.exposure_s, e.ccd_temp, {SHOWN_STATUS_SQL} "
        "FROM exposures e JOIN files f ON f.identity = e.identity JOIN dirs d ON d.id = f.dir_id "
        "WHERE e.session_date = ? AND e.eff_target IS ? AND e.eff_filter IS ? "
        "ORDER BY e.t_obs_ms, f.id LIMIT ?",
        (night, target, filter, limit),
    )
    return [NightFrame(join_path(d, n), t, exp, temp, status) for d, n, t, exp, temp, status in rows]


def root_paths(conn: sqlite3.Connection) -> list[str]:
    """The archive roots this ledger has scanned, most recently walked first."""
    return [from_db(r[0]) for r in conn.execute("SELECT path FROM roots ORDER BY last_walk_ms DESC, id")]


def root_paths_at(ledger_path: str | os.PathLike[str]) -> list[str]:
    """root_paths of the ledger at a path; [] when there is no usable ledger there yet."""
    try:
        conn = connect(ledger_path, create=False)
    except LedgerError:
        return []
    try:
        return root_paths(conn)
    finally:
        conn.close()


def counting_frame_count(conn: sqlite3.Connection) -> int:
    """Counting frames straight from the exposures (the tallies must agree; tests check it)."""
    return conn.execute("SELECT count(*) FROM exposures WHERE counting").fetchone()[0]


def rebuild_tallies(conn: sqlite3.Connection) -> None:
    """Recompute tallies from the exposures (repair; the triggers normally keep them exact)."""
    with transaction(conn):
        conn.execute("DELETE FROM tallies")
        conn.execute(f"INSERT INTO tallies ({_TALLY_KEY}, frame_count, total_us) {_TALLY_GROUPED} GROUP BY 1, 2, 3, 4")


# ISO 8601 UTC to the millisecond from integer ms, exactly (no float on the way).
UTC_SQL = """CASE WHEN e.t_obs_ms IS NULL THEN NULL ELSE
  strftime('%Y-%m-%dT%H:%M:%S', e.t_obs_ms / 1000, 'unixepoch') || '.'
  || substr('00' || (e.t_obs_ms % 1000), -3) || 'Z' END"""

# A file's status as shown: an override applies to every copy; of several present copies
# with the same status, the first found counts and the others are duplicates (only exposures
# with several copies need the look at the other files).
# DUPLICATE_SQL is true for such a later copy (files f, exposures e); with a status override
# every present copy has that status, so any earlier present copy counts instead.
DUPLICATE_SQL = """e.copies > 1 AND f.status NOT IN ('missing', 'unreadable')
  AND (f.status = e.status OR e.ov_status IS NOT NULL) AND EXISTS (
    SELECT 1 FROM files g WHERE g.identity = f.identity AND g.id < f.id
    AND (g.status = f.status OR (e.ov_status IS NOT NULL AND g.status NOT IN ('missing', 'unreadable'))))"""
SHOWN_STATUS_SQL = f"""
CASE
  WHEN f.status IN ('missing', 'unreadable') THEN f.status
  WHEN {DUPLICATE_SQL} THEN 'duplicate'
  WHEN e.ov_status IS NOT NULL THEN e.ov_status
  ELSE f.status
END"""


@dataclass(slots=True, frozen=True)
class FrameFilter:
    """Which frames a Frames report lists. Every field is optional; all given must hold."""

    target: str | None = None  # '-' (or ''): frames without a target
    filter: str | None = None  # '-' (or ''): frames without a filter
    status: str | None = None  # accepted, duplicate, rejected, derived, missing, unreadable
    bucket: str | None = None  # a bucket (those the engine decides)
    since: str | None = None  # first night, YYYY-MM-DD
    until: str | None = None  # last night, YYYY-MM-DD


EVERY_FRAME = FrameFilter()


def unreadable(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(path, reason) of every file that could not be read, by path."""
    return [
        (join_path(d, n), r or "")
        for d, n, r in conn.execute(
            "SELECT d.path, f.name, f.reason FROM files f JOIN dirs d ON d.id = f.dir_id "
            "WHERE f.status = 'unreadable' ORDER BY d.path, f.name"
        )
    ]
