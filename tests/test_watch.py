"""Watch mode: frames written while we watch reach the ledger a settle window later; a file
rewritten in place is read again; network shares fall back to periodic scans."""

from __future__ import annotations

import os
import shutil
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


# ---------------------------------------------------------------------------------------------
# Watch mode under hostile conditions: it never dies silently and never spins


def _start(archive: Path, ledger: Path, scans: list) -> tuple[threading.Event, threading.Thread, W.Watcher]:
    stop = threading.Event()
    watcher = W.Watcher(ledger, [str(archive)], Config(settle_seconds=SETTLE), stop, scans.append, workers=0)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return stop, thread, watcher


def _end(stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(10)
    assert not thread.is_alive(), "the watcher did not stop"


def test_frames_settling_when_watch_starts_are_read_without_another_event(tmp_path: Path) -> None:
    archive, ledger, scans = tmp_path / "archive", tmp_path / "ledger.sqlite", []
    write(archive / "M81" / "fresh.fits", "M81", "2024-08-13T21:00:00")  # just written: inside the window
    stop, thread, _ = _start(archive, ledger, scans)
    try:
        wait_until(lambda: frames_of(ledger).get("M81") == 1, SETTLE + 5)
    finally:
        _end(stop, thread)
    assert scans[0].deferred == 1  # the first scan left it for later, and later came by itself


def test_a_root_removed_and_recreated_is_watched_again(tmp_path: Path) -> None:
    archive, ledger, scans = tmp_path / "archive", tmp_path / "ledger.sqlite", []
    archive.mkdir()
    stop, thread, watcher = _start(archive, ledger, scans)
    try:
        wait_until(lambda: len(scans) >= 1, 10)
        assert watcher.uses_events
        shutil.rmtree(archive)  # an unmounted share, a folder moved away and back
        time.sleep(0.6)
        archive.mkdir()
        time.sleep(SETTLE + 1.5)  # every scan the removal caused is over: only events can tell now
        write(archive / "M81" / "a.fits", "M81", "2024-08-13T21:00:00")
        wait_until(lambda: frames_of(ledger).get("M81") == 1, SETTLE + 8)
    finally:
        _end(stop, thread)


def test_a_file_dated_a_month_ahead_is_read_once_not_waited_for_forever(tmp_path: Path) -> None:
    archive, ledger, scans = tmp_path / "archive", tmp_path / "ledger.sqlite", []
    future = archive / "M81" / "future.fits"
    write(future, "M81", "2024-08-13T21:00:00")
    ahead = time.time() + 30 * 86400  # a NAS with a wrong clock
    os.utime(future, (ahead, ahead))
    stop, thread, _ = _start(archive, ledger, scans)
    try:
        wait_until(lambda: frames_of(ledger).get("M81") == 1, 5)
        time.sleep(2.0)
    finally:
        _end(stop, thread)
    assert len(scans) <= 2  # before: a rescan of the whole root every 0.2 s, for a month


def test_a_name_watchfiles_cannot_take_falls_back_to_polling(tmp_path: Path, monkeypatch) -> None:
    """watchfiles dies on some names (not UTF-8) and on full inotify limits: watching goes on
    by polling instead of stopping silently."""
    monkeypatch.setattr(W, "DEFAULT_POLL_SECONDS", 0.5)
    archive, ledger, scans = tmp_path / "archive", tmp_path / "ledger.sqlite", []
    archive.mkdir()
    (archive / os.fsdecode(b"M81-\xff")).mkdir()  # a folder name that is not UTF-8

    def broken_watch(*args, **kwargs):
        raise RuntimeError("WatchfilesRustInternalError: stream did not contain valid UTF-8")
        yield  # a generator, like watchfiles.watch

    monkeypatch.setattr("watchfiles.watch", broken_watch)
    stop, thread, _ = _start(archive, ledger, scans)
    try:
        wait_until(lambda: len(scans) >= 1, 10)
        write(archive / os.fsdecode(b"M81-\xff") / "a.fits", "M81", "2024-08-13T21:00:00")
        st = (archive / os.fsdecode(b"M81-\xff") / "a.fits").stat()
        os.utime(archive / os.fsdecode(b"M81-\xff") / "a.fits", (st.st_atime, st.st_mtime - 60))
        wait_until(lambda: frames_of(ledger).get("M81") == 1, 8)
        assert thread.is_alive()
    finally:
        _end(stop, thread)
