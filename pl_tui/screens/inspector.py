"""Frame inspector: every card of one frame, read live from its file, beside the normalised
fields and where each came from (keyword, folder, computed)."""

from __future__ import annotations

import os

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from .. import ledger as L
from ..headers import HeaderError, iter_cards, read_header
from ..normalize import EXPOSURE_COLUMNS, INFERRED_NAMES, normalize, split_name
from ..widgets.safe import columns, safe


class InspectorScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    class Read(Message):
        def __init__(
            self, cards: list[tuple[str, str]], fields: list[tuple[str, object, str]], error: str | None
        ) -> None:
            super().__init__()
            self.cards, self.fields, self.error = cards, fields, error

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Static(safe(self.path, "bold"), id="inspector-title")
        with Horizontal(id="inspector-body"):
            yield DataTable(id="inspector-cards", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="inspector-fields", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        columns(
            self.query_one("#inspector-cards", DataTable),
            ("keyword", 8), ("card (raw)", 60), title="Header, read now from the file",
        )  # fmt: skip
        columns(
            self.query_one("#inspector-fields", DataTable),
            ("field", 12),
            ("from", 9),
            ("value", 26),
            title="Normalised",
        )
        self.read()

    @work(thread=True, exit_on_error=False)
    def read(self) -> None:
        try:
            raw = read_header(self.path)
        except HeaderError as e:
            self.post_message(self.Read([], [], str(e)))
            return
        cards = (
            list(iter_cards(raw.header_bytes))
            if raw.kind in ("fits", "fits.gz")
            else [(k, repr(v)) for k, v in raw.cards.items()]
        )
        parts, overrides = self._from_ledger()
        frame = normalize(raw.cards, raw.header_bytes, split_name(os.path.basename(self.path)), parts, explain=True)
        sources = frame.sources or {}
        inferred = {name for bit, name in INFERRED_NAMES.items() if frame.inferred & bit}
        fields = []
        for name in ("date_obs_utc", *EXPOSURE_COLUMNS[1:]):
            value = getattr(frame, name)
            if value is None or name in ("t_obs_ms", "inferred", "flags", "osc"):
                continue
            origin = "folder" if name in inferred else sources.get(name, "computed")
            if name in overrides:  # a retag in the ledger wins over the header
                value, origin = overrides[name], "override"
            fields.append((name, value, origin))
        self.post_message(self.Read(cards, fields, None))

    def _from_ledger(self) -> tuple[tuple[str, ...], dict[str, object]]:
        """The folders between the file's archive root and the file, and the ledger's overrides
        (retags) of its exposure."""
        try:
            conn = L.connect(self.app.ledger_path, create=False)  # type: ignore[attr-defined]
        except L.LedgerError:
            return (), {}
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
                return (() if rel == "." else tuple(rel.split(os.sep))), overrides
        return (), overrides

    def on_inspector_screen_read(self, message: InspectorScreen.Read) -> None:
        if message.error:
            self.query_one("#inspector-title", Static).update(safe(f"{self.path}: {message.error}", "bold red"))
            return
        cards = self.query_one("#inspector-cards", DataTable)
        fields = self.query_one("#inspector-fields", DataTable)
        with self.app.batch_update():
            for key, rest in message.cards:
                cards.add_row(safe(key), safe(rest))
            for name, value, origin in message.fields:
                fields.add_row(safe(name), safe(origin), safe(value))
