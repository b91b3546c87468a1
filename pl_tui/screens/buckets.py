"""Buckets: every frame that needs a look , marked by keys and retagged in bulk.

A tab per bucket with its count; the frames grouped by folder and night in a Line-API list
(marking thousands of frames is a set operation); ``r`` opens the retag modal with a live
preview, Ctrl+Z undoes the newest retag, ``l`` shows the audit log and ``m`` the targets that
look like one (merge suggestions). All ledger work runs in thread workers; writes take the
writer lock and say so when a scan holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    OptionList,
    RadioSet,
    Static,
    Tab,
    Tabs,
)
from textual.widgets.option_list import Option

from .. import ledger
from ..domain import history, retag, triage
from ..widgets.choices import Choice
from ..widgets.frame_list import FrameList, Group
from ..widgets.host import host
from ..widgets.safe import columns, fit, paths_below, plain, relative, safe
from .inspector import InspectorScreen

TITLES = {
    "unknown": "Unknown",
    "suspect": "Suspect",
    "duplicates": "Copies",
    "derived": "Derived",
    "rejected": "Rejected",
    "missing": "Missing",
    "unreadable": "Unreadable",
}
# when the full titles and their counts do not fit the width (80 columns, thousands of frames)
SHORT_TITLES = {
    "unknown": "Unkn.",
    "suspect": "Susp.",
    "duplicates": "Copies",
    "derived": "Deriv.",
    "rejected": "Rej.",
    "missing": "Miss.",
    "unreadable": "Unread.",
}


def tab_labels(counts: dict[str, int], width: int) -> tuple[dict[str, str], bool]:
    """Each bucket's tab label with its count, and whether the tabs must sit tight (one space
    between them instead of two). Where they do not all fit the width: the longest titles are
    shortened first, one at a time; then the tabs sit tight; then the counts (12,345 → 12k)."""
    titles = dict(TITLES)
    number: Callable[[int], str] = "{:,}".format
    tight = False

    def labels() -> dict[str, str]:
        return {name: f"{titles[name]} {number(counts.get(name, 0))}" for name in triage.BUCKETS}

    def fits() -> bool:
        return sum(len(label) + (1 if tight else 2) for label in labels().values()) <= width - 2

    for name in sorted(triage.BUCKETS, key=lambda n: -len(TITLES[n])):
        if fits():
            return labels(), tight
        titles[name] = SHORT_TITLES[name]
    if fits():
        return labels(), tight
    tight = True
    for number in ("{:,}".format, partial(compact_count, decimals=1), partial(compact_count, decimals=0)):  # noqa: B007
        if fits():
            break
    return labels(), tight


def compact_count(n: int, decimals: int = 1) -> str:
    """999 → 999; 1,234 → 1.2k (decimals=1) or 1k (0); 12,345 → 12k; 1,234,567 → 1.2M or 1M."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            value = n / size
            return f"{value:.{decimals if value < 10 else 0}f}{unit}"
    return str(n)


