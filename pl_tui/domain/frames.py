"""The Frames report's rows: every indexed file with its exposure's effective values, the
user's rig names and the bucket rules as filters — one query for the CLI table, the
CSV/JSON exports and the screens. Also the rigs a target's frames were taken with."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from .. import ledger
from ..core.errors import user_text
from ..core.normalize import INFERRED_NAMES
from .rigs import setup_rigs
from .triage import UNKNOWN_SQL, suspects

FRAME_COLUMNS = (
    "path", "target", "filter", "exposure_s", "image_type", "date_obs_utc", "instrume", "telescop",
    "focallen", "xbinning", "gain", "ccd_temp",
    # extras: new columns are only ever appended
    "session_date", "status", "rig", "sequencer", "night_basis", "reason", "inferred",
    "image_scale", "fwhm_arcsec", "sky_quality", "ambient_temp",
)  # fmt: skip
# arcsec per pixel (XPIXSZ is the binned pixel, as capture programs write it); never guessed
IMAGE_SCALE_SQL = "CASE WHEN s.xpixsz > 0 AND s.focallen_mm > 0 THEN round(s.xpixsz * 206.265 / s.focallen_mm, 3) END"

# A frame's rig, as the user named it: rigs.setup_rigs maps the few setups to names.
RIG_SQL = "pl_rig(s.id)"


def _with_rig_names(conn: sqlite3.Connection) -> None:
    names = {sid: name for sid, (_key, name, _config) in setup_rigs(conn).items()}
    conn.create_function("pl_rig", 1, names.get, deterministic=True)


_FRAME_SELECT = f"""
SELECT f.id, d.path, f.name, e.eff_target, e.eff_filter, e.exposure_s, e.eff_type, {ledger.UTC_SQL},
       s.instrume, s.telescop, s.focallen_mm, s.xbinning, s.gain, e.ccd_temp,
       e.session_date, {ledger.SHOWN_STATUS_SQL}, {RIG_SQL}, s.sequencer, e.night_basis, f.reason, e.inferred,
       {IMAGE_SCALE_SQL}, e.fwhm_arcsec, e.sky_quality, e.ambient_temp
FROM files f JOIN dirs d ON d.id = f.dir_id LEFT JOIN exposures e ON e.id = f.exposure_id
LEFT JOIN setups s ON s.id = e.setup_id
"""
_STATUS_COLUMN = 15
_INFERRED_COLUMN = 20

# Buckets that are a shown status; 'unknown' is a rule on the exposure (UNKNOWN_SQL).
BUCKET_STATUS = {
    "duplicates": "duplicate",
    "derived": "derived",
    "rejected": "rejected",
    "missing": "missing",
    "unreadable": "unreadable",
}


def iter_frames(
    conn: sqlite3.Connection, where: ledger.FrameFilter = ledger.EVERY_FRAME, page: int = 5000
) -> Iterator[tuple]:
    """Every indexed file as a Frames row (FRAME_COLUMNS), streamed by keyset pages of file id:
    constant memory whatever the ledger's size."""
    clauses, params = [], []
    for column, value in (("e.eff_target", where.target), ("e.eff_filter", where.filter)):
        if value is None:
            continue
        if ledger.tally_key(value) == "":  # frames that have none (not files that have no header at all)
            clauses.append(f"e.identity IS NOT NULL AND {column} IS NULL")
        else:
            clauses.append(f"{column} = ?")
            params.append(user_text(value))
    if where.since is not None:
        clauses.append("e.session_date >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append("e.session_date <= ?")
        params.append(where.until)
    status = where.status
    if where.bucket == "unknown":
        clauses.append(f"({UNKNOWN_SQL})")
    elif where.bucket == "suspect":
        chosen = suspects(conn)
        conn.create_function("pl_suspect", 1, chosen.__contains__, deterministic=True)
        clauses.append("pl_suspect(e.identity)")
        if status not in (None, ledger.ACCEPTED):
            return
        status = ledger.ACCEPTED
    elif where.bucket is not None:
        if status is not None and status != BUCKET_STATUS[where.bucket]:
            return
        status = BUCKET_STATUS[where.bucket]
    _with_rig_names(conn)
    sql = f"{_FRAME_SELECT} WHERE {' AND '.join(['f.id > ?', *clauses])} ORDER BY f.id LIMIT ?"
    last = -1
    while True:
        rows = conn.execute(sql, [last, *params, page]).fetchall()
        for r in rows:
            if status is None or r[_STATUS_COLUMN] == status:
                inferred = r[_INFERRED_COLUMN]
                yield (
                    ledger.join_path(r[1], r[2]),
                    *r[3:_INFERRED_COLUMN],
                    ";".join(n for bit, n in INFERRED_NAMES.items() if inferred & bit) if inferred else None,
                    *r[_INFERRED_COLUMN + 1 :],
                )
        if len(rows) < page:
            return
        last = rows[-1][0]


def rigs_used(conn: sqlite3.Connection, target: str | None, filter: str | None = None) -> list[tuple[str, int, float]]:
    """(rig, frames, hours) of a target's counting frames, most hours first."""
    where, params = ledger.where_clause(target if target is not None else "-", filter, None, None, "t.")
    _with_rig_names(conn)
    rows = conn.execute(
        f"SELECT {RIG_SQL}, SUM(t.frame_count), SUM(t.total_us) FROM tallies t JOIN setups s ON s.id = t.setup_id"
        f"{where} GROUP BY 1 ORDER BY 3 DESC",
        params,
    )
    return [(rig or "unknown rig", n, us / 3_600_000_000) for rig, n, us in rows]
