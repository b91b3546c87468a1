"""Ledger migrations on ledgers that hold data: an older pl-tui's ledger opens, keeps every row
and retag, gains the new columns, and the next scan fills them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.scan import scan


def _older_ledger(path: Path, version: int) -> None:
    """The ledger as pl-tui at schema ``version`` created it (its migrations replayed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    for v in range(1, version + 1):
        for stmt in L._split_sql(L.MIGRATIONS[v]):
            conn.execute(stmt)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_a_schema_3_ledger_with_frames_and_retags_migrates_and_is_refilled(
    make_fits, archive: Path, tmp_path: Path
) -> None:
    make_fits("M81/a.fits", {"SKYQUAL": 21.3, "AMBTEMP": 4.5, "DATE-OBS": "2024-08-13T21:00:00.000"})
    make_fits("M81/b.fits", {"SKYQUAL": 21.1, "AMBTEMP": 4.0, "DATE-OBS": "2024-08-13T21:10:00.000"})
    # what schema 3 knew: the v4 columns did not exist; write a ledger the way it did
    ledger = tmp_path / "old" / "ledger.sqlite"
    _older_ledger(ledger, 3)
    old_cols = {r[1] for r in sqlite3.connect(ledger).execute("PRAGMA table_info(exposures)")}
    assert not old_cols & set(L.ADDED_IN_4)
    conn = sqlite3.connect(ledger, isolation_level=None)
    conn.execute("INSERT INTO overrides (identity, target) VALUES (42, 'M81')")
    conn.execute("INSERT INTO goals (target, filter, hours) VALUES ('M81', 'Ha', 10)")
    conn.close()

    with L.reading(ledger) as conn:  # opening migrates
        assert conn.execute("PRAGMA user_version").fetchone()[0] == L.SCHEMA_VERSION
        assert conn.execute("SELECT target FROM overrides WHERE identity = 42").fetchone() == ("M81",)
        assert conn.execute("SELECT hours FROM goals").fetchone() == (10.0,)
    p = scan(ledger, [str(archive)], Config(settle_seconds=0), workers=0)
    assert p.new == 2
    with L.reading(ledger) as conn:
        rows = conn.execute("SELECT sky_quality, ambient_temp FROM exposures ORDER BY t_obs_ms").fetchall()
    assert rows == [(21.3, 4.5), (21.1, 4.0)]


def test_a_new_ledger_has_every_exposure_column_once(tmp_path: Path) -> None:
    conn = L.connect(tmp_path / "l.sqlite")
    cols = [r[1] for r in conn.execute("PRAGMA table_xinfo(exposures)")]  # virtual columns too
    conn.close()
    assert len(cols) == len(set(cols))
    assert set(L.EXPOSURE_ONLY) <= set(cols)


def test_a_schema_4_ledger_with_frames_migrates_and_new_frames_are_tallied_once(
    make_fits, archive: Path, tmp_path: Path
) -> None:
    """Schema 5 adds a batch's tallies in one statement instead of a trigger per inserted row: a
    schema-4 ledger (with the trigger, and tallies it kept) loses the trigger and keeps its
    tallies; frames scanned afterwards are counted exactly once."""
    ledger = tmp_path / "old" / "ledger.sqlite"
    _older_ledger(ledger, 4)
    conn = sqlite3.connect(ledger, isolation_level=None)
    conn.execute("INSERT INTO setups (id, instrume) VALUES (1, 'cam')")
    conn.execute(  # a counting LIGHT of 60 s, as schema 4's scanner wrote it (its trigger tallies it)
        "INSERT INTO exposures (identity, target, filter, image_type, session_date, setup_id, exposure_s, "
        "exposure_us) VALUES (7, 'M81', 'Ha', 'LIGHT', '2024-08-13', 1, 60.0, 60000000)"
    )
    conn.execute("INSERT INTO dirs (id, root_id, path) VALUES (1, 1, '/gone')")
    conn.execute(
        "INSERT INTO files (dir_id, name, size, mtime_ns, identity, exposure_id, status) "
        "VALUES (1, 'a.fits', 1, 1, 7, 1, 'accepted')"
    )
    assert conn.execute("SELECT frame_count FROM tallies").fetchall() == [(1,)]
    conn.close()
    make_fits("M81/b.fits", {"DATE-OBS": "2024-08-13T21:10:00.000"})
    make_fits("M81/c.fits", {"DATE-OBS": "2024-08-13T21:20:00.000"})
    p = scan(ledger, [str(archive)], Config(settle_seconds=0), workers=0)
    assert p.new == 2
    with L.reading(ledger) as conn:
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert "exposures_tally_insert" not in triggers
        assert {"exposures_tally_update", "exposures_tally_delete"} <= triggers
        assert conn.execute("SELECT sum(frame_count) FROM tallies").fetchone()[0] == 3
        assert L.counting_frame_count(conn) == 3
        before = conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall()
        L.rebuild_tallies(conn)
        assert conn.execute("SELECT * FROM tallies ORDER BY 1, 2, 3, 4").fetchall() == before


def test_a_schema_5_ledger_migrates_to_smaller_rows_that_read_the_same(tmp_path: Path) -> None:
    """Schema 6 stores repeated values as (almost) nothing behind virtual columns of the same names:
    every column of every row reads as before, the tallies are untouched, and writes still work."""
    ledger = tmp_path / "old" / "ledger.sqlite"
    _older_ledger(ledger, 5)
    conn = sqlite3.connect(ledger, isolation_level=None)
    conn.execute("INSERT INTO setups (id, instrume) VALUES (1, 'cam')")
    rows = [  # target, target_raw, filter, filter_raw, image_type, image_type_raw, folder_type, basis, s, us, status
        ("M81", "M81", "Ha", "Ha", "LIGHT", "LIGHT", "LIGHT", "date-loc", 60.0, 60_000_000, "accepted"),
        ("M81", "m 81", "Ha", "H-alpha", "LIGHT", "Light Frame", None, "tz", 0.1, 100_000, "rejected"),
        ("M81", None, None, "None", None, "Unknown", "DARK", "sitelong", 1e-7, 0, "missing"),
        (None, None, None, None, None, None, None, None, None, None, "derived"),
        ("M82", "M82", "L", "L", "LIGHT", "LIGHT", None, "machine", 123.456789, 123_456_789, "accepted"),
        ("M82", "M82", "L", "L", "FLAT", "FLAT", "FLAT", "some future basis", 2.5, 2_500_000, "accepted"),
    ]
    # readings: ccd_temp, alt_deg, az_deg, airmass, fwhm_arcsec, sky_quality, ambient_temp — a few
    # decimals (stored scaled), many decimals, huge, tiny, integral, negative zero, missing
    readings = [
        (-10.0, 30.5548, 300.6494, 1.967101, 3.598, 18.47, 15.06),
        (-10.1, 86.0026275508, -0.0028560717, 1.0000001, 2.0, 21.0, -3.5),
        (1e300, -1e300, 1e-9, 12345678.9, 0.001, -0.0, 1e9),
        (None, None, None, None, None, None, None),
        (5, -90.0, 359.9999, 40.0, 1.23456, 17.999, 0.01),
        (-0.004, 45.12345, 0.00005, 1.5, 999.999, 22.345, -40.0),
    ]
    for i, (r, m) in enumerate(zip(rows, readings, strict=True), 1):
        conn.execute(
            "INSERT INTO exposures (identity, target, target_raw, filter, filter_raw, image_type, image_type_raw, "
            "folder_type, night_basis, exposure_s, exposure_us, status, session_date, setup_id, "
            "ccd_temp, alt_deg, az_deg, airmass, fwhm_arcsec, sky_quality, ambient_temp) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '2024-08-13', 1, ?, ?, ?, ?, ?, ?, ?)",
            (i * 1000, *r, *m),
        )
    conn.execute("INSERT INTO dirs (id, root_id, path) VALUES (1, 1, '/a')")
    for i, status in enumerate(["accepted", "rejected", "missing", "unreadable", "derived", "accepted"], 1):
        conn.execute(
            "INSERT INTO files (dir_id, name, size, mtime_ns, identity, exposure_id, status, reason) "
            "VALUES (1, ?, 1, 2, ?, ?, ?, ?)",
            (f"f{i}.fits", i * 1000, i, status, "why" if status != "accepted" else None),
        )
    conn.execute("INSERT INTO tallies VALUES ('M81', 'Ha', '2024-08-13', 1, 1, 60000000)")  # as the trigger left it
    old_cols = [r[1] for r in conn.execute("PRAGMA table_xinfo(exposures)")]
    file_cols = [r[1] for r in conn.execute("PRAGMA table_xinfo(files)")]
    before = conn.execute(f"SELECT {', '.join(old_cols)} FROM exposures ORDER BY id").fetchall()
    files_before = conn.execute(f"SELECT {', '.join(file_cols)} FROM files ORDER BY id").fetchall()
    tallies = conn.execute("SELECT * FROM tallies").fetchall()
    conn.close()

    with L.writing(ledger) as conn:  # opening migrates
        assert conn.execute("PRAGMA user_version").fetchone()[0] == L.SCHEMA_VERSION
        assert conn.execute(f"SELECT {', '.join(old_cols)} FROM exposures ORDER BY id").fetchall() == before
        assert conn.execute(f"SELECT {', '.join(file_cols)} FROM files ORDER BY id").fetchall() == files_before
        assert conn.execute("SELECT * FROM tallies").fetchall() == tallies
        # the repeats are stored as nothing
        stored = conn.execute("SELECT target_raw_d, night_basis_d, exposure_s_d, state FROM exposures WHERE id = 1")
        assert stored.fetchone() == (None, 1, None, None)
        assert conn.execute("SELECT exposure_s_d FROM exposures WHERE id = 3").fetchone() == (1e-7,)
        assert conn.execute("SELECT count(*) FROM files WHERE state IS NULL").fetchone() == (2,)
        # a reading with a few decimals is a small integer; one with many, a REAL; each reads back as it was
        assert conn.execute("SELECT alt_deg_d, airmass_d, sky_quality_d FROM exposures WHERE id = 1").fetchone() == (
            305548,
            1967101,
            1847,
        )
        assert conn.execute("SELECT typeof(alt_deg_d), typeof(ccd_temp_d) FROM exposures WHERE id = 2").fetchone() == (
            "real",
            "integer",
        )
        got = conn.execute(
            "SELECT ccd_temp, alt_deg, az_deg, airmass, fwhm_arcsec, sky_quality, ambient_temp "
            "FROM exposures ORDER BY id"
        ).fetchall()
        assert [tuple(None if v is None else float(v) for v in r) for r in got] == [
            tuple(None if v is None else float(v) for v in m) for m in readings
        ]
        # the indexes and triggers are back: a status index seek, and an update moves the tallies
        plan = " ".join(
            r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM files WHERE status <> 'accepted'")
        )
        assert "files_status" in plan
        plan = " ".join(
            r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT id FROM exposures WHERE session_date = ?", ("x",))
        )
        assert "exposures_night" in plan
        conn.execute("UPDATE exposures SET ov_status = 'rejected' WHERE id = 1")
        assert conn.execute("SELECT count(*) FROM tallies").fetchone() == (0,)
