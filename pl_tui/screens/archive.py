"""Archive selection: type a folder (→ completes), or pick one in the folder tree or among the
recent archives; add several, remove one; then scan them.

Opening and adding are separate keys: Enter opens a folder in the tree, ``a`` adds the
highlighted one. The tree shows folders only, hidden ones hidden (a scan skips them anyway).
Nothing here blocks the event loop on a slow path: the tree lists folders in its own thread
worker, and the completion lists one in a daemon thread with a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from .. import ledger
from ..widgets.host import host
from ..widgets.safe import plain, safe
from .modals import ConfirmModal

T = TypeVar("T")
SUGGEST_SECONDS = 2.0  # a path slower than this to list (a dead NFS mount) gets no completion


async def in_thread(fn: Callable[..., T], *args: object, timeout: float = SUGGEST_SECONDS) -> T:
    """Run ``fn`` in a daemon thread: a listing that hangs for good neither blocks the event
    loop nor keeps the process alive at exit (an executor thread would be joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(set_: Callable[[object], object], value: object) -> None:
        if not future.done():  # the waiter may have timed out and gone
            set_(value)

    def run() -> None:
        try:
            outcome: tuple = (future.set_result, fn(*args))
        except Exception as e:  # handed to the awaiting coroutine
            outcome = (future.set_exception, e)
        with contextlib.suppress(RuntimeError):  # the app (and its loop) closed meanwhile
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="pl-tui-listdir", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


def shown(path: str) -> str:
    """A folder as the user knows it: ~ for the home folder."""
    home = str(Path.home()).rstrip("/")
    return "~" + path[len(home) :] if home and (path == home or path.startswith(home + "/")) else path


def visible_folders(folder: str) -> list[str]:
    """The names of the folders in ``folder`` that a scan would walk (not hidden), sorted."""
    with os.scandir(folder or ".") as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())


class FolderSuggester(Suggester):
    """Completes the last path component from the folders that exist."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        path = os.path.expanduser(value)
        head, tail = os.path.split(path)
        try:
            names = await in_thread(visible_folders, head or ".")
        except (OSError, TimeoutError):
            return None
        for name in names:
            if name.startswith(tail) and name != tail:
                return value[: len(value) - len(tail)] + name + "/"
        return None


class FolderTree(DirectoryTree):
    """Folders only, hidden ones hidden. Enter opens a folder; ``a`` adds it to the archives."""

    BINDINGS = [
        Binding("a", "screen.add_from_tree", "Add folder"),
        Binding("left", "fold", "Fold", show=False),
        Binding("right", "unfold", "Unfold", show=False),
    ]

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        # runs in the tree's loader thread: is_dir() may stat a slow mount
        return [p for p in paths if not p.name.startswith(".") and p.is_dir()]

    def on_focus(self) -> None:
        if self.cursor_line < 0:  # tabbed into: the cursor shows on the first folder
            self.cursor_line = 0

    def action_fold(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_unfold(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()


class ChosenList(OptionList):
    """The folders to scan; Delete (or Backspace, x) takes the highlighted one off."""

    BINDINGS = [Binding("delete,backspace,x", "screen.remove_chosen", "Remove")]


class ArchiveScreen(Screen[list[str] | None]):
    """Dismisses with the archive folders to scan (None: back, nothing chosen)."""

    BINDINGS = [
        Binding("ctrl+s", "scan", "Scan chosen"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, start: Path | None = None) -> None:
        super().__init__()
        self.start = start or Path.home()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(
            "Choose your archive folders: type a path (→ completes, Enter adds), or pick one below "
            "(Enter opens a folder, a adds it). Tab moves between the boxes. Ctrl+S scans.",
            id="archive-intro",
        )
        yield Input(placeholder="/path/to/archive", suggester=FolderSuggester(), id="archive-input")
        with Horizontal(id="archive-body"):
            with Vertical(id="archive-left"):
                yield FolderTree(self.start, id="archive-tree")
            with Vertical(id="archive-right"):
                yield OptionList(id="archive-recent")
                yield ChosenList(id="archive-chosen")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#archive-tree", FolderTree).border_title = "Folders (Enter opens, a adds)"
        recent = self.query_one("#archive-recent", OptionList)
        recent.border_title = "Recent archives (Enter adds)"
        self.recent = ledger.root_paths_at(host(self.app).ledger_path)
        for path in self.recent:
            recent.add_option(Option(safe(shown(path))))
        if not self.recent:
            recent.add_option(Option(safe("(none yet)", "dim"), disabled=True))
        self._show_chosen()
        self.query_one("#archive-input", Input).focus()

    def add(self, path: str) -> None:
        folder = os.path.abspath(os.path.expanduser(path))
        if not os.path.isdir(folder):
            self.notify(f"not a folder: {plain(path)}", severity="warning", markup=False)
            return
        if folder not in self.chosen:
            self.chosen.append(folder)
        self._show_chosen()

    def _show_chosen(self) -> None:
        chosen = self.query_one("#archive-chosen", ChosenList)
        chosen.border_title = f"To scan: {len(self.chosen)} (Del removes)"
        highlighted = chosen.highlighted
        chosen.clear_options()
        for path in self.chosen:
            chosen.add_option(Option(safe(shown(path))))
        if not self.chosen:
            chosen.add_option(Option(safe("(none yet)", "dim"), disabled=True))
        else:
            chosen.highlighted = min(highlighted or 0, len(self.chosen) - 1)

    @on(Input.Submitted, "#archive-input")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.add(event.value.strip())
            event.input.value = ""
        elif self.chosen:
            self.action_scan()

    @on(OptionList.OptionSelected, "#archive-recent")
    def _recent_selected(self, event: OptionList.OptionSelected) -> None:
        self.add(self.recent[event.option_index])

    def action_add_from_tree(self) -> None:
        node = self.query_one("#archive-tree", FolderTree).cursor_node
        if node is not None and node.data is not None:
            self.add(str(node.data.path))

    def action_remove_chosen(self) -> None:
        chosen = self.query_one("#archive-chosen", ChosenList)
        if chosen.highlighted is not None and chosen.highlighted < len(self.chosen):
            del self.chosen[chosen.highlighted]
            self._show_chosen()

    def action_scan(self) -> None:
        if not self.chosen:
            self.notify("Add an archive folder first", severity="warning", markup=False)
            return
        self.dismiss(list(self.chosen))

    def action_back(self) -> None:
        """Back to the screen underneath; when there is none, ask before quitting."""
        if len(self.app.screen_stack) > 2:
            self.dismiss(None)
            return
        self.app.push_screen(ConfirmModal("Quit pl-tui without scanning?"), self._quit_confirmed)

    def _quit_confirmed(self, quit_: bool | None) -> None:
        if quit_:
            self.app.exit()
