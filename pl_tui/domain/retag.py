"""Retagging: the user's corrections, kept in the ledger and never in the files.

* **Overrides** set target, filter, frame type or status on any selection of exposures. They
  are keyed by exposure identity, so they survive rescans, moves, renames and new copies.
* **Aliases** are global name rules ("Andromeda Galaxy" → M31, Ha5nm → Ha) applied to the
  normalised header value; a per-frame override wins over an alias.
* Every retag and every alias change is **one audit entry** (when, which frames, old → new) that
  :func:`pl_tui.domain.history.undo` reverts, newest first, as often as asked.

The exposures carry the effective values in ``ov_*`` / ``alias_*`` columns; changing them fires
the tally triggers, so Totals and Sessions reflect a retag at once. Callers hold the writer lock.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from .. import ledger
from ..core.errors import UserInputError, user_text
from ..core.normalize import FRAME_TYPES, normalize_filter, normalize_image_type, normalize_target
from . import audit
from .triage import BUCKETS, bucket_identities

# retag field → its override column (overrides table column, exposures ov_* column)
FIELDS = {
    "target": ("target", "ov_target", "eff_target"),
    "filter": ("filter", "ov_filter", "eff_filter"),
    "image_type": ("image_type", "ov_type", "eff_type"),
    "status": ("status", "ov_status", "eff_status"),
}
SET_STATUSES = ("accepted", "rejected")
WHERE_FIELDS = ("target", "filter", "image_type", "status", "path", "session_date", "bucket")
CLEAR = "-"  # --set target=- drops the override: the header's (or alias's) value shows again
NONE_SHOWN = "(none)"


class RetagError(UserInputError, ledger.LedgerError):
    """A value or selection that cannot be used; str() says which and what is allowed. Also a
    LedgerError: callers that catch that still show it (new code catches UserInputError)."""


def normalise_value(field: str, text: str | None) -> str | None:
    """What the user typed → the value stored (None: drop the override). Raises RetagError."""
    if field not in FIELDS:
        raise RetagError(f"cannot set {field!r}: choose from {', '.join(FIELDS)}")
    if text is None or text.strip() in ("", CLEAR):
        return None
    text = user_text(text)
    if field == "target":
        return normalize_target(text)
    if field == "filter":
        return normalize_filter(text)
    if field == "image_type":
        kind, master = normalize_image_type(text)
        if kind is None or master:
            raise RetagError(f"unknown frame type {text!r}: choose from {', '.join(FRAME_TYPES)}")
        return kind
    value = text.strip().lower()
    if value not in SET_STATUSES:
        raise RetagError(f"status can be set to {' or '.join(SET_STATUSES)}, not {text!r}")
    return value


# ---------------------------------------------------------------------------------------------
# Selections


@dataclass(slots=True)
class Where:
    """A selection by fields (all given must hold). '-' selects frames that have no value."""

    target: str | None = None
    filter: str | None = None
    image_type: str | None = None
    status: str | None = None
    path: str | None = None  # a glob on the full path ('*' crosses folders)
    session_date: str | None = None  # a night, or FIRST..LAST
    bucket: str | None = None

    def describe(self) -> str:
        return ", ".join(f"{k}={getattr(self, k)}" for k in WHERE_FIELDS if getattr(self, k) is not None)


def parse_where(items: Sequence[str]) -> Where:
    """``FIELD=VALUE`` strings → Where. Raises RetagError with what is wrong."""

    w = Where()
    for item in items:
        field, sep, value = item.partition("=")
        field = field.strip().lower()
        if not sep or field not in WHERE_FIELDS:
            raise RetagError(f"--where takes FIELD=VALUE with FIELD one of {', '.join(WHERE_FIELDS)}: {item!r}")
        if getattr(w, field) is not None:
            raise RetagError(f"--where {field} given twice")
        value = value.strip()
        if field == "session_date":
            for part in value.split(".."):
                try:
                    date.fromisoformat(part)
                except ValueError:
                    raise RetagError(f"session_date takes YYYY-MM-DD or FIRST..LAST, not {value!r}") from None
        elif field == "bucket" and value not in BUCKETS:
            raise RetagError(f"unknown bucket {value!r}: choose from {', '.join(BUCKETS)}")
        elif field == "bucket" and value == "unreadable":
            raise RetagError("unreadable files have no header to retag")
        elif field == "path" and not value.startswith(("/", "*")):
            value = os.path.abspath(os.path.expanduser(value))
        if field != "path":  # a path keeps its bytes: names that are not UTF-8 are stored as such
            value = user_text(value)
        else:
            try:
                value.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise RetagError(f"--where path: {value!r} cannot be a file name") from None
        setattr(w, field, value)
    return w


def select(conn: sqlite3.Connection, where: Where) -> set[int]:
    """The identities of the exposures a Where selects."""
    clauses, params = [], []
    for field in ("target", "filter", "image_type", "status"):
        value = getattr(where, field)
        if value is None:
            continue
        column = FIELDS[field][2]
        if value in ("", CLEAR):
            clauses.append(f"{column} IS NULL")
        else:
            clauses.append(f"{column} = ?")
            params.append(normalise_value(field, value) if field != "status" else value.lower())
    if where.session_date is not None:
        first, _, last = where.session_date.partition("..")
        clauses.append("session_date BETWEEN ? AND ?")
        params += [first, last or first]
    if where.path is not None:
        # SQLite's GLOB: fnmatch's rules ('*' crosses '/'), case-sensitive, in C. Both sides as
        # the path's bytes: a name that is not UTF-8 is a BLOB in the ledger, and can be selected
        clauses.append(
            "identity IN (SELECT f.identity FROM files f JOIN dirs d ON d.id = f.dir_id "
            "WHERE CAST(d.path AS TEXT) || '/' || CAST(f.name AS TEXT) GLOB CAST(? AS TEXT))"
        )
        params.append(where.path.encode("utf-8", "surrogateescape"))
    chosen: set[int] | None = None
    if where.bucket is not None:
        chosen = bucket_identities(conn, where.bucket)
    sql = "SELECT identity FROM exposures" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
    found = {r[0] for r in conn.execute(sql, params)}
    return found if chosen is None else found & chosen


def identities_of_files(conn: sqlite3.Connection, file_ids: Iterable[int]) -> set[int]:
    """The exposures behind some files (the TUI marks files; a retag changes their exposures)."""
    out: set[int] = set()
    for chunk in ledger.chunks(list(file_ids), 500):
        marks = ",".join("?" * len(chunk))
        out.update(
            r[0]
            for r in conn.execute(f"SELECT identity FROM files WHERE id IN ({marks}) AND identity IS NOT NULL", chunk)
        )
    return out


# ---------------------------------------------------------------------------------------------
# Retag


@dataclass(slots=True, frozen=True)
class Preview:
    """What a retag would do: how many frames change and their current values."""

    frames: int
    old_values: list[tuple[list[str | None], int]]  # (values per field, frames), most common first

    def describe(self, changes: Mapping[str, str | None]) -> str:
        return describe_change(list(changes), self.old_values, list(changes.values()), self.frames)


def _shown(v: str | None) -> str:
    return NONE_SHOWN if v is None else v


def describe_change(fields: list[str], old_values, new_values: list, frames: int) -> str:
    """'312 frames: target (none) → M31' ('M 31 ×12, (none) ×300' when the old values differ)."""
    parts = []
    for i, field in enumerate(fields):
        olds: dict[str | None, int] = {}
        for values, n in old_values:
            olds[values[i]] = olds.get(values[i], 0) + n
        if len(olds) == 1:
            old = _shown(next(iter(olds)))
        else:
            top = sorted(olds.items(), key=lambda kv: -kv[1])
            old = ", ".join(f"{_shown(v)} ×{n}" for v, n in top[:3]) + (", …" if len(top) > 3 else "")
        new = _shown(new_values[i]) if new_values[i] is not None else "(from header)"
        parts.append(f"{field} {old} → {new}")
    return f"{frames} frame{'s' if frames != 1 else ''}: " + "; ".join(parts)


def _load_selection(conn: sqlite3.Connection, identities: Iterable[int]) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS pl_sel (identity INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM pl_sel")
    conn.executemany("INSERT OR IGNORE INTO pl_sel VALUES (?)", ((i,) for i in identities))


def _changing(changes: Mapping[str, str | None]) -> str:
    """Exposures whose override of some field would change."""
    return " OR ".join(f"{FIELDS[f][1]} IS NOT ?" for f in changes)


def preview(conn: sqlite3.Connection, identities: Iterable[int], changes: Mapping[str, str | None]) -> Preview:
    """How many of these exposures a retag would change, and their current values. Read only."""
    _load_selection(conn, identities)
    return _preview(conn, {f: normalise_value(f, v) for f, v in changes.items()})


def _preview(conn: sqlite3.Connection, changes: Mapping[str, str | None]) -> Preview:
    effective = ", ".join(FIELDS[f][2] for f in changes)
    rows = conn.execute(
        f"SELECT {effective}, count(*) FROM exposures WHERE identity IN (SELECT identity FROM pl_sel) "
        f"AND ({_changing(changes)}) GROUP BY {effective} ORDER BY count(*) DESC",
        list(changes.values()),
    ).fetchall()
    return Preview(sum(r[-1] for r in rows), [(list(r[:-1]), r[-1]) for r in rows])


@dataclass(slots=True, frozen=True)
class Result:
    audit_id: int | None  # None: nothing changed, nothing logged
    frames: int
    description: str


def retag(
    conn: sqlite3.Connection, identities: Iterable[int], changes: Mapping[str, str | None], selection: str
) -> Result:
    """Set fields on the selected exposures (as typed: normalised here; None or '-' drops the
    override). Only exposures whose override changes are touched and logged. One audit entry."""
    if not changes:
        raise RetagError("nothing to set")
    changes = {f: normalise_value(f, v) for f, v in changes.items()}
    values = list(changes.values())
    with ledger.transaction(conn):
        _load_selection(conn, identities)
        conn.execute(
            f"DELETE FROM pl_sel WHERE identity NOT IN (SELECT identity FROM exposures WHERE "
            f"identity IN (SELECT identity FROM pl_sel) AND ({_changing(changes)}))",
            values,
        )
        pv = _preview(conn, changes)
        description = pv.describe(changes)
        if pv.frames == 0:
            return Result(None, 0, "no frame changes")
        # the selection is for the log: a path that is not UTF-8 is shown as header text is read
        audit_id = audit.record(
            conn, "retag", user_text(selection), ",".join(changes), values, pv.frames, old_values=pv.old_values
        )
        conn.execute(
            "INSERT INTO audit_items (audit_id, identity, old_value) "
            "SELECT ?, p.identity, json_array(o.target, o.filter, o.image_type, o.status) "
            "FROM pl_sel p LEFT JOIN overrides o ON o.identity = p.identity",
            (audit_id,),
        )
        cols = [FIELDS[f][0] for f in changes]
        conn.execute(
            f"INSERT INTO overrides (identity, {', '.join(cols)}) "
            f"SELECT identity, {', '.join('?' * len(cols))} FROM pl_sel WHERE true "
            f"ON CONFLICT(identity) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols)}",
            values,
        )
        _drop_empty_overrides(conn, "identity IN (SELECT identity FROM pl_sel)")
        conn.execute(
            f"UPDATE exposures SET {', '.join(f'{FIELDS[f][1]} = ?' for f in changes)} "
            "WHERE identity IN (SELECT identity FROM pl_sel)",
            values,
        )
        conn.execute("DELETE FROM pl_sel")
    return Result(audit_id, pv.frames, description)


def _drop_empty_overrides(conn: sqlite3.Connection, where: str, params: Sequence = ()) -> None:
    conn.execute(
        "DELETE FROM overrides WHERE target IS NULL AND filter IS NULL AND image_type IS NULL "
        f"AND status IS NULL AND {where}",
        params,
    )


# ---------------------------------------------------------------------------------------------
# Aliases


@dataclass(slots=True, frozen=True)
class Alias:
    kind: str
    from_name: str
    to_name: str
    source: str  # 'user' (pl-tui alias) or 'config' ([aliases] in the config file)
    frames: int  # exposures whose header value it renames


_NORMALISE = {"target": normalize_target, "filter": normalize_filter}


def _alias_names(kind: str, from_text: str, to_text: str | None) -> tuple[str, str | None]:
    if kind not in _NORMALISE:
        raise RetagError(f"aliases are for target or filter, not {kind!r}")
    source = _NORMALISE[kind](user_text(from_text))
    if source is None:
        raise RetagError("an alias needs a name to rename")
    into = _NORMALISE[kind](user_text(to_text)) if to_text is not None else None
    if to_text is not None and into is None:
        raise RetagError("an alias needs a name to rename to")
    if into == source:
        raise RetagError(f"{source!r} is already called that")
    return source, into


def _frames_named(conn: sqlite3.Connection, kind: str, name: str) -> int:
    return conn.execute(f"SELECT count(*) FROM exposures WHERE eff_{kind} = ?", (name,)).fetchone()[0]


def _put_alias(conn: sqlite3.Connection, kind: str, source: str, into: str | None, origin: str = "user") -> None:
    """Write the rule (None: drop it) and its effect on the exposures."""
    if into is None:
        conn.execute("DELETE FROM aliases WHERE kind = ? AND from_name = ?", (kind, source))
    else:
        conn.execute(
            "INSERT INTO aliases (kind, from_name, to_name, source, created_ms) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, from_name) DO UPDATE SET to_name = excluded.to_name, source = excluded.source, "
            "created_ms = excluded.created_ms",
            (kind, source, into, origin, ledger.now_ms()),
        )
    _apply_alias(conn, kind, source, into)


def _apply_alias(conn: sqlite3.Connection, kind: str, source: str, into: str | None) -> int:
    """Write (or drop, when into is None) the rule's effect on the exposures; returns frames renamed."""
    cur = conn.execute(
        f"UPDATE exposures SET alias_{kind} = ? WHERE {kind} = ? AND alias_{kind} IS NOT ?", (into, source, into)
    )
    return cur.rowcount


