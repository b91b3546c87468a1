"""Every screen and modal at 80x24 (the small SSH terminal) and 120x40, on fixed data. Update with
`pytest tests/ui/test_snapshots.py --snapshot-update` after reading snapshot_report.html.

Fixed data: the demo archive at a fixed path, the audit log's times pinned, "nights ago" counted
from a fixed day, no animations, and every worker's data waited for before the picture."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.core.config import Config
from pl_tui.demo import build_demo_archive
from pl_tui.domain import history
from pl_tui.domain import retag as R
from pl_tui.domain import rigs as G
from pl_tui.scan import ScanProgress, scan
from pl_tui.screens.archive import ArchiveScreen
from pl_tui.screens.inspector import InspectorScreen
from pl_tui.screens.scan import ScanScreen

# Layout regression pictures of every screen: CI runs them; the quick loop (-m 'not slow') skips them.
pytestmark = pytest.mark.slow

SIZES = [(80, 24), (120, 40)]
IDS = ["80x24", "120x40"]
FIXED = Path("/tmp/pl-tui-snapshots")  # paths on screen: the archive, the export's default file
CONFIG = Config(settle_seconds=0)
FIXED_MS = 1_740_000_000_000  # 2025-02-19 21:20 UTC: the audit log's time


@pytest.fixture(scope="module")
def demo_ledger() -> Path:
    """The demo scanned at a fixed path, with one retag (undone) and one alias in its audit log."""
    root = FIXED / "demo"
    shutil.rmtree(root, ignore_errors=True)
    build_demo_archive(root / "archive")
    ledger = root / "ledger.sqlite"
    scan(ledger, [str(root / "archive")], CONFIG, workers=0)
    with L.writing(ledger) as conn:
        (identity,) = conn.execute(
            "SELECT identity FROM files WHERE name = 'M81_nofilter_0001.fits' ORDER BY id LIMIT 1"
        ).fetchone()
        R.retag(conn, {identity}, {"filter": "L"}, "Buckets/Unknown: 2024-04-02/LIGHT/M81/M81_nofilter_0001.fits")
        history.undo(conn)
        R.retag(conn, {identity}, {"filter": "R"}, "Buckets/Unknown: 2024-04-02/LIGHT/M81/M81_nofilter_0001.fits")
        conn.execute("UPDATE audit SET at_ms = ?, undone_ms = CASE WHEN undone_ms IS NULL THEN NULL ELSE ? END",
                     (FIXED_MS, FIXED_MS + 60_000))  # fmt: skip
        conn.commit()
    return ledger


@pytest.fixture
def ledger(demo_ledger: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ledger.sqlite"
    with L.reading(demo_ledger) as conn:
        conn.execute(f"VACUUM INTO '{copy}'")
    return copy


@pytest.fixture(autouse=True)
def fixed_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """The current folder (the export's default file), the time zone (the audit log) and today
    (the gaps' "nights ago") fixed."""
    FIXED.mkdir(exist_ok=True)
    monkeypatch.chdir(FIXED)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    gaps = G.gaps
    monkeypatch.setattr(G, "gaps", lambda conn, today=None: gaps(conn, date(2025, 3, 1)))


def app_of(ledger: Path) -> PlTuiApp:
    app = PlTuiApp(ledger, CONFIG)
    app.animation_level = "none"  # a tab's underline slides: a snapshot must not catch it halfway
    return app


async def settled(pilot, *keys: str) -> None:
    """Press keys, then wait for the workers' data and the repaint."""
    await pilot.press(*keys)
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


async def buckets_counted(pilot) -> None:
    """The Buckets tabs get their counts from a worker: wait until they are on screen."""
    await settled(pilot, "b")
    for _ in range(100):
        if "need a look" in str(pilot.app.screen.query_one("#buckets-header").render()):
            break
        await pilot.pause(0.05)
    await settled(pilot)


async def timeline_loaded(pilot, *keys: str) -> None:
    await settled(pilot, *keys)
    for _ in range(100):  # the charts' data comes from a worker
        if getattr(pilot.app.screen, "loaded", False):
            break
        await pilot.pause(0.05)
    await settled(pilot)
    await pilot.pause(0.2)


# -- the screens


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_targets_with_a_night(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await settled(pilot, "down", "down", "enter")  # M81 opens
        await settled(pilot, "down", "down", "down", "enter")  # its Ha opens
        await settled(pilot, "down")  # the first night: its frames

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_targets_sorted_by_hours(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await settled(pilot, "s", "down", "enter")  # by hours; the second target opens
        pilot.app.clear_notifications()
        await settled(pilot)

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


class ArchiveApp(PlTuiApp):
    """The archive picker on a fixed folder with two chosen archives."""

    def first_screen(self) -> None:
        home = FIXED / "home"
        for folder in ("astro/2024", "astro/2025", "second-drive", "Pictures", ".config"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        (home / "notes.txt").touch()
        self.push_screen(ArchiveScreen(home), self._archives_chosen)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_archive_picker(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = ArchiveApp(tmp_path / "l.sqlite", CONFIG)
    app.animation_level = "none"

    async def run_before(pilot) -> None:
        await pilot.pause(0.3)  # the tree lists the folder in its worker (which never completes)
        await pilot.press("tab", "down", "enter")  # astro opens
        await pilot.pause(0.3)
        await pilot.press("down", "a", "down", "a")  # astro/2024 and astro/2025 added
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_archive_picker_asks_before_quitting(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = ArchiveApp(tmp_path / "l.sqlite", CONFIG)
    app.animation_level = "none"

    async def run_before(pilot) -> None:
        await pilot.pause(0.3)
        await pilot.press("escape")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


class ScanMomentApp(PlTuiApp):
    """The scan screen frozen at one moment of a scan."""

    def first_screen(self) -> None:
        self.push_screen(ScanScreen(["/archive/astro"], start=False))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_scan_progress(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = ScanMomentApp(tmp_path / "l.sqlite", CONFIG)

    async def progress(pilot) -> None:
        screen = pilot.app.screen
        for i, folder in enumerate(("2024-03-08/LIGHT/M81", "2024-03-09/LIGHT/M81", "2024-04-02/LIGHT/NGC7000")):
            p = ScanProgress(
                found=1200 + 300 * i,
                new=900 + 300 * i,
                unchanged=150,
                unreadable=2,
                indexed=800 + 300 * i,
                elapsed_s=2.0 + i,
                rate=14000.0,
                current_folder=os.path.join("/archive/astro", folder),
                walk_done=i == 2,
                folders=10 + i,
            )
            if i == 1:
                p.new_unreadable = [
                    ("/archive/astro/Broken/empty.fits", "empty file (0 bytes)"),
                    ("/archive/astro/Broken/photo.fits", "not a FITS file (it is a JPEG image)"),
                ]
            screen.post_message(ScanScreen.Progressed(p))
            await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=progress)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_buckets_with_marks_and_the_retag_modal(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await buckets_counted(pilot)
        await settled(pilot, "down", "down", "down", "space", "r", *"NGC7")

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_buckets_a_copy_and_its_reason(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await buckets_counted(pilot)
        await settled(pilot, "3", "down")  # Copies: the second copy, its whole reason below

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_audit_log(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await buckets_counted(pilot)
        await settled(pilot, "l", "down")  # the undone entry: its whole text below the table

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_merge_modal(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await buckets_counted(pilot)
        await settled(pilot, "m")

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_inspector(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    path = FIXED / "demo" / "archive" / "2024-03-08" / "LIGHT" / "M81" / "M81_B_120s_0001.fits"

    async def run_before(pilot) -> None:
        await settled(pilot)
        pilot.app.push_screen(InspectorScreen(str(path)))
        await settled(pilot)
        await settled(pilot, *["down"] * 12)  # a card further down: its whole text below

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


TIMELINE = [
    (tab, size)
    for tab in ("nights", "months", "gaps", "sensor", "rigs", "calibration")
    for size in SIZES
    # plotext places the nights chart's date ticks one cell apart from run to run at 80x24 (its
    # state from an earlier layout pass): that one is left to test_the_nights_chart_fits_80x24
    if (tab, size) != ("nights", (80, 24))
]


@pytest.mark.parametrize(("tab", "size"), TIMELINE, ids=[f"{t}-{w}x{h}" for t, (w, h) in TIMELINE])
def test_timeline(snap_compare, ledger: Path, size: tuple[int, int], tab: str) -> None:
    tabs = ["nights", "months", "gaps", "sensor", "rigs", "calibration"]

    async def run_before(pilot) -> None:
        await settled(pilot)
        await timeline_loaded(pilot, "down", "down", "down", "h")  # NGC7000: two rigs
        await settled(pilot, *["right"] * tabs.index(tab))
        await pilot.pause(0.2)

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_export_modal(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await settled(pilot, "down", "down", "e")  # M81

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_help(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await settled(pilot, "question_mark")

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_goal_modal(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    async def run_before(pilot) -> None:
        await settled(pilot)
        await settled(pilot, "down", "down", "enter")
        await settled(pilot, "down", "down", "down", "g", "1", "0")  # M81 · Ha: 10 h

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_goals_list(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    with L.writing(ledger) as conn:
        G.set_goal(conn, "M81", "Ha", 10)
        G.set_goal(conn, "NGC7000", "OIII", 4)
        G.set_goal(conn, "Sh2-129", "Ha", 2)

    async def run_before(pilot) -> None:
        await settled(pilot)
        await settled(pilot, "G")

    assert snap_compare(app_of(ledger), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_night_theme(snap_compare, ledger: Path, size: tuple[int, int]) -> None:
    app = app_of(ledger)

    async def run_before(pilot) -> None:
        await settled(pilot)
        pilot.app.theme = "night-vision"
        await settled(pilot, "down", "down", "enter")
        await settled(pilot, "down")

    assert snap_compare(app, terminal_size=size, run_before=run_before)
