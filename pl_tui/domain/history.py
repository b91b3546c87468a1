"""What the audit log shows and what undo does: each entry described in words, and the newest
change not yet undone reverted — a retag, an alias or a rig's name or merge — as often as asked."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import cast

from .. import ledger
from . import audit
from .retag import NONE_SHOWN, describe_change, undo_alias, undo_retag
from .rigs import auto_name, undo_rule


@dataclass(slots=True, frozen=True)
class AuditEntry:
    id: int
    at_ms: int
    action: audit.Action
    selection: str
    description: str
    frames: int
    undone_ms: int | None

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at_ms / 1000))


def _describe(row: audit.AuditRow) -> str:
    if row.action == "retag":
        return describe_change(row.field.split(","), row.old_values or [], row.new_value, row.frame_count)
    if row.action == "rig":
        name, merged_into = cast("tuple[str | None, str]", row.new_value)  # what rigs records: [name, merged_into]
        if row.field == "merge":
            return f"rig {auto_name(row.selection)} merged into {auto_name(merged_into)}"
        return f"rig {auto_name(row.selection)} named {name}"
    old = row.undo[0] if row.undo else NONE_SHOWN
    new = row.new_value if row.new_value is not None else "(removed)"
    return f"{row.field} alias {row.selection}: {old} → {new}"


def _entry(row: audit.AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.at_ms, row.action, row.selection, _describe(row), row.frame_count, row.undone_ms)


def audit_log(conn: sqlite3.Connection, limit: int = 200) -> list[AuditEntry]:
    """Newest first."""
    return [_entry(r) for r in audit.entries(conn, limit)]


def undo(conn: sqlite3.Connection) -> AuditEntry | None:
    """Revert the newest entry not yet undone (None when there is nothing to undo)."""
    with ledger.transaction(conn):
        row = audit.newest_not_undone(conn)
        if row is None:
            return None
        if row.action == "retag":
            undo_retag(conn, row.id)
        elif row.action == "rig":
            undo_rule(conn, row.selection, row.undo)
        else:
            undo_alias(conn, row.field, row.selection, row.undo)
        audit.mark_undone(conn, row.id)
    return _entry(row)
