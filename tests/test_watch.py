"""Watch mode: frames written while we watch reach the ledger a settle window later; a file
rewritten in place is read again; network shares fall back to periodic scans."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui import watch as W
from pl_tui.cli import main
from pl_tui.core.config import Config
from pl_tui.core.fitsgen import write_fits

from .conftest import BASE_LIGHT, cards_with, tree_digest

SETTLE = 1.0


def frames_of(ledger: Path) -> dict[str, int]:
    if not ledger.exists():
        return {}
    conn = L.connect(ledger, create=False)
    try:
        return {t.target: t.frame_count for t in L.totals(conn)}
    finally:
        conn.close()


def wait_until(check, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture
def watching(tmp_path: Path, request):
    """A Watcher running in a thread over tmp_path/archive; yields (archive, ledger, scans)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    ledger = tmp_path / "ledger.sqlite"
    stop = threading.Event()
    scans: list = []
    poll = getattr(request, "param", None)
    watcher = W.Watcher(ledger, [str(archive)], Config(settle_seconds=SETTLE), stop, scans.append, poll, workers=0)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    wait_until(lambda: len(scans) >= 1, 10)  # the first scan is done: now we watch
    yield archive, ledger, scans, watcher
    stop.set()
    thread.join(10)
    assert not thread.is_alive(), "the watcher did not stop"


def write(path: Path, target: str, when: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_fits(path, cards_with(BASE_LIGHT, {"OBJECT": target, "DATE-OBS": when}))


@pytest.mark.parametrize("watching", [None, 0.3], indirect=True, ids=["events", "polling"])
def test_new_frames_appear_a_settle_window_later(watching) -> None:
    archive, ledger, _scans, watcher = watching
    write(archive / "tonight" / "M81" / "a.fits", "M81", "2024-08-13T21:00:00")
    took = wait_until(lambda: frames_of(ledger).get("M81") == 1, SETTLE + 5)
    assert took >= SETTLE * 0.9  # not read while it could still be being written
    write(archive / "tonight" / "M81" / "b.fits", "M81", "2024-08-13T21:05:00")
    wait_until(lambda: frames_of(ledger).get("M81") == 2, SETTLE + 5)
    # a program completes the header after the exposure: same file, new content
    time.sleep(0.05)
    write(archive / "tonight" / "M81" / "b.fits", "M82", "2024-08-13T21:05:00")
    digest_before = tree_digest(archive)
    wait_until(lambda: frames_of(ledger) == {"M81": 1, "M82": 1}, SETTLE + 5)
    assert tree_digest(archive) == digest_before  # watching writes nothing
    assert watcher.uses_events == (watcher.poll_seconds is None)


def test_network_shares_are_polled(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda1 / ext4 rw 0 0\nnas:/astro /mnt/nas nfs4 rw 0 0\n//pc/share /mnt/smb\\040share cifs rw 0 0\n"
    )
    assert W.filesystem_type("/mnt/nas/2024/M81", str(mounts)) == "nfs4"
    assert W.filesystem_type("/mnt/smb share/x", str(mounts)) == "cifs"
    assert W.filesystem_type("/mnt/nasty", str(mounts)) == "ext4"  # a prefix is not a parent
    assert W.filesystem_type("/home", str(mounts)) == "ext4"


def test_scan_watch_usage_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    for argv, message in (
        (["scan", str(tmp_path / "a"), "--poll", "5"], "goes with --watch"),
        (["scan", str(tmp_path / "a"), "--watch", "--poll", "0"], "positive number"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["--ledger", str(tmp_path / "l.sqlite"), *argv])
        assert e.value.code == 2 and message in capsys.readouterr().err