def set_alias(conn: sqlite3.Connection, kind: str, from_text: str, to_text: str | None) -> Result:
    """``alias target "Andromeda Galaxy" M31`` (to_text None: remove the rule). One audit entry;
    the description gives the before/after counts."""
    source, into = _alias_names(kind, from_text, to_text)
    with ledger.transaction(conn):
        row = conn.execute(
            "SELECT to_name, source FROM aliases WHERE kind = ? AND from_name = ?", (kind, source)
        ).fetchone()
        previous = list(row) if row else None
        if into is None and previous is None:
            raise RetagError(f"no {kind} alias for {source!r}")
        if previous is not None and into == previous[0]:
            return Result(None, 0, f"{kind} {source} → {into} is already a rule")
        moving = conn.execute(
            f"SELECT count(*) FROM exposures WHERE {kind} = ? AND ov_{kind} IS NULL",
            (source,),
        ).fetchone()[0]
        shown_to = into if into is not None else source
        before = _frames_named(conn, kind, shown_to)
        _put_alias(conn, kind, source, into)
        after = _frames_named(conn, kind, shown_to)
        if into is None:
            assert previous is not None  # removing a rule that does not exist was refused above
            description = f"{kind} alias {source} → {previous[0]} removed: {source} {before} → {after} frames"
        else:
            description = f"{kind} {source} → {into}: {moving} frames renamed; {into} {before} → {after} frames"
        audit_id = audit.record(conn, "alias", source, kind, into, moving, undo=previous)
    return Result(audit_id, moving, description)


