"""What went wrong, in one line for the user: the problems a user can act on (the ledger is
read-only, full, locked or corrupt; a disk or permission error; a reader process killed) say what
is wrong and what to do. Anything else is a bug and gets ``None``: the caller shows its traceback.

Used by both faces; no Textual, no Rich.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from . import ledger
from .core.errors import PlTuiError


def describe(error: BaseException, ledger_path: str | os.PathLike[str] | None = None) -> str | None:
    """One line for a problem the user can fix; None for a bug."""
    if isinstance(error, PlTuiError):
        return str(error)  # pl-tui's own errors already say why and what to do
    if isinstance(error, sqlite3.Error):
        return _sqlite(error, ledger_path)
    if isinstance(error, BrokenProcessPool):
        return "a reader process died (killed, or out of memory); retry: the scan resumes where it stopped"
    if isinstance(error, OSError):
        return _os(error, ledger_path)
    return None


def is_ledger_problem(error: BaseException, ledger_path: str | os.PathLike[str] | None = None) -> bool:
    if isinstance(error, ledger.LedgerError | sqlite3.Error):
        return True
    return isinstance(error, OSError) and _on_ledger(error, ledger_path)


def _sqlite(error: sqlite3.Error, ledger_path: str | os.PathLike[str] | None) -> str:
    where = f"the ledger {os.fspath(ledger_path)}" if ledger_path is not None else "the ledger"
    code = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if code.startswith("SQLITE_FULL") or "disk is full" in text:
        return f"{where} cannot grow: the disk is full; free some space, then try again"
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return f"{where} is read-only; fix its permissions (and its folder's) or choose another with --ledger"
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return f"{where} is corrupt (SQLite: {text}); move it aside and scan again, or restore a backup"
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return f"{where} is locked by another program; try again when it is done"
    if code.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return f"cannot use {where} (SQLite: {text}); check the disk and the file's permissions"
    return f"{where} failed (SQLite: {text}); try again, and report it if it persists"


def _on_ledger(error: OSError, ledger_path: str | os.PathLike[str] | None) -> bool:
    if ledger_path is None or not error.filename:
        return False
    name = os.fspath(error.filename)
    ledger_file = os.fspath(ledger_path)
    return name.startswith(ledger_file) or Path(name) == Path(ledger_file).parent


def _os(error: OSError, ledger_path: str | os.PathLike[str] | None) -> str:
    reason = error.strerror or str(error)
    name = os.fspath(error.filename) if error.filename else None
    todo = {
        errno.ENOSPC: "free some space, then try again",
        errno.EDQUOT: "free some space, then try again",
        errno.EROFS: "the file system is read-only; choose another place",
        errno.EACCES: "check the permissions",
        errno.EPERM: "check the permissions",
        errno.EIO: "check the disk (and the cable or network share)",
    }.get(error.errno or 0, "check the path and try again")
    if _on_ledger(error, ledger_path):
        return f"cannot use the ledger ({name}): {reason}; {todo}"
    return f"{name}: {reason}; {todo}" if name else f"{reason}; {todo}"
