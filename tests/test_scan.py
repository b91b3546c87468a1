"""The scanner and the ledger together, on real archives in tmp_path: what is picked up, what
counts, copies and moves, rescans, missing files, junk, locks, kill -9 and resume."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.core.fitsgen import write_fits
from pl_tui.core.normalize import NightRule, exposure_row, normalize
from pl_tui.demo import nina_cards
from pl_tui.domain import frames, triage
from pl_tui.scan import scan, scan_async

from .conftest import BASE_LIGHT, cards_with, tree_digest


def totals(ledger_path: Path, **kw: str) -> list[tuple]:
    conn = L.connect(ledger_path, create=False)
    try:
        return [(t.target, t.filter, t.frame_count, t.total_exposure_s) for t in L.totals(conn, **kw)]
    finally:
        conn.close()


def query(ledger_path: Path, sql: str, *params: object) -> list[tuple]:
    conn = L.connect(ledger_path, create=False)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def invariants(ledger_path: Path) -> int:
    """Σ Totals = Σ Sessions = counting frames (and exposure); tallies = a fresh recount."""
    conn = L.connect(ledger_path, create=False)
    try:
        t = L.totals(conn)
        s = L.sessions(conn)
        n = L.counting_frame_count(conn)
        assert sum(x.frame_count for x in t) == sum(x.frame_count for x in s) == n
        assert round(sum(x.total_exposure_s for x in t), 6) == round(sum(x.total_exposure_s for x in s), 6)
        before = conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall()
        L.rebuild_tallies(conn)
        assert conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall() == before
        dup = conn.execute("SELECT dir_id, name, count(*) FROM files GROUP BY 1, 2 HAVING count(*) > 1").fetchall()
        assert dup == []
        stale = conn.execute(
            "SELECT count(*) FROM files f "
            "WHERE f.exposure_id IS NOT (SELECT id FROM exposures WHERE identity = f.identity)"
        ).fetchone()[0]
        assert stale == 0  # every file points at its identity's exposure row
        return n
    finally:
        conn.close()


def light(make_fits, rel: str, t: str, **changes: object):
    return make_fits(rel, {"DATE-OBS": t, **changes})


@pytest.fixture
def small(make_fits, archive: Path) -> Path:
    light(make_fits, "2024-08-13/M81/Ha/a1.fits", "2024-08-13T21:00:00.100")
    light(make_fits, "2024-08-13/M81/Ha/a2.fits", "2024-08-13T21:05:00.100")
    light(make_fits, "2024-08-13/M81/Ha/a3.fits", "2024-08-13T21:10:00.100")
    light(make_fits, "2024-08-13/M81/OIII/b1.fits", "2024-08-13T22:00:00.100", FILTER="OIII")
    light(make_fits, "2024-08-14/M81/OIII/b2.fits", "2024-08-14T21:00:00.100", FILTER="O3")
    light(make_fits, "2024-09-01/M31/c1.fits", "2024-09-01T21:00:00.100", OBJECT="M 31", FILTER="Lum", EXPTIME=120.0)
    return archive


def test_scan_counts_and_reports(small: Path, run_scan, ledger_path: Path) -> None:
    p = run_scan(small)
    assert (p.found, p.new, p.changed, p.unchanged, p.unreadable, p.indexed, p.state) == (6, 6, 0, 0, 0, 6, "complete")
    assert totals(ledger_path) == [("M31", "L", 1, 120.0), ("M81", "Ha", 3, 900.0), ("M81", "OIII", 2, 600.0)]
    conn = L.connect(ledger_path)
    sess = [(s.session_date, s.target, s.filter, s.frame_count) for s in L.sessions(conn, target="M81")]
    assert sess == [("2024-08-13", "M81", "Ha", 3), ("2024-08-13", "M81", "OIII", 1), ("2024-08-14", "M81", "OIII", 1)]
    assert L.sessions(conn, target="M81")[0].instrume == "ZWO ASI2600MM Pro"
    conn.close()
    assert invariants(ledger_path) == 6


def test_rescan_costs_only_a_stat_and_changes_nothing(small: Path, run_scan, ledger_path: Path) -> None:
    run_scan(small)
    before = query(ledger_path, "SELECT * FROM files ORDER BY id")
    p = run_scan(small)
    assert (p.new, p.changed, p.unchanged, p.indexed) == (0, 0, 6, 0)
    assert query(ledger_path, "SELECT * FROM files ORDER BY id") == before


def test_changed_file_is_read_again(small: Path, run_scan, ledger_path: Path, age) -> None:
    run_scan(small)
    path = small / "2024-09-01/M31/c1.fits"
    write_fits(
        path, cards_with(BASE_LIGHT, {"DATE-OBS": "2024-09-01T21:00:00.100", "OBJECT": "M 33", "EXPTIME": 120.0})
    )
    age(path, 60)
    p = run_scan(small)
    assert (p.changed, p.unchanged) == (1, 5)
    assert ("M33", "Ha", 1, 120.0) in totals(ledger_path) and not any(t[0] == "M31" for t in totals(ledger_path))
    invariants(ledger_path)


def test_copies_count_once(small: Path, run_scan, ledger_path: Path) -> None:
    stack = small / "Processing" / "stack project"
    stack.mkdir(parents=True)
    for f in (small / "2024-08-13/M81/Ha").iterdir():
        shutil.copy2(f, stack / f.name)
    run_scan(small)
    assert totals(ledger_path, target="M81", filter="Ha") == [("M81", "Ha", 3, 900.0)]
    conn = L.connect(ledger_path)
    assert triage.bucket_counts(conn)["duplicates"] == 3
    rows = triage.bucket_rows(conn, "duplicates")
    assert all("stack project" in r.path and "copy of" in r.why and "2024-08-13" in r.why for r in rows)
    statuses = sorted(r[13] for r in frames.iter_frames(conn, L.FrameFilter(target="M81", filter="Ha")))
    assert statuses == ["accepted"] * 3 + ["duplicate"] * 3
    conn.close()
    invariants(ledger_path)
    shutil.rmtree(stack)  # the copies go away: no duplicates left, the originals still count
    run_scan(small)
    conn = L.connect(ledger_path)
    assert triage.bucket_counts(conn)["duplicates"] == 0
    statuses = sorted(r[13] for r in frames.iter_frames(conn, L.FrameFilter(target="M81", filter="Ha")))
    assert statuses == ["accepted"] * 3 + ["missing"] * 3
    conn.close()
    assert totals(ledger_path, target="M81", filter="Ha") == [("M81", "Ha", 3, 900.0)]


def test_a_moved_folder_keeps_identity_override_and_status(small: Path, run_scan, ledger_path: Path) -> None:
    # an override keyed by identity (the retag issue writes these) must follow the frame
    run_scan(small)
    ident = query(ledger_path, "SELECT identity FROM files WHERE name = 'c1.fits'")[0][0]
    conn = L.connect(ledger_path)
    conn.execute("INSERT INTO overrides (identity, target) VALUES (?, 'Andromeda')", (ident,))
    conn.close()
    shutil.move(small / "2024-09-01", small / "moved-2024-09-01")
    p = run_scan(small)
    assert (p.new, p.missing) == (1, 1)
    assert ("Andromeda", "L", 1, 120.0) in totals(ledger_path)
    assert query(ledger_path, "SELECT status FROM files WHERE name = 'c1.fits' ORDER BY id") == [
        ("missing",),
        ("accepted",),
    ]
    assert query(ledger_path, "SELECT count(*) FROM exposures WHERE identity = ?", ident) == [(1,)]
    invariants(ledger_path)


def test_vanished_files_become_missing_and_come_back(small: Path, run_scan, ledger_path: Path) -> None:
    run_scan(small)
    gone = small / "2024-08-13/M81/Ha/a3.fits"
    saved = gone.read_bytes(), gone.stat()
    gone.unlink()
    p = run_scan(small)
    assert p.missing == 1
    assert totals(ledger_path, target="M81", filter="Ha") == [("M81", "Ha", 2, 600.0)]
    conn = L.connect(ledger_path)
    assert triage.bucket_counts(conn)["missing"] == 1
    conn.close()
    gone.write_bytes(saved[0])
    os.utime(gone, ns=(saved[1].st_atime_ns, saved[1].st_mtime_ns))
    p = run_scan(small)
    assert (p.changed, p.missing) == (1, 0)
    assert totals(ledger_path, target="M81", filter="Ha") == [("M81", "Ha", 3, 900.0)]
    invariants(ledger_path)


def test_no_missing_after_an_incomplete_walk(small: Path, run_scan, ledger_path: Path, monkeypatch) -> None:
    run_scan(small)
    shutil.rmtree(small / "2024-09-01")
    real = os.scandir

    def failing(path):
        if str(path).endswith("2024-08-14"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", failing)
    p = run_scan(small)
    assert p.missing == 0 and any("cannot list folder" in x for x in p.problems)
    assert any("no file marked missing" in x for x in p.problems)
    monkeypatch.setattr(os, "scandir", real)
    assert run_scan(small).missing == 1


def test_an_unmounted_root_marks_nothing_missing(small: Path, run_scan, ledger_path: Path) -> None:
    run_scan(small)
    small.rename(small.with_name("unplugged"))
    small.mkdir()  # the empty mount point
    p = run_scan(small)
    assert p.missing == 0 and any("unmounted" in x for x in p.problems)
    assert sum(t[2] for t in totals(ledger_path)) == 6


def test_settle_window_defers_files_being_written(make_fits, archive: Path, run_scan, ledger_path: Path) -> None:
    path = light(make_fits, "tonight/x.fits", "2024-08-13T21:00:00.100")
    os.utime(path)  # written just now
    p = run_scan(archive, config=Config(settle_seconds=30))
    assert (p.deferred, p.indexed) == (1, 0)
    os.utime(path, (time.time() - 60, time.time() - 60))
    p = run_scan(archive, config=Config(settle_seconds=30))
    assert (p.deferred, p.new) == (0, 1)


def test_a_file_growing_during_the_scan_is_read_again(make_fits, archive: Path, run_scan, ledger_path: Path) -> None:
    """In a folder the ledger knows, the scanner stats a file, then its reader opens it: a file
    that grew in between is recorded with the size seen first, so the next scan reads it again.
    In a new folder the reader's own fstat gives the size: the one the header was read at."""
    light(make_fits, "old/a.fits", "2024-08-13T21:00:00.100")
    run_scan(archive)
    grown = light(make_fits, "old/x.fits", "2024-08-13T21:01:00.100")
    fresh = light(make_fits, "new/y.fits", "2024-08-13T21:02:00.100")

    def growing_open(p: str, flags: int) -> int:
        if p in (str(grown), str(fresh)):
            with open(p, "ab") as f:  # the capture program is still appending
                f.write(b"\0" * 2880)
        return os.open(p, flags)

    run_scan(archive, opener=growing_open, check_archive=False)
    with L.reading(ledger_path) as conn:
        sizes = dict(conn.execute("SELECT name, size FROM files"))
    assert sizes["x.fits"] == grown.stat().st_size - 2880  # the size stat-ed before the read
    assert sizes["y.fits"] == fresh.stat().st_size  # the size its reader saw, and read at
    p = run_scan(archive)
    assert (p.changed, p.unchanged) == (1, 2)  # x.fits is read again


