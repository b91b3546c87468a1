"""kill -9 at random moments of scans, retags, undos and exports, many times over (SPEC §12).

After every kill: the ledger opens, ``PRAGMA integrity_check`` is ok, the tallies equal a recount,
every exposure's override columns match the overrides table, every retag and undo the worker had
seen committed is there, and the export folder holds only complete reports. Every few kills (and
at the end) a rescan to completion must give the same ledger as a clean scan of the same files.

CI runs 200 kill points; the full soak is ``PL_TUI_CRASH_POINTS=2000 python -m pytest tests/test_crash.py``.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.core.fitsgen import write_fits
from pl_tui.demo import nina_cards
from pl_tui.scan import scan

from .test_scan import invariants, snapshot

KILL_POINTS = int(os.environ.get("PL_TUI_CRASH_POINTS", "200"))
FULL_CHECK_EVERY = 25

WORKER = textwrap.dedent(
    """
    import os, random, sys
    sys.path.insert(0, sys.argv[5])
    from pl_tui import ledger as L
    from pl_tui.domain import history
    from pl_tui.domain import retag as R
    from pl_tui.core.config import Config
    from pl_tui.export import export_file
    from pl_tui.scan import scan

    ledger, root, acks, exports = sys.argv[1:5]
    rnd = random.Random(os.getpid())

    def ack(line):  # what the worker has seen committed: it must survive the kill
        with open(acks, "a") as f:
            f.write(line + "\\n")
            f.flush()
            os.fsync(f.fileno())

    i = 0
    while True:
        scan(ledger, [root], Config(settle_seconds=0), workers=0, wait_for_lock=True)
        with L.writer_lock(ledger, wait=True):
            conn = L.connect(ledger, create=False)
            target = rnd.choice(["M81", "M82", "NGC7000", "-"])
            where = rnd.choice(["target=M81", "filter=Ha", "path=*/2024-03-0" + str(rnd.randint(1, 3)) + "/*"])
            result = R.retag(conn, R.select(conn, R.parse_where([where])), {"target": target}, where)
            if result.audit_id is not None:
                ack(f"retag {result.audit_id}")
            if rnd.random() < 0.3:
                entry = history.undo(conn)
                if entry is not None:
                    ack(f"undo {entry.id}")
            conn.close()
        conn = L.connect(ledger, create=False)
        export_file(conn, "frames", os.path.join(exports, f"r{os.getpid()}-{i}.csv"))
        conn.close()
        i += 1
    """
)


def build_archive(root: Path, n: int = 600) -> None:
    t = datetime(2024, 3, 1, 20, tzinfo=UTC)
    for i in range(n):
        d = root / f"2024-03-0{1 + i // 200}" / ("M81" if i % 3 else "NGC 7000")
        d.mkdir(parents=True, exist_ok=True)
        cards = nina_cards("M 81" if i % 3 else "NGC 7000", ("L", "Ha", "OIII")[i % 3], t + timedelta(seconds=31 * i))
        write_fits(d / f"f{i:04d}.fits", cards, (8, 8))
        os.utime(d / f"f{i:04d}.fits", (1, 1))


def check_after_kill(ledger: Path, acks: Path, exports: Path) -> None:
    conn = sqlite3.connect(ledger)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    conn = L.connect(ledger, create=False)
    try:
        drift = conn.execute(
            "SELECT count(*) FROM exposures e LEFT JOIN overrides o ON o.identity = e.identity "
            "WHERE e.ov_target IS NOT o.target OR e.ov_filter IS NOT o.filter "
            "OR e.ov_type IS NOT o.image_type OR e.ov_status IS NOT o.status"
        ).fetchone()[0]
        assert drift == 0, "override columns drifted from the overrides table"
        entries = {r[0]: r[1] for r in conn.execute("SELECT id, undone_ms FROM audit")}
        for line in acks.read_text().splitlines() if acks.exists() else []:
            kind, aid = line.split()
            assert int(aid) in entries, f"a committed {kind} was lost"
            if kind == "undo":
                assert entries[int(aid)] is not None, "a committed undo was lost"
    finally:
        conn.close()
    invariants(ledger)
    for p in exports.iterdir():
        assert p.suffix == ".csv" and not p.name.startswith("."), f"a partial export remains: {p.name}"
        data = p.read_bytes()
        assert data.startswith(b"path,target,filter") and data.endswith(b"\r\n"), f"{p.name} is incomplete"


@pytest.mark.slow  # a soak: `pytest -m 'not slow'` is the quick loop
def test_kill_9_anywhere_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    build_archive(root)
    ledger = tmp_path / "ledger.sqlite"
    acks = tmp_path / "acks.txt"
    exports = tmp_path / "exports"
    exports.mkdir()
    src = str(Path(__file__).resolve().parents[1])
    rnd = random.Random(20261122)
    extra = 0
    for point in range(KILL_POINTS):
        proc = subprocess.Popen([sys.executable, "-c", WORKER, str(ledger), str(root), str(acks), str(exports), src])
        time.sleep(0.2 + rnd.random() * 0.35)  # start-up is ~0.2 s; then anywhere in its loop
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if ledger.exists():
            check_after_kill(ledger, acks, exports)
        if point % 10 == 9:  # the capture program adds a frame: the next scan has work to do
            d = root / "2024-03-04" / "M81"
            d.mkdir(parents=True, exist_ok=True)
            when = datetime(2024, 3, 4, 20, tzinfo=UTC) + timedelta(seconds=60 * extra)
            write_fits(d / f"new{extra:03d}.fits", nina_cards("M 81", "Ha", when), (8, 8))
            os.utime(d / f"new{extra:03d}.fits", (1, 1))
            extra += 1
        if point % FULL_CHECK_EVERY == FULL_CHECK_EVERY - 1 or point == KILL_POINTS - 1:
            resumed = scan(ledger, [str(root)], Config(settle_seconds=0), workers=0)
            assert resumed.state == "complete"
            clean = tmp_path / f"clean-{point}.sqlite"
            scan(clean, [str(root)], Config(settle_seconds=0), workers=0)
            # the same files and exposures; and, with the retags taken away, the same totals
            bare = tmp_path / f"bare-{point}.sqlite"
            conn = L.connect(ledger, create=False)
            conn.execute(f"VACUUM INTO '{bare}'")
            conn.close()
            conn = L.connect(bare, create=False)
            conn.execute("UPDATE exposures SET ov_target = NULL, ov_filter = NULL, ov_type = NULL, ov_status = NULL")
            conn.close()
            assert snapshot(bare) == snapshot(clean)
            clean.unlink()
            bare.unlink()
    states = {r[0] for r in sqlite3.connect(ledger).execute("SELECT state FROM scans")}
    assert "interrupted" in states and "complete" in states  # kills did land inside scans
    assert acks.exists() and "retag" in acks.read_text()  # and retags were committed between them
    assert any(exports.iterdir())
