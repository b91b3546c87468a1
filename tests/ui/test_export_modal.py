"""The export modal: "(no target)" exports the frames without a target (not every target), the
error speaks of the checkbox the app has, the default folder is one the export accepts, and the
report choices are told apart by a mark, not only by colour."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from pl_tui.app import PlTuiApp
from pl_tui.core.fitsgen import write_fits
from pl_tui.scan import scan
from pl_tui.screens.modals import ExportModal
from pl_tui.screens.targets import TargetsScreen

from ..conftest import BASE_LIGHT, cards_with
from .conftest import CONFIG, settle
from .helpers import screen_text


@pytest.fixture
def two_frames(tmp_path: Path) -> tuple[Path, Path]:
    """(archive, ledger): one frame of M81, one without any target (no OBJECT, no folder)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    write_fits(archive / "m81.fits", cards_with(BASE_LIGHT, {"DATE-OBS": "2024-08-13T21:00:00.1"}))
    write_fits(archive / "nameless.fits", cards_with(BASE_LIGHT, {"OBJECT": None, "DATE-OBS": "2024-08-14T21:00:00.1"}))
    ledger = tmp_path / "l.sqlite"
    scan(ledger, [str(archive)], CONFIG, workers=0)
    return archive, ledger


async def test_no_target_exports_only_the_frames_without_one(two_frames, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = PlTuiApp(two_frames[1], CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down")  # after M81: the frames without a target
        cursor = app.screen.query_one("#targets-tree").cursor_node
        assert cursor.label.plain.startswith("(no target)")
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExportModal)
        await pilot.press("tab", "tab", "tab", "enter")  # to the path field, accept the default
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
    rows = (tmp_path / "sessions-no-target.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("2024-08-14,,Ha,1,")  # the nameless frame's night only


async def test_an_existing_file_asks_to_tick_overwrite(two_frames, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sessions-no-target.csv").write_text("keep me")
    app = PlTuiApp(two_frames[1], CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "e")  # (no target)
        await settle(pilot)
        await pilot.press("tab", "tab", "tab", "enter")
        await settle(pilot)
        message = str(app.screen.query_one("#export-message", Static).render())
        assert "exists" in message and "tick Overwrite" in message and "--force" not in message
        await pilot.press("tab", "space", "shift+tab", "enter")  # tick it, write again
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
    assert (tmp_path / "sessions-no-target.csv").read_text().startswith("session_date,")


async def test_started_inside_the_archive_the_default_folder_is_home(two_frames, tmp_path: Path, monkeypatch) -> None:
    archive, ledger = two_frames
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(archive)
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")  # M81
        await settle(pilot)
        assert app.screen.query_one("#export-path", Input).value == str(home / "sessions-M81.csv")
        await pilot.press("tab", "tab", "tab", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
    assert (home / "sessions-M81.csv").exists()


async def test_the_chosen_report_has_a_mark_not_only_a_colour(two_frames) -> None:
    app = PlTuiApp(two_frames[1], CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        line = next(ln for ln in screen_text(app).splitlines() if "Sessions" in ln)
        assert line.count("○") == 3 and line.count("●") == 1
        assert line.index("●") < line.index("Sessions") < line.index("○", line.index("●"))
        assert "✓" not in screen_text(app)  # Overwrite is not ticked
