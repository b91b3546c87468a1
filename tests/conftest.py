"""Fixtures: real FITS bytes written in tmp_path, scans into tmp ledgers, archive checksums."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from pl_tui.core.config import Config
from pl_tui.core.fitsgen import Card, write_fits
from pl_tui.scan import ScanProgress, scan

# Shared CI machines stall now and then: a per-example time limit would only add flakiness.
settings.register_profile("pl-tui", deadline=None)
settings.load_profile("pl-tui")

# A minimal, valid NINA-like light: every test overrides what it is about.
BASE_LIGHT: list[Card] = [
    ("IMAGETYP", "LIGHT"),
    ("EXPTIME", 300.0),
    ("DATE-OBS", "2024-08-13T21:34:55.123"),
    ("INSTRUME", "ZWO ASI2600MM Pro"),
    ("TELESCOP", "RedCat 51"),
    ("FILTER", "Ha"),
    ("OBJECT", "M 81"),
]


def cards_with(base: list[Card], changes: dict[str, object] | None = None) -> list[Card]:
    """base with keywords replaced (None removes one); new keywords appended in order."""
    changes = dict(changes or {})
    out: list[Card] = []
    for c in base:
        key = c[0] if isinstance(c, tuple) else None
        if key in changes:
            value = changes.pop(key)
            if value is not None:
                out.append((key, value))
        else:
            out.append(c)
    out += [(k, v) for k, v in changes.items() if v is not None]
    return out


@pytest.fixture
def make_fits(tmp_path: Path) -> Callable[..., Path]:
    """make_fits('a/b.fits', {"OBJECT": "M31", "FILTER": None}) → a real FITS file under archive/."""

    def make(
        rel: str,
        changes: dict[str, object] | None = None,
        cards: list[Card] | None = None,
        naxis: tuple[int, ...] = (16, 16),
    ) -> Path:
        path = tmp_path / "archive" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_fits(path, cards_with(BASE_LIGHT if cards is None else cards, changes), naxis)
        _age(path)
        return path

    return make


def _age(path: Path, seconds: int = 3600) -> None:
    """Files a test writes are 'old' (outside the settle window) unless the test says otherwise."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 1_000_000_000))


@pytest.fixture
def age() -> Callable[[Path], None]:
    return _age


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "ledger.sqlite"


@pytest.fixture
def run_scan(ledger_path: Path) -> Callable[..., ScanProgress]:
    def run(*roots: Path, config: Config | None = None, check_archive: bool = True, **kw: object) -> ScanProgress:
        cfg = config or Config(settle_seconds=0)
        kw.setdefault("workers", 0)  # in-process readers: fast start for small archives
        before = [tree_digest(r, limit=1 << 20) for r in roots if r.is_dir()] if check_archive else []
        progress = scan(ledger_path, [str(r) for r in roots], cfg, **kw)  # type: ignore[arg-type]
        # every scan a test runs proves the promise: the archive is exactly as it was
        # (check_archive=False only where the test itself plays a program writing during the scan)
        if check_archive:
            after = [tree_digest(r, limit=1 << 20) for r in roots if r.is_dir()]
            assert after == before, "a scan changed the archive"
        return progress

    return run


def tree_digest(root: Path, limit: int | None = None) -> str:
    """Names, sizes, mtimes and contents of every file under root (the first ``limit`` bytes of
    each and its last 64 KiB when given: the demo's sparse 50 MB frames would take minutes)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                h.update(f"{p}|special".encode("utf-8", "surrogateescape"))
                continue
            st = p.stat()
            h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}|{st.st_mode}".encode("utf-8", "surrogateescape"))
            with contextlib.suppress(PermissionError), open(p, "rb") as f:
                if limit is None or st.st_size <= limit:
                    h.update(f.read())
                else:
                    h.update(f.read(limit))
                    f.seek(-65536, os.SEEK_END)
                    h.update(f.read())
    return h.hexdigest()