def test_what_is_picked_up(make_fits, archive: Path, run_scan, ledger_path: Path) -> None:
    t = "2024-08-13T21:00:00.{:03d}"
    for i, rel in enumerate(["a.fit", "b.FITS", "c.fts", "d.Fit", "sub/e.fits"]):
        light(make_fits, rel, t.format(i))
    light(make_fits, ".hidden.fits", t.format(10))
    light(make_fits, ".thumbs/x.fits", t.format(11))
    light(make_fits, "_trash/x.fits", t.format(12))
    light(make_fits, "notes.txt.fits.bak", t.format(13))
    (archive / "readme.txt").write_text("not a frame")
    (archive / "image.jpg").write_bytes(b"\xff\xd8\xff")
    p = run_scan(archive, config=Config(settle_seconds=0, exclude=("**/_trash/**",)))
    assert p.found == 5 and p.indexed == 5


def test_reject_globs_index_frames_as_rejected(make_fits, archive: Path, run_scan, ledger_path: Path) -> None:
    light(make_fits, "M81/good.fits", "2024-08-13T21:00:00.100")
    light(make_fits, "M81/Rejected/cloudy.fits", "2024-08-13T21:05:00.100")
    light(make_fits, "M81/rejects/trail.fits", "2024-08-13T21:10:00.100")
    light(make_fits, "M81/bad/wind.fits", "2024-08-13T21:15:00.100")
    run_scan(archive)
    assert totals(ledger_path)[0][2] == 1
    conn = L.connect(ledger_path)
    assert triage.bucket_counts(conn)["rejected"] == 3
    conn.close()


