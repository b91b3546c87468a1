"""Frame inspector: every card of one frame, read live from its file, beside the normalised
fields and where each came from (the header keyword, the folder, an override, or computed).

The two panes share the height; below 120 columns they stack. The line under them shows the
whole card or field under the cursor, which the columns cut at 80 columns. The file is opened
without blocking and only read when it is a regular file: a FIFO named ``.fits`` gets a reason,
not a worker stuck in ``open()`` forever.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.events import DescendantFocus, Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from .. import ledger as L
from ..core.headers import HeaderError, iter_cards, read_header
from ..core.normalize import EXPOSURE_COLUMNS, INFERRED_NAMES, normalize, split_name
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


def origin(
    name: str, sources: dict[str, str], inferred: set[str], overrides: dict[str, object], cards: Mapping[str, object]
) -> str:
    """Where a normalised field came from: an override, the folder, the header keyword (also for
    the raw value a field was normalised from), or computed from other fields."""
    if name in overrides:
        return "override"
    if name in inferred:
        return "folder"
    if name in sources:
        return sources[name]
    if name.endswith("_raw") and name[:-4] in sources:  # target_raw: the OBJECT card as written
        return sources[name[:-4]]
    if name == "sequencer" and "software" in sources:
        return sources["software"]
    if name == "osc":
        return next((k for k in ("BAYERPAT", "COLORTYP") if k in cards), "no BAYERPAT")
    return "computed"


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
            columns(fields, ("field", 14), ("from", 11), ("value", room - 25 - 6))
            for key, rest in self.cards:
                cards.add_row(safe(key), safe(rest))
            for name, value, from_ in self.fields:
                fields.add_row(safe(name), safe(from_), safe(value))

    @work(thread=True, exit_on_error=False)
    def read(self) -> None:
        try:
            raw = read_header(self.path, opener=open_regular)
        except HeaderError as e:
            self.post_message(self.Read([], [], str(e), self._from_ledger()[2]))
            return
        cards = (
            list(iter_cards(raw.header_bytes))
            if raw.kind in ("fits", "fits.gz")
            else [(k, repr(v)) for k, v in raw.cards.items()]
        )
        parts, overrides, roots = self._from_ledger()
        frame = normalize(raw.cards, raw.header_bytes, split_name(os.path.basename(self.path)), parts, explain=True)
        sources = frame.sources or {}
        inferred = {name for bit, name in INFERRED_NAMES.items() if frame.inferred & bit}
        fields = []
        for name in ("date_obs_utc", *EXPOSURE_COLUMNS[1:]):
            value = getattr(frame, name)
            if value is None or name in ("t_obs_ms", "inferred", "flags"):
                continue
            if name in overrides:  # a retag in the ledger wins over the header
                value = overrides[name]
            fields.append((name, value, origin(name, sources, inferred, overrides, raw.cards)))
        self.post_message(self.Read(cards, fields, None, roots))

    def _from_ledger(self) -> tuple[tuple[str, ...], dict[str, object], list[str]]:
        """The folders between the file's archive root and the file, the ledger's overrides
        (retags) of its exposure, and the archive roots."""
        try:
            conn = L.connect(host(self.app).ledger_path, create=False)
        except L.LedgerError:
            return (), {}, []
        folder = os.path.dirname(self.path)
        try:
            roots = L.root_paths(conn)
            row = conn.execute(
                "SELECT e.ov_target, e.ov_filter, e.ov_type, e.ov_status FROM files f "
                "JOIN dirs d ON d.id = f.dir_id JOIN exposures e ON e.id = f.exposure_id "
                "WHERE d.path = ? AND f.name = ?",
                (L.to_db(folder), L.to_db(os.path.basename(self.path))),
            ).fetchone()
        finally:
            conn.close()
        names = ("target", "filter", "image_type", "status")
        overrides = {n: v for n, v in zip(names, row or (), strict=False) if v is not None}
        for root in sorted(roots, key=len, reverse=True):
            if folder == root or folder.startswith(root.rstrip("/") + "/"):
                rel = os.path.relpath(folder, root)
                return (() if rel == "." else tuple(rel.split(os.sep))), overrides, roots
        return (), overrides, roots

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
