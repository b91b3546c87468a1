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
    cols = [r[1] for r in conn.execute("PRAGMA table_info(exposures)")]
    conn.close()
    assert len(cols) == len(set(cols))
    assert set(L.EXPOSURE_ONLY) <= set(cols)
