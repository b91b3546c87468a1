"""Frame inspector: every card of one frame, read live from its file, beside the normalised
fields and where each came from, and why the frame counts or not — what ``pl-tui explain``
prints (``domain/explain.py``), on screen.

The two panes share the height; below 120 columns they stack. The line under them shows the
whole card or field under the cursor, which the columns cut at 80 columns. The file is opened
without blocking and only read when it is a regular file: a FIFO named ``.fits`` gets a reason,
not a worker stuck in ``open()`` forever.
"""

from __future__ import annotations

import os
import stat

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.events import DescendantFocus, Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..domain.explain import explain_file
from ..widgets.host import host
from ..widgets.safe import columns, plain, relative, safe

NARROW = 120  # below this width the panes stack


def open_regular(path: str, flags: int) -> int:
    """An opener for the header readers: never waits (O_NONBLOCK: a FIFO without a writer would
    block ``open()`` for good) and refuses anything but a regular file."""
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file (a pipe, socket or device)")
    except OSError:
        os.close(fd)
        raise
    return fd


class InspectorScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("tab", "app.focus_next", "Other pane"),
    ]

    class Read(Message):
        def __init__(
            self,
            cards: list[tuple[str, str]],
            fields: list[tuple[str, object, str]],
            error: str | None,
            roots: list[str] | None = None,
        ) -> None:
            super().__init__()
            self.cards, self.fields, self.error, self.roots = cards, fields, error, roots or []

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.cards: list[tuple[str, str]] = []
        self.fields: list[tuple[str, object, str]] = []

    def compose(self) -> ComposeResult:
        yield Static(safe(self.path, "bold"), id="inspector-title")
        with Container(id="inspector-body"):
            yield DataTable(id="inspector-cards", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="inspector-fields", cursor_type="row", zebra_stripes=True)
        yield Static(id="inspector-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#inspector-cards", DataTable).border_title = "Header, read now from the file"
        self.query_one("#inspector-fields", DataTable).border_title = "Normalised"
        self.read()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")
        self._fill(event.size.width)

    def _fill(self, width: int) -> None:
        """Both tables with their last columns as wide as the pane leaves (no sideways scrolling;
        the line under the panes has the rest)."""
        pane = width if width < NARROW else width // 2
        room = max(20, pane - 2 - 2)  # the border, the scrollbar
        cards = self.query_one("#inspector-cards", DataTable)
        fields = self.query_one("#inspector-fields", DataTable)
        with self.app.batch_update():
            cards.clear(columns=True)
            fields.clear(columns=True)
            columns(cards, ("keyword", 8), ("value / comment (as written)", room - 8 - 4))
            columns(fields, ("field", 14), ("from", 18), ("value", room - 32 - 6))
            for key, rest in self.cards:
                cards.add_row(safe(key), safe(rest))
            for name, value, from_ in self.fields:
                fields.add_row(safe(name), safe(from_), safe(value))

    @work(thread=True, exit_on_error=False)
    def read(self) -> None:
        """What `pl-tui explain` says of the file: the cards as written, each field with where it
        came from (keyword, unit, folder, retag, alias), and the rules that fired."""
        app = host(self.app)
        ex = explain_file(self.path, app.config, app.ledger_path, opener=open_regular)
        roots = [ex.root] if ex.root else []
        if ex.error is not None:
            self.post_message(self.Read([], [], ex.error, roots))
            return
        fields: list[tuple[str, object, str]] = [("verdict", ex.verdict, "pl-tui")]
        fields += [(f.name, f.value, f.origin) for f in ex.fields]
        fields += [("why", rule, "rule") for rule in ex.rules]
        self.post_message(self.Read(ex.cards, fields, None, roots))

    def on_inspector_screen_read(self, message: InspectorScreen.Read) -> None:
        shown = relative(self.path, message.roots)
        root = next((r for r in message.roots if shown != self.path and self.path.startswith(r.rstrip("/") + "/")), "")
        title = self.query_one("#inspector-title", Static)
        if message.error:
            title.update(
                Content.from_markup("[b]$path[/b]\n[b $error]$why[/]", path=plain(self.path), why=message.error)
            )
            self.query_one("#inspector-detail", Static).update(safe(f"Not read: {message.error}"))
            return
        title.update(
            Content.from_markup("[b]$path[/b] [dim]in $root[/]", path=plain(shown), root=plain(root))
            if root
            else safe(self.path, "bold")
        )
        self.cards, self.fields = message.cards, message.fields
        self._fill(self.size.width)
        self.query_one("#inspector-cards", DataTable).focus()
        self._detail("inspector-cards", 0)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.data_table.id or "", event.cursor_row)

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        """The line under the panes follows the focused pane's cursor."""
        if isinstance(event.widget, DataTable):
            self._detail(event.widget.id or "", event.widget.cursor_row)

    def _detail(self, table: str, row: int) -> None:
        if table == "inspector-cards" and 0 <= row < len(self.cards):
            key, rest = self.cards[row]
            text = safe(f"{key:<8}{rest}")
        elif table == "inspector-fields" and 0 <= row < len(self.fields):
            name, value, from_ = self.fields[row]
            text = safe(f"{name} = {plain(value)}  (from {from_})")
        else:
            return
        text.no_wrap, text.overflow = False, "fold"
        self.query_one("#inspector-detail", Static).update(text)
