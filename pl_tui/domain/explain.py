"""Why a frame does or does not count: each normalised field with where it came from (keyword,
unit from a comment, folder, computed, override, alias) and every rule that fired (derived
because…, rejected because…, suspect because…, copy of…, placeholder…, unit…).

Reads the file's header from disk with the scanner's own readers and rules, then, when the file
is in the ledger, adds what only the ledger knows: retags, aliases, copies and suspect checks.
Plain data out; the CLI (``pl-tui explain``) and the frame inspector print it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import ledger
from ..core.config import Config
from ..core.globs import Globs
from ..core.headers import HeaderError, Opener, iter_cards, read_header
from ..core.normalize import (
    FLAG_NAMES,
    INFERRED_DATE,
    INFERRED_FILTER,
    INFERRED_TARGET,
    INFERRED_TYPE,
    KEYWORDS,
    PLACEHOLDERS,
    Frame,
    normalize,
    split_name,
)
from . import triage


@dataclass(slots=True, frozen=True)
class FieldOrigin:
    name: str
    value: object
    origin: str  # "OBJECT 'M 81'", "folder 'M81'", "computed from XPIXSZ, FOCALLEN", "retag", …


@dataclass(slots=True)
class Explanation:
    path: str
    counts: bool
    verdict: str  # one line: "counts", "does not count: derived (STACKCNT = 16 …)", "unreadable: …"
    fields: list[FieldOrigin] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    error: str | None = None  # why the header could not be read
    root: str | None = None  # the archive root the file lies under, when the ledger knows it
    cards: list[tuple[str, str]] = field(default_factory=list)  # every card as written, for display


_SHOWN = (
    "target", "filter", "exposure_s", "image_type", "date_obs_utc", "session_date", "instrume", "telescop",
    "focallen_mm", "aperture_mm", "focratio", "xbinning", "ybinning", "xpixsz", "gain", "offset", "ccd_temp",
    "set_temp", "readout", "bayer", "ra_deg", "dec_deg", "site_lat", "site_lon", "software", "sequencer",
    "fwhm_arcsec", "sky_quality", "ambient_temp", "image_scale",
)  # fmt: skip
_INFERRED_BITS = {"target": INFERRED_TARGET, "filter": INFERRED_FILTER, "image_type": INFERRED_TYPE}


def _root_of(path: str, roots: list[str]) -> str:
    """The archive root a file lies under (the deepest known one), else its whole folder path."""
    best = ""
    for r in roots:
        if (path == r or path.startswith(r.rstrip(os.sep) + os.sep)) and len(r) > len(best):
            best = r
    return best or os.sep


def explain_file(path: str, config: Config, ledger_path: Path | None = None, opener: Opener = os.open) -> Explanation:
    """Everything pl-tui decides about one file, and why (``opener`` as for the header readers)."""
    path = os.path.abspath(path)
    conn = ledger.connect(ledger_path, create=False) if ledger_path is not None and Path(ledger_path).exists() else None
    try:
        return _explain(path, config, conn, opener)
    finally:
        if conn is not None:
            conn.close()


def _explain(path: str, config: Config, conn: sqlite3.Connection | None, opener: Opener) -> Explanation:
    roots = ledger.root_paths(conn) if conn is not None else []
    root = _root_of(path, roots)
    parts = (
        tuple(Path(os.path.relpath(os.path.dirname(path), root)).parts)
        if root != os.sep
        else tuple(p for p in Path(os.path.dirname(path)).parts if p != os.sep)
    )
    parts = tuple(p for p in parts if p != ".")
    name = os.path.basename(path)
    known_root = root if root != os.sep else None
    try:
        raw = read_header(path, opener=opener)
    except HeaderError as e:
        why = str(e)
        return Explanation(
            path, False, f"does not count: unreadable: {why}", [], [f"unreadable: {why}"], why, known_root
        )
    frame = normalize(raw.cards, raw.header_bytes, split_name(name), parts, config.night_rule(root), True, raw.size)
    cards = (
        list(iter_cards(raw.header_bytes))
        if raw.kind in ("fits", "fits.gz", "fits.fz")
        else [(k, repr(v)) for k, v in raw.cards.items()]
    )
    ex = Explanation(path, False, "", root=known_root, cards=cards)
    rules = ex.rules
    sources = frame.sources or {}
    _header_fields(ex, frame, raw.cards, sources)

    rejected = False
    if config.reject:
        globs = Globs.compile(config.reject)
        rejected = globs.folder(parts) or globs.file(parts, name)
    if rejected:
        rules.append(f"rejected: its folder matches a reject glob ({', '.join(config.reject)})")
    if frame.derived_reason:
        rules.append(f"derived because {frame.derived_reason}")
    for bit, text in FLAG_NAMES.items():
        if frame.flags & bit:
            rules.append(text)
    for fld in ("target", "filter", "image_type"):
        raw_value = getattr(frame, f"{fld}_raw")
        if raw_value is not None and raw_value.lower() in PLACEHOLDERS:
            keys = "/".join(KEYWORDS[fld])
            rules.append(f"{keys} {raw_value!r} is a placeholder for 'not set': treated as missing")
    for fld, bit in _INFERRED_BITS.items():
        if frame.inferred & bit:
            rules.append(f"{fld} {getattr(frame, fld)!r} taken from the folders (Unknown until confirmed)")
    if frame.inferred & INFERRED_DATE:
        rules.append(f"night {frame.session_date} taken from a date folder (Unknown until confirmed)")

    status = "rejected" if rejected else "derived" if frame.derived_reason else "accepted"
    image_type, shown_status = frame.image_type, status
    if conn is not None:
        image_type, shown_status = _ledger_facts(ex, conn, path, frame, status)
    missing = [
        f
        for f, v in (("target", frame.target), ("exposure", frame.exposure_s), ("night", frame.session_date))
        if v is None
    ]
    if frame.filter is None and not frame.osc:
        missing.append("filter (a mono camera)")
    if shown_status in ("accepted", "rejected") and image_type in (None, "LIGHT") and (missing or image_type is None):
        rules.append(f"Unknown: a light without {', '.join(missing + ([] if image_type else ['frame type']))}")
    counts = shown_status == "accepted" and image_type == "LIGHT"
    ex.counts = counts
    if counts:
        ex.verdict = f"counts: a LIGHT of {frame.exposure_s or 0:g} s" + (
            "" if frame.exposure_s else " (no usable exposure: adds no time)"
        )
    elif shown_status == "derived" and frame.derived_reason:
        ex.verdict = f"does not count: derived ({frame.derived_reason})"
    elif shown_status != "accepted":
        ex.verdict = f"does not count: {shown_status}"
    else:
        ex.verdict = f"does not count: a {image_type or 'frame of unknown type'}, not a LIGHT"
    return ex


def _header_fields(ex: Explanation, frame: Frame, cards: Mapping[str, object], sources: dict[str, str]) -> None:
    for fld in _SHOWN:
        value = getattr(frame, fld)
        if value is None:
            continue
        if isinstance(value, float):
            value = round(value, 6)
        if frame.inferred & _INFERRED_BITS.get(fld, 0) or (fld == "session_date" and frame.inferred & INFERRED_DATE):
            origin = "folder"
        elif fld == "session_date":
            origin = f"night rule, offset from {frame.night_basis}"
        elif fld == "image_scale":
            origin = "computed: XPIXSZ × 206.265 / FOCALLEN"
        elif fld == "sequencer":
            origin = f"computed from {sources.get('software', 'the software keyword')}"
        elif fld == "fwhm_arcsec":
            origin = "computed from FWHM/STARFWHM/HFR and the image scale"
        elif fld in sources:
            key = sources[fld]
            raw = cards.get(key)
            origin = key if " " in key or raw is None else f"{key} = {raw!r}"
        else:
            origin = "computed"
        ex.fields.append(FieldOrigin(fld, value, origin))


def _ledger_facts(
    ex: Explanation, conn: sqlite3.Connection, path: str, frame: Frame, status: str
) -> tuple[str | None, str]:
    """Overrides, aliases, copies and suspect checks from the ledger; (effective type, status)."""
    row = conn.execute(
        "SELECT f.id, f.identity, f.status FROM files f JOIN dirs d ON d.id = f.dir_id WHERE d.path = ? AND f.name = ?",
        (ledger.to_db(os.path.dirname(path)), ledger.to_db(os.path.basename(path))),
    ).fetchone()
    if row is None:
        ex.rules.append("not in the ledger yet: scan its archive to count it")
        return frame.image_type, status
    file_id, identity, file_status = row
    e = conn.execute(
        "SELECT ov_target, ov_filter, ov_type, ov_status, alias_target, alias_filter, eff_target, eff_filter, "
        "eff_type, eff_status, target, filter FROM exposures WHERE identity = ?",
        (identity,),
    ).fetchone()
    if e is None:
        return frame.image_type, file_status
    (
        ov_target,
        ov_filter,
        ov_type,
        ov_status,
        al_target,
        al_filter,
        eff_target,
        eff_filter,
        eff_type,
        eff_status,
        t,
        f,
    ) = e
    for fld, ov, al, eff, base in (
        ("target", ov_target, al_target, eff_target, t),
        ("filter", ov_filter, al_filter, eff_filter, f),
    ):
        if ov is not None:
            ex.rules.append(f"{fld} set by a retag: {base!r} → {eff!r}")
            _replace(ex, fld, eff, "retag (pl-tui undo reverts it)")
        elif al is not None:
            ex.rules.append(f"{fld} alias: {base!r} → {eff!r}")
            _replace(ex, fld, eff, f"alias of {base!r}")
    if ov_type is not None:
        ex.rules.append(f"frame type set by a retag: {frame.image_type!r} → {eff_type!r}")
        _replace(ex, "image_type", eff_type, "retag (pl-tui undo reverts it)")
    if ov_status is not None:
        ex.rules.append(f"status set by a retag: {ov_status}")
    shown = eff_status if file_status not in (ledger.MISSING, ledger.UNREADABLE) else file_status
    counted = conn.execute(
        "SELECT d.path, f.name FROM files f JOIN dirs d ON d.id = f.dir_id WHERE f.identity = ? AND f.id <> ? "
        "AND f.status NOT IN ('missing', 'unreadable') AND f.id < ? ORDER BY f.id LIMIT 1",
        (identity, file_id, file_id),
    ).fetchone()
    if counted is not None and shown == "accepted":
        ex.rules.append(f"copy of {ledger.join_path(*counted)}: the same exposure counts once, there")
        shown = "duplicate (a copy of a frame that counts)"
    reason = triage.suspects(conn).get(identity)
    if reason:
        ex.rules.append(f"suspect: {reason}")
    return eff_type, shown


def _replace(ex: Explanation, name: str, value: object, origin: str) -> None:
    ex.fields = [FieldOrigin(name, value, origin) if f.name == name else f for f in ex.fields]
    if not any(f.name == name for f in ex.fields):
        ex.fields.insert(0, FieldOrigin(name, value, origin))
