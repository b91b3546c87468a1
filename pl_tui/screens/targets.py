"""Targets: the target → filter → night tree with hours, frames, nights and last seen, a search
box, and a details pane (sessions and rigs of a target; the frames of a night)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static, Tree
from textual.widgets.tree import TreeNode

from .. import ledger as L
from .. import rigs as G
from ..widgets.safe import columns, fit, hours, plain, safe


@dataclass(slots=True, frozen=True)
class Node:
    kind: str  # target, filter, night
    target: str | None
    filter: str | None = None
    night: str | None = None


# Tree rows line up under one header: the tree indents deeper levels (4 more cells for a
# filter, 6 for a night), so their names are that much narrower.
NAME_WIDTH = {"target": 16, "filter": 12, "night": 10}
TREE_HEADER = f"{'target':<16} {'hours':>7} {'frames':>6} {'nights':>6} {'last seen':>10}"


def _label(name: object, s: L.Summary | L.SessionRow, kind: str, goal: G.Goal | None = None) -> str:
    width = NAME_WIDTH[kind]
    if isinstance(s, L.SessionRow):
        return f"{fit(name, width)} {hours(s.total_exposure_s / 3600):>7} {s.frame_count:>6}"
    last = s.last_seen or ""
    if goal is not None:  # a filter with a goal: its progress instead of the last night
        done = min(1.0, goal.fraction)
        last = "█" * round(done * 5) + "░" * (5 - round(done * 5)) + f"{min(999, round(goal.fraction * 100)):>4}%"
    return f"{fit(name, width)} {hours(s.hours):>7} {s.frames:>6} {s.nights:>6} {last:>10}"


class TargetsScreen(Screen[None]):
    _goals: dict[tuple[str, str], G.Goal] = {}  # replaced (not mutated) by each load
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("e", "export", "Export"),
        Binding("i", "inspect", "Inspect frame"),
        Binding("r", "rescan", "Rescan"),
        Binding("h", "timeline", "Timeline"),
        Binding("g", "goal", "Goal"),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    class Loaded(Message):
        def __init__(self, node: TreeNode | None, rows: list, overview: tuple | None = None) -> None:
            super().__init__()
            self.node = node
            self.rows = rows
            self.overview = overview

    class Detailed(Message):
        def __init__(self, node: Node, sessions: list, rigs: list, frames: list) -> None:
            super().__init__()
            self.node, self.sessions, self.rigs, self.frames = node, sessions, rigs, frames

    def compose(self) -> ComposeResult:
        yield Static(id="targets-header")
        with Horizontal(id="targets-body"):
            with Vertical(id="targets-left"):
                yield Input(placeholder="/ search targets", id="targets-search")
                yield Static(TREE_HEADER, id="targets-columns")
                tree: Tree[Node] = Tree("targets", id="targets-tree")
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

    # -- loading (thread workers with their own connections; results come back as messages)

    def reload(self, search: str | None = None) -> None:
        self._load(None, Node("root", None), search)

    def ledger_changed(self) -> None:
        """New data from a scan or a retag: reload, keeping what is expanded and the cursor."""
        tree = self.query_one("#targets-tree", Tree)
        self._keep_open = {
            n.data for n in _walk(tree.root) if n.is_expanded and n.data is not None and n is not tree.root
        }
        self._keep_cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        self.reload(self.query_one("#targets-search", Input).value.strip() or None)

    @work(thread=True, exit_on_error=False, group="tree")
    def _load(self, tree_node: TreeNode | None, node: Node, search: str | None = None) -> None:
        with L.reading(self.app.ledger_path) as conn:  # type: ignore[attr-defined]
            if node.kind == "root":
                rows = L.target_summaries(conn, search)
                self._goals = {(g.target, g.filter): g for g in G.goals(conn, self.app.config.goals)}  # type: ignore[attr-defined]
                self.post_message(self.Loaded(None, rows, L.overview(conn)))
            elif node.kind == "target":
                self.post_message(self.Loaded(tree_node, L.filter_summaries(conn, node.target)))
            elif node.kind == "filter":
                target, filt = node.target or "-", node.filter or "-"
                self.post_message(self.Loaded(tree_node, L.sessions(conn, target, filt)))

    def on_targets_screen_loaded(self, message: TargetsScreen.Loaded) -> None:
        tree = self.query_one("#targets-tree", Tree)
        with self.app.batch_update():
            if message.node is None:
                frames, total_hours, targets = message.overview or (0, 0.0, 0)
                live = " · ● live" if getattr(self.app, "live", False) else ""
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
                tree.clear()
                for s in message.rows:
                    tree.root.add(safe(_label(s.name or "(no target)", s, "target")), data=Node("target", s.name))
                if tree.root.children:
                    tree.move_cursor(tree.root.children[0])
                self._restore(tree.root)
                return
            parent: TreeNode = message.node
            parent.remove_children()
            data: Node = parent.data
            for s in message.rows:
                if data.kind == "target":
                    goal = self._goals.get((data.target, s.name)) if data.target and s.name else None
                    label = safe(_label(s.name or "(no filter)", s, "filter", goal))
                    parent.add(label, data=Node("filter", data.target, s.name))
                else:
                    node = Node("night", data.target, data.filter, s.session_date)
                    parent.add_leaf(safe(_label(s.session_date or "(no date)", s, "night")), data=node)
            self._restore(parent)

    def _restore(self, parent: TreeNode) -> None:
        """After a reload: expand again what was open, put the cursor back where it was."""
        keep_open: set[Node] = getattr(self, "_keep_open", set())
        cursor: Node | None = getattr(self, "_keep_cursor", None)
        tree = self.query_one("#targets-tree", Tree)
        for child in parent.children:
            if child.data in keep_open:
                child.expand()
            if cursor is not None and child.data == cursor:
                tree.move_cursor(child)

    @on(Tree.NodeExpanded, "#targets-tree")
    def _expanded(self, event: Tree.NodeExpanded[Node]) -> None:
        node = event.node
        if node.data is not None and node.data.kind in ("target", "filter") and not node.children:
            node.add_leaf(safe("loading…", "dim"))
            self._load(node, node.data)

    @on(Tree.NodeHighlighted, "#targets-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[Node]) -> None:
        if event.node.data is not None:
            self._details(event.node.data)

    @work(thread=True, exclusive=True, exit_on_error=False, group="details")
    def _details(self, node: Node) -> None:
        with L.reading(self.app.ledger_path) as conn:  # type: ignore[attr-defined]
            target, filt = node.target or "-", node.filter
            if node.kind == "night":
                frames = L.night_frames(conn, node.night or "", node.target, node.filter)
                self.post_message(self.Detailed(node, [], [], frames))
            else:
                sessions = L.sessions(conn, target, (filt or "-") if node.kind == "filter" else None)
                rigs = L.rigs_used(conn, node.target, (filt or "-") if node.kind == "filter" else None)
                self.post_message(self.Detailed(node, sessions, rigs, []))

    def on_targets_screen_detailed(self, message: TargetsScreen.Detailed) -> None:
        node = message.node
        table = self.query_one("#details-table", DataTable)
        with self.app.batch_update():
            table.clear(columns=True)
            title = self.query_one("#details-title", Static)
            rigs = self.query_one("#details-rigs", Static)
            if node.kind == "night":
                title.update(
                    safe(f"{plain(node.target)} · {plain(node.filter) or 'no filter'} · night of {node.night}", "bold")
                )
                columns(table, ("time (UTC)", 12), ("exp s", 6), ("°C", 5), ("status", 9), ("file", 30))
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
                self._frames = message.frames
                rigs.update(safe(f"{len(message.frames)} files · Enter or i: inspect", "dim"))
                return
            self._frames = []
            what = plain(node.target) or "(no target)"
            if node.kind == "filter":
                what += " · " + (plain(node.filter) or "no filter")
            title.update(safe(what, "bold"))
            columns(table, ("night", 10), ("filter", 8), ("frames", 6), ("hours", 7), ("camera", 20))
            for s in message.sessions:
                table.add_row(
                    safe(s.session_date),
                    safe(s.filter),
                    safe(s.frame_count),
                    safe(f"{s.total_exposure_s / 3600:.2f}"),
                    safe(s.instrume),
                )
            rigs.update(safe("rigs: " + "; ".join(f"{r} ({h:.1f} h)" for r, _n, h in message.rigs)))

    # -- actions

    def action_search(self) -> None:
        self.query_one("#targets-search", Input).focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#targets-search", Input)
        if search.value:
            search.value = ""
        self.query_one("#targets-tree", Tree).focus()

    @on(Input.Changed, "#targets-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._keep_open, self._keep_cursor = set(), None
        self.reload(event.value.strip() or None)

    @on(Input.Submitted, "#targets-search")
    def _search_submitted(self) -> None:
        self.query_one("#targets-tree", Tree).focus()

    def current_target(self) -> str | None:
        node = self.query_one("#targets-tree", Tree).cursor_node
        return node.data.target if node is not None and node.data is not None else None

    def action_export(self) -> None:
        self.app.action_export()  # type: ignore[attr-defined]

    def action_rescan(self) -> None:
        self.app.action_rescan()  # type: ignore[attr-defined]

    @on(DataTable.RowSelected, "#details-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_inspect(event.cursor_row)

    def action_inspect(self, row: int | None = None) -> None:
        frames = getattr(self, "_frames", [])
        if not frames:
            self.notify("Highlight a night in the tree, then pick a frame", markup=False)
            return
        if row is None:
            row = self.query_one("#details-table", DataTable).cursor_row
        from .inspector import InspectorScreen

        self.app.push_screen(InspectorScreen(frames[max(0, min(row, len(frames) - 1))].path))

    def action_timeline(self) -> None:
        from .timeline import TimelineScreen

        self.app.push_screen(TimelineScreen(self.current_target()))

    def action_goal(self) -> None:
        node = self.query_one("#targets-tree", Tree).cursor_node
        data = node.data if node is not None else None
        if data is None or data.kind not in ("filter", "night") or not data.target or not data.filter:
            self.notify("Put the cursor on a filter of a target, then g", markup=False)
            return
        from .modals import GoalModal

        goal = self._goals.get((data.target, data.filter))
        self.app.push_screen(GoalModal(data.target, data.filter, goal.goal_hours if goal else None), self._goal_set)

    def _goal_set(self, changed: bool | None) -> None:
        if changed:
            self.ledger_changed()

    def jump_to(self, target: str) -> None:
        search = self.query_one("#targets-search", Input)
        search.value = target
        self.query_one("#targets-tree", Tree).focus()


def _walk(node: TreeNode):
    for child in node.children:
        yield child
        yield from _walk(child)