def test_symlink_loops_and_second_ways_in(
    make_fits, archive: Path, run_scan, ledger_path: Path, tmp_path: Path
) -> None:
    light(make_fits, "M81/a.fits", "2024-08-13T21:00:00.100")
    (archive / "M81" / "loop").symlink_to(archive)  # a loop back to the root
    (archive / "again").symlink_to(archive / "M81")  # a second way into M81
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_fits(outside / "b.fits", cards_with(BASE_LIGHT, {"DATE-OBS": "2024-08-13T22:00:00.100"}))
    os.utime(outside / "b.fits", (1, 1))
    (archive / "linked").symlink_to(outside)  # followed once
    p = run_scan(archive)
    assert p.state == "complete" and p.found == 2 and p.indexed == 2


def test_unicode_and_odd_paths(make_fits, archive: Path, run_scan, ledger_path: Path) -> None:
    light(make_fits, "Ωmega Nebula [M17]/ñ 'quote' [b]x[/b].fits", "2024-08-13T21:00:00.100")
    light(make_fits, "with space/new\nline.fits", "2024-08-13T21:01:00.100")
    raw_name = os.fsdecode(b"bad-\xff\xfe-utf8.fits")
    src = light(make_fits, "plain.fits", "2024-08-13T21:02:00.100")
    os.rename(src, os.path.join(str(archive), raw_name))
    p = run_scan(archive)
    assert (p.indexed, p.unreadable) == (3, 0)
    conn = L.connect(ledger_path)
    paths = sorted(r[0] for r in frames.iter_frames(conn))
    conn.close()
    assert os.path.join(str(archive), raw_name) in paths and any("\n" in x for x in paths)
    assert run_scan(archive).unchanged == 3  # and a rescan finds every one of them again


