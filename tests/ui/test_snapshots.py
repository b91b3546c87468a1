"""Layout-critical screens at fixed sizes and data. Update with `pytest --snapshot-update` after
reading snapshot_report.html."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pl_tui.app import PlTuiApp
from pl_tui.config import Config
from pl_tui.demo import build_demo_archive
from pl_tui.scan import ScanProgress, scan
from pl_tui.screens.scan import ScanScreen

SIZES = [(100, 30), (80, 24)]
FIXED_CWD = Path("/tmp/pl-tui-snapshots")  # the export modal shows a path in the current folder


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snap")
    build_demo_archive(root / "archive")
    ledger = root / "ledger.sqlite"
    scan(ledger, [str(root / "archive")], Config(settle_seconds=0), workers=0)
    return ledger


@pytest.fixture(scope="module")
def fixed_demo_ledger() -> Path:
    """The demo at a fixed path: the Buckets screen shows folders."""
    import shutil

    root = FIXED_CWD / "buckets"
    shutil.rmtree(root, ignore_errors=True)
    build_demo_archive(root / "archive")
    ledger = root / "ledger.sqlite"
    scan(ledger, [str(root / "archive")], Config(settle_seconds=0), workers=0)
    return ledger


@pytest.fixture
def fixed_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    FIXED_CWD.mkdir(exist_ok=True)
    monkeypatch.chdir(FIXED_CWD)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_targets(snap_compare, demo_ledger: Path, size: tuple[int, int]) -> None:
    app = PlTuiApp(demo_ledger, Config(settle_seconds=0))

    async def expand(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("down", "down", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()

    assert snap_compare(app, terminal_size=size, run_before=expand)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_export_modal(snap_compare, demo_ledger: Path, fixed_cwd: None, size: tuple[int, int]) -> None:
    app = PlTuiApp(demo_ledger, Config(settle_seconds=0))

    async def open_export(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("down", "down", "e")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_export)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_buckets_with_marks_and_the_retag_modal(snap_compare, fixed_demo_ledger: Path, size: tuple[int, int]) -> None:
    app = PlTuiApp(fixed_demo_ledger, Config(settle_seconds=0))
    app.animation_level = "none"

    async def retag(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("b")
        for _ in range(100):  # the tab labels get their counts from a worker: wait for them
            if "need a look" in str(pilot.app.screen.query_one("#buckets-header").render()):
                break
            await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()
        await pilot.press("down", "down", "down", "space", "r", *"NGC7")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=retag)


# (The nights chart at 80×24 is left to the Pilot test: plotext places its date ticks one cell
# apart depending on when the first layout pass lands, so its snapshot was not reproducible.)
@pytest.mark.parametrize(
    ("size", "tab"), [((100, 30), "nights"), ((100, 30), "sensor"), ((80, 24), "sensor")],
    ids=["100x30-nights", "100x30-sensor", "80x24-sensor"],
)  # fmt: skip
def test_timeline(snap_compare, demo_ledger: Path, size: tuple[int, int], tab: str) -> None:
    app = PlTuiApp(demo_ledger, Config(settle_seconds=0))
    app.animation_level = "none"  # the tabs' underline slides: a snapshot must not catch it halfway

    async def open_timeline(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("down", "down", "down", "h")  # NGC7000: two rigs
        for _ in range(100):  # the charts' data comes from a worker: wait for it, then for a repaint
            if getattr(pilot.app.screen, "loaded", False):
                break
            await pilot.pause(0.05)
        if tab == "sensor":
            await pilot.press("right", "right", "right")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.2)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_timeline)


class ScanMomentApp(PlTuiApp):
    """The scan screen frozen at one moment of a scan."""

    def first_screen(self) -> None:
        self.push_screen(ScanScreen(["/archive/astro"], start=False))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_scan_progress(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = ScanMomentApp(tmp_path / "l.sqlite", Config(settle_seconds=0))

    async def progress(pilot) -> None:
        screen = pilot.app.screen
        previous = ""
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
                expected=2000,
                counted=True,
                # this folder's files, read so far; the one before it is done
                folder_updates=[
                    *([(os.path.join("/archive/astro", previous), 300, 300)] if i else []),
                    (os.path.join("/archive/astro", folder), 300, 120),
                ],
            )
            if i == 1:
                p.new_unreadable = [
                    ("/archive/astro/Broken/empty.fits", "empty file (0 bytes)"),
                    ("/archive/astro/Broken/photo.fits", "not a FITS file (it is a JPEG image)"),
                ]
            screen.post_message(ScanScreen.Progressed(p))
            await pilot.pause()
            previous = folder

    assert snap_compare(app, terminal_size=size, run_before=progress)
