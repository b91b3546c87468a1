"""The audit log: one entry per change a user makes to the ledger (a retag, an alias, a rig's name
or merge), with what :mod:`pl_tui.domain.history` needs to describe and undo it. The only writer
of the ``audit`` table; the changes themselves belong to their modules."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from .. import ledger

Action = Literal["retag", "alias", "rig"]


@dataclass(slots=True, frozen=True)
class AuditRow:
    """One entry as stored: JSON fields decoded."""

    id: int
    at_ms: int
    action: Action
    selection: str  # what was changed: a selection's words, an alias's source name, a rig's key
    field: str  # the fields set ('target,filter'), the alias kind, or 'rename'/'merge'
    new_value: Any  # decoded JSON, as each action recorded it
    frame_count: int
    undone_ms: int | None
    old_values: Any  # a retag's old values with their counts (for the description)
    undo: Any  # what an alias or rig change restores


def record(
    conn: sqlite3.Connection,
    action: Action,
    selection: str,
    field: str,
    new_value: object,
    frame_count: int,
    *,
    old_values: object = None,
    undo: object = None,
) -> int:
    """Log a change made in the caller's transaction; returns the entry's id."""
    return ledger.new_rowid(
        conn.execute(
            "INSERT INTO audit (at_ms, action, selection, field, new_value, frame_count, old_values, undo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ledger.now_ms(),
                action,
                selection,
                field,
                json.dumps(new_value),
                frame_count,
                None if old_values is None else json.dumps(old_values),
                None if undo is None else json.dumps(undo),
            ),
        )
    )


_SELECT = "SELECT id, at_ms, action, selection, field, new_value, frame_count, undone_ms, old_values, undo FROM audit"


def _row(r: tuple) -> AuditRow:
    aid, at_ms, action, selection, field, new_value, frames, undone, old_values, undo = r
    return AuditRow(
        aid,
        at_ms,
        action,
        selection or "",
        field or "",
        json.loads(new_value) if new_value else None,
        frames,
        undone,
        json.loads(old_values) if old_values else None,
        json.loads(undo) if undo else None,
    )


def entries(conn: sqlite3.Connection, limit: int = 200) -> list[AuditRow]:
    """Newest first."""
    return [_row(r) for r in conn.execute(f"{_SELECT} ORDER BY id DESC LIMIT ?", (limit,))]


def newest_not_undone(conn: sqlite3.Connection) -> AuditRow | None:
    r = conn.execute(f"{_SELECT} WHERE undone_ms IS NULL ORDER BY id DESC LIMIT 1").fetchone()
    return None if r is None else _row(r)


def mark_undone(conn: sqlite3.Connection, audit_id: int) -> None:
    conn.execute("UPDATE audit SET undone_ms = ? WHERE id = ?", (ledger.now_ms(), audit_id))