def test_junk_is_listed_with_reasons_and_the_scan_goes_on(
    make_fits, archive: Path, run_scan, ledger_path: Path
) -> None:
    light(make_fits, "good.fits", "2024-08-13T21:00:00.100")
    (archive / "zero.fits").write_bytes(b"")
    (archive / "tiny.fits").write_bytes(b"SIMPLE  = T")
    (archive / "photo.fits").write_bytes(b"\xff\xd8\xff\xe0" + b"x" * 5000)
    (archive / "cut.fits").write_bytes(b"SIMPLE  =                    T".ljust(80) + b"OBJECT  = 'M81'".ljust(80) * 40)
    os.mkfifo(archive / "pipe.fits")
    denied = light(make_fits, "denied.fits", "2024-08-13T21:01:00.100")
    for p in archive.iterdir():
        if not p.is_fifo():
            os.utime(p, (1, 1))

    def opener(path: str, flags: int) -> int:
        if path == str(denied):
            raise PermissionError(13, "Permission denied")
        return os.open(path, flags)

    p = run_scan(archive, opener=opener)
    assert (p.found, p.unreadable) == (7, 6)
    conn = L.connect(ledger_path)
    reasons = {Path(path).name: reason for path, reason in L.unreadable(conn)}
    conn.close()
    assert reasons == {
        "zero.fits": "empty file (0 bytes)",
        "tiny.fits": "smaller than one FITS block (11 of 2880 bytes)",
        "photo.fits": "not a FITS file (it is a JPEG image)",
        "cut.fits": "header truncated: file ends after 3280 bytes without END",
        "pipe.fits": "not a regular file (FIFO, device or socket)",
        "denied.fits": "permission denied",
    }
    assert totals(ledger_path)[0][2] == 1
    # unreadable files are tried again (permissions get fixed) but stay listed while broken
    p = run_scan(archive)
    assert (p.unreadable, p.new, p.changed) == (5, 0, 1)


def test_the_archive_is_never_written(small: Path, run_scan, ledger_path: Path) -> None:
    (small / "junk.fits").write_bytes(b"junk")
    before = tree_digest(small)
    atimes = {p: p.stat().st_atime_ns for p in small.rglob("*.fits")}
    run_scan(small)
    run_scan(small)
    assert tree_digest(small) == before
    assert {p: p.stat().st_atime_ns for p in small.rglob("*.fits")} == atimes  # O_NOATIME
    assert not list(small.rglob("*.sqlite*")) and not list(small.rglob("*.lock"))


def test_a_second_writer_gets_a_clear_message(small: Path, ledger_path: Path) -> None:
    busy = rf"ledger is busy \(scan in progress by pid {os.getpid()}\)"
    with L.writer_lock(ledger_path), pytest.raises(L.LedgerBusy, match=busy):
        scan(ledger_path, [str(small)], Config(settle_seconds=0), workers=0)
    assert scan(ledger_path, [str(small)], Config(settle_seconds=0), workers=0).indexed == 6


def test_readers_are_not_blocked_by_a_scan(small: Path, ledger_path: Path) -> None:
    scan(ledger_path, [str(small)], Config(settle_seconds=0), workers=0)
    with L.writer_lock(ledger_path):
        assert len(totals(ledger_path)) == 3


