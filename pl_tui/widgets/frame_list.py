"""A list of thousands of frames, grouped by folder and night, with marks: the Buckets screen's body.

A Line-API widget: only the visible lines are drawn, from plain Python lists, so loading, marking
or inverting 100,000 frames costs a set operation and one repaint — never a widget per frame.
Marks are indices into the frame list; the screen asks for :meth:`marked` when it retags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..domain.triage import BucketFrame
from .safe import fit, paths_below, plain, relative


@dataclass(slots=True)
class Group:
    folder: str
    night: str | None
    start: int  # frames[start:end] belong to it
    end: int
    marked: int = 0


class FrameList(ScrollView, can_focus=True):
    """Rows: a header line per (folder, night) group, then its frames. Keys act on the cursor's
    group (a/n/i) or on every frame (A/N/I); Space marks one frame, or on a header its group."""

    COMPONENT_CLASSES = {"frame-list--cursor", "frame-list--group", "frame-list--mark", "frame-list--why"}
    DEFAULT_CSS = """
    FrameList { height: 1fr; background: $surface; }
    FrameList > .frame-list--cursor { background: $primary 45%; }
    FrameList:focus > .frame-list--cursor { background: $primary; color: $text; }
    FrameList > .frame-list--group { color: $secondary; text-style: bold; }
    FrameList > .frame-list--mark { color: $success; text-style: bold; }
    FrameList > .frame-list--why { color: $text-muted; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("space", "mark_one", "Mark"),
        # a/n/i are in the status line and the help: the footer keeps room for Help at 80 columns
        Binding("a", "mark('group', 'all')", "Mark group", show=False),
        Binding("n", "mark('group', 'none')", "Unmark group", show=False),
        Binding("i", "mark('group', 'invert')", "Invert group", show=False),
        Binding("A", "mark('bucket', 'all')", "All in bucket", show=False),
        Binding("N", "mark('bucket', 'none')", "None in bucket", show=False),
        Binding("I", "mark('bucket', 'invert')", "Invert bucket", show=False),
    ]

    class CursorMoved(Message):
        """The frame (None on a group header) or group under the cursor changed."""

        def __init__(self, frame: BucketFrame | None, group: Group | None) -> None:
            super().__init__()
            self.frame, self.group = frame, group

    class MarksChanged(Message):
        def __init__(self, marked: int, total: int) -> None:
            super().__init__()
            self.marked, self.total = marked, total

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.frames: list[BucketFrame] = []
        self.groups: list[Group] = []
        self._rows: list[int] = []  # ≥ 0: a frame index; < 0: -(group index + 1)
        self._group_of: list[int] = []  # frame index → group index
        self.marks: set[int] = set()
        self.cursor = 0
        self.roots: list[str] = []  # the archive roots: folders are shown below them

    # -- data

    def set_frames(self, frames: Sequence[BucketFrame]) -> None:
        """Show these frames (sorted by folder, night, name), cursor at the top, nothing marked."""
        self.frames = list(frames)
        self.groups, self._rows, self._group_of = [], [], []
        for i, f in enumerate(self.frames):
            g = self.groups[-1] if self.groups else None
            if g is None or (g.folder, g.night) != (f.folder, f.session_date):
                g = Group(f.folder, f.session_date, i, i)
                self.groups.append(g)
                self._rows.append(-len(self.groups))
            g.end = i + 1
            self._group_of.append(len(self.groups) - 1)
            self._rows.append(i)
        self.marks = set()
        self.cursor = 1 if self.frames else 0  # the first frame, not its group's header
        self.virtual_size = Size(self.size.width, len(self._rows))
        self.scroll_to(y=0, animate=False)
        self.refresh()
        self._moved()
        self.post_message(self.MarksChanged(0, len(self.frames)))

    def marked(self) -> list[BucketFrame]:
        return [self.frames[i] for i in sorted(self.marks)]

    def current(self) -> BucketFrame | None:
        if not self._rows:
            return None
        row = self._rows[self.cursor]
        return self.frames[row] if row >= 0 else None

    def current_group(self) -> Group | None:
        if not self._rows:
            return None
        row = self._rows[self.cursor]
        return self.groups[-row - 1] if row < 0 else self.groups[self._group_of[row]]

    # -- keys

    def action_move(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, where: int) -> None:
        self._set_cursor(0 if where == 0 else len(self._rows) - 1)

    def action_mark_one(self) -> None:
        if not self._rows:
            return
        row = self._rows[self.cursor]
        if row < 0:
            g = self.groups[-row - 1]
            self._apply(g.start, g.end, "none" if g.marked == g.end - g.start else "all")
            return
        self._apply(row, row + 1, "invert")
        self._set_cursor(self.cursor + 1)  # mark a run of frames by holding Space

    def action_mark(self, scope: str, how: str) -> None:
        g = self.current_group()
        if g is not None:
            self._apply(*((0, len(self.frames)) if scope == "bucket" else (g.start, g.end)), how)

    def _apply(self, first: int, end: int, how: str) -> None:
        """Mark (all), unmark (none) or invert frames[first:end]: set operations, then a recount
        of the groups they span and one repaint."""
        chosen = range(first, end)
        if how == "all":
            self.marks.update(chosen)
        elif how == "none":
            self.marks.difference_update(chosen)
        else:
            self.marks.symmetric_difference_update(chosen)
        for gi in range(self._group_of[first], self._group_of[end - 1] + 1):
            g = self.groups[gi]
            g.marked = sum(1 for i in range(g.start, g.end) if i in self.marks)
        self.refresh()
        self.post_message(self.MarksChanged(len(self.marks), len(self.frames)))

    def _set_cursor(self, row: int) -> None:
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row == self.cursor:
            return
        self.cursor = row
        height = self.scrollable_content_region.height or 1
        top = round(self.scroll_offset.y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False)
        self.refresh()
        self._moved()

    def _moved(self) -> None:
        self.post_message(self.CursorMoved(self.current(), self.current_group()))

    def on_click(self, event: Click) -> None:
        self._set_cursor(round(self.scroll_offset.y) + event.y)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows))

    # -- drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row_index = round(self.scroll_offset.y) + y
        base = self.rich_style
        if row_index >= len(self._rows):
            return Strip.blank(width, base)
        row = self._rows[row_index]
        cursor = self.get_component_rich_style("frame-list--cursor") if row_index == self.cursor else Style()
        if row < 0:
            g = self.groups[-row - 1]
            n = g.end - g.start
            tail = f" · night {g.night or '?'} — {n:,} frame{'s' if n != 1 else ''}"
            tail += f", {g.marked:,} marked" if g.marked else ""
            room = max(8, width - 2 - len(tail))
            folder = plain(relative(g.folder, self.roots))
            folder = folder if len(folder) <= room else "…" + folder[-(room - 1) :]
            style = base + self.get_component_rich_style("frame-list--group") + cursor
            segments = [Segment(f"▾ {folder}{tail}", style)]
        else:
            f = self.frames[row]
            name_w = max(14, min(36, width // 3))
            mark = "● " if row in self.marks else "  "
            body = f"{fit(f.name, name_w)} {fit(f.target or '—', 12)} {fit(f.filter or '—', 6)} "
            segments = [
                Segment("  " + mark, base + self.get_component_rich_style("frame-list--mark") + cursor),
                Segment(body, base + cursor),
                Segment(
                    plain(paths_below(f.why, self.roots)),
                    base + self.get_component_rich_style("frame-list--why") + cursor,
                ),
            ]
        return Strip(segments).adjust_cell_length(width, base + cursor)
