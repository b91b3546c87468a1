"""Triage: the buckets — every frame that needs a look, each with why it is there.

One definition serves the CLI (``pl-tui buckets``), the Frames report's ``--bucket`` filter,
``pl-tui retag --where bucket=…`` and the TUI's Buckets screen, so they always agree.

The Suspect rules:

* **pointing** — a light frame farther from the robust centre of its target's frames than the
  larger of 1° and its field of view (the frame's diagonal, when pixel size, focal length and
  NAXIS give it): the mis-labelled-frame check. The same centres give merge suggestions: two
  targets whose centres lie within 0.2° are probably one ("M 31" and "Andromeda Galaxy");
* **type vs folder** — IMAGETYP says LIGHT, the frame sits in a ``Darks`` folder (or any other
  contradiction);
* **DATE-LOC** — DATE-LOC − DATE-OBS is not the site's offset (the normaliser flags it);
* **f-ratio** — FOCRATIO differs from FOCALLEN/APTDIA by more than 5 %.

A frame whose status the user set by hand (accepted or rejected) has been looked at and is not
suspect; nor is a frame suspected on a field the user set (its target, its frame type).
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median
from typing import NamedTuple

from .. import ledger
from ..core.normalize import CATALOGUE, FLAG_EXPOSURE_IMPOSSIBLE, FLAG_LOC_DISAGREES, INFERRED_NAMES

BUCKETS = ("unknown", "suspect", "duplicates", "derived", "rejected", "missing", "unreadable")

MIN_POINTING_DEG = 1.0  # a frame this far from its target's centre (or its FOV, if larger) is suspect
MERGE_DEG = 0.2  # two targets whose centres are this close are offered as one
MIN_FRAMES_FOR_CENTRE = 3  # fewer frames than this have no robust centre to be far from
FOCRATIO_TOLERANCE = 0.05  # relative


# Unknown: a light (or untyped) frame still lacking target, exposure, date or type, or a
# mono light without filter, or any value only inferred from folders. Missing/derived excluded.
# The fields still only inferred: a value the user set by hand is no longer a guess.
INFERRED_SQL = "(inferred & ~((ov_target IS NOT NULL) | (ov_filter IS NOT NULL) * 2 | (ov_type IS NOT NULL) * 4))"
UNKNOWN_SQL = f"""
eff_status IN ('accepted', 'rejected') AND (
  {INFERRED_SQL} <> 0
  OR (COALESCE(eff_type, 'LIGHT') = 'LIGHT' AND (
        eff_target IS NULL OR exposure_s IS NULL OR session_date IS NULL OR eff_type IS NULL
        OR (s.osc = 0 AND eff_filter IS NULL))))