def test_ledger_errors_are_clear_and_change_nothing(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    c = sqlite3.connect(newer)
    c.execute(f"PRAGMA user_version = {L.SCHEMA_VERSION + 1}")
    c.close()
    before = newer.read_bytes()
    with pytest.raises(L.LedgerError, match="newer pl-tui"):
        L.connect(newer)
    assert newer.read_bytes() == before
    other = tmp_path / "other.sqlite"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE mine (x)")
    c.commit()
    c.close()
    before = other.read_bytes()
    with pytest.raises(L.LedgerError, match="not a pl-tui ledger"):
        L.connect(other)
    assert other.read_bytes() == before
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(L.LedgerError, match="not a pl-tui ledger"):
        L.connect(garbage)
    with pytest.raises(L.LedgerError, match="no ledger"):
        L.connect(tmp_path / "absent.sqlite", create=False)


def test_migrations_bring_an_empty_ledger_to_the_current_schema(tmp_path: Path) -> None:
    conn = L.connect(tmp_path / "l.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == L.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    L.connect(tmp_path / "l.sqlite").close()  # opening again is a no-op


def test_async_scan_yields_progress_then_done(small: Path, ledger_path: Path) -> None:
    async def collect() -> list:
        return [p async for p in scan_async(ledger_path, [small], Config(settle_seconds=0), workers=0)]

    events = asyncio.run(collect())
    assert events[-1].done and events[-1].state == "complete" and events[-1].indexed == 6
    assert all(not e.done for e in events[:-1])


def test_stop_cancels_cleanly_and_the_next_scan_resumes(make_fits, archive: Path, ledger_path: Path) -> None:
    n = 1000
    for i in range(n):
        light(make_fits, f"d{i // 50}/f{i}.fits", f"2024-08-13T{20 + i // 3600}:{i // 60 % 60:02d}:{i % 60:02d}.100")
    stop = threading.Event()

    def slow(path: str, flags: int) -> int:
        time.sleep(0.01)  # 1000 files, two batches of 32 at a time: ~5 s; the first write at ~0.5 s
        return os.open(path, flags)

    def on_progress(p) -> None:
        if p.indexed > 0:
            stop.set()

    p = scan(
        ledger_path,
        [str(archive)],
        Config(settle_seconds=0),
        stop=stop,
        progress=on_progress,
        workers=0,
        threads=2,
        opener=slow,
    )
    assert p.state == "cancelled" and 0 < p.indexed < n and p.missing == 0
    p2 = scan(ledger_path, [str(archive)], Config(settle_seconds=0), workers=0)
    assert p2.state == "complete" and p2.unchanged == p.indexed and p2.new == n - p.indexed
    assert totals(ledger_path)[0][2] == n


def test_night_rule_change_recomputes_nights(make_fits, archive: Path, run_scan, ledger_path: Path) -> None:
    light(make_fits, "x.fits", "2024-08-14T02:00:00.100")  # 04:00 Berlin, 22:00 New York the day before
    run_scan(archive, config=Config(settle_seconds=0, time_zone="Europe/Berlin"))
    assert query(ledger_path, "SELECT session_date FROM exposures") == [("2024-08-13",)]
    p = run_scan(archive, config=Config(settle_seconds=0, time_zone="Asia/Tokyo"))  # 11:00 JST on the 14th
    assert p.changed == 1
    assert query(ledger_path, "SELECT session_date, night_basis FROM exposures") == [("2024-08-13", "tz")]
    run_scan(archive, config=Config(settle_seconds=0, time_zone="Asia/Tokyo", night_boundary_hour=9))
    assert query(ledger_path, "SELECT session_date FROM exposures") == [("2024-08-14",)]


def test_several_roots(make_fits, archive: Path, run_scan, ledger_path: Path, tmp_path: Path) -> None:
    light(make_fits, "a.fits", "2024-08-13T21:00:00.100")
    other = tmp_path / "nas"
    other.mkdir()
    write_fits(other / "b.fits", cards_with(BASE_LIGHT, {"DATE-OBS": "2024-08-13T21:05:00.100"}))
    os.utime(other / "b.fits", (1, 1))
    p = run_scan(archive, other)
    assert p.indexed == 2 and totals(ledger_path)[0][2] == 2


def test_worker_processes_give_the_same_ledger(tmp_path: Path) -> None:
    """Past the threshold the scan reads in spawned processes; the result must not differ."""
    root = tmp_path / "many"
    from datetime import datetime, timedelta

    t = datetime(2024, 8, 13, 20, tzinfo=UTC)
    for i in range(1700):
        d = root / f"n{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        write_fits(
            d / f"f{i}.fits", nina_cards("M 81", "Ha" if i % 2 else "OIII", t + timedelta(seconds=61 * i)), (8, 8)
        )
    for p in root.rglob("*.fits"):
        os.utime(p, (1, 1))
    a = scan(tmp_path / "a.sqlite", [str(root)], Config(settle_seconds=0), workers=2)
    b = scan(tmp_path / "b.sqlite", [str(root)], Config(settle_seconds=0), workers=0)
    assert a.indexed == b.indexed == 1700
    assert snapshot(tmp_path / "a.sqlite") == snapshot(tmp_path / "b.sqlite")


# ---------------------------------------------------------------------------------------------
# kill -9 in the middle of a scan, then a rescan: the same ledger as a clean scan


def snapshot(ledger_path: Path) -> dict[str, object]:
    """What a ledger says, independent of row ids and insertion order."""
    conn = L.connect(ledger_path, create=False)
    try:
        setup_cols = ", ".join(f"s.{c}" for c in L.SETUP_COLUMNS)
        exp_cols = ", ".join(f"e.{c}" for c in (*L.EXPOSURE_ONLY, "exposure_us", "status"))
        return {
            "files": sorted(
                (L.join_path(d, n), size, mtime, ident, status, reason)
                for d, n, size, mtime, ident, status, reason in conn.execute(
                    "SELECT d.path, f.name, f.size, f.mtime_ns, f.identity, f.status, f.reason "
                    "FROM files f JOIN dirs d ON d.id = f.dir_id"
                )
            ),
            "exposures": sorted(
                conn.execute(f"SELECT {exp_cols}, {setup_cols} FROM exposures e JOIN setups s ON s.id = e.setup_id"),
                key=repr,
            ),
            "totals": L.totals(conn),
            "sessions": L.sessions(conn),
        }
    finally:
        conn.close()


def test_kill_9_mid_scan_then_rescan_equals_a_clean_scan(tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    root = tmp_path / "archive"
    t = datetime(2024, 3, 1, 20, tzinfo=UTC)
    for i in range(1200):
        d = root / f"2024-03-{1 + i // 200:02d}" / "LIGHT" / ("M81" if i % 3 else "NGC 7000")
        d.mkdir(parents=True, exist_ok=True)
        cards = nina_cards("M 81" if i % 3 else "NGC 7000", ("L", "Ha", "OIII")[i % 3], t + timedelta(seconds=31 * i))
        write_fits(d / f"f{i:04d}.fits", cards, (8, 8))
    (root / "broken.fits").write_bytes(b"junk")
    for p in root.rglob("*.fits"):
        os.utime(p, (1, 1))
    killed = tmp_path / "killed.sqlite"
    code = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from pl_tui.scan import scan
        from pl_tui.core.config import Config
        def slow(path, flags):
            time.sleep(0.004)  # ~2.5 s in all: plenty of time to be killed after the first writes
            return os.open(path, flags)
        scan({str(killed)!r}, [{str(root)!r}], Config(settle_seconds=0), workers=0, threads=2, opener=slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    n = 0
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            n = query(killed, "SELECT count(*) FROM files")[0][0]
        except (L.LedgerError, sqlite3.OperationalError):
            continue
        if n > 0:
            break
    assert proc.poll() is None, "the scan finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < n < 1201
    conn = sqlite3.connect(killed)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    resumed = scan(killed, [str(root)], Config(settle_seconds=0), workers=0)  # the lock died with the process
    assert resumed.state == "complete" and resumed.unchanged >= n - 1
    clean = tmp_path / "clean.sqlite"
    scan(clean, [str(root)], Config(settle_seconds=0), workers=0)
    assert snapshot(killed) == snapshot(clean)
    assert query(killed, "SELECT state FROM scans ORDER BY id") == [("interrupted",), ("complete",)]
    invariants(killed)


# ---------------------------------------------------------------------------------------------
# Property: whatever mix of frames, copies and statuses, the numbers agree


frame_mixes = st.lists(
    st.tuples(
        st.sampled_from(["M31", "M81", None]),  # target
        st.sampled_from(["Ha", "OIII", None]),  # filter
        st.sampled_from(["LIGHT", "DARK", None]),  # type
        st.sampled_from([60.0, 120.0, 0.1, None]),  # exposure
        st.integers(0, 40),  # minute of the night: frames at the same minute are copies
        st.sampled_from(["accepted", "accepted", "rejected", "derived"]),
        st.sampled_from(["cam A", "cam B"]),
    ),
    max_size=40,
)


@given(
    frame_mixes,
    st.lists(st.integers(0, 39), max_size=10),
    st.dictionaries(st.integers(0, 39), st.sampled_from(["rejected", "accepted", "LIGHT", "DARK"]), max_size=6),
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=6),
    st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_ledgers_keep_the_invariants(
    tmp_path: Path, items: list, gone: list[int], overrides: dict, changes: list, alias: bool
) -> None:
    """Batches of new frames (copies within a batch and across batches), overrides and aliases
    already known when a frame is first written, files whose content changed (a new identity) and
    files gone: the tallies stay a recount."""
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "ledger.sqlite"  # a fresh ledger per example
    conn = L.connect(path)
    rows = []
    for i, (target, filt, itype, exp, minute, _status, cam) in enumerate(items):
        cards = {"OBJECT": target, "FILTER": filt, "IMAGETYP": itype, "EXPTIME": exp, "INSTRUME": cam,
                 "DATE-OBS": f"2024-08-13T21:{minute:02d}:00.100"}  # fmt: skip
        frame = normalize({k: v for k, v in cards.items() if v is not None}, b"", f"f{i}", (), NightRule(tz="UTC"))
        rows.append(L.split_row(exposure_row(frame)))
    # retags made before the frames are (re)written: a new row must carry them at once
    for i, value in overrides.items():
        if i < len(rows):
            column = "status" if value in ("rejected", "accepted") else "image_type"
            conn.execute(
                f"INSERT INTO overrides (identity, {column}) VALUES (?, ?) ON CONFLICT DO UPDATE SET {column} = ?",
                (rows[i][0][0], value, value),
            )
    if alias:
        conn.execute("INSERT INTO aliases (kind, from_name, to_name) VALUES ('target', 'M31', 'Andromeda')")
    w = L.LedgerWriter(conn)
    root = w.root_id("/r")
    recs = [
        L.FileRecord(w.dir_id(f"/r/d{i % 3}", root), f"f{i}.fits", 1, 1, items[i][5], None, *rows[i])
        for i in range(len(rows))
    ]
    for k in range(0, len(recs), 7):  # several batches, so identities meet across them
        w.write(recs[k : k + 7])
    w.commit()
    ids = [r[0] for r in conn.execute("SELECT id FROM files ORDER BY id")]
    # files whose content changed: file i now holds frame j (a new identity, or a copy's)
    changed = {i: j for i, j in changes if i < len(ids) and j < len(rows)}
    w.write(
        [
            L.FileRecord(recs[i].dir_id, recs[i].name, 2, 2, items[j][5], None, *rows[j], ids[i], rows[i][0][0])
            for i, j in changed.items()
        ]
    )
    w.mark_missing([ids[g] for g in set(gone) if g < len(ids)])
    w.commit()
    conn.close()
    invariants(path)
    # and the tallies equal a direct count of counting exposures
    direct = query(path, "SELECT count(*), COALESCE(SUM(exposure_us), 0) FROM exposures WHERE counting")[0]
    assert direct == query(path, "SELECT COALESCE(SUM(frame_count), 0), COALESCE(SUM(total_us), 0) FROM tallies")[0]
    # and a counting exposure is one with an accepted, present LIGHT file (or retagged so)
    expect = query(
        path,
        "SELECT count(DISTINCT e.identity) FROM exposures e JOIN files f ON f.identity = e.identity "
        "WHERE e.ov_status IS NULL AND f.status = 'accepted' AND e.eff_type IS 'LIGHT'",
    )[0][0]
    retagged = query(path, "SELECT count(*) FROM exposures WHERE ov_status = 'accepted' AND eff_type IS 'LIGHT'")
    assert direct[0] == expect + retagged[0][0]


def test_a_ledger_written_under_older_rules_is_read_again_once(
    make_fits, archive: Path, run_scan, ledger_path: Path
) -> None:
    """Upgrading pl-tui must not leave frames judged by old rules: the rules' version is part of
    each root's stamp, so the next scan reads every header again, and the one after does not."""
    make_fits("M81/sub_0001.fits", {"STACKCNT": 1})
    run_scan(archive)
    with L.writing(ledger_path) as conn:  # as an older version left it: judged derived, old stamp
        conn.execute("UPDATE files SET state = 'derived', reason = 'keyword STACKCNT'")
        conn.execute("UPDATE exposures SET state = 'derived'")
        conn.execute("UPDATE roots SET night_rule = 'NightRule(boundary_hour=12.0, tz=None)'")
    p = run_scan(archive)
    assert (p.changed + p.new, p.unchanged) == (1, 0)
    with L.reading(ledger_path) as conn:
        assert conn.execute("SELECT status, reason FROM files").fetchall() == [("accepted", None)]
        assert L.counting_frame_count(conn) == 1
    assert run_scan(archive).unchanged == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"EXPTIME": 1e308},
        {"EXPTIME": -300.0},
        {"EXPTIME": 9e12},
        {"GAIN": 99999999999999999999999},
        {"OFFSET": -99999999999999999999999},
        {"CCD-TEMP": 99999999999999999999999, "SET-TEMP": 99999999999999999999999},
        {"XPIXSZ": 99999999999999999999999, "AIRMASS": 99999999999999999999999},
        {"XBINNING": 99999999999999999999999, "NAXIS3": 99999999999999999999999},
    ],
)
def test_one_absurd_card_never_stops_a_scan(make_fits, archive: Path, run_scan, ledger_path: Path, changes) -> None:
    make_fits("M81/good.fits", {"DATE-OBS": "2024-08-13T21:00:00.000"})
    make_fits("M81/absurd.fits", {"DATE-OBS": "2024-08-13T21:10:00.000", **changes})
    p = run_scan(archive)
    assert (p.state, p.new, p.unreadable) == ("complete", 2, 0)
    with L.reading(ledger_path) as conn:
        (row,) = L.totals(conn)
        assert row.total_exposure_s in (300.0, 600.0)  # never negative, never a float overflow
        assert row.frame_count == 2
        reasons = triage.suspects(conn)
    if "EXPTIME" in changes:
        assert row.total_exposure_s == 300.0
        assert list(reasons.values()) == [
            "exposure impossible for one frame (≤ 0 s or over a day): its time is not counted"
        ]


