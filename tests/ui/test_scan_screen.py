"""The scan screen on real scans (issue 12): past the reader-process threshold, each folder's own
numbers, a total before the walk is done, a failure that says why with Retry / Back, frames
waiting out the settle window; and the app's one handler for failing workers."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from multiprocessing import resource_tracker
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.core.config import Config
from pl_tui.scan import PROCESS_THRESHOLD, ScanProgress
from pl_tui.screens.archive import ArchiveScreen
from pl_tui.screens.scan import FOLDER_WIDTH, ScanScreen
from pl_tui.screens.targets import TargetsScreen

from ..test_scan_processes import generate
from .conftest import CONFIG, settle


def files_in_ledger(ledger: Path) -> int:
    with L.reading(ledger) as conn:
        return conn.execute("SELECT count(*) FROM files").fetchone()[0]


def text(app: PlTuiApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def notes(app: PlTuiApp) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications]


async def wait_until(pilot, check, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what or check}; screen: {pilot.app.screen}")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Past the threshold at which a scan starts reader processes; folders of uneven sizes."""
    return generate(tmp_path_factory.mktemp("scan-screen") / "archive", PROCESS_THRESHOLD + 500)


@pytest.fixture
def fresh_resource_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resource tracker not started yet, as in a fresh `pl-tui`: an earlier test in this process
    may have started the real one from a stderr with a file descriptor."""
    tracker = resource_tracker.ResourceTracker()
    monkeypatch.setattr(resource_tracker, "_resource_tracker", tracker)
    for name in ("ensure_running", "register", "unregister", "getfd"):
        monkeypatch.setattr(resource_tracker, name, getattr(tracker, name))


class KeptScanScreen(ScanScreen):
    """Keeps what its tables showed when it is dismissed."""

    kept: dict[str, object] = {}

    def dismiss(self, result=None):  # type: ignore[no-untyped-def]
        folders = self.query_one("#scan-folders", DataTable)
        KeptScanScreen.kept = {
            "folders": {str(folders.get_row_at(i)[0]): str(folders.get_row_at(i)[1]) for i in range(folders.row_count)},
            "counts": text(self.app, "#scan-counts"),  # type: ignore[arg-type]
        }
        return super().dismiss(result)


class KeptApp(PlTuiApp):
    def start_scan(self, archives: list[str]) -> None:
        self.push_screen(KeptScanScreen(archives), self._scan_done)


async def test_the_app_scans_past_the_reader_process_threshold(
    archive: Path, tmp_path: Path, fresh_resource_tracker: None
) -> None:
    """Textual's stderr has no file descriptor: the scan failed with "bad value(s) in fds_to_keep"
    as soon as it started reader processes."""
    ledger = tmp_path / "l.sqlite"
    n = PROCESS_THRESHOLD + 500
    app = KeptApp(ledger, Config(settle_seconds=0, workers=2), [str(archive)])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TargetsScreen), what="the Targets screen")
        assert not [m for t, m in notes(app) if t == "Scan failed"]
    assert files_in_ledger(ledger) == n
    # each folder's own count, as `ls` gives it — the root holds no frame and is not listed
    on_disk = {
        os.path.relpath(d, archive): len(fs) for d, _, fs in os.walk(archive) if fs
    }  # fmt: skip
    shown = KeptScanScreen.kept["folders"]
    assert len(shown) == len(on_disk)  # type: ignore[arg-type]
    for folder, files in on_disk.items():
        cut = folder if len(folder) <= FOLDER_WIDTH else "…" + folder[-(FOLDER_WIDTH - 1) :]  # the end tells
        assert shown[cut] == f"{files:,} ✓", folder  # type: ignore[index]
    assert f"{n:,} of {n:,} files" in KeptScanScreen.kept["counts"]  # type: ignore[operator]


async def test_the_total_is_known_long_before_the_walk_is_done(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar stayed at --% with no ETA until the walk — which waits for the reads — was done."""
    import pl_tui.screens.scan as scan_screen

    real_scan = scan_screen.scan

    def slow_disk(*args, **kwargs):  # a NAS: every open answers late, the listing is quick
        def opener(path: str, flags: int) -> int:
            time.sleep(0.002)
            return os.open(path, flags)

        return real_scan(*args, **kwargs, opener=opener, workers=0, threads=4)

    monkeypatch.setattr(scan_screen, "scan", slow_disk)
    seen: list[ScanProgress] = []
    shown: list[str] = []

    class Watched(ScanScreen):
        def on_scan_screen_progressed(self, message: ScanScreen.Progressed) -> None:
            super().on_scan_screen_progressed(message)
            seen.append(message.progress)
            shown.append(text(self.app, "#scan-counts"))  # type: ignore[arg-type]

    class WatchedApp(PlTuiApp):
        def start_scan(self, archives: list[str]) -> None:
            self.push_screen(Watched(archives), self._scan_done)

    n = PROCESS_THRESHOLD + 500
    app = WatchedApp(tmp_path / "l.sqlite", CONFIG, [str(archive)])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: len(seen) >= 6, what="six progress events")
        await pilot.press("escape")  # enough seen; cancel
        await settle(pilot)
    early = [p for p in seen if not p.walk_done and p.counted]
    assert early, "no event had the full count before the walk was done"
    assert all(p.total == n for p in early)
    i = seen.index(early[-1])
    assert f"of ≈{n:,} files" in shown[i]
    assert any("ETA ≈" in s for s in shown)


