"""Modals: Export (pick a report, filters and a destination), Help (the screen's keys), a goal,
the goals list, and a yes/no question."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Input, Label, RadioSet, Static

from .. import ledger
from ..domain import rigs
from ..export import ExportError, export_file
from ..widgets.choices import Choice, Tick
from ..widgets.host import host
from ..widgets.safe import columns, hours, plain, progress_bar, safe

SYSTEM_KEYS = ("tab", "shift+tab", "super+c", "ctrl+c")  # Textual's own: not worth a line of the help
REPORT_CHOICES = (("frames", "Frames"), ("sessions", "Sessions"), ("totals", "Totals"), ("astrobin", "AstroBin"))


class ExportModal(ModalScreen[tuple[int, str] | None]):
    """Writes a report through the same core function as ``pl-tui export``; dismisses with
    (rows, path) when written. ``target`` '-' stands for the frames without a target."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "write", "Write")]

    class FolderChosen(Message):
        def __init__(self, folder: Path) -> None:
            super().__init__()
            self.folder = folder

    def __init__(self, target: str | None) -> None:
        super().__init__()
        self.target = target
        self.folder = Path.cwd()  # until the worker has checked it is outside every archive

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label("Export a report")
            with RadioSet(id="export-report"):
                for i, (_key, label) in enumerate(REPORT_CHOICES):
                    yield Choice(label, value=i == 1)
            yield Input(
                value=plain(self.target), placeholder="target (empty: all; '-': frames without one)", id="export-target"
            )
            yield Input(placeholder="filter (empty: all; '-': frames without one)", id="export-filter")
            yield Input(value=self._default_path("sessions"), placeholder="file (.csv or .json)", id="export-path")
            yield Tick("Overwrite the file if it exists", id="export-force")
            yield Static(id="export-message")
            with Horizontal(id="export-buttons"):
                yield Button("Write", variant="primary", id="export-write")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        for widget_id, title in (("export-target", "target"), ("export-filter", "filter"), ("export-path", "file")):
            self.query_one(f"#{widget_id}", Input).border_title = title
        self._choose_folder()

    @work(thread=True, exclusive=True, exit_on_error=False, group="export-folder")
    def _choose_folder(self) -> None:
        """The current folder, unless it lies inside an archive (the export would refuse it):
        then the home folder, then the ledger's folder."""
        roots = [os.path.realpath(r) for r in ledger.root_paths_at(host(self.app).ledger_path)]

        def inside(folder: Path) -> bool:
            real = os.path.realpath(folder)
            return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

        ledger_folder = Path(host(self.app).ledger_path).resolve().parent
        for folder in (Path.cwd(), Path.home(), ledger_folder):
            if not inside(folder):
                self.post_message(self.FolderChosen(folder))
                return

    def on_export_modal_folder_chosen(self, message: FolderChosen) -> None:
        path = self.query_one("#export-path", Input)
        untouched = path.value == self._default_path(self._report())
        self.folder = message.folder
        if untouched:
            path.value = self._default_path(self._report())

    def _default_path(self, report: str) -> str:
        target = "no-target" if self.target == "-" else plain(self.target)
        stem = report if not self.target else f"{report}-{target}"
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
        return str(self.folder / f"{stem}.csv")

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
            self.query_one("#export-force", Tick).value,
        )

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _write(self, report: str, target: str | None, filt: str | None, path: str, force: bool) -> None:
        app = host(self.app)
        fmt = "json" if path.lower().endswith(".json") else "csv"
        try:
            with ledger.reading(app.ledger_path) as conn:
                n = export_file(
                    conn,
                    report,
                    path,
                    fmt,
                    force,
                    ledger.FrameFilter(target=target, filter=filt),
                    astrobin_filters=app.config.astrobin_filters,
                    flat_nights=app.config.flat_nights,  # the calibration matching of `pl-tui calibration`
                )
        except (ExportError, ledger.LedgerError, OSError) as e:
            # the core speaks to the CLI ("add --force"); here the same switch is a checkbox
            self.app.call_from_thread(self._failed, str(e).replace("add --force", "tick Overwrite"))
            return
        self.app.call_from_thread(self.dismiss, (n, path))

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
            if not b.description or (key, b.description) in seen or b.system or key in SYSTEM_KEYS:
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
        try:
            with ledger.writing(host(self.app).ledger_path) as conn:
                rigs.set_goal(conn, self.target, self.filter, hours)
        except ledger.LedgerError as e:
            self.app.call_from_thread(self.query_one("#goal-message", Static).update, safe(str(e), "bold red"))
            return
        self.app.call_from_thread(self.dismiss, True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class GoalsModal(ModalScreen[tuple[str, str] | None]):
    """Every goal with its progress, most starved first; Enter shows that filter in the tree."""

    BINDINGS = [Binding("escape,G,q", "close", "Close")]

    class Loaded(Message):
        def __init__(self, goals: list[rigs.Goal]) -> None:
            super().__init__()
            self.goals = goals

    def __init__(self) -> None:
        super().__init__()
        self.goals: list[rigs.Goal] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="goals-box"):
            yield Label("Goals, most starved first (g on a filter sets one; Enter shows it)")
            yield DataTable(id="goals-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="goals-empty")

    def on_mount(self) -> None:
        table = self.query_one("#goals-table", DataTable)
        columns(table, ("target", 16), ("filter", 8), ("have", 8), ("goal", 6), ("progress", 15))
        table.focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            self.post_message(self.Loaded(rigs.goals(conn, host(self.app).config.goals)))

    def on_goals_modal_loaded(self, message: Loaded) -> None:
        self.goals = message.goals
        table = self.query_one("#goals-table", DataTable)
        with self.app.batch_update():
            table.clear()
            for g in message.goals:
                table.add_row(
                    safe(g.target),
                    safe(g.filter),
                    safe(hours(g.hours)),
                    safe(f"{g.goal_hours:g} h"),
                    safe(progress_bar(g.fraction, 10) + f"{min(999, round(g.fraction * 100)):>4}%"),
                )
        table.display = bool(message.goals)
        self.query_one("#goals-empty", Static).update(
            "" if message.goals else "No goals yet: put the cursor on a filter in the tree and press g."
        )

    @on(DataTable.RowSelected, "#goals-table")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row < len(self.goals):
            g = self.goals[event.cursor_row]
            self.dismiss((g.target, g.filter))

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question: y or Enter says yes, n or Escape says no."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(safe(self.question, "bold"))
            yield Label("y / Enter: yes    n / Escape: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
