"""The terminal app: screens, global keys, the command palette, themes.

The App owns what crosses screens (the ledger path, the config, the archives) and takes them in
``__init__`` so tests pass a tmp ledger. All disk and SQLite work runs in thread workers that
open their own connections and post messages back.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState
from textual.worker_manager import WorkerManager

from . import ledger
from .core.config import Config
from .problems import describe, is_ledger_problem
from .scan import ScanProgress
from .screens.archive import ArchiveScreen
from .screens.buckets import BucketsScreen
from .screens.modals import ExportModal, HelpModal
from .screens.scan import NICE as SCAN_NICE
from .screens.scan import ScanScreen
from .screens.targets import TargetsScreen
from .text import plain
from .watch import Watcher
from .widgets.host import Host, LedgerView
from .widgets.themes import NIGHT, NIGHT_VISION

THEMES = ("textual-dark", "textual-light", NIGHT)


class TargetCommands(Provider):
    """Command palette: "Jump to target …" for every target in the ledger."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, PlTuiApp)
        matcher = self.matcher(query)
        for name in await asyncio.to_thread(app.target_names):
            label = f"Jump to target {plain(name)}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(app.jump_to, name), help="show it in the tree")


class _Reported:
    class StateChanged(Worker.StateChanged, bubble=True, namespace="worker"):
        """Worker.StateChanged that bubbles up to the App, whichever screen or widget started the worker."""


class _Workers(WorkerManager):
    """Every worker reports its state to the App (Textual's message does not bubble), so that one
    handler, ``PlTuiApp.on_worker_state_changed``, sees every failure."""

    def add_worker(self, worker: Worker, start: bool = True, exclusive: bool = True) -> None:
        worker.StateChanged = _Reported.StateChanged
        super().add_worker(worker, start=start, exclusive=exclusive)


class PlTuiApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "pl-tui"
    COMMANDS = App.COMMANDS | {TargetCommands}
    BINDINGS = [
        # the footer shows the screen's keys first, then these: Help must fit in 80 columns
        Binding("b", "buckets", "Buckets"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit", show=False),  # in the help
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("w", "toggle_live", "Live", show=False),  # in the help and the palette
        Binding("t", "cycle_theme", "Theme", show=False),  # in the palette and the help
    ]

    # how often the app looks for changes made by other processes (a cron scan, a CLI retag)
    LEDGER_CHECK_SECONDS = 2.0

    class LedgerChanged(Message):
        """Another scan, retag or undo was committed: the shown numbers may be stale."""

    def __init__(self, ledger_path: Path, config: Config | None = None, archives: Iterable[str] = ()) -> None:
        super().__init__()
        self.ledger_path = Path(ledger_path)
        self.config = config or Config()
        self.archives = [str(a) for a in archives]
        self._ledger_stamp: tuple | None = None
        self._live_stop: threading.Event | None = None
        self._workers = _Workers(self)
        self._problem_shown: tuple[str, float] = ("", 0.0)

    @property
    def live(self) -> bool:
        return self._live_stop is not None and not self._live_stop.is_set()

    def on_mount(self) -> None:
        # a scan thread shares this process: hand the GIL over sooner so keys are answered
        sys.setswitchinterval(0.001)
        self.register_theme(NIGHT_VISION)
        self.first_screen()
        self.set_interval(self.LEDGER_CHECK_SECONDS, self._check_ledger)

    def on_unmount(self) -> None:
        if self._live_stop is not None:
            self._live_stop.set()  # the watcher checks it every 250 ms

    # -- worker failures: one handler for every screen's workers

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        problem = describe(error, self.ledger_path)
        if problem is None and isinstance(error, Exception):  # a bug: Textual's traceback; the app exits
            self._handle_exception(error)
            return
        title = "Ledger problem" if is_ledger_problem(error, self.ledger_path) else "Problem"
        self.report_problem(problem or f"{type(error).__name__}: {error}", title)

    def report_problem(self, problem: str, title: str = "Problem") -> None:
        """One notification per problem: the ledger check fails the same way every 2 s."""
        text, shown = self._problem_shown
        if problem == text and time.monotonic() - shown < 30:
            return
        self._problem_shown = (problem, time.monotonic())
        self.notify(problem, title=title, severity="error", markup=False, timeout=12)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ledger-check")
    def _check_ledger(self) -> None:
        """Finished scans and audit entries change this stamp; reads never wait for a writer (WAL)."""
        if not self.ledger_path.exists():
            return
        try:
            conn = ledger.connect(self.ledger_path, create=False)
        except ledger.LedgerError:
            return
        try:
            stamp = conn.execute(
                "SELECT (SELECT max(finished_ms) FROM scans), (SELECT count(*) FROM audit), "
                "(SELECT max(undone_ms) FROM audit), (SELECT count(*) FROM aliases)"
            ).fetchone()
        finally:
            conn.close()
        if self._ledger_stamp is not None and stamp != self._ledger_stamp:
            self.post_message(self.LedgerChanged())
        self._ledger_stamp = stamp

    def on_pl_tui_app_ledger_changed(self, _: LedgerChanged) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LedgerView):
                screen.ledger_changed()

    # -- live mode: watch the archives while the capture program writes

    def action_toggle_live(self) -> None:
        if self.live:
            assert self._live_stop is not None
            self._live_stop.set()
            self.notify("Live mode off", markup=False, timeout=3)
        else:
            archives = self.archives or ledger.root_paths_at(self.ledger_path)
            if not archives:
                self.notify("Choose an archive first (Rescan)", severity="warning", markup=False)
                return
            self._live_stop = threading.Event()
            self._watch(archives, self._live_stop)
        for screen in self.screen_stack:
            if isinstance(screen, LedgerView):
                screen.ledger_changed()

    @work(thread=True, exit_on_error=False, group="live")
    def _watch(self, archives: list[str], stop: threading.Event) -> None:
        # the same scans as the scan screen's: the CLI's reader processes, yielding to the keys
        def scanned(_: ScanProgress) -> None:
            self.post_message(self.LedgerChanged())

        watcher = Watcher(self.ledger_path, archives, self.config, stop, scanned, nice=SCAN_NICE)
        how = "change events" if watcher.uses_events else "a rescan every 30 s (network share)"
        self.call_from_thread(self.notify, f"Live: watching {len(archives)} archive(s) by {how}", markup=False)
        try:
            watcher.run()
        except Exception as e:
            problem = describe(e, self.ledger_path)
            if problem is None:
                raise  # a bug: on_worker_state_changed shows the traceback
            self.call_from_thread(self.report_problem, f"Live mode stopped: {problem}", "Live mode")
        finally:
            stop.set()
            self.post_message(self.LedgerChanged())  # the header says live no more

    def first_screen(self) -> None:
        """Scan the archives given; else the targets when the ledger has frames; else choose."""
        if self.archives:
            self.start_scan(self.archives)
        elif self.has_frames():
            self.push_screen(TargetsScreen())
        else:
            self.push_screen(ArchiveScreen(), self._archives_chosen)

    def has_frames(self) -> bool:
        if not self.ledger_path.exists():
            return False
        try:
            conn = ledger.connect(self.ledger_path, create=False)
        except ledger.LedgerError:
            return False
        try:
            return conn.execute("SELECT 1 FROM files LIMIT 1").fetchone() is not None
        finally:
            conn.close()

    def target_names(self) -> list[str]:
        with ledger.reading(self.ledger_path) as conn:
            return [s.name for s in ledger.target_summaries(conn) if s.name]

    # -- scanning

    def _archives_chosen(self, archives: list[str] | None) -> None:
        if archives:
            self.archives = archives
            self.start_scan(archives)

    def start_scan(self, archives: list[str]) -> None:
        self.push_screen(ScanScreen(archives), self._scan_done)

    def _scan_done(self, progress: ScanProgress | None) -> None:
        """After a scan; None: Back after a failed scan (then whatever the ledger already holds)."""
        targets = next((s for s in self.screen_stack if isinstance(s, TargetsScreen)), None)
        if targets is not None:
            targets.reload()
        elif progress is not None or self.has_frames():
            self.push_screen(TargetsScreen())
        elif len(self.screen_stack) <= 1:  # nothing to go back to: choose an archive
            self.push_screen(ArchiveScreen(), self._archives_chosen)

    # -- global actions

    def action_rescan(self) -> None:
        archives = self.archives or ledger.root_paths_at(self.ledger_path)
        if not archives:
            self.push_screen(ArchiveScreen(), self._archives_chosen)
            return
        self.start_scan(archives)

    def action_export(self) -> None:
        target = self.screen.current_target() if isinstance(self.screen, TargetsScreen) else None
        self.push_screen(ExportModal(target), self._exported)

    def _exported(self, result: tuple[int, str] | None) -> None:
        if result is not None:
            rows, path = result
            self.notify(f"Wrote {rows:,} rows to {plain(path)}", title="Export", markup=False)

    def action_buckets(self) -> None:
        if isinstance(self.screen, BucketsScreen) or not self.has_frames():
            return
        self.push_screen(BucketsScreen(), self._buckets_closed)

    def _buckets_closed(self, _: None = None) -> None:
        # retags change what the tree shows
        for screen in self.screen_stack:
            if isinstance(screen, TargetsScreen):
                screen.reload()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal(self.screen))

    def action_cycle_theme(self) -> None:
        current = self.theme if self.theme in THEMES else THEMES[-1]
        self.theme = THEMES[(THEMES.index(current) + 1) % len(THEMES)]
        self.notify(f"Theme: {self.theme}", markup=False, timeout=2)

    def jump_to(self, target: str) -> None:
        screen = next((s for s in reversed(self.screen_stack) if isinstance(s, TargetsScreen)), None)
        if screen is not None:
            while self.screen is not screen:
                self.pop_screen()
            screen.jump_to(target)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Rescan", "Scan the archives again (new, changed and missing files)", self.action_rescan)
        yield SystemCommand("Export …", "Write Frames, Sessions, Totals or AstroBin CSV/JSON", self.action_export)
        yield SystemCommand("Buckets", "Unknown, suspect, duplicate … frames: mark, retag, undo", self.action_buckets)
        yield SystemCommand(
            "Live mode", "Watch the archives: new frames appear as they are written", self.action_toggle_live
        )
        for theme in THEMES:
            yield SystemCommand(f"Theme: {theme}", "Switch the colours", partial(setattr, self, "theme", theme))


def _hosts_the_screens(app: PlTuiApp) -> Host:
    """Never called: mypy checks here that the App gives the screens what they ask of it."""
    return app
