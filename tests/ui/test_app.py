"""The terminal app driven by keys only (Textual's Pilot), asserting on behaviour: screens shown,
rows visible, files written, the ledger after a scan. Plus hostile names through every widget."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static, Tree

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.core.fitsgen import write_fits
from pl_tui.scan import scan
from pl_tui.screens.archive import ArchiveScreen
from pl_tui.screens.inspector import InspectorScreen
from pl_tui.screens.modals import ExportModal, HelpModal
from pl_tui.screens.scan import ScanScreen
from pl_tui.screens.targets import TargetsScreen

from ..conftest import BASE_LIGHT, cards_with
from .conftest import CONFIG, settle


def tree_labels(app: PlTuiApp) -> list[str]:
    tree = app.screen.query_one("#targets-tree", Tree)
    out = []

    def walk(node) -> None:
        for child in node.children:
            out.append(child.label.plain)
            walk(child)

    walk(tree.root)
    return out


async def test_targets_tree_details_and_search(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        header = str(app.screen.query_one("#targets-header", Static).render())
        assert header.startswith("193 frames · 13.0 h · 5 targets")
        labels = tree_labels(app)
        assert [lbl.split()[0] for lbl in labels] == ["Andromeda", "M31", "M81", "NGC7000", "Sh2-129"]
        assert "79" in labels[2] and "2024-04-02" in labels[2]  # frames and last seen of M81
        await pilot.press("down", "down", "enter")  # expand M81: its filters load lazily
        await settle(pilot)
        labels = tree_labels(app)
        assert [lbl.split()[0] for lbl in labels[3:9]] == ["B", "G", "Ha", "L", "R", "(no"]
        await pilot.press("down", "enter", "down")  # B, expand, first night
        await settle(pilot)
        table = app.screen.query_one("#details-table", DataTable)
        assert table.row_count == 14 and "night of 2024-03-08" in str(app.screen.query_one("#details-title").render())
        await pilot.press("slash", "N", "G", "C")
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["NGC7000"]
        await pilot.press("escape")
        await settle(pilot)
        assert len(tree_labels(app)) == 5


async def test_inspector_from_a_night(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("down", "enter", "down")
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, InspectorScreen) and app.screen.path.endswith("M81_B_120s_0001.fits")
        cards = app.screen.query_one("#inspector-cards", DataTable)
        keys = [cards.get_row_at(i)[0].plain for i in range(cards.row_count)]
        assert keys[:3] == ["SIMPLE", "BITPIX", "NAXIS"] and "OBJECT" in keys and "SWCREATE" in keys
        fields = app.screen.query_one("#inspector-fields", DataTable)
        rows = {fields.get_row_at(i)[0].plain: fields.get_row_at(i) for i in range(fields.row_count)}
        assert rows["target"][1].plain.startswith("OBJECT") and rows["target"][2].plain == "M81"
        assert rows["exposure_s"][1].plain.startswith("EXPTIME") and rows["sequencer"][2].plain == "NINA"
        await pilot.press("escape")
        assert isinstance(app.screen, TargetsScreen)


async def test_export_modal_writes_through_the_core(ledger: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "e")  # M81 highlighted: the export defaults to it
        await pilot.pause()
        assert isinstance(app.screen, ExportModal)
        await pilot.press("tab", "tab", "tab", "enter")  # to the path field, accept the default
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        written = tmp_path / "sessions-M81.csv"
        assert written.read_bytes().startswith(b"session_date,target,filter,frame_count")
        assert written.read_bytes().count(b"\r\n") == 13  # header + 12 sessions of M81
        # again: the file exists, so the modal says so and stays open
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("tab", "tab", "tab", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ExportModal)
        assert "exists" in str(app.screen.query_one("#export-message", Static).render())
        await pilot.press("escape")
        assert isinstance(app.screen, TargetsScreen)


async def test_help_lists_the_screens_keys_and_q_quits(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        table = app.screen.query_one("#help-table", DataTable)
        does = [table.get_row_at(i)[1].plain for i in range(table.row_count)]
        for action in ("Search", "Export", "Inspect", "Rescan", "Quit", "Help", "Theme", "Goals: all, with progress"):
            assert action in does
        await pilot.press("escape", "t")
        assert app.theme == "textual-light"
        await pilot.press("t")
        assert app.theme == "night-vision"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_scan_screen_then_targets(demo: tuple[Path, Path], tmp_path: Path) -> None:
    ledger = tmp_path / "fresh.sqlite"
    app = PlTuiApp(ledger, CONFIG, archives=[str(demo[0])])
    async with app.run_test(size=(100, 30)) as pilot:
        assert isinstance(app.screen, ScanScreen)
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        assert "193 frames" in str(app.screen.query_one("#targets-header", Static).render())
    conn = L.connect(ledger, create=False)
    assert L.overview(conn)[0] == 193
    assert len(L.unreadable(conn)) == 4
    conn.close()


async def test_escape_cancels_a_scan_and_keeps_what_was_read(tmp_path: Path, monkeypatch) -> None:
    import pl_tui.screens.scan as scan_screen

    archive = tmp_path / "archive"
    for i in range(400):
        d = archive / f"n{i // 50}"
        d.mkdir(parents=True, exist_ok=True)
        write_fits(
            d / f"f{i}.fits", cards_with(BASE_LIGHT, {"DATE-OBS": f"2024-08-13T2{i // 60 % 4}:{i % 60:02d}:00.1"})
        )
    slow_scan = scan_screen.scan

    def slowly(*args, **kwargs):
        def opener(path: str, flags: int) -> int:
            import time

            time.sleep(0.01)
            return os.open(path, flags)

        return slow_scan(*args, **kwargs, opener=opener, threads=2, workers=0)

    monkeypatch.setattr(scan_screen, "scan", slowly)
    ledger = tmp_path / "l.sqlite"
    app = PlTuiApp(ledger, CONFIG, archives=[str(archive)])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.8)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
    conn = L.connect(ledger, create=False)
    (state,) = conn.execute("SELECT state FROM scans").fetchone()
    read = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    conn.close()
    assert state == "cancelled" and 0 < read < 400


async def test_archive_selection_then_scan(
    demo: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "new.sqlite"
    monkeypatch.setenv("HOME", str(demo[0].parent))
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ArchiveScreen)
        await pilot.press(*f"~/{demo[0].name}", "enter")  # as a user types it
        await pilot.pause()
        assert app.screen.chosen == [str(demo[0])]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
    conn = L.connect(ledger, create=False)
    assert L.overview(conn)[0] == 193
    conn.close()


async def test_rescan_from_the_command_palette_finds_new_frames(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    write_fits(archive / "a.fits", cards_with(BASE_LIGHT, {"DATE-OBS": "2024-12-01T20:00:00.1"}))
    ledger = tmp_path / "l.sqlite"
    scan(ledger, [str(archive)], CONFIG, workers=0)
    write_fits(archive / "new.fits", cards_with(BASE_LIGHT, {"DATE-OBS": "2025-01-01T20:00:00.1", "OBJECT": "M 101"}))
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["M81"]
        await pilot.press("ctrl+p", *"Rescan", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["M101", "M81"]


# ---------------------------------------------------------------------------------------------
# Hostile header text: shown literally everywhere, never parsed as markup, never a raw escape

HOSTILE = "[bold red]M 81[/]\x1b[31m"
SHOWN = "[bold red]M81[/]\ufffd[31m"


async def test_markup_and_escapes_in_names_render_literally(tmp_path: Path, monkeypatch) -> None:
    archive = tmp_path / "[b]archive[/b]"
    folder = archive / "[link=x]night"
    folder.mkdir(parents=True)
    path = folder / "[i]f.fits"
    write_fits(path, cards_with(BASE_LIGHT, {"OBJECT": HOSTILE, "FILTER": "[/]", "INSTRUME": "[red]cam"}))
    os.utime(path, (1, 1))
    ledger = tmp_path / "l.sqlite"
    monkeypatch.chdir(tmp_path)
    app = PlTuiApp(ledger, CONFIG, archives=[str(archive)])
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)  # the scan screen's title held the archive path: no markup error
        assert isinstance(app.screen, TargetsScreen)
        labels = tree_labels(app)
        assert labels[0].startswith(SHOWN[:15] + "…")  # cut to the column, literally
        assert SHOWN in str(app.screen.query_one("#details-title", Static).render())
        await pilot.press("enter")
        await settle(pilot)
        assert tree_labels(app)[1].startswith("[/]")
        await pilot.press("down")  # the filter node: details with the camera
        await settle(pilot)
        table = app.screen.query_one("#details-table", DataTable)
        assert table.get_row_at(0)[4].plain == "[red]cam"
        await pilot.press("enter", "down")  # the night: its frames
        await settle(pilot)
        assert table.get_row_at(0)[4].plain == "[i]f.fits"
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, InspectorScreen)
        title = str(app.screen.query_one("#inspector-title", Static).render())
        assert "[link=x]night/[i]f.fits" in title
        cards = app.screen.query_one("#inspector-cards", DataTable)
        raw = [cards.get_row_at(i)[1].plain for i in range(cards.row_count)]
        assert any("[bold red]M 81[/]\ufffd[31m" in r for r in raw)
        await pilot.press("escape", "e")
        await pilot.pause()
        assert app.screen.query_one("#export-target").value.startswith("[bold red]M81[/]")
        await pilot.press("tab", "tab", "tab", "end", "ctrl+u", *str(tmp_path / "[b]out.csv"), "enter")
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        assert (tmp_path / "[b]out.csv").exists()
        shown = [n.message for n in app._notifications]
        assert any(m.startswith("Wrote 1 rows to") and m.endswith("[b]out.csv") for m in shown), shown


async def test_inspector_marks_overrides(ledger: Path) -> None:
    conn = L.connect(ledger, create=False)
    (ident,) = conn.execute(
        "SELECT f.identity FROM files f JOIN dirs d ON d.id = f.dir_id WHERE f.name = 'M81_B_120s_0001.fits' "
        "AND d.path LIKE '%LIGHT/M81'"
    ).fetchone()
    conn.execute("UPDATE exposures SET ov_target = 'Bode''s Galaxy' WHERE identity = ?", (ident,))
    path = conn.execute(
        "SELECT d.path || '/' || f.name FROM files f JOIN dirs d ON d.id = f.dir_id WHERE f.identity = ? ORDER BY f.id",
        (ident,),
    ).fetchone()[0]
    conn.close()
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.push_screen(InspectorScreen(path))
        await settle(pilot)
        fields = app.screen.query_one("#inspector-fields", DataTable)
        rows = {fields.get_row_at(i)[0].plain: fields.get_row_at(i) for i in range(fields.row_count)}
        retagged = (rows["target"][1].plain, rows["target"][2].plain)
        assert retagged == ("retag (pl-tui undo reverts it)", "Bode's Galaxy")
        assert rows["filter"][1].plain.startswith("FILTER")


async def test_jump_to_target_from_the_palette(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"jump sh2", "enter")
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["Sh2-129"]


async def test_ctrl_c_quits_from_any_screen(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")  # even with a modal and its text field focused
        await pilot.pause()
        assert isinstance(app.screen, ExportModal)
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