def test_in_a_new_folder_the_reader_stats_vanished_and_unreadable_files(
    make_fits, archive: Path, run_scan, ledger_path: Path
) -> None:
    """Files in a folder new to the ledger are not stat-ed by the scanner: their readers fstat
    them. A file gone by then is simply not there (as when the scanner's stat found it gone);
    one its reader cannot open is recorded unreadable with its real size and mtime, so the next
    scan knows it unchanged and only tries it again."""
    gone = light(make_fits, "new/gone.fits", "2024-08-13T21:00:00.100")
    locked = light(make_fits, "new/locked.fits", "2024-08-13T21:01:00.100")
    light(make_fits, "new/ok.fits", "2024-08-13T21:02:00.100")

    def opener(p: str, flags: int) -> int:
        if p == str(gone):
            gone.unlink()  # removed between the listing and the read
        if p == str(locked):
            raise PermissionError(13, "Permission denied", p)
        return os.open(p, flags)

    p = run_scan(archive, opener=opener, check_archive=False)
    assert (p.found, p.new, p.unreadable, p.indexed) == (2, 2, 1, 2)
    with L.reading(ledger_path) as conn:
        rows = {n: (size, mtime, status) for n, size, mtime, status in conn.execute(
            "SELECT name, size, mtime_ns, status FROM files")}  # fmt: skip
    st = locked.stat()
    assert rows["locked.fits"] == (st.st_size, st.st_mtime_ns, L.UNREADABLE)
    assert "gone.fits" not in rows
    p = run_scan(archive, opener=opener, check_archive=False)
    assert (p.found, p.new, p.changed, p.unchanged, p.unreadable) == (2, 0, 0, 2, 1)


