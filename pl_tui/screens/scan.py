"""Scan progress: live counts, rate, ETA, the current folder, recent folders, unreadable files."""

from __future__ import annotations

import threading

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static

from ..scan import ScanProgress, scan
from ..widgets.safe import columns, plain, safe


class ScanScreen(Screen[ScanProgress | None]):
    """Runs one scan in a thread worker; dismisses with the final progress (None on error)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel scan")]

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
        self._last_folder = ""
        self._found_at_folder = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="scan-top"):
            yield Static(id="scan-title")
            yield ProgressBar(id="scan-bar", show_eta=False)
            yield Static(id="scan-counts")
            yield Static(id="scan-folder")
        with Horizontal(id="scan-lists"):
            yield DataTable(id="scan-folders", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="scan-unreadable", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scan-title", Static).update(safe("Scanning " + ", ".join(self.archives), "bold"))
        columns(self.query_one("#scan-folders", DataTable), ("folder", 28), ("files", 5), title="Folders")
        columns(self.query_one("#scan-unreadable", DataTable), ("file", 14), ("reason", 40), title="Unreadable")
        if self.start:
            self.run_scan()

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def run_scan(self) -> None:
        app = self.app
        try:
            final = scan(
                app.ledger_path,  # type: ignore[attr-defined]
                self.archives,
                app.config,  # type: ignore[attr-defined]
                stop=self.stop,
                progress=lambda p: self.post_message(self.Progressed(p)),
                nice=10,  # the scan yields the CPU to the keys
            )
        except Exception as e:
            self.post_message(self.Finished(None, str(e)))
            return
        self.post_message(self.Finished(final))

    def on_scan_screen_progressed(self, message: ScanScreen.Progressed) -> None:
        p = message.progress
        done = p.new + p.changed + p.unchanged + p.deferred
        with self.app.batch_update():
            bar = self.query_one("#scan-bar", ProgressBar)
            bar.update(total=p.found if p.walk_done else None, progress=done)
            eta = f" · ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
            self.query_one("#scan-counts", Static).update(
                f"found {p.found:,} · new {p.new:,} · changed {p.changed:,} · unchanged {p.unchanged:,} · "
                f"unreadable {p.unreadable:,} · {p.rate:,.0f} frames/s{eta}"
            )
            self.query_one("#scan-folder", Static).update(safe(p.current_folder or "", "dim"))
            if p.current_folder and p.current_folder != self._last_folder:
                folders = self.query_one("#scan-folders", DataTable)
                if self._last_folder:
                    folders.add_row(safe(self._relative(self._last_folder)), str(p.found - self._found_at_folder))
                    folders.move_cursor(row=folders.row_count - 1)
                self._last_folder, self._found_at_folder = p.current_folder, p.found
            if p.new_unreadable:
                table = self.query_one("#scan-unreadable", DataTable)
                for path, reason in p.new_unreadable:
                    table.add_row(safe(path.rsplit("/", 1)[-1]), safe(reason))

    def _relative(self, folder: str) -> str:
        for root in self.archives:
            if folder.startswith(root.rstrip("/") + "/"):
                return folder[len(root.rstrip("/")) + 1 :]
        return folder

    def on_scan_screen_finished(self, message: ScanScreen.Finished) -> None:
        if message.error is not None:
            self.query_one("#scan-title", Static).update(safe("Scan failed: " + message.error, "bold red"))
            self.notify(plain(message.error), title="Scan failed", severity="error", markup=False)
            return
        p = message.progress
        assert p is not None
        self.on_scan_screen_progressed(self.Progressed(p))
        verb = "Scan cancelled" if p.state == "cancelled" else "Scan complete"
        summary = f"{verb}: {p.indexed:,} read, {p.unchanged:,} unchanged, {p.unreadable:,} unreadable"
        if p.deferred:
            summary += f"; {p.deferred:,} still being written (settle window): rescan later"
        self.notify(summary, markup=False)
        self.dismiss(p)

    def action_cancel(self) -> None:
        self.stop.set()
        self.query_one("#scan-title", Static).update(safe("Cancelling — what was read is kept", "bold yellow"))
