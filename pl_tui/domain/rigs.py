"""Rigs, sequencers and sensor health, goals, and calibration coverage.

* A **rig** is a camera on an optic: normalised INSTRUME, TELESCOP (or the focal length when
  TELESCOP is missing) and the native pixel size. Binning and readout mode are **configurations**
  of a rig. Rigs are auto-named "camera @ telescope"; the user renames and merges them with rules
  kept in the ledger (``rig_rules``), logged and undone like retags.
* **Rig changes**: a target's consecutive sessions shot with different rigs.
* **Sensor health**: per rig and night, CCD-TEMP against SET-TEMP; a session with frames more than
  1 °C off the set-point is flagged. Gain and offset per rig and night.
* **Goals**: hours per target × filter (config ``[goals]`` or set in the app) and how far along.
* **Calibration coverage**: for each light session, the darks, flats, flat-darks and biases that
  match it, and the sessions missing any.

Everything is aggregated in SQL (tallies per setup, GROUP BY on exposures); rig names are mapped
per setup in Python — there are a handful of setups, not a million.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from .. import ledger
from ..core.errors import UserInputError, finite, user_text
from . import audit

DRIFT_C = 1.0  # a frame this far from its set-point counts as off
DARK_SET_TEMP_C = 2.0  # a dark matches a light within this set-point difference


# ---------------------------------------------------------------------------------------------
# Rigs


def _clean(s: str | None) -> str | None:
    return " ".join(s.split()) if s and s.strip() else None


def rig_key(instrume, telescop, focallen_mm, xpixsz, xbinning) -> str | None:
    """'camera|optic|native pixel µm' — None when neither camera nor optic is known."""
    camera = _clean(instrume)
    optic = _clean(telescop) or (f"{round(focallen_mm)}mm" if focallen_mm else None)
    if camera is None and optic is None:
        return None
    pixel = f"{xpixsz / (xbinning or 1):.2f}" if xpixsz else "?"
    return f"{camera or '?'}|{optic or '?'}|{pixel}"


def auto_name(key: str) -> str:
    camera, optic, _pixel = key.split("|")
    camera = "unknown camera" if camera == "?" else camera
    return camera if optic == "?" else f"{camera} @ {optic}"


@dataclass(slots=True)
class Rig:
    key: str
    name: str
    setups: list[int] = field(default_factory=list)
    configurations: dict[str, int] = field(default_factory=dict)  # '1x1 High Gain' → frames
    frames: int = 0
    hours: float = 0.0
    first_night: str | None = None
    last_night: str | None = None
    image_scales: set[float] = field(default_factory=set)  # arcsec/px, one per binning used

    @property
    def image_scale_text(self) -> str:
        """'3.1' or '1.55;3.1' (binned configurations): what imagers compare rigs by."""
        return ";".join(f"{s:g}" for s in sorted(self.image_scales))

    @property
    def auto_name(self) -> str:
        return auto_name(self.key)


def _rules(conn: sqlite3.Connection) -> dict[str, tuple[str | None, str | None]]:
    return {k: (n, m) for k, n, m in conn.execute("SELECT rig, name, merged_into FROM rig_rules")}


def _resolve(key: str, rules: Mapping[str, tuple[str | None, str | None]]) -> str:
    seen = {key}
    while (into := rules.get(key, (None, None))[1]) is not None:
        key = into
        if key in seen:
            break  # a cycle can only come from hand-edited rules: stop at the first repeat
        seen.add(key)
    return key


def setup_rigs(conn: sqlite3.Connection) -> dict[int, tuple[str, str, str]]:
    """setup id → (rig key after merges, rig name, configuration)."""
    rules = _rules(conn)
    out = {}
    for sid, inst, tel, fl, pix, xb, yb, readout in conn.execute(
        "SELECT id, instrume, telescop, focallen_mm, xpixsz, xbinning, ybinning, readout FROM setups"
    ):
        key = rig_key(inst, tel, fl, pix, xb)
        if key is None:
            continue
        key = _resolve(key, rules)
        name = rules.get(key, (None, None))[0] or auto_name(key)
        config = f"{xb or 1}x{yb or xb or 1}" + (f" {readout}" if readout else "")
        out[sid] = (key, name, config)
    return out


def rigs(conn: sqlite3.Connection) -> list[Rig]:
    """Every rig with its counting frames and hours (from the tallies), most hours first."""
    by_setup = setup_rigs(conn)
    scales = {
        sid: round(pix * 206.265 / fl, 2)
        for sid, pix, fl in conn.execute("SELECT id, xpixsz, focallen_mm FROM setups")
        if pix and fl and pix > 0 and fl > 0
    }
    found: dict[str, Rig] = {}
    for key, name, _config in by_setup.values():
        found.setdefault(key, Rig(key, name))
    for sid, frames, total_us, first, last in conn.execute(
        "SELECT setup_id, sum(frame_count), sum(total_us), min(NULLIF(session_date, '')), "
        "max(NULLIF(session_date, '')) FROM tallies GROUP BY setup_id"
    ):
        if sid not in by_setup:
            continue
        key, _name, config = by_setup[sid]
        rig = found[key]
        rig.setups.append(sid)
        if sid in scales:
            rig.image_scales.add(scales[sid])
        rig.frames += frames
        rig.hours += total_us / 3_600_000_000
        rig.configurations[config] = rig.configurations.get(config, 0) + frames
        rig.first_night = min(filter(None, (rig.first_night, first)), default=None)
        rig.last_night = max(filter(None, (rig.last_night, last)), default=None)
    # a camera seen only on calibration frames (darks carry no TELESCOP) is no rig to list
    return sorted((r for r in found.values() if r.frames), key=lambda r: (-r.hours, r.name))


class RigError(UserInputError, ledger.LedgerError):
    """A rig name or goal that cannot be used. Also a LedgerError: callers that catch that still
    show it (new code catches UserInputError)."""


# hours of a goal: above a century of nights nobody means it
MAX_GOAL_HOURS = 100_000


def find_rig(conn: sqlite3.Connection, text: str) -> str:
    """A rig key from what the user typed: its key, its name or its automatic name."""
    text = user_text(text)
    keys = {key: name for key, name, _ in setup_rigs(conn).values()}
    for key, name in keys.items():
        if text in (key, name, auto_name(key)):
            return key
    raise RigError(f"no rig {text!r}; see 'pl-tui rigs' for their names")


def _set_rule(conn: sqlite3.Connection, key: str, name: str | None, merged_into: str | None, what: str) -> int:
    previous = conn.execute("SELECT name, merged_into FROM rig_rules WHERE rig = ?", (key,)).fetchone()
    conn.execute(
        "INSERT INTO rig_rules (rig, name, merged_into) VALUES (?, ?, ?) ON CONFLICT (rig) DO UPDATE SET "
        "name = excluded.name, merged_into = excluded.merged_into",
        (key, name, merged_into),
    )
    return audit.record(conn, "rig", key, what, [name, merged_into], 0, undo=list(previous) if previous else None)


def rename_rig(conn: sqlite3.Connection, text: str, new_name: str) -> str:
    new_name = _clean(user_text(new_name)) or ""
    if not new_name:
        raise RigError("a rig needs a name")
    with ledger.transaction(conn):
        key = find_rig(conn, text)
        merged = _rules(conn).get(key, (None, None))[1]
        _set_rule(conn, key, new_name, merged, "rename")
    return f"rig {auto_name(key)} is now called {new_name}"


def merge_rigs(conn: sqlite3.Connection, source_text: str, into_text: str) -> str:
    """The same rig under two fingerprints (a renamed camera driver, TELESCOP typed two ways)."""
    with ledger.transaction(conn):
        source, into = find_rig(conn, source_text), find_rig(conn, into_text)
        if source == into:
            raise RigError("that is the same rig")
        name = _rules(conn).get(source, (None, None))[0]
        _set_rule(conn, source, name, into, "merge")
    return f"rig {auto_name(source)} merged into {auto_name(into)}"


def undo_rule(conn: sqlite3.Connection, key: str, previous: list | None) -> None:
    """Put a rig's rule back as it was before an audited change ([name, merged_into] or None)."""
    if previous is None:
        conn.execute("DELETE FROM rig_rules WHERE rig = ?", (key,))
    else:
        conn.execute("UPDATE rig_rules SET name = ?, merged_into = ? WHERE rig = ?", (*previous, key))


