"""The night-vision theme is red throughout: on every screen and modal, every background and every
visible text colour is a red shade (or black) — no near-white header, grey column heads, pink
cursor text or blue/green chart series to spoil dark adaptation at the telescope."""

from __future__ import annotations

import os
from pathlib import Path

from pl_tui.app import PlTuiApp
from pl_tui.scan import ScanProgress
from pl_tui.screens.archive import ArchiveScreen
from pl_tui.screens.scan import ScanScreen

from .conftest import CONFIG, settle
from .helpers import colours, is_red


def not_red(app: PlTuiApp) -> list[str]:
    return sorted(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in colours(app) if not is_red((r, g, b)))


async def test_every_screen_is_red_in_the_night_theme(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    seen: dict[str, list[str]] = {}
    shown: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.theme = "night-vision"

        async def look(name: str, *keys: str) -> None:
            await pilot.press(*keys)
            await settle(pilot)
            await pilot.pause(0.1)
            seen[name] = not_red(app)
            shown.append(type(app.screen).__name__)

        await look("targets, a night's frames", "down", "down", "enter", "down", "enter", "down")
        await look("inspector", "i")
        await look("search box", "escape", "slash", "M")
        await look("targets, M81 open", "escape", "down", "down", "enter")
        await look("goal", "down", "g")
        await look("help", "escape", "question_mark")
        await look("goals", "escape", "G")
        await look("export", "escape", "e")
        await look("palette", "escape", "ctrl+p")
        for tab in ("nights", "months", "gaps", "sensor", "rigs", "calibration"):
            await look(f"timeline {tab}", *(("escape", "h") if tab == "nights" else ("right",)))
        await look("buckets", "escape", "b")
        await look("retag", "space", "r", "M")
        await look("merges", "escape", "m")
        await look("audit log", "escape", "l")
    assert {name: bad for name, bad in seen.items() if bad} == {}
    assert shown == [
        "TargetsScreen", "InspectorScreen", "TargetsScreen", "TargetsScreen", "GoalModal", "HelpModal", "GoalsModal",
        "ExportModal",
        "CommandPalette", *["TimelineScreen"] * 6, "BucketsScreen", "RetagModal", "MergeModal", "AuditModal",
    ]  # fmt: skip


async def test_the_archive_and_scan_screens_are_red_too(tmp_path: Path) -> None:
    class ScanMoment(PlTuiApp):
        def first_screen(self) -> None:
            self.push_screen(ScanScreen(["/archive"], start=False))

    app = ScanMoment(tmp_path / "l.sqlite", CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "night-vision"
        await pilot.pause()
        progress = ScanProgress(found=1200, new=900, unchanged=150, unreadable=2, indexed=800, elapsed_s=2.0)
        progress.rate, progress.current_folder, progress.folders = 14000.0, os.path.join("/archive", "M81"), 10
        progress.new_unreadable = [("/archive/Broken/empty.fits", "empty file (0 bytes)")]
        app.screen.post_message(ScanScreen.Progressed(progress))
        await pilot.pause(0.2)
        assert not_red(app) == []
        app.push_screen(ArchiveScreen(tmp_path))
        await pilot.pause(0.3)
        await pilot.press("tab")  # the folder tree focused: its cursor
        await pilot.pause(0.1)
        assert not_red(app) == []
        await pilot.press("escape")  # over another screen: back; the first screen would ask
        await pilot.pause(0.1)
        assert not_red(app) == []
