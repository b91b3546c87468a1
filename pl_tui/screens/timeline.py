"""Timeline: what an imager plans tonight with.

Tabs: a target's hours per night stacked by filter on a date axis with rig changes marked (per
week or month when the nights would not fit); the archive's hours per month; gaps ("last imaged
43 nights ago"); sensor temperature against the set-point per rig, drifting sessions flagged, with
gain and offset; rigs with their configurations, hours and changes. Every chart is drawn from a
few hundred aggregated rows (the tallies, GROUP BY in SQL) — never a widget per frame.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from .. import ledger
from ..domain import rigs
from ..widgets.host import host
from ..widgets.safe import columns, hours, lines, plain, safe
from ..widgets.themes import CHANGE_LINE, NIGHT, NIGHT_SERIES, register_plotext_night

DAY_SERIES = ("cyan", "magenta", "green", "orange", "blue", "red")
MARKERS = ("dot", "x", "+", "o", "*", "sd")  # rigs told apart without colour too (night theme)


class TimelineScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("left", "tab(-1)", "Prev tab", show=False),
        Binding("right", "tab(1)", "Next tab", show=False),
    ]
    TABS = ("nights", "months", "gaps", "sensor", "rigs", "calibration")

    class Loaded(Message):
        def __init__(self, data: dict) -> None:
            super().__init__()
            self.data = data

    def __init__(self, target: str | None) -> None:
        super().__init__()
        self.target = target
        self.loaded = False  # every tab has its data (tests and snapshots wait for it)
        self.data: dict | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="timeline-title")
        with TabbedContent(id="timeline-tabs"):
            with TabPane("Nights", id="nights"):
                yield PlotextPlot(id="plot-nights")
            with TabPane("Months", id="months"):
                yield PlotextPlot(id="plot-months")
            with TabPane("Gaps", id="gaps"):
                yield DataTable(id="table-gaps", cursor_type="row", zebra_stripes=True)
            with TabPane("Sensor", id="sensor"), Vertical():
                yield PlotextPlot(id="plot-sensor")
                yield DataTable(id="table-sensor", cursor_type="row", zebra_stripes=True)
            with TabPane("Rigs", id="rigs"), Vertical():
                yield DataTable(id="table-rigs", cursor_type="row", zebra_stripes=True)
                yield Static(id="rig-changes")
            with TabPane("Calibration", id="calibration"), Vertical():
                yield Static(id="calibration-summary")
                yield DataTable(id="table-calibration", cursor_type="row", zebra_stripes=True)
        yield Static(id="timeline-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline-title", Static).update(
            safe(f"Timeline · {plain(self.target) or '(no target)'}", "bold")
        )
        register_plotext_night()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self._load(self.app.size.width)  # the screen may not be laid out yet: the terminal is

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == f"table-{self.query_one('#timeline-tabs', TabbedContent).active}":
            self._detail()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self._detail()

    def _detail(self) -> None:
        """The whole highlighted row of the tab's table: its columns cut long rig names at 80."""
        line = self.query_one("#timeline-detail", Static)
        pane = self.query_one("#timeline-tabs", TabbedContent).active_pane
        tables = pane.query(DataTable) if pane is not None else None
        table = tables.first() if tables else None
        if table is None or not table.row_count:
            line.display = False
            return
        names = [str(c.label) for c in table.ordered_columns]
        cells = table.get_row_at(max(0, table.cursor_row))
        values = [c.plain if isinstance(c, Text) else plain(c) for c in cells]
        text = safe(" · ".join(f"{n} {v}" for n, v in zip(names, values, strict=False) if v))
        text.no_wrap, text.overflow = False, "fold"
        line.update(text)
        line.display = True

    def action_tab(self, step: int) -> None:
        tabs = self.query_one("#timeline-tabs", TabbedContent)
        i = self.TABS.index(tabs.active) if tabs.active in self.TABS else 0
        tabs.active = self.TABS[(i + step) % len(self.TABS)]

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self, width: int) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            data = {
                # about 3 cells a bar: the chart stays readable whatever the number of nights
                "series": rigs.night_series(conn, self.target or "-", max_bins=max(8, (width - 10) // 3)),
                "months": rigs.month_hours(conn),
                "gaps": rigs.gaps(conn),
                "sensor": rigs.sensor_nights(conn),
                "rigs": rigs.rigs(conn),
                "changes": rigs.rig_changes(conn, self.target),
                "sequencers": rigs.sequencers(conn),
                "calibration": rigs.calibration(
                    conn,
                    self.target,
                    host(self.app).config.flat_nights,
                ),
            }
        self.post_message(self.Loaded(data))

    def on_timeline_screen_loaded(self, message: Loaded) -> None:
        self.data = message.data
        self._draw()
        self.loaded = True

    def _draw(self) -> None:
        """Every tab from the loaded data (again when the theme changes: the chart colours)."""
        d = self.data
        if d is None:
            return
        with self.app.batch_update():
            self._nights(d["series"])
            self._months(d["months"])
            self._gaps(d["gaps"])
            self._sensor(d["sensor"])
            self._rigs(d["rigs"], d["changes"], d["sequencers"])
            self._calibration(d["calibration"])
        self._detail()

    def _room(self, least: int, *others: int) -> int:
        """The width left for a table's one flexible column beside fixed ``others`` (each column
        pads 1 each side; the border and the scrollbar take 2 each): no sideways scrolling."""
        return max(least, min(40, self.size.width - 4 - 2 * (len(others) + 1) - sum(others)))

    def on_resize(self) -> None:
        self._draw()

    def _series_colours(self, plt) -> None:
        """clear_figure() resets plotext to its default colour sequence, which the series take when
        they are plotted: in the night theme, set the red one first."""
        if self.app.theme == NIGHT:
            plt.theme(f"textual-auto-{NIGHT}")

    def _nights(self, s: rigs.Series) -> None:
        plot = self.query_one("#plot-nights", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self._series_colours(plt)
        if not s.bins:
            plt.title("no counting frames for this target")
        else:
            positions = [float(i) for i in range(1, len(s.bins) + 1)]
            names = [plain(f) for f in s.filters]
            plt.stacked_bar(positions, s.hours, labels=names)  # type: ignore[call-arg]  # plotext: labels=; its stub: label=
            step = max(1, len(s.bins) // 5)  # five dates along the axis, not one per bar
            plt.xticks(positions[::step], s.bins[::step])
            for i in s.rig_changes:
                plt.vline(i + 1, CHANGE_LINE)  # bars stand at 1..n
            plt.title(f"hours per {s.unit}" + (" · red: rig changed" if s.rig_changes else ""))
        plot.refresh()

    def _months(self, months: list[tuple[str, float]]) -> None:
        plot = self.query_one("#plot-months", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self._series_colours(plt)
        if months:
            plt.bar([m for m, _ in months], [h for _, h in months])
            plt.title("the archive: hours per month")
        plot.refresh()

    def _gaps(self, gaps: list[rigs.Gap]) -> None:
        table = self.query_one("#table-gaps", DataTable)
        table.clear(columns=True)
        columns(table, ("target", self._room(20, 11, 10, 9)), ("last imaged", 11), ("nights ago", 10), ("hours", 9))
        for g in gaps:
            table.add_row(safe(g.target), safe(g.last_night), safe(f"{g.nights_ago:,}"), safe(hours(g.hours)))

    def _sensor(self, nights: list[rigs.SensorNight]) -> None:
        plot = self.query_one("#plot-sensor", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        self._series_colours(plt)
        by_rig: dict[str, list[rigs.SensorNight]] = {}
        for n in nights:
            by_rig.setdefault(n.rig, []).append(n)
        plt.date_form("Y-m-d")
        colours = NIGHT_SERIES if self.app.theme == NIGHT else DAY_SERIES
        for i, (rig, rows) in enumerate(by_rig.items()):
            colour = colours[i % len(colours)]
            marker = MARKERS[i % len(MARKERS)]
            plt.plot(
                [r.night for r in rows],
                [r.ccd_temp for r in rows],
                label=plain(rig)[: max(28, self.size.width // 3)],
                marker=marker,
                color=colour,
            )
            sets = [r for r in rows if r.set_temp is not None]
            if sets:  # the rig's set-point: its colour, dashed, no legend line of its own
                plt.plot([r.night for r in sets], [r.set_temp for r in sets], marker="-", color=colour)
        plt.title("CCD-TEMP (°C, mean per night) against SET-TEMP (- -)")
        plot.refresh()
        table = self.query_one("#table-sensor", DataTable)
        table.clear(columns=True)
        columns(
            table,
            ("rig", self._room(20, 10, 6, 5, 7, 5, 5)),
            ("night", 10),
            ("°C", 6),
            ("set", 5),
            ("off >1°", 7),
            ("gain", 5),
            ("offs", 5),
        )
        for n in sorted(nights, key=lambda n: (not n.flagged, n.rig, n.night)):
            table.add_row(
                safe(n.rig), safe(n.night), safe(round(n.ccd_temp, 1)), safe(n.set_temp),
                safe(f"{n.off} ⚠" if n.flagged else "0", "bold" if n.flagged else ""), safe(n.gain), safe(n.offset),
            )  # fmt: skip

    def _rigs(self, found: list[rigs.Rig], changes: list[rigs.RigChange], programs: list[tuple[str, str, int]]) -> None:
        table = self.query_one("#table-rigs", DataTable)
        table.clear(columns=True)
        columns(
            table,
            ("rig", self._room(24, 14, 6, 7, 10)),
            ("configurations", 14),
            ("frames", 6),
            ("hours", 7),
            ("last", 10),
        )
        for r in found:
            config = ", ".join(r.configurations)
            table.add_row(safe(r.name), safe(config), safe(r.frames), safe(hours(r.hours)), safe(r.last_night))
        self.query_one("#rig-changes", Static).update(
            lines(
                f"Rig changes of {plain(self.target)}:" if changes else "No rig change for this target.",
                *(f"{c.night}: {' + '.join(c.before)} → {' + '.join(c.after)}" for c in changes),
                "Capture programs: " + "; ".join(f"{p} {v} ({n:,})".replace("  ", " ") for p, v, n in programs),
            )
        )

    def _calibration(self, sessions: list[rigs.Coverage]) -> None:
        missing = [c for c in sessions if c.missing]
        self.query_one("#calibration-summary", Static).update(
            safe(
                f"{len(missing)} of {len(sessions)} light sessions miss some calibration"
                if missing
                else f"All {len(sessions)} light sessions have darks, flats, flat-darks and bias",
                "bold",
            )
        )
        table = self.query_one("#table-calibration", DataTable)
        table.clear(columns=True)
        columns(table, ("night", 10), ("filter", 7), ("exp s", 6), ("dark", 5), ("flat", 5), ("fdark", 5),
                ("bias", 5), ("missing", self._room(12, 10, 7, 6, 5, 5, 5, 5)))  # fmt: skip
        for c in sorted(sessions, key=lambda c: (not c.missing, c.night)):
            table.add_row(
                safe(c.night), safe(c.filter), safe(c.exposure_s), safe(c.darks), safe(c.flats), safe(c.flat_darks),
                safe(c.biases), safe(", ".join(c.missing), "bold" if c.missing else ""),
            )  # fmt: skip
