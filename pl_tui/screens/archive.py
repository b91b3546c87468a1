"""Archive selection: type a folder (→ completes), or pick one in the tree or among recent
archives; add several; then scan them."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from .. import ledger as L
from ..widgets.safe import lines, plain, safe


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
            names = sorted(e.name for e in os.scandir(head or ".") if e.is_dir() and not e.name.startswith("."))
        except OSError:
            return None
        for name in names:
            if name.startswith(tail) and name != tail:
                return value[: len(value) - len(tail)] + name + "/"
        return None


class ArchiveScreen(Screen[list[str] | None]):
    """Dismisses with the archive folders to scan."""

    BINDINGS = [
        Binding("ctrl+a", "add_from_tree", "Add folder from tree"),
        Binding("ctrl+s", "scan", "Scan chosen"),
        Binding("escape", "app.quit", "Quit", show=False),
    ]

    def __init__(self, start: Path | None = None) -> None:
        super().__init__()
        self.start = start or Path.home()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(
            "Choose your archive folders: type a path (→ completes, Enter adds), or pick one below "
            "(Ctrl+A adds the highlighted folder). Ctrl+S scans them.",
            id="archive-intro",
        )
        yield Input(placeholder="/path/to/archive", suggester=FolderSuggester(), id="archive-input")
        with Horizontal(id="archive-body"):
            with Vertical(id="archive-left"):
                yield DirectoryTree(self.start, id="archive-tree")
            with Vertical(id="archive-right"):
                yield OptionList(id="archive-recent")
                yield Static(id="archive-chosen")
        yield Footer()

    def on_mount(self) -> None:
        recent = self.query_one("#archive-recent", OptionList)
        recent.border_title = "Recent archives (Enter adds)"
        for path in L.root_paths_at(self.app.ledger_path):  # type: ignore[attr-defined]
            recent.add_option(Option(safe(path), id=None))
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
        self.query_one("#archive-chosen", Static).update(lines("To scan:", *(self.chosen or ["(none yet)"])))

    @on(Input.Submitted, "#archive-input")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.add(event.value.strip())
            event.input.value = ""
        elif self.chosen:
            self.action_scan()

    @on(OptionList.OptionSelected, "#archive-recent")
    def _recent_selected(self, event: OptionList.OptionSelected) -> None:
        self.add(str(event.option.prompt))

    @on(DirectoryTree.DirectorySelected, "#archive-tree")
    def _dir_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.add(str(event.path))

    def action_add_from_tree(self) -> None:
        node = self.query_one("#archive-tree", DirectoryTree).cursor_node
        if node is not None and node.data is not None:
            self.add(str(node.data.path))

    def action_scan(self) -> None:
        if not self.chosen:
            self.notify("Add an archive folder first", severity="warning", markup=False)
            return
        self.dismiss(list(self.chosen))
