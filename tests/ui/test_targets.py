"""The Targets screen by keys: the tree keeps the user's place through every reload, the details
pane always shows the cursor's node, Left/Right fold and unfold, Enter on a night inspects, the
sort key, the goals list, and everything readable at 80x24."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static, Tree

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.domain import rigs as G
from pl_tui.screens.inspector import InspectorScreen
from pl_tui.screens.modals import GoalModal
from pl_tui.screens.targets import Node, TargetsScreen

from .conftest import CONFIG, settle
from .helpers import screen_lines, screen_text
from .test_app import tree_labels


def tree(app: PlTuiApp) -> Tree:
    return app.screen.query_one("#targets-tree", Tree)


def details_title(app: PlTuiApp) -> str:
    return str(app.screen.query_one("#details-title", Static).render())


def open_nodes(app: PlTuiApp) -> set[Node]:
    out = set()

    def walk(node) -> None:
        for child in node.children:
            if child.is_expanded:
                out.add(child.data)
            walk(child)

    walk(tree(app).root)
    return out


async def open_m81_ha(pilot) -> None:
    await settle(pilot)
    await pilot.press("down", "down", "enter")  # M81 opens (its filters load)
    await settle(pilot)
    await pilot.press("down", "down", "down", "enter")  # B, G, Ha; Ha opens
    await settle(pilot)
    await pilot.press("down", "down")  # Ha's second night
    await settle(pilot)


async def test_a_ledger_change_keeps_open_nodes_cursor_and_details(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_m81_ha(pilot)
        night = Node("night", "M81", "Ha", "2024-03-09")
        assert tree(app).cursor_node.data == night
        assert "night of 2024-03-09" in details_title(app)
        with L.writing(ledger) as conn:  # another process sets a goal
            G.set_goal(conn, "NGC7000", "Ha", 5)
        app.post_message(PlTuiApp.LedgerChanged())
        await settle(pilot)
        await settle(pilot)
        assert tree(app).cursor_node.data == night
        assert open_nodes(app) == {Node("target", "M81"), Node("filter", "M81", "Ha")}
        assert "night of 2024-03-09" in details_title(app)
        assert app.screen.query_one("#details-table", DataTable).row_count == 8


async def test_a_reload_keeps_the_scroll_offset(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_m81_ha(pilot)
        await pilot.press("end")  # Sh2-129, below the fold: the tree scrolls
        await settle(pilot)
        scrolled = round(tree(app).scroll_offset.y)
        assert scrolled > 0 and tree(app).cursor_node.data == Node("target", "Sh2-129")
        app.post_message(PlTuiApp.LedgerChanged())
        await settle(pilot)
        await settle(pilot)
        assert round(tree(app).scroll_offset.y) == scrolled
        assert tree(app).cursor_node.data == Node("target", "Sh2-129")
        assert details_title(app) == "Sh2-129"


async def test_setting_a_goal_keeps_the_cursor_on_its_filter(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("down", "down", "down", "g")  # M81 · Ha
        await settle(pilot)
        assert isinstance(app.screen, GoalModal)
        await pilot.press("4", "enter")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        assert tree(app).cursor_node.data == Node("filter", "M81", "Ha")
        assert "38%" in tree(app).cursor_node.label.plain  # 1.5 h of 4
        assert details_title(app) == "M81 · Ha"


async def test_the_details_follow_a_search_a_jump_and_a_merge(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert details_title(app) == "Andromeda Galaxy"
        await pilot.press("slash", *"NGC")
        await settle(pilot)
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["NGC7000"]
        assert details_title(app) == "NGC7000"
        await pilot.press("enter", "ctrl+p", *"jump sh2", "enter")
        await settle(pilot)
        await settle(pilot)
        assert details_title(app) == "Sh2-129"
        await pilot.press("escape")  # the search cleared: every target again, the cursor at the top
        await settle(pilot)
        await settle(pilot)
        assert details_title(app) == "Andromeda Galaxy"
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("m", "enter")  # Andromeda Galaxy becomes an alias of M31
        await settle(pilot)
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        assert tree_labels(app)[0].split()[0] == "M31"
        assert details_title(app) == "M31"


async def test_left_and_right_fold_and_unfold(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "right")
        await settle(pilot)
        assert open_nodes(app) == {Node("target", "M81")}
        await pilot.press("right")  # open already: to its first filter
        assert tree(app).cursor_node.data == Node("filter", "M81", "B")
        await pilot.press("left")  # a closed filter: to its target
        assert tree(app).cursor_node.data == Node("target", "M81")
        await pilot.press("left")  # an open target: folds
        assert open_nodes(app) == set()


async def test_enter_on_a_night_opens_the_inspector(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_m81_ha(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InspectorScreen)
        assert app.screen.path.endswith("2024-03-09/LIGHT/M81/M81_Ha_300s_0001.fits")


async def test_s_cycles_the_sort_by_name_hours_and_last_seen(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        names = ["Andromeda", "M31", "M81", "NGC7000", "Sh2-129"]
        assert [lbl.split()[0] for lbl in tree_labels(app)] == names
        await pilot.press("s")
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["Sh2-129", "M81", "NGC7000", "M31", "Andromeda"]
        assert "hours▼" in str(app.screen.query_one("#targets-columns", Static).render())
        await pilot.press("s")
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == ["Sh2-129", "Andromeda", "M31", "NGC7000", "M81"]
        await pilot.press("s")
        await settle(pilot)
        assert [lbl.split()[0] for lbl in tree_labels(app)] == names


async def test_the_goals_list_shows_every_goal_and_goes_to_one(ledger: Path) -> None:
    from pl_tui.screens.modals import GoalsModal

    with L.writing(ledger) as conn:
        G.set_goal(conn, "M81", "Ha", 10)
        G.set_goal(conn, "Sh2-129", "OIII", 2)
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("G")
        await settle(pilot)
        assert isinstance(app.screen, GoalsModal)
        text = screen_text(app)
        assert "M81" in text and "15%" in text and "Sh2-129" in text and "100%" in text
        await pilot.press("enter")  # the most starved: M81 · Ha
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, TargetsScreen)
        assert tree(app).cursor_node.data == Node("filter", "M81", "Ha")
        assert details_title(app) == "M81 · Ha"


async def test_80x24_shows_the_whole_details_and_the_help_key(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        text = "\n".join(lines)
        for column in ("night", "filter", "frames", "hours", "camera"):
            assert column in text
        assert any("2024-10-05" in ln and "0.40" in ln and "ZWO ASI533MC Pro" in ln for ln in lines)
        assert "? Help" in lines[-1] and "e Export" in lines[-1]
        await open_m81_ha(pilot)
        lines = screen_lines(app)
        row = next(ln for ln in lines if "20:" in ln and ".fits" in ln)  # a frame of the night
        assert "M81_Ha_300s_0001.fits" in row and "accepted" in row
        assert any("2024-03-09/LIGHT/M81" in ln for ln in lines)  # where it is, archive-relative
        assert not any(str(Path(ledger).parent) in ln for ln in lines)