def aliases(conn: sqlite3.Connection) -> list[Alias]:
    return [
        Alias(*r)
        for r in conn.execute(
            "SELECT a.kind, a.from_name, a.to_name, a.source, "
            "(SELECT count(*) FROM exposures e WHERE CASE a.kind WHEN 'target' THEN e.target ELSE e.filter END "
            "  = a.from_name) FROM aliases a ORDER BY a.kind DESC, a.from_name"
        )
    ]


def sync_config_aliases(conn: sqlite3.Connection, config_aliases: Mapping[str, Mapping[str, str]]) -> int:
    """Make the ledger's 'config' aliases those of the config file (``{'target': {from: to}}``);
    a user alias of the same name wins. Returns the rules changed. Not audited: the file is."""
    wanted: dict[tuple[str, str], str] = {}
    for kind, rules in config_aliases.items():
        for a, b in rules.items():
            try:
                source, into = _alias_names(kind, a, b)
            except RetagError:
                continue  # ConfigError is raised on load for malformed tables; a no-op rule is harmless
            wanted[(kind, source)] = into  # type: ignore[assignment]  # a config rule always has a target
    current = {(k, f): (t, s) for k, f, t, s in conn.execute("SELECT kind, from_name, to_name, source FROM aliases")}
    changes: list[tuple[str, str, str | None]] = []
    for key, (to_name, source) in current.items():
        if source == "config" and wanted.get(key) != to_name:
            changes.append((*key, wanted.get(key)))
    for key, to_name in wanted.items():
        if key not in current:
            changes.append((*key, to_name))
    if not changes:
        return 0
    with ledger.transaction(conn):
        for kind, source, into in changes:
            _put_alias(conn, kind, source, into, "config")
    return len(changes)


