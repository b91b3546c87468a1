"""Targets: the target → filter → night tree with hours, frames, nights and last seen, a search
box, and a details pane (sessions and rigs of a target; the frames of a night).

The tree keeps the user's place: every reload (a goal, a live frame, a scan, a retag in another
process) rebuilds it in one pass from one worker's reads, with the same nodes open, the cursor on
the same node and the same scroll offset; and the details pane always shows the cursor's node.
Below 116 columns the details pane goes under the tree instead of beside it (80×24 over SSH).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode

from .. import ledger
from ..domain import frames, rigs
from ..widgets.host import host
from ..widgets.safe import columns, fit, hours, plain, progress_bar, relative, safe
from .inspector import InspectorScreen
from .modals import GoalModal, GoalsModal
from .timeline import TimelineScreen

NodeKind = Literal["target", "filter", "night"]  # the tree's three levels


@dataclass(slots=True, frozen=True)
class Node:
    kind: NodeKind
    target: str | None
    filter: str | None = None
    night: str | None = None


@dataclass(slots=True)
class Place:
    """Where the user is in the tree: what is open, the cursor's node, the scroll offset."""

    open: set[Node] = field(default_factory=set)
    cursor: Node | None = None
    scroll_y: int = 0


# Tree rows line up under one header: the tree indents deeper levels (4 more cells for a
# filter, 6 for a night), so their names are that much narrower.
NAME_WIDTH = {"target": 16, "filter": 12, "night": 10}
SORTS = ("name", "hours", "last seen")
NARROW = 116  # below this width the details pane goes under the tree
LEFT_WIDTH = 53  # the tree's column when the details are beside it (app.tcss)


def tree_header(sort: str) -> str:
    mark = dict.fromkeys(SORTS, "")
    mark[sort] = "▲" if sort == "name" else "▼"
    return (
        f"{'target' + mark['name']:<16} {'hours' + mark['hours']:>7} {'frames':>6} {'nights':>6} "
        f"{'last seen' + mark['last seen']:>10}"
    )


def _label(name: object, s: ledger.Summary | ledger.SessionRow, kind: NodeKind, goal: rigs.Goal | None = None) -> str:
    width = NAME_WIDTH[kind]
    if isinstance(s, ledger.SessionRow):
        return f"{fit(name, width)} {hours(s.total_exposure_s / 3600):>7} {s.frame_count:>6}"
    last = s.last_seen or ""
    if goal is not None:  # a filter with a goal: its progress instead of the last night
        last = progress_bar(goal.fraction, 5) + f"{min(999, round(goal.fraction * 100)):>4}%"
    return f"{fit(name, width)} {hours(s.hours):>7} {s.frames:>6} {s.nights:>6} {last:>10}"


def sort_summaries(rows: list[ledger.Summary], sort: str) -> list[ledger.Summary]:
    """Name: as the ledger orders them; hours and last seen: most first (nameless last)."""
    if sort == "hours":
        return sorted(rows, key=lambda s: -s.hours)
    if sort == "last seen":
        return sorted(rows, key=lambda s: s.last_seen or "", reverse=True)
    return rows