async def test_a_failed_scan_says_why_and_offers_retry(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pl_tui.screens.scan as scan_screen

    real_scan = scan_screen.scan
    calls = []

    def full_disk_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(scan_screen, "scan", full_disk_once)
    ledger = tmp_path / "l.sqlite"
    app = PlTuiApp(ledger, CONFIG, [str(archive)])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.state == "failed", what="the failure")  # type: ignore[attr-defined]
        assert "Scan failed" in text(app, "#scan-title")
        status = text(app, "#scan-status")
        assert f"the ledger {ledger} cannot grow: the disk is full" in status and "r: retry" in status
        keys = {b.binding.description for b in app.screen.active_bindings.values()}
        assert {"Retry", "Back"} <= keys and "Cancel scan" not in keys
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, TargetsScreen), what="the Targets screen")
    assert len(calls) == 2 and files_in_ledger(ledger) == PROCESS_THRESHOLD + 500


async def test_back_after_a_failure_on_an_empty_ledger_offers_the_archive_choice(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pl_tui.screens.scan as scan_screen

    ledger = tmp_path / "l.sqlite"

    def unwritable(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", f"{ledger}-wal")

    monkeypatch.setattr(scan_screen, "scan", unwritable)
    app = PlTuiApp(ledger, CONFIG, [str(archive)])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.screen.state == "failed", what="the failure")  # type: ignore[attr-defined]
        assert f"cannot use the ledger ({ledger}-wal): Permission denied" in text(app, "#scan-status")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ArchiveScreen)


async def test_a_bug_in_the_scan_is_not_dressed_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pl_tui.screens.scan as scan_screen

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(scan_screen, "scan", broken)
    (tmp_path / "a").mkdir()
    app = PlTuiApp(tmp_path / "l.sqlite", CONFIG, [str(tmp_path / "a")])
    with pytest.raises(ZeroDivisionError):
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
    assert app.return_code == 1


async def test_frames_still_being_written_are_shown_then_read_when_settled(tmp_path: Path) -> None:
    """A first scan of fresh copies: the app said "0 frames" and a toast. Now the scan screen
    counts them, says when they will be read, and reads them then."""
    archive = generate(tmp_path / "archive", 40)
    now = time.time()
    for d, _, files in os.walk(archive):
        for f in files:
            os.utime(os.path.join(d, f), (now, now))  # copied a moment ago
    ledger = tmp_path / "l.sqlite"
    app = PlTuiApp(ledger, Config(settle_seconds=2), [str(archive)])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: getattr(app.screen, "state", "") == "waiting", what="the settle wait")
        status = text(app, "#scan-status")
        assert "40 frames modified less than 2 s ago" in status and "reading them at" in status
        assert "settling 40" in text(app, "#scan-counts")
        assert files_in_ledger(ledger) == 0
        await wait_until(pilot, lambda: isinstance(app.screen, TargetsScreen), timeout=15, what="the Targets screen")
    assert files_in_ledger(ledger) == 40


# ---------------------------------------------------------------------------------------------
# One handler for every worker's failure


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlite3.DatabaseError("database disk image is malformed"), "is corrupt (SQLite: database disk image"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "is read-only; fix its permissions"),
        (L.LedgerError("no ledger at /x: run 'pl-tui scan ARCHIVE' first"), "no ledger at /x: run 'pl-tui scan"),
    ],
    ids=["corrupt", "read-only", "ledger-error"],
)
async def test_a_failing_screen_worker_says_what_is_wrong(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, expected: str
) -> None:
    """Every screen's worker runs with exit_on_error=False: a broken ledger left the tree with
    stale numbers and said nothing."""
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen) and not notes(app)

        def broken(path):  # type: ignore[no-untyped-def]
            raise error

        monkeypatch.setattr(L, "reading", broken)
        app.post_message(PlTuiApp.LedgerChanged())  # the screens reload, and fail
        await wait_until(pilot, lambda: notes(app), timeout=10, what="a notification")
        await settle(pilot)
        (title, message), *more = notes(app)
        assert title == "Ledger problem" and expected in message
        assert not more, "the same problem is said once"
        assert app.is_running and app.return_code is None


async def test_a_bug_in_a_screen_worker_shows_the_traceback(ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PlTuiApp(ledger, CONFIG)
    with pytest.raises(ZeroDivisionError):
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)

            def broken(path):  # type: ignore[no-untyped-def]
                raise ZeroDivisionError("a bug in a query")

            monkeypatch.setattr(L, "reading", broken)
            app.post_message(PlTuiApp.LedgerChanged())
            await pilot.pause(1.0)
    assert app.return_code == 1
