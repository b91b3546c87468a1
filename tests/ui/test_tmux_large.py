"""The real `pl-tui ARCHIVE` in tmux on 20,000 frames — past the point where a scan starts reader
processes — then live mode on 3,000 more (issue 12: the app could not scan more than 1,500)."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from pl_tui import ledger as L

from ..test_scan_processes import generate
from .test_tmux_e2e import TMUX, keys, launch, pane, wait_for

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
    pytest.mark.slow,  # the real binary in a terminal: CI runs it, the quick loop skips it
]

FIRST, LATER = 20_000, 3_000


def files_in(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    conn = sqlite3.connect(ledger, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.OperationalError:  # no tables yet
        return 0
    finally:
        conn.close()


def counting_frames(ledger: Path) -> int:
    with L.reading(ledger) as conn:
        return L.overview(conn)[0]


def wait_until(check, timeout: float, what: str, session: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out: {what}; the screen was:\n{pane(session)}")


def test_a_20000_frame_archive_then_3000_more_in_live_mode(tmp_path: Path) -> None:
    generate(tmp_path / "archive", FIRST)
    # a settle window of 1 s: tonight's frames are read a second after they are written
    session, archive, ledger = launch(tmp_path, "large", tmp_path / "archive", config="settle_seconds = 1\n")
    try:
        screen = wait_for(session, " frames · ", timeout=120)  # the Targets screen's header
        assert "Scan failed" not in screen
        assert files_in(ledger) == FIRST
        before = counting_frames(ledger)
        assert f"{before:,} frames" in screen

        keys(session, "w")
        wait_for(session, "● live", timeout=20)
        time.sleep(1.0)  # the watcher's first pass (nothing new) is done
        generate(archive / "tonight", LATER, seed=4242)  # a night's capture written into the archive
        wait_until(lambda: files_in(ledger) == FIRST + LATER, 90, f"{FIRST + LATER:,} files in the ledger", session)
        after = counting_frames(ledger)
        assert after > before
        screen = wait_for(session, f"{after:,} frames", timeout=20)  # the app shows them by itself
        assert "● live" in screen and "Live mode stopped" not in screen
        keys(session, "q")
        wait_for(session, "PL-TUI-EXITED rc=0", timeout=20)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)