class TargetTree(Tree[Node]):
    """The tree with Left folding a node (or going to its parent) and Right unfolding it (or
    going to its first child), as in a file manager."""

    BINDINGS = [
        Binding("left", "fold", "Fold", show=False),
        Binding("right", "unfold", "Unfold", show=False),
    ]

    def action_fold(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_unfold(self) -> None:
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        if not node.is_expanded:
            node.expand()
        elif node.children and node.children[0].data is not None:
            self.move_cursor(node.children[0])


class TargetsScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("i", "inspect", "Inspect"),
        Binding("h", "timeline", "Timeline"),
        Binding("e", "export", "Export"),
        Binding("s", "sort", "Sort: name / hours / last seen", show=False),
        Binding("g", "goal", "Goal for this filter", show=False),
        Binding("G", "goals", "Goals: all, with progress", show=False),
        Binding("r", "rescan", "Rescan", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    class Loaded(Message):
        """The whole tree (node None: targets and every open node's children) or one node's children."""

        def __init__(
            self,
            node: TreeNode | None,
            rows: list,
            generation: int,
            overview: tuple | None = None,
            children: dict[Node, list] | None = None,
            place: Place | None = None,
        ) -> None:
            super().__init__()
            self.node, self.rows, self.generation = node, rows, generation
            self.overview, self.children, self.place = overview, children or {}, place

    class Detailed(Message):
        def __init__(self, node: Node, sessions: list, rigs: list, frames: list, roots: list[str]) -> None:
            super().__init__()
            self.node, self.sessions, self.rigs, self.frames, self.roots = node, sessions, rigs, frames, roots

    def __init__(self) -> None:
        super().__init__()
        self.sort = SORTS[0]
        self._goals: dict[tuple[str, str], rigs.Goal] = {}  # replaced (not mutated) by each load
        self._generation = 0  # a node's children loaded before the last rebuild are dropped
        self._detailed: Node | None = None  # what the details pane shows
        self._away = False  # another screen is on top: reload when we are shown again
        self._frames: list[ledger.NightFrame] = []
        self._roots: list[str] = []
        self._inspect_pending: Node | None = None  # Enter on a night whose frames are loading
        self._wanted: Place | None = None  # where a reload was asked to go, until it lands

    def compose(self) -> ComposeResult:
        yield Static(id="targets-header")
        with Horizontal(id="targets-body"):
            with Vertical(id="targets-left"):
                yield Input(placeholder="/ search targets", id="targets-search")
                yield Static(tree_header(self.sort), id="targets-columns")
                tree = TargetTree("targets", id="targets-tree")
                tree.show_root = False
                yield tree
            with Vertical(id="targets-right"):
                yield Static(id="details-title")
                yield DataTable(id="details-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="details-rigs")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#targets-tree", Tree).focus()
        self.reload()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    def on_screen_suspend(self) -> None:
        self._away = True

    def on_screen_resume(self) -> None:
        """Back from Buckets, a merge, the inspector: the same place, the ledger's numbers now
        (a retag there renames and moves frames; the 2 s ledger check would show it late)."""
        if self._away:
            self._away = False
            self.reload()

    # -- loading (thread workers with their own connections; results come back as messages)

    def _tree(self) -> Tree[Node]:
        return self.query_one("#targets-tree", Tree)

    def place(self) -> Place:
        tree = self._tree()
        cursor = tree.cursor_node
        return Place(
            {n.data for n in _walk(tree.root) if n.is_expanded and n.data is not None},
            cursor.data if cursor is not None else None,
            round(tree.scroll_offset.y),
        )

    def reload(self, place: Place | None = None) -> None:
        """Read the tree again, keeping the user's place (or going to ``place``, also when another
        reload comes before this one has landed)."""
        if place is not None:
            self._wanted = place
        self._generation += 1
        search = self.query_one("#targets-search", Input).value.strip() or None
        self._load_tree(search, self.sort, self._wanted or self.place(), self._generation)

    def ledger_changed(self) -> None:
        """New data from a scan, a retag, a goal or a live frame: the same place, fresh numbers."""
        self.reload()

    @work(thread=True, exit_on_error=False, group="tree")  # a newer reload wins by its generation
    def _load_tree(self, search: str | None, sort: str, place: Place, generation: int) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            rows = sort_summaries(ledger.target_summaries(conn, search), sort)
            goals = {(g.target, g.filter): g for g in rigs.goals(conn, host(self.app).config.goals)}
            targets = {s.name for s in rows}
            children: dict[Node, list] = {}
            for node in place.open:  # the open nodes' children, read now rather than one by one
                if node.target not in targets:
                    continue
                if node.kind == "target":
                    children[node] = sort_summaries(ledger.filter_summaries(conn, node.target), sort)
                elif node.kind == "filter" and Node("target", node.target) in place.open:
                    children[node] = ledger.sessions(conn, node.target or "-", node.filter or "-")
            overview = ledger.overview(conn)
        self._goals = goals
        self.post_message(self.Loaded(None, rows, generation, overview, children, place))

    @work(thread=True, exit_on_error=False, group="tree-node")
    def _load_node(self, tree_node: TreeNode, node: Node, sort: str, generation: int) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            if node.kind == "target":
                rows: list = sort_summaries(ledger.filter_summaries(conn, node.target), sort)
            else:
                rows = ledger.sessions(conn, node.target or "-", node.filter or "-")
        self.post_message(self.Loaded(tree_node, rows, generation))

    def on_targets_screen_loaded(self, message: TargetsScreen.Loaded) -> None:
        if message.generation != self._generation:
            return  # a newer reload is on its way
        tree = self._tree()
        with self.app.batch_update():
            if message.node is not None:
                message.node.remove_children()
                self._fill(message.node, message.rows, {}, set())
                return
            assert message.place is not None
            self._wanted = None
            self._header(message.overview or (0, 0.0, 0))
            place = message.place
            tree.clear()
            for s in message.rows:
                child = tree.root.add(safe(_label(s.name or "(no target)", s, "target")), data=Node("target", s.name))
                if child.data in message.children:
                    self._fill(child, message.children[child.data], message.children, place.open)
                    child.expand()
            tree.get_node_at_line(0)  # lay the lines out now: the nodes get their line numbers
            tree.scroll_to(y=place.scroll_y, animate=False, immediate=True)
            cursor = _find(tree.root, place.cursor) or (tree.root.children[0] if tree.root.children else None)
            if cursor is not None:
                tree.move_cursor(cursor)
        self._show_details()

    def _fill(self, parent: TreeNode, rows: list, children: dict[Node, list], open_: set[Node]) -> None:
        data = parent.data
        assert isinstance(data, Node)
        for s in rows:
            if data.kind == "target":
                goal = self._goals.get((data.target, s.name)) if data.target and s.name else None
                label = safe(_label(s.name or "(no filter)", s, "filter", goal))
                child = parent.add(label, data=Node("filter", data.target, s.name))
                if child.data in open_ and child.data in children:
                    self._fill(child, children[child.data], children, open_)
                    child.expand()
            else:
                node = Node("night", data.target, data.filter, s.session_date)
                parent.add_leaf(safe(_label(s.session_date or "(no date)", s, "night")), data=node)

    def _header(self, overview: tuple) -> None:
        frames, total_hours, targets = overview
        live = " · ● live" if host(self.app).live else ""
        starved = next(iter(sorted(self._goals.values(), key=lambda g: g.fraction)), None)
        hungry = (
            f" · starved: {plain(starved.target)} {plain(starved.filter)} {starved.fraction:.0%} of "
            f"{starved.goal_hours:g} h"
            if starved is not None and starved.fraction < 1
            else ""
        )
        self.query_one("#targets-header", Static).update(
            safe(f"{frames:,} frames · {hours(total_hours)} · {targets:,} targets{live}{hungry}")
        )

    @on(Tree.NodeExpanded, "#targets-tree")
    def _expanded(self, event: Tree.NodeExpanded[Node]) -> None:
        node = event.node
        if node.data is not None and node.data.kind in ("target", "filter") and not node.children:
            node.add_leaf(safe("loading…", "dim"))
            self._load_node(node, node.data, self.sort, self._generation)

    @on(Tree.NodeHighlighted, "#targets-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[Node]) -> None:
        if event.node.data is not None:
            self._details(event.node.data)

    @on(Tree.NodeSelected, "#targets-tree")
    def _selected(self, event: Tree.NodeSelected[Node]) -> None:
        """Enter on a night opens the inspector on its first frame (the hint says so)."""
        data = event.node.data
        if data is not None and data.kind == "night":
            if self._detailed == data and self._frames:
                self.action_inspect()
            else:
                self._inspect_pending = data

    def _show_details(self) -> None:
        """The details pane follows the cursor, also when the tree changed under it without a
        highlight (a reload, a search, a jump, a merge)."""
        cursor = self._tree().cursor_node
        if cursor is not None and cursor.data is not None:
            self._details(cursor.data)
            return
        self._detailed, self._frames = None, []
        search = self.query_one("#targets-search", Input).value.strip()
        self.query_one("#details-table", DataTable).clear(columns=True)
        self.query_one("#details-title", Static).update(
            safe(f"No target matches {search!r}" if search else "No counting frames yet", "bold")
        )
        self.query_one("#details-rigs", Static).update("")

    @work(thread=True, exit_on_error=False, group="details")  # a stale answer is dropped on arrival
    def _details(self, node: Node) -> None:
        with ledger.reading(host(self.app).ledger_path) as conn:
            target, filt = node.target or "-", node.filter
            roots = ledger.root_paths(conn)
            if node.kind == "night":
                in_night = ledger.night_frames(conn, node.night or "", node.target, node.filter)
                self.post_message(self.Detailed(node, [], [], in_night, roots))
            else:
                sessions = ledger.sessions(conn, target, (filt or "-") if node.kind == "filter" else None)
                used = frames.rigs_used(conn, node.target, (filt or "-") if node.kind == "filter" else None)
                self.post_message(self.Detailed(node, sessions, used, [], roots))

    def on_targets_screen_detailed(self, message: TargetsScreen.Detailed) -> None:
        node = message.node
        cursor = self._tree().cursor_node
        if cursor is None or cursor.data != node:
            return  # the cursor moved on: its own details are on their way
        self._detailed = node
        table = self.query_one("#details-table", DataTable)
        with self.app.batch_update():
            table.clear(columns=True)
            title = self.query_one("#details-title", Static)
            rigs_line = self.query_one("#details-rigs", Static)
            if node.kind == "night":
                title.update(
                    safe(f"{plain(node.target)} · {plain(node.filter) or 'no filter'} · night of {node.night}", "bold")
                )
                columns(
                    table, ("time (UTC)", 12), ("exp s", 6), ("°C", 5), ("status", 9), ("file", self._room(12, 6, 5, 9))
                )
                for i, f in enumerate(message.frames):
                    t = (f.date_obs_utc or "")[11:23]
                    table.add_row(
                        safe(t),
                        safe(f.exposure_s),
                        safe(f.ccd_temp),
                        safe(f.status),
                        safe(f.path.rsplit("/", 1)[-1]),
                        key=str(i),
                    )
                self._frames, self._roots = message.frames, message.roots
                self._frame_line(0)
                if self._inspect_pending == node:
                    self._inspect_pending = None
                    self.action_inspect()
                return
            self._frames = []
            what = plain(node.target) or "(no target)"
            if node.kind == "filter":
                what += " · " + (plain(node.filter) or "no filter")
            title.update(safe(what, "bold"))
            columns(
                table, ("night", 10), ("filter", 8), ("frames", 6), ("hours", 7), ("camera", self._room(10, 8, 6, 7))
            )
            for s in message.sessions:
                table.add_row(
                    safe(s.session_date),
                    safe(s.filter),
                    safe(s.frame_count),
                    safe(f"{s.total_exposure_s / 3600:.2f}"),
                    safe(s.instrume),
                )
            rigs_line.update(safe("rigs: " + "; ".join(f"{r} ({h:.1f} h)" for r, _n, h in message.rigs)))

    @on(DataTable.RowHighlighted, "#details-table")
    def _frame_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._frame_line(event.cursor_row)

    def _frame_line(self, row: int) -> None:
        """Under a night's frames: where the highlighted one is (the table shows its name only)."""
        if not 0 <= row < len(self._frames):
            return
        where = relative(self._frames[row].path.rsplit("/", 1)[0], self._roots)
        self.query_one("#details-rigs", Static).update(
            safe(f"in {where} · {len(self._frames)} files · Enter or i: inspect", "dim")
        )

    def _room(self, *others: int) -> int:
        """The width the details table leaves its last column (no sideways scrolling)."""
        width = self.size.width if self.size.width < NARROW else self.size.width - LEFT_WIDTH
        return max(16, min(40, width - 2 - 2 * (len(others) + 1) - sum(others)))

    # -- actions

    def action_search(self) -> None:
        self.query_one("#targets-search", Input).focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#targets-search", Input)
        if search.value:
            search.value = ""
        self._tree().focus()

    @on(Input.Changed, "#targets-search")
    def _search_changed(self) -> None:
        self.reload(Place())  # a new search starts at the top

    @on(Input.Submitted, "#targets-search")
    def _search_submitted(self) -> None:
        self._tree().focus()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.query_one("#targets-columns", Static).update(tree_header(self.sort))
        place = self.place()
        place.scroll_y = 0  # the order changed: the cursor's node decides where the view goes
        self.reload(place)
        self.notify(f"Sorted by {self.sort}", markup=False, timeout=2)

    def current_target(self) -> str | None:
        """The cursor's target for the export modal: '-' stands for the frames without one."""
        node = self._tree().cursor_node
        if node is None or node.data is None:
            return None
        return node.data.target if node.data.target is not None else "-"

    def action_export(self) -> None:
        host(self.app).action_export()

    def action_rescan(self) -> None:
        host(self.app).action_rescan()

    @on(DataTable.RowSelected, "#details-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_inspect(event.cursor_row)

    def action_inspect(self, row: int | None = None) -> None:
        frames = self._frames
        if not frames:
            self.notify("Highlight a night in the tree, then pick a frame", markup=False)
            return
        if row is None:
            row = self.query_one("#details-table", DataTable).cursor_row
        self.app.push_screen(InspectorScreen(frames[max(0, min(row, len(frames) - 1))].path))

    def action_timeline(self) -> None:
        node = self._tree().cursor_node
        self.app.push_screen(TimelineScreen(node.data.target if node is not None and node.data else None))

    def action_goal(self) -> None:
        node = self._tree().cursor_node
        data = node.data if node is not None else None
        if data is None or data.kind not in ("filter", "night") or not data.target or not data.filter:
            self.notify("Put the cursor on a filter of a target, then g", markup=False)
            return
        goal = self._goals.get((data.target, data.filter))
        self.app.push_screen(GoalModal(data.target, data.filter, goal.goal_hours if goal else None), self._goal_set)

    def _goal_set(self, changed: bool | None) -> None:
        if changed:
            self.reload()

    def action_goals(self) -> None:
        self.app.push_screen(GoalsModal(), self._goal_chosen)

    def _goal_chosen(self, chosen: tuple[str, str] | None) -> None:
        """Enter on a goal: that target's filter in the tree, the search cleared."""
        if chosen is None:
            return
        target, filt = chosen
        search = self.query_one("#targets-search", Input)
        with search.prevent(Input.Changed):
            search.value = ""
        self._tree().focus()
        self.reload(Place({Node("target", target)}, Node("filter", target, filt)))

    def jump_to(self, target: str) -> None:
        search = self.query_one("#targets-search", Input)
        search.value = target
        self._tree().focus()


def _walk(node: TreeNode):
    for child in node.children:
        yield child
        yield from _walk(child)


def _find(root: TreeNode, data: Node | None) -> TreeNode | None:
    """The node showing ``data``; else its nearest shown ancestor (a night gone: its filter)."""
    if data is None:
        return None
    nodes = {n.data: n for n in _walk(root) if n.data is not None}
    for candidate in (data, Node("filter", data.target, data.filter), Node("target", data.target)):
        if candidate.kind == "filter" and data.kind == "target":
            continue
        if candidate in nodes:
            return nodes[candidate]
    return None