def known_values(conn: sqlite3.Connection, field: str) -> list[str]:
    """The values a field can be set to that the ledger already uses (the retag modal offers them)."""
    if field == "image_type":
        return list(FRAME_TYPES)
    if field == "status":
        return list(SET_STATUSES)
    column = FIELDS[field][0]  # target / filter: the tallies hold every name that counts
    return [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM tallies WHERE {column} <> '' ORDER BY 1")]


def undo_retag(conn: sqlite3.Connection, audit_id: int) -> None:
    """Every later entry is already undone (newest first), so restoring the whole override row
    each frame had before this retag is exact."""
    old = (
        "SELECT identity, json_extract(old_value, '$[0]') AS target, json_extract(old_value, '$[1]') AS filter, "
        "json_extract(old_value, '$[2]') AS image_type, json_extract(old_value, '$[3]') AS status "
        "FROM audit_items WHERE audit_id = ?"
    )
    conn.execute(
        f"INSERT INTO overrides (identity, target, filter, image_type, status) SELECT * FROM ({old}) WHERE true "
        "ON CONFLICT(identity) DO UPDATE SET target = excluded.target, filter = excluded.filter, "
        "image_type = excluded.image_type, status = excluded.status",
        (audit_id,),
    )
    _drop_empty_overrides(conn, "identity IN (SELECT identity FROM audit_items WHERE audit_id = ?)", (audit_id,))
    conn.execute(
        f"UPDATE exposures SET ov_target = o.target, ov_filter = o.filter, ov_type = o.image_type, "
        f"ov_status = o.status FROM ({old}) AS o WHERE exposures.identity = o.identity",
        (audit_id,),
    )


def undo_alias(conn: sqlite3.Connection, kind: str, source: str, previous: list | None) -> None:
    """Put an alias rule back as it was before an audited change ([to_name, source] or None)."""
    into, origin = previous if previous else (None, "user")
    _put_alias(conn, kind, source, into, origin)