def test_the_census_walks_beside_a_scan_with_files_to_read_and_not_beside_a_quick_rescan(
    small: Path, run_scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The census (a second walk, for the progress total) starts with the first file to read; a
    rescan with nothing to read is over before it would be worth its cost."""
    from pl_tui import scan as scan_module

    started: list[int] = []
    start = scan_module._Scan._start_census

    def spy(self: scan_module._Scan) -> None:
        if not self._census_started:
            started.append(1)
        start(self)

    monkeypatch.setattr(scan_module._Scan, "_start_census", spy)
    p = run_scan(small)
    assert p.new == 6 and started == [1]  # counted beside the walk
    p = run_scan(small)
    assert p.unchanged == 6 and started == [1]  # no census: the walk itself gave the total
    assert p.total == 6


def test_the_cyclic_collector_is_off_during_a_cli_scan_only_and_back_on_after(small: Path, tmp_path: Path) -> None:
    """The CLI's scan (the main thread's) runs without the cyclic collector and gives it back,
    also when it fails; a scan on another thread (the TUI's) leaves the process's collector on."""
    import gc

    seen: list[bool] = []
    ledger_path = tmp_path / "gc.sqlite"
    scan(ledger_path, [str(small)], workers=0, progress=lambda p: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()

    with pytest.raises(RuntimeError):  # a callback that fails: the collector is still given back

        def boom(_p: object) -> None:
            raise RuntimeError

        scan(tmp_path / "gc2.sqlite", [str(small)], workers=0, progress=boom)
    assert gc.isenabled()

    seen.clear()
    t = threading.Thread(
        target=lambda: scan(ledger_path, [str(small)], workers=0, progress=lambda p: seen.append(gc.isenabled()))
    )
    t.start()
    t.join()
    assert seen and all(seen)


def test_a_ledger_without_aliases_stores_the_exposures_an_aliased_one_stores(small: Path, tmp_path: Path) -> None:
    """A first scan writes new exposures without binding the (empty) override and alias columns;
    every stored column must be what the full insert, taken when the ledger has an alias, stores."""
    plain, full = tmp_path / "plain.sqlite", tmp_path / "full.sqlite"
    scan(plain, [str(small)], Config(settle_seconds=0), workers=0)
    scan(full, [str(small)], Config(settle_seconds=0, filter_aliases={"Nothing here": "X"}), workers=0)
    columns = [r[1] for r in query(plain, "PRAGMA table_xinfo(exposures)") if r[1] not in ("id", "setup_id")]
    rows = f"SELECT {', '.join(columns)} FROM exposures ORDER BY identity"  # ids follow the reads' order
    got = query(plain, rows)
    assert len(got) == 6 and got == query(full, rows)
    assert query(full, "SELECT count(*) FROM aliases") == [(1,)]  # the full insert was the one taken
