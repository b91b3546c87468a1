"""Scan progress: live counts, rate, ETA, the current folder, each folder's own progress, the
unreadable files with their reasons; a failed scan says why and offers Retry / Back; frames still
inside the settle window are counted, and read again once they have settled."""

from __future__ import annotations

import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, ProgressBar, Static
from textual.widgets.data_table import RowDoesNotExist

from ..problems import describe
from ..scan import ScanProgress, scan
from ..widgets.host import host
from ..widgets.safe import lines, plain, relative, safe

NICE = 10  # the scanning thread's priority in the app (keys answered within ~0.1 s on 2 cores)
FOLDER_WIDTH = 22
MAX_FOLDER_ROWS = 300  # finished folders beyond this many leave the table (the oldest first)
MAX_UNREADABLE_ROWS = 1000  # the rest are in Buckets → Unreadable


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def clock(epoch_s: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch_s))


def _tail(text: str, width: int) -> str:
    """The end of a path, which tells folders apart (…/2023-01-10/DARK, not Sh2-129/2023-01-10/DA…)."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def settle_note(p: ScanProgress, live: bool = False) -> str:
    """What the deferred frames are and when they will be read."""
    n = f"{p.deferred:,} frame{'s' if p.deferred != 1 else ''}"
    why = f"modified less than {p.settle_s:g} s ago (still being written, or fresh copies)"
    if p.deferred_until is None:
        return f"{n} {why}"
    when = clock(p.deferred_until)
    if live:
        return f"{n} {why}: live mode reads them at {when}"
    return f"{n} {why}: the next scan from {when} reads them"


class ScanScreen(Screen[ScanProgress | None]):
    """Runs one scan in a thread worker; dismisses with the final progress (None on Back after a
    failure). When frames were still being written, it waits until they have settled, reads them
    (once), then dismisses."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel scan"),
        Binding("escape", "back", "Back"),
        Binding("escape", "skip_wait", "Go on (read them later)"),
        Binding("r", "retry", "Retry"),
    ]

    class Progressed(Message):
        def __init__(self, progress: ScanProgress) -> None:
            super().__init__()
            self.progress = progress

    class Finished(Message):
        def __init__(self, progress: ScanProgress | None, error: str | None = None) -> None:
            super().__init__()
            self.progress = progress
            self.error = error

    def __init__(self, archives: list[str], start: bool = True) -> None:
        super().__init__()
        self.archives = archives
        self.start = start  # False: show progress posted to it, run nothing (tests, snapshots)
        self.stop = threading.Event()
        self.state = "running"  # running, cancelling, failed, waiting (for frames to settle)
        self.error: str | None = None
        self.follow_up = False  # this pass reads the frames the previous one deferred
        self._wait_timer: Timer | None = None
        self._read_at = 0.0
        self._last: ScanProgress | None = None
        self._unreadable_rows = 0
        self._unreadable_total = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="scan-top"):
            yield Static(id="scan-title")
            yield ProgressBar(id="scan-bar", show_eta=False)
            yield Static(id="scan-counts")
            yield Static(id="scan-status")
            yield Static(id="scan-folder")
        with Horizontal(id="scan-lists"):
            yield DataTable(id="scan-folders", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="scan-unreadable", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        folders = self.query_one("#scan-folders", DataTable)
        folders.add_column("folder", width=FOLDER_WIDTH, key="folder")
        folders.add_column("done", width=11, key="done")
        folders.border_title = "Folders"
        unreadable = self.query_one("#scan-unreadable", DataTable)
        unreadable.add_column("file", width=14, key="file")
        unreadable.add_column("reason", width=40, key="reason")
        unreadable.border_title = "Unreadable"
        self._begin()

    def on_unmount(self) -> None:
        self.stop.set()  # the app is closing: the scan stops, keeping what was read

    def _begin(self) -> None:
        if self._last is not None:  # a retry or the follow-up pass: its own unreadable list
            self.query_one("#scan-unreadable", DataTable).clear()
            self._unreadable_rows = self._unreadable_total = 0
        self.state = "running"
        self.error = None
        self.stop = threading.Event()
        what = "Reading the frames that have settled in " if self.follow_up else "Scanning "
        self.query_one("#scan-title", Static).update(safe(what + ", ".join(self.archives), "bold"))
        self._status(None)
        self.query_one("#scan-bar", ProgressBar).display = True
        self.refresh_bindings()
        if self.start:
            # after the screen's first paint: a scan of a few files can be done before that,
            # and a screen dismissed while the app is still starting confuses the next one
            self.call_after_refresh(self.run_scan)

    # -- keys by state

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.state == "running"
        if action == "back":
            return self.state == "failed"
        if action == "retry":
            return self.state == "failed"
        if action == "skip_wait":
            return self.state == "waiting"
        return True

    def action_cancel(self) -> None:
        self.stop.set()
        self.state = "cancelling"
        self.query_one("#scan-title", Static).update(
            Content.from_markup("[b $warning]Cancelling[/] — what was read is kept")
        )
        self.refresh_bindings()

    def action_retry(self) -> None:
        self._begin()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_skip_wait(self) -> None:
        if self._wait_timer is not None:
            self._wait_timer.stop()
        p = self._last
        if p is not None:
            self.notify("Later: " + settle_note(p), markup=False, timeout=6)
        self.dismiss(p)

    # -- the scan

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def run_scan(self) -> None:
        app = host(self.app)
        ledger_path = app.ledger_path
        try:
            final = scan(
                ledger_path,
                self.archives,
                app.config,
                stop=self.stop,
                progress=self._progressed,
                # the scanning thread (it shares this process and its GIL) yields to the keys; the
                # readers are the CLI's, at the CLI's priority (bench/RESULTS.md, App scan benchmark)
                nice=NICE,
            )
        except Exception as e:
            problem = describe(e, ledger_path)
            if problem is None:
                raise  # a bug: the app's worker handler shows the traceback
            self.post_message(self.Finished(None, problem))
            return
        self.post_message(self.Finished(final))

    def _progressed(self, p: ScanProgress) -> None:  # the scan's thread
        self.post_message(self.Progressed(p))

    def on_scan_screen_progressed(self, message: ScanScreen.Progressed) -> None:
        if self.state == "failed":
            return
        p = message.progress
        self._last = p
        with self.app.batch_update():
            bar = self.query_one("#scan-bar", ProgressBar)
            total = p.total
            bar.update(total=max(total, p.processed, 1) if total is not None else None, progress=p.processed)
            self.query_one("#scan-counts", Static).update(lines(*self._counts(p)))
            if p.deferred:
                self._status(Content.from_markup("[$warning]$note[/]", note=settle_note(p, self._live())))
            self.query_one("#scan-folder", Static).update(safe(relative(p.current_folder, self.archives), "dim"))
            self._show_folders(p.folder_updates)
            if p.new_unreadable:
                self._show_unreadable(p.new_unreadable)

    def _counts(self, p: ScanProgress) -> tuple[str, str]:
        eta = p.eta_s
        if p.done:
            pace = f"{p.elapsed_s:.1f} s"
        elif eta is not None:
            pace = f"ETA {'≈ ' if p.total_is_estimate else ''}{duration(eta)}"
        else:
            pace = "ETA …"
        first = f"{p.processed:,} of {p.total_text} files · {p.rate:,.0f} frames/s · {pace}"
        second = f"new {p.new:,} · changed {p.changed:,} · unchanged {p.unchanged:,} · unreadable {p.unreadable:,}" + (
            f" · settling {p.deferred:,}" if p.deferred else ""
        )
        return first, second

    def _show_folders(self, updates: list[tuple[str, int, int]]) -> None:
        if not updates:
            return
        table = self.query_one("#scan-folders", DataTable)
        for folder, files, done in updates:
            cell = f"{done:,}/{files:,}" if done < files else f"{files:,} ✓"
            try:
                row = table.get_row_index(folder)
            except RowDoesNotExist:
                table.add_row(safe(_tail(relative(folder, self.archives), FOLDER_WIDTH)), cell, key=folder)
                continue
            table.update_cell_at(Coordinate(row, 1), cell)
        while table.row_count > MAX_FOLDER_ROWS:
            oldest = next(iter(table.rows))
            table.remove_row(oldest)
        table.move_cursor(row=table.get_row_index(updates[-1][0]) if updates[-1][0] in table.rows else 0)

    def _show_unreadable(self, files: list[tuple[str, str]]) -> None:
        table = self.query_one("#scan-unreadable", DataTable)
        self._unreadable_total += len(files)
        for path, reason in files:
            if self._unreadable_rows >= MAX_UNREADABLE_ROWS:
                break
            table.add_row(safe(path.rsplit("/", 1)[-1]), safe(reason))
            self._unreadable_rows += 1
        more = self._unreadable_total - self._unreadable_rows
        table.border_title = f"Unreadable {self._unreadable_total:,}" + (
            f" (the first {self._unreadable_rows:,}; all in Buckets)" if more else ""
        )

    def _status(self, content: Content | None) -> None:
        """The line under the counts: a failure, or the frames waiting to settle; hidden when empty."""
        status = self.query_one("#scan-status", Static)
        status.update(content or "")
        status.display = content is not None

    def _live(self) -> bool:
        return bool(host(self.app).live)

    def on_scan_screen_finished(self, message: ScanScreen.Finished) -> None:
        if message.error is not None:
            self.state = "failed"
            self.error = message.error
            self.query_one("#scan-title", Static).update(Content.from_markup("[b $error]Scan failed[/]"))
            self._status(
                Content.from_markup(
                    "$why\n[dim]r: retry (what was read is kept) · Esc: back[/]", why=plain(message.error)
                )
            )
            if self._last is None:  # failed before anything was counted: no bar pulsing at --%
                self.query_one("#scan-bar", ProgressBar).display = False
            self.refresh_bindings()
            return
        p = message.progress
        assert p is not None
        self.on_scan_screen_progressed(self.Progressed(p))
        verb = "Scan cancelled" if p.state == "cancelled" else "Scan complete"
        summary = f"{verb}: {p.indexed:,} read, {p.unchanged:,} unchanged, {p.unreadable:,} unreadable"
        if p.deferred and p.state == "complete" and not self.follow_up and not self._live():
            self._wait_for_settled(p)
            return
        if p.deferred:
            summary += "; " + settle_note(p, self._live())
            if not self._live():
                summary += " (w: live mode reads them as they settle)"
        self.notify(summary, markup=False, timeout=8 if p.deferred else 4)
        self.dismiss(p)

    # -- frames still being written: wait until they have settled, then read them

    def _wait_for_settled(self, p: ScanProgress) -> None:
        self.state = "waiting"
        self._read_at = (p.deferred_until or time.time()) + 0.5
        self.query_one("#scan-title", Static).update(
            safe(f"Scan complete: {p.indexed:,} read, {p.unchanged:,} unchanged, {p.deferred:,} settling", "bold")
        )
        self._tick()
        self._wait_timer = self.set_interval(1.0, self._tick)
        self.refresh_bindings()

    def _tick(self) -> None:
        left = self._read_at - time.time()
        p = self._last
        assert p is not None
        if left <= 0:
            if self._wait_timer is not None:
                self._wait_timer.stop()
                self._wait_timer = None
            self.follow_up = True
            self._begin()
            return
        self._status(
            Content.from_markup(
                "[$warning]$n frame$s modified less than $settle s ago (still being written, or fresh copies)[/]"
                "\nreading them at $when (in $left) · Esc: go on, read them later (w: live mode)",
                n=f"{p.deferred:,}",
                s="s" if p.deferred != 1 else "",
                settle=f"{p.settle_s:g}",
                when=clock(self._read_at),
                left=duration(left),
            )
        )