class BucketsScreen(Screen[None]):
    BINDINGS = [
        Binding("left", "tab(-1)", "Prev bucket", show=False),
        Binding("right", "tab(1)", "Next bucket", show=False),
        *(Binding(str(i + 1), f"bucket('{name}')", TITLES[name], show=False) for i, name in enumerate(triage.BUCKETS)),
        Binding("r", "retag", "Retag"),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("l", "log", "Log"),
        Binding("m", "merges", "Merges"),
        Binding("enter,v", "inspect", "Inspect", show=False),
        Binding("escape", "app.pop_screen", "Back"),
        Binding("question_mark", "app.help", "Help"),  # before the app's keys: visible at 80 columns
        Binding("b", "app.pop_screen", "Back to the targets", show=False),  # b toggles Buckets
    ]

    class Counted(Message):
        def __init__(self, counts: dict[str, int], merges: list[triage.Merge], roots: list[str]) -> None:
            super().__init__()
            self.counts, self.merges, self.roots = counts, merges, roots

    class BucketLoaded(Message):
        def __init__(self, name: str, frames: list[triage.BucketFrame]) -> None:
            super().__init__()
            self.name, self.frames = name, frames

    class FramesRetagged(Message):
        """A retag, an undo or an alias was written (or refused: error)."""

        def __init__(self, text: str, error: bool = False) -> None:
            super().__init__()
            self.text, self.error = text, error

    def __init__(self, bucket: str = "unknown") -> None:
        super().__init__()
        self.bucket = bucket
        self.merges: list[triage.Merge] = []
        self.counts: dict[str, int] = {}
        self.roots: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="buckets-header")
        yield Tabs(*(Tab(TITLES[n], id=n) for n in triage.BUCKETS), active=self.bucket, id="buckets-tabs")
        yield FrameList(id="buckets-list")
        yield Static(id="buckets-why")
        yield Static(id="buckets-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#buckets-tabs", Tabs).can_focus = False  # keys belong to the list
        self.query_one(FrameList).focus()
        self.reload()

    # -- loading

    def ledger_changed(self) -> None:
        """Another process wrote: fresh counts; the list and its marks stay until reloaded."""
        self._count()

    def reload(self) -> None:
        self._count()
        self._load(self.bucket)

    @work(thread=True, exclusive=True, exit_on_error=False, group="bucket-counts")
    def _count(self) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            self.post_message(self.Counted(*triage.overview(conn), ledger.root_paths(conn)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="bucket-rows")
    def _load(self, name: str) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            self.post_message(self.BucketLoaded(name, triage.bucket_rows(conn, name)))

    def on_buckets_screen_counted(self, message: Counted) -> None:
        self.counts = message.counts
        self.roots = message.roots
        frames = self.query_one(FrameList)
        frames.roots = message.roots
        frames.refresh()
        self._why(frames.current(), frames.current_group())
        self._label_tabs()
        self.merges = message.merges
        header = f"{sum(message.counts.values()):,} frames need a look"
        if message.merges:
            header += f" · {len(message.merges)} merge suggestion{'s' if len(message.merges) > 1 else ''} (m)"
        self.query_one("#buckets-header", Static).update(header)

    def on_resize(self, event: Resize) -> None:
        self._label_tabs()

    def _label_tabs(self) -> None:
        if not self.counts:
            return
        tabs = self.query_one("#buckets-tabs", Tabs)
        labels, tight = tab_labels(self.counts, self.size.width)
        tabs.set_class(tight, "-tight")
        for name, label in labels.items():
            tabs.query_one(f"#{name}", Tab).label = label
        # Tabs measures its underline only when a tab is activated: re-measure for the new widths
        # (a private method of the exactly pinned Textual; there is no public one)
        tabs.call_after_refresh(tabs._highlight_active, animate=False)

    def on_buckets_screen_bucket_loaded(self, message: BucketLoaded) -> None:
        if message.name == self.bucket:
            self.query_one(FrameList).set_frames(message.frames)

    @on(Tabs.TabActivated, "#buckets-tabs")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        name = event.tab.id or "unknown"
        if name != self.bucket:
            self.bucket = name
            self._load(name)
        self.query_one(FrameList).focus()

    def action_tab(self, step: int) -> None:
        i = triage.BUCKETS.index(self.bucket)
        self.action_bucket(triage.BUCKETS[(i + step) % len(triage.BUCKETS)])

    def action_bucket(self, name: str) -> None:
        self.query_one("#buckets-tabs", Tabs).active = name

    # -- status lines

    @on(FrameList.CursorMoved)
    def _cursor_moved(self, event: FrameList.CursorMoved) -> None:
        self._why(event.frame, event.group)

    def _why(self, frame: triage.BucketFrame | None, group: Group | None) -> None:
        why = self.query_one("#buckets-why", Static)
        if frame is not None:  # the whole path and reason, wrapped: the list cuts them
            text = safe(paths_below(f"{frame.path} — {frame.why}", self.roots))
            text.no_wrap, text.overflow = False, "fold"
            why.update(text)
        elif group is not None:
            folder = relative(group.folder, self.roots)
            why.update(safe(f"{folder} · night {group.night or '?'}", "bold"))
        else:
            why.update(safe("Nothing here." if self.bucket != "suspect" else "Nothing suspect.", "dim"))

    @on(FrameList.MarksChanged)
    def _marks_changed(self, event: FrameList.MarksChanged) -> None:
        self.query_one("#buckets-status", Static).update(
            safe(
                f"{event.marked:,} of {event.total:,} marked · a/n/i: this group · A/N/I: the whole bucket · "
                "Enter: inspect",
                "dim",
            )
        )

    # -- retag, undo, log, merges

    def _selection(self) -> tuple[list[int], str]:
        """The marked frames' file ids, or the cursor's frame when none is marked."""
        frames = self.query_one(FrameList)
        marked = frames.marked()
        if marked:
            return [f.file_id for f in marked], f"Buckets/{TITLES[self.bucket]}: {len(marked)} marked frames"
        current = frames.current()
        if current is None:
            return [], ""
        return [current.file_id], f"Buckets/{TITLES[self.bucket]}: {current.path}"

    def action_retag(self) -> None:
        file_ids, selection = self._selection()
        if not file_ids:
            self.notify("Mark frames with Space (a: the whole group), then r", markup=False)
            return
        if self.bucket == "unreadable":
            self.notify("Unreadable files have no header to retag", severity="warning", markup=False)
            return
        self.app.push_screen(RetagModal(file_ids, selection))

    def action_undo(self) -> None:
        self._write("undo")

    def apply_alias(self, merge: triage.Merge) -> None:
        self._write("alias", merge)

    @work(thread=True, exit_on_error=False, group="write")
    def _write(self, what: str, merge: triage.Merge | None = None) -> None:
        try:
            with ledger.writing(host(self.app).ledger_path) as conn:
                if what == "undo":
                    entry = history.undo(conn)
                    text = f"Undid: {entry.description}" if entry else "Nothing to undo"
                else:
                    assert merge is not None
                    text = retag.set_alias(conn, "target", merge.source, merge.into).description
        except ledger.LedgerError as e:
            self.post_message(self.FramesRetagged(str(e), error=True))
            return
        self.post_message(self.FramesRetagged(text))

    def on_buckets_screen_frames_retagged(self, message: FramesRetagged) -> None:
        self.notify(plain(message.text), severity="error" if message.error else "information", markup=False)
        if not message.error:
            self.reload()

    def action_log(self) -> None:
        self.app.push_screen(AuditModal())

    def action_merges(self) -> None:
        if not self.merges:
            self.notify("No two targets point at the same sky", markup=False)
            return
        self.app.push_screen(MergeModal(self.merges), self._merge_chosen)

    def _merge_chosen(self, merge: triage.Merge | None) -> None:
        if merge is not None:
            self.apply_alias(merge)

    def action_inspect(self) -> None:
        frame = self.query_one(FrameList).current()
        if frame is None or self.bucket == "missing":
            return
        self.app.push_screen(InspectorScreen(frame.path))


class RetagModal(ModalScreen[None]):
    """Pick a field, type a value (existing ones are offered), see "Retag 312 frames: target
    (none) → M31", apply with Enter. The write happens here, under the writer lock."""

    FIELD_CHOICES = ("target", "filter", "image_type", "status")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "field(-1)", "Previous field", show=False),
        Binding("down", "field(1)", "Next field", show=False),
    ]

    class Previewed(Message):
        def __init__(self, text: str, frames: int, known: list[str]) -> None:
            super().__init__()
            self.text, self.frames, self.known = text, frames, known

    def __init__(self, file_ids: list[int], selection: str) -> None:
        super().__init__()
        self.file_ids = file_ids
        self.selection = selection
        self.identities: set[int] | None = None
        self.known: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="retag-box"):
            yield Label(f"Retag {len(self.file_ids):,} frame{'s' if len(self.file_ids) != 1 else ''}", id="retag-title")
            with RadioSet(id="retag-field"):
                for i, name in enumerate(self.FIELD_CHOICES):
                    yield Choice(name, value=i == 0)
            yield Input(placeholder="new value ('-' drops an earlier retag) · ↑/↓ field", id="retag-value")
            yield Static(id="retag-known")
            yield Static("…", id="retag-preview")
            with Horizontal(id="retag-buttons"):
                yield Button("Apply", variant="primary", id="retag-apply")
                yield Button("Cancel", id="retag-cancel")

    def on_mount(self) -> None:
        self.query_one("#retag-value", Input).focus()
        self._preview(self._field(), "")

    def action_field(self, step: int) -> None:
        """↑/↓ choose the field without leaving the value box."""
        buttons = list(self.query(Choice))
        index = (self.FIELD_CHOICES.index(self._field()) + step) % len(buttons)
        buttons[index].value = True

    def _field(self) -> str:
        return self.FIELD_CHOICES[max(self.query_one("#retag-field", RadioSet).pressed_index, 0)]

    @on(RadioSet.Changed, "#retag-field")
    def _field_changed(self) -> None:
        value = self.query_one("#retag-value", Input)
        value.value = ""
        value.focus()
        self._preview(self._field(), "")

    @on(Input.Changed, "#retag-value")
    def _value_changed(self, event: Input.Changed) -> None:
        self._preview(self._field(), event.value)
        self._offer()

    def _offer(self) -> None:
        """Existing values that contain what is typed (the suggester completes the first with →)."""
        typed = self.query_one("#retag-value", Input).value.strip().lower()
        offered = [k for k in self.known if typed in k.lower()][:8]
        self.query_one("#retag-known", Static).update(safe("existing: " + ", ".join(offered), "dim") if offered else "")

    @work(thread=True, exclusive=True, exit_on_error=False, group="retag-preview")
    def _preview(self, field: str, text: str) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            if self.identities is None:
                self.identities = retag.identities_of_files(conn, self.file_ids)
            known = retag.known_values(conn, field)
            try:
                value = retag.normalise_value(field, text)
            except retag.RetagError as e:
                self.post_message(self.Previewed(str(e), 0, known))
                return
            if not text.strip():
                self.post_message(self.Previewed(f"Type a {field}", 0, known))
                return
            pv = retag.preview(conn, self.identities, {field: value})
            text_out = "Retag " + pv.describe({field: value}) if pv.frames else "No frame would change"
            self.post_message(self.Previewed(text_out, pv.frames, known))

    def on_retag_modal_previewed(self, message: Previewed) -> None:
        self.query_one("#retag-preview", Static).update(safe(message.text, "bold" if message.frames else "dim"))
        if message.known != self.known:
            self.known = message.known
            self.query_one("#retag-value", Input).suggester = SuggestFromList(message.known, case_sensitive=False)
            self._offer()

    @on(Button.Pressed, "#retag-apply")
    @on(Input.Submitted, "#retag-value")
    def _apply_pressed(self) -> None:
        self._apply(self._field(), self.query_one("#retag-value", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="retag-apply")
    def _apply(self, field: str, text: str) -> None:
        if not text.strip():
            return
        try:
            with ledger.writing(host(self.app).ledger_path) as conn:
                identities = self.identities or retag.identities_of_files(conn, self.file_ids)
                result = retag.retag(conn, identities, {field: text}, self.selection)
        except ledger.LedgerError as e:  # RetagError too
            self.post_message(self.Previewed(str(e), 0, self.known))
            return
        self.app.call_from_thread(self._done, result)

    def _done(self, result: retag.Result) -> None:
        self.dismiss(None)
        screen = self.app.screen
        text = f"Retagged {result.description}  (Ctrl+Z undoes)" if result.audit_id else "No frame changed"
        if isinstance(screen, BucketsScreen):
            screen.post_message(BucketsScreen.FramesRetagged(text))
        else:
            self.app.notify(text, markup=False)

    @on(Button.Pressed, "#retag-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class AuditModal(ModalScreen[None]):
    """The audit log, newest first: when, what, which frames, undone or not; the whole entry of
    the row under the cursor below the table (the columns cut long ones at 80 columns)."""

    BINDINGS = [Binding("escape,l,q", "close", "Close")]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[history.AuditEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="audit-box"):
            yield Label("Retags and aliases, newest first (Ctrl+Z on the Buckets screen undoes the newest)")
            yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="audit-entry")

    def on_mount(self) -> None:
        table = self.query_one("#audit-table", DataTable)
        # the box is the screen's width: border 2, padding 2, scrollbar 2, 4 cells of padding 2
        rest = max(20, self.app.size.width - 6 - 8 - 16 - 6)
        change = rest * 3 // 5
        columns(table, ("when", 16), ("change", change), ("selection", rest - change), ("state", 6))
        table.focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            entries = history.audit_log(conn)
        self.app.call_from_thread(self._show, entries)

    def _show(self, entries: list[history.AuditEntry]) -> None:
        self.entries = entries
        table = self.query_one("#audit-table", DataTable)
        with self.app.batch_update():
            for e in entries:
                table.add_row(
                    safe(e.when[:16]), safe(e.description), safe(e.selection), safe("undone" if e.undone_ms else "")
                )
            if not entries:
                table.add_row(safe("(no retags yet)"), safe(""), safe(""), safe(""))
        self._entry(0)

    @on(DataTable.RowHighlighted, "#audit-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._entry(event.cursor_row)

    def _entry(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        e = self.entries[row]
        text = safe(f"{e.when} · {e.description} · {e.selection}" + (" · undone" if e.undone_ms else ""))
        text.no_wrap, text.overflow = False, "fold"
        self.query_one("#audit-entry", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)


class MergeModal(ModalScreen[triage.Merge | None]):
    """Targets whose frames point at the same sky, each pair both ways: Enter makes the left
    name an alias of the right one."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, merges: list[triage.Merge]) -> None:
        super().__init__()
        self.choices = [
            way
            for m in merges
            for way in (
                m,
                replace(m, source=m.into, into=m.source, source_frames=m.into_frames, into_frames=m.source_frames),
            )
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="merge-box"):
            yield Label("Same sky, two names. Enter makes the left name an alias of the right one (Ctrl+Z undoes):")
            yield OptionList(
                *(
                    Option(
                        safe(
                            f"{fit(m.source, 20)} ({m.source_frames:,}) → alias of {fit(m.into, 16)} "
                            f"({m.into_frames:,})  {m.separation_deg:.2f}°"
                        ),
                        id=str(i),
                    )
                    for i, m in enumerate(self.choices)
                ),
                id="merge-list",
            )

    @on(OptionList.OptionSelected, "#merge-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id or 0)])

    def action_close(self) -> None:
        self.dismiss(None)