@dataclass(slots=True, frozen=True)
class RigChange:
    target: str
    night: str
    before: tuple[str, ...]  # rig names of the previous session
    after: tuple[str, ...]


def rig_changes(conn: sqlite3.Connection, target: str | None = None) -> list[RigChange]:
    """Sessions of a target (or every target) whose rigs differ from its previous session's."""
    by_setup = setup_rigs(conn)
    nights: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    sql = "SELECT target, session_date, setup_id FROM tallies WHERE target <> '' AND session_date <> ''"
    params: tuple = ()
    if target is not None:
        sql += " AND target = ?"
        params = (target,)
    for t, night, sid in conn.execute(sql, params):
        if sid in by_setup:
            nights[t][night].add(by_setup[sid][1])
    out = []
    for t, per_night in sorted(nights.items()):
        previous: set[str] | None = None
        for night in sorted(per_night):
            current = per_night[night]
            if previous is not None and current != previous:
                out.append(RigChange(t, night, tuple(sorted(previous)), tuple(sorted(current))))
            previous = current
    return out


def sequencers(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(program, version as written, frames) — every indexed exposure, most frames first."""
    rows = conn.execute(
        "SELECT COALESCE(s.sequencer, 'unknown'), COALESCE(s.software, ''), count(*) FROM exposures e "
        "JOIN setups s ON s.id = e.setup_id GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
    )
    return [(p, v, n) for p, v, n in rows]


# ---------------------------------------------------------------------------------------------
# Sensor health


@dataclass(slots=True, frozen=True)
class SensorNight:
    rig: str
    night: str
    frames: int
    ccd_temp: float  # mean
    set_temp: float | None
    off: int  # frames more than DRIFT_C from the set-point
    gain: float | None
    offset: float | None

    @property
    def flagged(self) -> bool:
        return self.off > 0


def sensor_nights(conn: sqlite3.Connection, rig: str | None = None) -> list[SensorNight]:
    """Per rig and night of light frames with a sensor temperature, by rig then night."""
    by_setup = setup_rigs(conn)
    rows = conn.execute(
        f"""SELECT e.setup_id, e.session_date, count(*), avg(e.ccd_temp), s.set_temp,
               sum(s.set_temp IS NOT NULL AND abs(e.ccd_temp - s.set_temp) > {DRIFT_C}), s.gain, s.offset
        FROM exposures e JOIN setups s ON s.id = e.setup_id
        WHERE e.ccd_temp IS NOT NULL AND e.session_date IS NOT NULL AND e.eff_type IS 'LIGHT'
        GROUP BY e.setup_id, e.session_date"""
    )
    merged: dict[tuple[str, str], list] = {}
    for sid, night, n, mean, set_temp, off, gain, offset in rows:
        if sid not in by_setup:
            continue
        name = by_setup[sid][1]
        if rig is not None and rig not in (name, by_setup[sid][0]):
            continue
        key = (name, night)
        if key in merged:  # two setups of one rig on one night (another binning): weight the means
            m = merged[key]
            m[1] = (m[1] * m[0] + mean * n) / (m[0] + n)
            m[0] += n
            m[3] += off
        else:
            merged[key] = [n, mean, set_temp, off, gain, offset]
    return [SensorNight(r, night, *v) for (r, night), v in sorted(merged.items())]


# ---------------------------------------------------------------------------------------------
# Goals


@dataclass(slots=True, frozen=True)
class Goal:
    target: str
    filter: str
    goal_hours: float
    hours: float

    @property
    def fraction(self) -> float:
        return self.hours / self.goal_hours if self.goal_hours > 0 else 1.0


def goals(conn: sqlite3.Connection, configured: Mapping[str, Mapping[str, float]] | None = None) -> list[Goal]:
    """Every goal (the ledger's, set in the app, win over the config's) with the hours so far,
    most starved first — the answer to "what should I shoot tonight?"."""
    wanted: dict[tuple[str, str], float] = {}
    for target, per_filter in (configured or {}).items():
        for filt, h in per_filter.items():
            wanted[(target, filt)] = float(h)
    for target, filt, h in conn.execute("SELECT target, filter, hours FROM goals"):
        wanted[(target, filt)] = h
    have = {
        (t, f): us / 3_600_000_000
        for t, f, us in conn.execute("SELECT target, filter, sum(total_us) FROM tallies GROUP BY target, filter")
    }
    out = [Goal(t, f, h, have.get((t, f), 0.0)) for (t, f), h in wanted.items() if h > 0]
    return sorted(out, key=lambda g: (g.fraction, g.target, g.filter))


def set_goal(conn: sqlite3.Connection, target: str, filt: str, hours: float | None) -> None:
    """A goal set in the app (None or 0: no goal). Not audited: it changes no frame.
    Raises RigError (a UserInputError) for hours that are not a number from 0 to MAX_GOAL_HOURS."""
    if hours is not None:
        try:
            hours = finite(hours, "a goal's hours", 0, MAX_GOAL_HOURS)
        except UserInputError as e:
            raise RigError(str(e)) from None
    target, filt = user_text(target), user_text(filt)
    with ledger.transaction(conn):
        if not hours:
            conn.execute("DELETE FROM goals WHERE target = ? AND filter = ?", (target, filt))
        else:
            conn.execute(
                "INSERT INTO goals (target, filter, hours) VALUES (?, ?, ?) "
                "ON CONFLICT (target, filter) DO UPDATE SET hours = excluded.hours",
                (target, filt, hours),
            )


# ---------------------------------------------------------------------------------------------
# Calibration coverage


@dataclass(slots=True, frozen=True)
class Coverage:
    night: str
    target: str
    filter: str | None
    camera: str | None
    exposure_s: float | None
    frames: int
    darks: int
    flats: int
    flat_darks: int
    biases: int
    xbinning: int | None = None
    gain: float | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        kinds = (("darks", self.darks), ("flats", self.flats), ("flat-darks", self.flat_darks), ("bias", self.biases))
        return tuple(k for k, n in kinds if n == 0)


_LIGHT_SESSIONS = """
SELECT e.session_date, e.eff_target, e.eff_filter, s.instrume, s.gain, s.offset, s.xbinning, s.ybinning,
       s.readout, e.exposure_s, s.set_temp, s.telescop, s.focallen_mm, count(*)
FROM exposures e JOIN setups s ON s.id = e.setup_id
WHERE e.counting AND e.session_date IS NOT NULL {target}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
ORDER BY 1, 2, 3
"""
_CALIBRATION = """
SELECT e.eff_type, e.session_date, e.eff_filter, s.instrume, s.gain, s.offset, s.xbinning, s.ybinning,
       s.readout, e.exposure_s, s.set_temp, s.telescop, s.focallen_mm, count(*)
FROM exposures e JOIN setups s ON s.id = e.setup_id
WHERE e.eff_type IN ('DARK', 'FLAT', 'DARKFLAT', 'BIAS') AND e.eff_status = 'accepted'
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
"""


def _days(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days)


def calibration(conn: sqlite3.Connection, target: str | None = None, flat_nights: int = 0) -> list[Coverage]:
    """Each light session (night × target × filter × camera settings × exposure) with the matching
    calibration frames: darks of the same camera, gain, offset, binning, readout and exposure within
    ±2 °C set-point (any night: a dark library); flats of the same filter and rig within
    ``flat_nights`` nights; flat-darks and biases of the same camera, gain, offset, binning, readout."""
    cal = conn.execute(_CALIBRATION).fetchall()
    out = []
    sql = _LIGHT_SESSIONS.format(target="AND e.eff_target = ?" if target is not None else "")
    for night, t, filt, cam, gain, off, xb, yb, ro, exp, set_t, tel, fl, n in conn.execute(
        sql, (target,) if target is not None else ()
    ):
        sensor = (cam, gain, off, xb, yb, ro)
        counts = {"DARK": 0, "FLAT": 0, "DARKFLAT": 0, "BIAS": 0}
        for kind, c_night, c_filt, c_cam, c_gain, c_off, c_xb, c_yb, c_ro, c_exp, c_set, c_tel, c_fl, c_n in cal:
            if (c_cam, c_gain, c_off, c_xb, c_yb, c_ro) != sensor:
                continue
            if kind == "DARK":
                ok = c_exp == exp and (set_t is None or c_set is None or abs(c_set - set_t) <= DARK_SET_TEMP_C)
            elif kind == "FLAT":
                within = _days(c_night, night)
                ok = c_filt == filt and (c_tel, c_fl) == (tel, fl) and within is not None and within <= flat_nights
            else:
                ok = True
            if ok:
                counts[kind] += c_n
        out.append(
            Coverage(
                night,
                t,
                filt,
                cam,
                exp,
                n,
                counts["DARK"],
                counts["FLAT"],
                counts["DARKFLAT"],
                counts["BIAS"],
                xb,
                gain,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Timelines: aggregated in SQL (the tallies), binned to fit the chart's width


@dataclass(slots=True, frozen=True)
class Series:
    """Hours per bin and filter, for a stacked bar chart on a linear time axis: the bins are every
    night (or week, month, quarter, year) from the first to the last, empty ones included."""

    bins: list[str]  # labels: 'YYYY-MM-DD' (a night; a week by its Monday), 'YYYY-MM', 'YYYY-Qn', 'YYYY'
    unit: str  # 'night', 'week', 'month', 'quarter' or 'year'
    filters: list[str]
    hours: list[list[float]]  # hours[filter index][bin index]
    rig_changes: list[int]  # bin indices where the rig changed


_UNITS = ("night", "week", "month", "quarter", "year")


def _bin_start(d: date, unit: str) -> date:
    if unit == "night":
        return d
    if unit == "week":
        return date.fromordinal(d.toordinal() - d.weekday())
    if unit == "month":
        return d.replace(day=1)
    if unit == "quarter":
        return d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)
    return d.replace(month=1, day=1)


def _next_bin(d: date, unit: str) -> date:
    if unit in ("night", "week"):
        return date.fromordinal(d.toordinal() + (1 if unit == "night" else 7))
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def _label(d: date, unit: str) -> str:
    if unit in ("night", "week"):
        return d.isoformat()
    if unit == "month":
        return d.isoformat()[:7]
    if unit == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return str(d.year)


def night_series(conn: sqlite3.Connection, target: str, max_bins: int = 40) -> Series:
    """A target's hours per night by filter on a linear time axis — per week, month, quarter or
    year when the span would not fit ``max_bins`` bars. Aggregated in SQL (the tallies)."""
    rows = conn.execute(
        "SELECT session_date, filter, sum(total_us) FROM tallies WHERE target = ? AND session_date <> '' "
        "GROUP BY session_date, filter ORDER BY session_date",
        (ledger.tally_key(target),),
    ).fetchall()
    filters = sorted({r[1] for r in rows})
    if not rows:
        return Series([], "night", [], [], [])
    first, last = date.fromisoformat(rows[0][0]), date.fromisoformat(rows[-1][0])
    for unit in _UNITS:
        coarsest = unit == _UNITS[-1]  # years: as many as there are, even past max_bins
        starts = [_bin_start(first, unit)]
        while starts[-1] < _bin_start(last, unit) and (coarsest or len(starts) <= max_bins):
            starts.append(_next_bin(starts[-1], unit))
        if len(starts) <= max_bins or coarsest:
            break
    index = {s: i for i, s in enumerate(starts)}
    hours = [[0.0] * len(starts) for _ in filters]
    for night, filt, us in rows:
        hours[filters.index(filt)][index[_bin_start(date.fromisoformat(night), unit)]] += us / 3_600_000_000
    changes = sorted({index[_bin_start(date.fromisoformat(c.night), unit)] for c in rig_changes(conn, target)})
    return Series([_label(s, unit) for s in starts], unit, [f or "(no filter)" for f in filters], hours, changes)


def month_hours(conn: sqlite3.Connection) -> list[tuple[str, float]]:
    """The whole archive's hours per month."""
    return [
        (m, us / 3_600_000_000)
        for m, us in conn.execute(
            "SELECT substr(session_date, 1, 7), sum(total_us) FROM tallies WHERE session_date <> '' "
            "GROUP BY 1 ORDER BY 1"
        )
    ]


@dataclass(slots=True, frozen=True)
class Gap:
    target: str
    last_night: str
    nights_ago: int
    hours: float


def gaps(conn: sqlite3.Connection, today: date | None = None) -> list[Gap]:
    """Every target by how long ago it was last imaged ("last imaged 43 nights ago"), longest first."""
    today = today or date.today()
    out = [
        Gap(t, last, (today - date.fromisoformat(last)).days, us / 3_600_000_000)
        for t, last, us in conn.execute(
            "SELECT target, max(NULLIF(session_date, '')), sum(total_us) FROM tallies WHERE target <> '' "
            "GROUP BY target HAVING max(NULLIF(session_date, '')) IS NOT NULL"
        )
    ]
    return sorted(out, key=lambda g: (-g.nights_ago, g.target))
