"""The Timeline screen and goals, by keys: charts from the demo ledger, the sensor table with its
drifting nights first, rig changes, and a goal set on a filter showing as progress in the tree."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static, TabbedContent, Tree
from textual_plotext import PlotextPlot

from pl_tui import ledger as L
from pl_tui.app import PlTuiApp
from pl_tui.domain import rigs as G
from pl_tui.screens.modals import GoalModal
from pl_tui.screens.timeline import TimelineScreen

from .conftest import CONFIG, settle


async def test_timeline_of_a_target(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "down", "h")  # NGC7000
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TimelineScreen) and screen.target == "NGC7000"
        chart = screen.query_one("#plot-nights", PlotextPlot).plt.build()
        assert "hours per week · red: rig changed" in chart and "2024-03-04" in chart  # 130 nights: weeks
        await pilot.press("right")
        assert screen.query_one("#timeline-tabs", TabbedContent).active == "months"
        assert "2024-03" in screen.query_one("#plot-months", PlotextPlot).plt.build()
        await pilot.press("right")
        gaps = screen.query_one("#table-gaps", DataTable)
        assert gaps.row_count == 5 and str(gaps.get_row_at(0)[1]) == "2024-04-02"  # M81, the longest gap
        assert [str(c.label) for c in gaps.ordered_columns][2] == "nights ago"
        assert int(str(gaps.get_row_at(0)[2]).replace(",", "")) > 0
        await pilot.press("right")
        sensor = screen.query_one("#table-sensor", DataTable)
        assert "⚠" in str(sensor.get_row_at(0)[4])  # drifting nights first
        await pilot.press("right")
        changes = str(screen.query_one("#rig-changes", Static).render())
        assert "2024-07-14: ZWO ASI2600MM Pro @ RedCat 51 → Seestar S50 @ Seestar S50" in changes
        await pilot.press("right")
        calibration = screen.query_one("#table-calibration", DataTable)
        assert calibration.row_count == 7  # NGC7000: 5 nights, two filters on two of them
        assert "miss some calibration" in str(screen.query_one("#calibration-summary", Static).render())
        await pilot.press("escape")
        assert type(app.screen).__name__ == "TargetsScreen"


async def test_a_goal_set_on_a_filter_shows_as_progress(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # expand M81
        await settle(pilot)
        await pilot.press("down", "down", "down")  # B, G, Ha
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, GoalModal)
        await pilot.press("1", "0", "enter")
        await settle(pilot)
        await settle(pilot)
        tree = app.screen.query_one("#targets-tree", Tree)
        ha = next(n for n in tree.root.children[2].children if n.data.filter == "Ha")
        assert "15%" in ha.label.plain and "█" in ha.label.plain  # 1.5 h of 10
        assert "starved: M81 Ha 15% of 10 h" in str(app.screen.query_one("#targets-header", Static).render())
    conn = L.connect(ledger, create=False)
    assert [(g.target, g.filter, g.goal_hours) for g in G.goals(conn)] == [("M81", "Ha", 10.0)]
    conn.close()


async def test_the_nights_chart_fits_80x24(ledger: Path) -> None:
    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "h")  # M81: three nights, five filters
        await settle(pilot)
        plot = app.screen.query_one("#plot-nights", PlotextPlot)
        assert plot.size.width <= 80 and plot.size.height >= 10
        chart = plot.plt.build()
        assert "hours per" in chart and "2024-03" in chart


async def test_the_gaps_tab_shows_whole_rows_at_80x24(ledger: Path) -> None:
    from .helpers import screen_lines

    app = PlTuiApp(ledger, CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "h")
        await settle(pilot)
        await pilot.press("right", "right")
        await settle(pilot)
        lines = screen_lines(app)
        header = next(ln for ln in lines if "last imaged" in ln)
        assert "nights ago" in header and "hours" in header
        gaps = app.screen.query_one("#table-gaps", DataTable)
        m81 = next(ln for ln in lines if ln.startswith(" M81 "))
        assert "2024-04-02" in m81 and str(gaps.get_row_at(0)[2]) in m81 and m81.rstrip().endswith("3.5 h")