"""


class BucketFrame(NamedTuple):
    """One frame of a bucket (a file; for exposure-level buckets the copy that counts)."""

    file_id: int
    identity: int | None
    folder: str
    name: str
    target: str | None
    filter: str | None
    session_date: str | None
    why: str

    @property
    def path(self) -> str:
        return ledger.join_path(self.folder, self.name)


BUCKET_COLUMNS = ("path", "target", "filter", "session_date", "why")


@dataclass(slots=True, frozen=True)
class Merge:
    """Two target names that point at the same sky: ``source`` is probably ``into``."""

    source: str
    into: str
    separation_deg: float
    source_frames: int
    into_frames: int


# ---------------------------------------------------------------------------------------------
# Geometry


def separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance in degrees (haversine: exact for small angles)."""
    r1, d1, r2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    h = math.sin((d2 - d1) / 2) ** 2 + math.cos(d1) * math.cos(d2) * math.sin((r2 - r1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


def robust_centre(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The median pointing: median Dec, and the median RA measured around the circular mean
    RA, so a target at RA 0h (frames at 359.9° and 0.1°) is centred at 0°, not 180°. The mean
    only picks where to cut the circle: 1,000 evenly spaced frames place it as well as all."""
    step = max(1, len(points) // 1000)
    sample = points[::step]
    sx = sum(math.cos(math.radians(ra)) for ra, _ in sample)
    sy = sum(math.sin(math.radians(ra)) for ra, _ in sample)
    ref = math.degrees(math.atan2(sy, sx)) if sx or sy else points[0][0]
    ra = (ref + median(((ra - ref + 180) % 360) - 180 for ra, _ in points)) % 360
    return (0.0 if ra >= 360 else ra), median(dec for _, dec in points)  # -1e-17 % 360 == 360.0


def field_of_view_deg(naxis1, naxis2, xpixsz, focallen_mm) -> float | None:
    """The frame's diagonal on the sky, or None when a value is missing (never guessed).
    XPIXSZ is the binned pixel, as the FITS convention and the capture programs write it."""
    if not (naxis1 and naxis2 and xpixsz and focallen_mm):
        return None
    return math.degrees(math.hypot(naxis1, naxis2) * xpixsz / 1000 / focallen_mm)


# ---------------------------------------------------------------------------------------------
# Suspect


# Frames that can be suspect: present, not looked at by the user.
_SUSPECT_BASE = "e.eff_status = 'accepted' AND e.ov_status IS NULL"

_POINTED = f"""
SELECT e.eff_target, e.identity, e.ra_deg, e.dec_deg, e.setup_id, e.ov_target IS NOT NULL
FROM exposures e
WHERE {_SUSPECT_BASE} AND COALESCE(e.eff_type, 'LIGHT') = 'LIGHT'
  AND e.eff_target IS NOT NULL AND e.ra_deg IS NOT NULL AND e.dec_deg IS NOT NULL
"""

_OTHER_RULES = f"""
SELECT e.identity,
  CASE WHEN e.folder_type IS NOT NULL AND e.eff_type IS NOT NULL AND e.folder_type <> e.eff_type
       AND e.ov_type IS NULL AND NOT (e.inferred & 4)
       THEN 'type ' || e.eff_type || ' but folder says ' || e.folder_type END,
  CASE WHEN e.flags & {FLAG_LOC_DISAGREES} THEN 'DATE-OBS and DATE-LOC disagree with the site offset' END,
  CASE WHEN e.flags & {FLAG_EXPOSURE_IMPOSSIBLE}
       THEN 'exposure impossible for one frame (≤ 0 s or over a day): its time is not counted' END,
  CASE WHEN s.focratio > 0 AND s.focallen_mm > 0 AND s.aperture_mm > 0
       AND abs(s.focratio - s.focallen_mm / s.aperture_mm) > {FOCRATIO_TOLERANCE} * s.focallen_mm / s.aperture_mm
       THEN printf('f-ratio inconsistent: FOCRATIO %g but FOCALLEN/APTDIA = %.2f',
                   s.focratio, s.focallen_mm / s.aperture_mm) END
FROM exposures e JOIN setups s ON s.id = e.setup_id
WHERE {_SUSPECT_BASE} AND (
  (e.folder_type IS NOT NULL AND e.eff_type IS NOT NULL AND e.folder_type <> e.eff_type)
  OR e.flags & {FLAG_LOC_DISAGREES | FLAG_EXPOSURE_IMPOSSIBLE}
  OR (s.focratio > 0 AND s.focallen_mm > 0 AND s.aperture_mm > 0
      AND abs(s.focratio - s.focallen_mm / s.aperture_mm) > {FOCRATIO_TOLERANCE} * s.focallen_mm / s.aperture_mm))
"""


@dataclass(slots=True, frozen=True)
class Pointing:
    """One target's pointed lights and their robust centre: what both the mis-labelled-frame
    check and the merge suggestions read, fetched and centred once."""

    target: str
    frames: list  # (identity, ra, dec, setup id, target set by hand)
    ra: float
    dec: float


def pointing(conn: sqlite3.Connection) -> list[Pointing]:
    by_target: dict[str, list] = defaultdict(list)
    for target, *frame in conn.execute(_POINTED):
        by_target[target].append(frame)
    return [
        Pointing(t, frames, *robust_centre([(ra, dec) for _, ra, dec, _, _ in frames]))
        for t, frames in by_target.items()
    ]


def suspects(conn: sqlite3.Connection, pointed: list[Pointing] | None = None) -> dict[int, str]:
    """identity → why it is suspect ('; '-joined when several rules hold)."""
    fov = {
        sid: field_of_view_deg(n1, n2, pix, fl)
        for sid, n1, n2, pix, fl in conn.execute("SELECT id, naxis1, naxis2, xpixsz, focallen_mm FROM setups")
    }
    # far: cos(separation) below cos(limit), by the spherical law of cosines (3 trig calls a
    # frame, no acos); the exact distance is computed for the few that are far
    cos_limit = {sid: math.cos(math.radians(max(MIN_POINTING_DEG, f or 0.0))) for sid, f in fov.items()}
    rad, sin, cos = math.radians, math.sin, math.cos
    out: dict[int, list[str]] = defaultdict(list)
    for p in pointing(conn) if pointed is None else pointed:
        if len(p.frames) < MIN_FRAMES_FOR_CENTRE:
            continue
        sin_c, cos_c = sin(rad(p.dec)), cos(rad(p.dec))
        for ident, ra, dec, sid, by_hand in p.frames:
            d = rad(dec)
            if sin(d) * sin_c + cos(d) * cos_c * cos(rad(ra - p.ra)) < cos_limit[sid] and not by_hand:
                out[ident].append(f"pointing {separation_deg(ra, dec, p.ra, p.dec):.1f}° off {p.target}")
    for ident, *reasons in conn.execute(_OTHER_RULES):
        out[ident].extend(r for r in reasons if r)
    return {i: "; ".join(r) for i, r in out.items()}


def merge_suggestions(conn: sqlite3.Connection, pointed: list[Pointing] | None = None) -> list[Merge]:
    """Pairs of targets whose centres lie within 0.2°, closest first. The name kept is the
    catalogue designation (M31 over "Andromeda Galaxy"), else the one with more frames."""
    centres = sorted((p.dec, p.ra, p.target, len(p.frames)) for p in (pointing(conn) if pointed is None else pointed))
    merges = []
    for i, (dec1, ra1, t1, n1) in enumerate(centres):
        for dec2, ra2, t2, n2 in centres[i + 1 :]:
            if dec2 - dec1 > MERGE_DEG:
                break  # sorted by Dec: nothing further can be close
            sep = separation_deg(ra1, dec1, ra2, dec2)
            if sep <= MERGE_DEG:
                keep1 = (bool(CATALOGUE.fullmatch(t1)), n1, t2) > (bool(CATALOGUE.fullmatch(t2)), n2, t1)
                a, b = ((t2, n2), (t1, n1)) if keep1 else ((t1, n1), (t2, n2))
                merges.append(Merge(a[0], b[0], sep, a[1], b[1]))
    return sorted(merges, key=lambda m: m.separation_deg)


# ---------------------------------------------------------------------------------------------
# Buckets


_ONE_FILE = (
    "JOIN files f ON f.id = (SELECT id FROM files WHERE identity = e.identity "
    "  ORDER BY status <> 'accepted', id LIMIT 1) JOIN dirs d ON d.id = f.dir_id"
)


def overview(conn: sqlite3.Connection) -> tuple[dict[str, int], list[Merge]]:
    """(bucket counts, merge suggestions) from one pass over the pointed lights."""
    pointed = pointing(conn)
    return bucket_counts(conn, pointed), merge_suggestions(conn, pointed)


def bucket_counts(conn: sqlite3.Connection, pointed: list[Pointing] | None = None) -> dict[str, int]:
    """Frames per bucket, in BUCKETS order."""
    q = conn.execute
    by_status = dict(q("SELECT status, count(*) FROM files WHERE status <> 'accepted' GROUP BY status"))
    return {
        "unknown": q(
            f"SELECT count(*) FROM exposures e JOIN setups s ON s.id = e.setup_id WHERE {UNKNOWN_SQL}"
        ).fetchone()[0],
        "suspect": len(suspects(conn, pointed)),
        "duplicates": q(
            f"SELECT count(*) FROM files f JOIN exposures e ON e.id = f.exposure_id WHERE {ledger.DUPLICATE_SQL}"
        ).fetchone()[0],
        "derived": _count(conn, _BY_STATUS, ledger.DERIVED),
        "rejected": _count(conn, _BY_STATUS, ledger.REJECTED),
        "missing": by_status.get(ledger.MISSING, 0),
        "unreadable": by_status.get(ledger.UNREADABLE, 0),
    }


# derived / rejected: the status shown, which a retag may have set or lifted
_BY_STATUS = f"""
SELECT f.id, e.identity, d.path, f.name, e.eff_target, e.eff_filter, e.session_date,
  CASE WHEN e.ov_status IS NOT NULL THEN 'set by retag' ELSE COALESCE(f.reason, f.status) END
FROM files f JOIN dirs d ON d.id = f.dir_id LEFT JOIN exposures e ON e.id = f.exposure_id
WHERE f.id IN (SELECT id FROM files WHERE status = ?1
               UNION ALL SELECT g.id FROM exposures x JOIN files g ON g.exposure_id = x.id WHERE x.ov_status = ?1)
  AND {ledger.SHOWN_STATUS_SQL} = ?1
"""


def _count(conn: sqlite3.Connection, select: str, *params) -> int:
    return conn.execute(f"SELECT count(*) FROM ({select})", params).fetchone()[0]


def bucket_rows(conn: sqlite3.Connection, name: str) -> list[BucketFrame]:
    """The frames of one bucket, by folder, night and name, each with why it is there."""
    if name == "unknown":
        rows: Iterable[tuple] = (
            (fid, ident, d, n, t, flt, sd, _unknown_why(t, flt, sd, ty, exp, osc, inf))
            for fid, ident, d, n, t, flt, sd, ty, exp, osc, inf in conn.execute(
                "SELECT f.id, e.identity, d.path, f.name, e.eff_target, e.eff_filter, e.session_date, e.eff_type, "
                f"e.exposure_s, s.osc, {INFERRED_SQL} FROM exposures e JOIN setups s ON s.id = e.setup_id "
                f"{_ONE_FILE} WHERE {UNKNOWN_SQL}"
            )
        )
    elif name == "suspect":
        why = suspects(conn)
        rows = []
        for chunk in ledger.chunks(list(why), 500):
            rows += [
                (*r, why[r[1]])
                for r in conn.execute(
                    "SELECT f.id, e.identity, d.path, f.name, e.eff_target, e.eff_filter, e.session_date "
                    f"FROM exposures e {_ONE_FILE} WHERE e.identity IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            ]
    elif name == "duplicates":
        rows = (
            (fid, ident, d, n, t, flt, sd, f"copy of {ledger.join_path(cd, cn)}")
            for fid, ident, d, n, t, flt, sd, cd, cn in conn.execute(
                "SELECT f.id, e.identity, d.path, f.name, e.eff_target, e.eff_filter, e.session_date, cd.path, c.name "
                "FROM files f JOIN exposures e ON e.id = f.exposure_id JOIN dirs d ON d.id = f.dir_id "
                "JOIN files c ON c.id = (SELECT min(g.id) FROM files g WHERE g.identity = f.identity "
                "  AND g.status NOT IN ('missing', 'unreadable') AND (g.status = e.status OR e.ov_status IS NOT NULL)) "
                f"JOIN dirs cd ON cd.id = c.dir_id WHERE {ledger.DUPLICATE_SQL}"
            )
        )
    elif name in ("derived", "rejected"):
        rows = conn.execute(_BY_STATUS, (name,))
    elif name in ("missing", "unreadable"):
        rows = conn.execute(
            "SELECT f.id, e.identity, d.path, f.name, e.eff_target, e.eff_filter, e.session_date, "
            "COALESCE(f.reason, f.status) FROM files f JOIN dirs d ON d.id = f.dir_id "
            "LEFT JOIN exposures e ON e.id = f.exposure_id WHERE f.status = ?",
            (name,),
        )
    else:
        raise ValueError(f"unknown bucket {name!r}")
    out = [
        BucketFrame(fid, ident, ledger.from_db(d), ledger.from_db(n), t, f, sd, why)
        for fid, ident, d, n, t, f, sd, why in rows
    ]
    out.sort(key=lambda r: (r.folder, r.session_date or "", r.name))
    return out


def _unknown_why(target, filt, sdate, itype, exposure, osc, inferred) -> str:
    why = [
        f"no {n}"
        for n, v in (("target", target), ("exposure", exposure), ("date", sdate), ("frame type", itype))
        if v is None
    ]
    if filt is None and not osc and (itype or "LIGHT") == "LIGHT":
        why.append("no filter (mono)")
    why += [f"{n} from folder" for bit, n in INFERRED_NAMES.items() if inferred & bit]
    return "; ".join(why)


def bucket_identities(conn: sqlite3.Connection, name: str) -> set[int]:
    """The exposures of a bucket's frames (what a retag of the bucket changes)."""
    if name == "suspect":
        return set(suspects(conn))
    return {r.identity for r in bucket_rows(conn, name) if r.identity is not None}
