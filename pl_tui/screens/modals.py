"""Modals: Export (pick a report, filters and a destination) and Help (the screen's keys)."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, RadioButton, RadioSet, Static

from .. import ledger as L
from ..export import ExportError, export_file
from ..widgets.safe import columns, plain, safe

REPORT_CHOICES = (("frames", "Frames"), ("sessions", "Sessions"), ("totals", "Totals"), ("astrobin", "AstroBin"))


class ExportModal(ModalScreen[tuple[int, str] | None]):
    """Writes a report through the same core function as ``pl-tui export``; dismisses with
    (rows, path) when written."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "write", "Write")]

    def __init__(self, target: str | None) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label("Export a report")
            with RadioSet(id="export-report"):
                for i, (_key, label) in enumerate(REPORT_CHOICES):
                    yield RadioButton(label, value=i == 1)
            yield Input(value=plain(self.target), placeholder="target (empty: all)", id="export-target")
            yield Input(placeholder="filter (empty: all)", id="export-filter")
            yield Input(value=self._default_path("sessions"), placeholder="file (.csv or .json)", id="export-path")
            yield Checkbox("Replace the file if it exists", id="export-force")
            yield Static(id="export-message")
            with Horizontal(id="export-buttons"):
                yield Button("Write", variant="primary", id="export-write")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        for widget_id, title in (("export-target", "target"), ("export-filter", "filter"), ("export-path", "file")):
            self.query_one(f"#{widget_id}", Input).border_title = title

    def _default_path(self, report: str) -> str:
        stem = report if not self.target else f"{report}-{plain(self.target)}"
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
        return str(Path.cwd() / f"{stem}.csv")

    def _report(self) -> str:
        index = self.query_one("#export-report", RadioSet).pressed_index
        return REPORT_CHOICES[max(index, 0)][0]

    @on(RadioSet.Changed, "#export-report")
    def _report_changed(self) -> None:
        self.query_one("#export-path", Input).value = self._default_path(self._report())

    @on(Button.Pressed, "#export-write")
    @on(Input.Submitted)
    def action_write(self) -> None:
        self.query_one("#export-message", Static).update("writing…")
        typed = self.query_one("#export-target", Input).value.strip()
        # the field shows the target made printable; unchanged, it stands for the real name
        target = self.target if self.target is not None and typed == plain(self.target).strip() else typed or None
        self._write(
            self._report(),
            target,
            self.query_one("#export-filter", Input).value.strip() or None,
            self.query_one("#export-path", Input).value.strip(),
            self.query_one("#export-force", Checkbox).value,
        )

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _write(self, report: str, target: str | None, filt: str | None, path: str, force: bool) -> None:
        app = self.app
        fmt = "json" if path.lower().endswith(".json") else "csv"
        try:
            with L.reading(app.ledger_path) as conn:  # type: ignore[attr-defined]
                n = export_file(
                    conn,
                    report,
                    path,
                    fmt,
                    force,
                    L.FrameFilter(target=target, filter=filt),
                    astrobin_filters=app.config.astrobin_filters,  # type: ignore[attr-defined]
                )
        except (ExportError, L.LedgerError, OSError) as e:
            app.call_from_thread(self._failed, str(e))
            return
        app.call_from_thread(self.dismiss, (n, path))

    def _failed(self, error: str) -> None:
        self.query_one("#export-message", Static).update(safe(error, "bold red"))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """Every binding of the screen underneath, and the app's."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Label(f"Keys — {type(self.for_screen).__name__.removesuffix('Screen')}")
            yield DataTable(id="help-table", cursor_type="row", show_cursor=False)
            yield Label("Ctrl+P: command palette (Rescan, Export …, Jump to target …, themes)")

    def on_mount(self) -> None:
        table = self.query_one("#help-table", DataTable)
        columns(table, ("key", 12), ("does", 34))
        seen = set()
        # the screen's and the app's own keys first, then those of the focused widget
        bindings = sorted(
            self.for_screen.active_bindings.items(),
            key=lambda kv: (kv[1].node is not self.for_screen and kv[1].node is not self.app, not kv[1].binding.show),
        )
        for key, active in bindings:
            b = active.binding
            if not b.description or (key, b.description) in seen:
                continue
            seen.add((key, b.description))
            table.add_row(safe(self.app.get_key_display(b)), safe(b.description))

    def action_close(self) -> None:
        self.dismiss(None)


class GoalModal(ModalScreen[bool]):
    """Hours wanted for one target × filter; 0 or empty removes the goal. Dismisses True when set."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: str, filt: str, hours: float | None) -> None:
        super().__init__()
        self.target, self.filter, self.hours = target, filt, hours

    def compose(self) -> ComposeResult:
        with Vertical(id="goal-box"):
            yield Label(safe(f"Goal for {plain(self.target)} · {plain(self.filter)} (hours; 0 removes it)"))
            yield Input(value="" if self.hours is None else f"{self.hours:g}", placeholder="hours", id="goal-hours")
            yield Static(id="goal-message")

    @on(Input.Submitted, "#goal-hours")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            hours = float(text) if text else 0.0
            if hours < 0 or hours != hours:
                raise ValueError
        except ValueError:
            self.query_one("#goal-message", Static).update(safe("a number of hours, 0 or more", "bold red"))
            return
        self._save(hours)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _save(self, hours: float) -> None:
        from .. import rigs as G

        try:
            with L.writing(self.app.ledger_path) as conn:  # type: ignore[attr-defined]
                G.set_goal(conn, self.target, self.filter, hours)
        except L.LedgerError as e:
            self.app.call_from_thread(self.query_one("#goal-message", Static).update, safe(str(e), "bold red"))
            return
        self.app.call_from_thread(self.dismiss, True)

    def action_cancel(self) -> None:
        self.dismiss(False)
