"""Raw keywords + path → one normalised :class:`Frame`.

Owns reading and normalising a header: the keyword fallback table, frame-type / target / filter normalisation, units,
dates and the astronomical night, pointing in degrees, the folder fallback (values marked
*inferred*), derived-frame signals, the sequencer and the exposure identity. Pure functions:
no I/O, no ledger. Missing values are None, never a sentinel.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from .headers import Cards, card_comment

# Bits of Frame.inferred: which values came from the folder layout, not the header.
INFERRED_TARGET = 1
INFERRED_FILTER = 2
INFERRED_TYPE = 4
INFERRED_DATE = 8
INFERRED_NAMES = {
    INFERRED_TARGET: "target",
    INFERRED_FILTER: "filter",
    INFERRED_TYPE: "image_type",
    INFERRED_DATE: "session_date",
}

# Bits of Frame.flags: values the normaliser had to repair, and contradictions it saw.
FLAG_FOCALLEN_METRES = 1
FLAG_APERTURE_METRES = 2
FLAG_LOC_DISAGREES = 4  # DATE-LOC − DATE-OBS is not the site's UTC offset (a Suspect rule)
FLAG_EXPOSURE_UNIT = 8  # the exposure keyword's comment named a unit other than seconds
FLAG_EXPOSURE_IMPOSSIBLE = 16  # no sub-frame has that exposure: kept out of the sums (a Suspect rule)
FLAG_NAMES = {
    FLAG_FOCALLEN_METRES: "FOCALLEN in metres",
    FLAG_APERTURE_METRES: "APTDIA in metres",
    FLAG_LOC_DISAGREES: "DATE-OBS and DATE-LOC disagree with the site offset",
    FLAG_EXPOSURE_UNIT: "exposure converted to seconds from the unit in its comment",
    FLAG_EXPOSURE_IMPOSSIBLE: "exposure impossible for a single frame (≤ 0, or longer than a day)",
}
# Longest single sub-frame we believe: a day. Anything longer is a stack total or a typo.
MAX_EXPOSURE_S = 86_400.0

# Why the normaliser sees a header the way it does: part of every root's re-read stamp, so a
# rule change (units, placeholders, derived-by-value …) re-reads existing ledgers once.
RULES_VERSION = 2
# Zone offsets differ from local mean solar time by up to ~2.5 h where people image (Spain in
# summer: 2 h 16 min); further than this from SITELONG's solar offset, DATE-LOC is wrong.
SOLAR_OFFSET_TOLERANCE_MIN = 180

FRAME_TYPES = ("LIGHT", "DARK", "FLAT", "BIAS", "DARKFLAT")

# Where the night's UTC offset came from, in order of preference.
NIGHT_BASIS = ("tz", "date-loc", "sitelong", "machine")


@dataclass(slots=True, frozen=True)
class NightRule:
    """How a UTC instant becomes an astronomical night."""

    boundary_hour: float = 12.0
    tz: str | None = None  # the archive's configured IANA zone


@dataclass(slots=True)
class Frame:
    """One exposure's normalised header. Field names are the ledger's column names."""

    identity: int
    target: str | None = None
    target_raw: str | None = None
    filter: str | None = None
    filter_raw: str | None = None
    exposure_s: float | None = None
    image_type: str | None = None
    image_type_raw: str | None = None
    t_obs_ms: int | None = None  # DATE-OBS as Unix ms, UTC
    loc_offset_min: int | None = None  # DATE-LOC − DATE-OBS, rounded to 15 min
    session_date: str | None = None
    night_basis: str | None = None
    instrume: str | None = None
    telescop: str | None = None
    focallen_mm: float | None = None
    aperture_mm: float | None = None
    focratio: float | None = None
    xbinning: int | None = None
    ybinning: int | None = None
    xpixsz: float | None = None
    ypixsz: float | None = None
    gain: float | None = None
    offset: float | None = None
    ccd_temp: float | None = None
    set_temp: float | None = None
    readout: str | None = None
    bayer: str | None = None
    osc: int = 0
    ra_deg: float | None = None
    dec_deg: float | None = None
    alt_deg: float | None = None
    az_deg: float | None = None
    airmass: float | None = None
    # the night's conditions, for AstroBin's meanFwhm, meanSqm and temperature
    fwhm_arcsec: float | None = None
    sky_quality: float | None = None  # mag/arcsec² (an SQM reading)
    ambient_temp: float | None = None  # °C
    site_lat: float | None = None
    site_lon: float | None = None
    site_elev: float | None = None
    software: str | None = None
    sequencer: str | None = None
    run_guid: str | None = None
    naxis1: int | None = None
    naxis2: int | None = None
    folder_type: str | None = None
    inferred: int = 0
    flags: int = 0
    # Not stored on the exposure: the derived signal belongs to the file (a calibrated copy
    # shares its original's identity), and the explanation is for the inspector.
    derived_reason: str | None = None
    sources: dict[str, str] | None = field(default=None, compare=False)

    @property
    def date_obs_utc(self) -> str | None:
        return format_utc_ms(self.t_obs_ms)

    @property
    def image_scale(self) -> float | None:
        """arcsec/px; None when pixel size or focal length is missing (never guessed)."""
        if self.xpixsz and self.focallen_mm:
            return self.xpixsz * 206.265 / self.focallen_mm
        return None


EXPOSURE_COLUMNS: tuple[str, ...] = tuple(
    f for f in Frame.__dataclass_fields__ if f not in ("derived_reason", "sources")
)
exposure_row = attrgetter(*EXPOSURE_COLUMNS)
# Fields that repeat for every frame of a rig, site and program: the ledger stores them once
# (its ``setups``); the normaliser works them out once per distinct set of setup cards.
SETUP_COLUMNS = (
    "instrume", "telescop", "focallen_mm", "aperture_mm", "focratio", "xbinning", "ybinning",
    "xpixsz", "ypixsz", "gain", "offset", "set_temp", "readout", "bayer", "osc",
    "site_lat", "site_lon", "site_elev", "software", "sequencer", "naxis1", "naxis2",
)  # fmt: skip
EXPOSURE_ONLY = tuple(c for c in EXPOSURE_COLUMNS if c not in SETUP_COLUMNS)

# Statuses of a file in the ledger. An exposure's base status is the best of its present files'.
# Here, below the ledger, because a reader process decides the first three and imports no ledger.
ACCEPTED, REJECTED, DERIVED, MISSING, UNREADABLE = (
    "accepted",
    "rejected",
    "derived",
    "missing",
    "unreadable",
)
_setup_values = itemgetter(*SETUP_COLUMNS)
_exposure_values = itemgetter(*EXPOSURE_ONLY)


# ---------------------------------------------------------------------------------------------
# Small value helpers


# Values capture programs write for "not set" (Seestar OBJECT='Unknown', ASIAIR FILTER='None',
# empty strings, 'N/A', 'undefined'): missing, like an absent keyword. The raw text is kept.
PLACEHOLDERS = frozenset({"unknown", "none", "n/a", "undefined", "null", "nil", "-", "--", "?", "not set", "no filter"})


def _text(v: object) -> str | None:
    if isinstance(v, str):
        return _clean_text(v)
    if v is None or v.__class__ is bool:
        return None
    return _clean_text(str(v))


@lru_cache(maxsize=8192)
def _clean_text(v: str) -> str | None:
    s = " ".join(v.split())
    if not s or s.lower() in PLACEHOLDERS:
        return None
    return s


def _raw_text(v: object) -> str | None:
    """A text value as written, placeholders included: what the user sees beside the normalised one."""
    if v is None or v.__class__ is bool:
        return None
    return " ".join(str(v).split()) or None


# Every number stored must fit SQLite's 64-bit integer (REAL holds any finite float): a card
# like GAIN = 99999999999999999999 becomes missing rather than stopping the scan.
_INT_LIMIT = 2**63


def _num(v: object) -> float | int | None:
    """A header value as a number. Card values that are numbers are finite by the readers' contract."""
    if isinstance(v, float):
        return v
    if isinstance(v, bool) or not isinstance(v, int | str):
        return None  # None, logicals, complex
    if isinstance(v, int):
        return v if -_INT_LIMIT < v < _INT_LIMIT else None
    s = v.strip().replace("D", "E")
    if not s:
        return None
    with contextlib.suppress(ValueError):  # not an integer: perhaps a float
        n = int(s)
        return n if -_INT_LIMIT < n < _INT_LIMIT else None
    try:
        f = float(s)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _int(v: object) -> int | None:
    n = _num(v)
    if n is None or not float(n).is_integer():
        return None
    i = int(n)
    return i if -_INT_LIMIT < i < _INT_LIMIT else None


def _pick(cards: Mapping[str, object], keys: tuple[str, ...], conv) -> object:
    """First keyword present whose value converts wins."""
    if len(keys) == 1:
        v = cards.get(keys[0])
        return None if v is None else conv(v)
    for k in keys:
        v = cards.get(k)
        if v is not None:
            v = conv(v)
            if v is not None:
                return v
    return None


# ---------------------------------------------------------------------------------------------
# Frame type, target, filter


_TYPE_WORDS = {
    "light": "LIGHT",
    "light frame": "LIGHT",
    "lights": "LIGHT",
    "object": "LIGHT",
    "science": "LIGHT",
    "dark": "DARK",
    "dark frame": "DARK",
    "darks": "DARK",
    "bias": "BIAS",
    "bias frame": "BIAS",
    "biases": "BIAS",
    "offset": "BIAS",
    "offset frame": "BIAS",
    "offsets": "BIAS",
    "zero": "BIAS",
    "flat": "FLAT",
    "flat frame": "FLAT",
    "flat field": "FLAT",
    "flatfield": "FLAT",
    "flats": "FLAT",
    "darkflat": "DARKFLAT",
    "dark flat": "DARKFLAT",
    "flat dark": "DARKFLAT",
    "flatdark": "DARKFLAT",
    # observatory OBSTYPE values (Las Cumbres): an exposure of the sky is a light
    "expose": "LIGHT",
    "standard": "LIGHT",
    "skyflat": "FLAT",
    "sky flat": "FLAT",
    "twilight flat": "FLAT",
    "lampflat": "FLAT",
    "dome flat": "FLAT",
    "domeflat": "FLAT",
    "darkflats": "DARKFLAT",
    "flatdarks": "DARKFLAT",
    "dark flats": "DARKFLAT",
    "flat darks": "DARKFLAT",
}


@lru_cache(maxsize=1024)
def normalize_image_type(raw: str) -> tuple[str | None, bool]:
    """'Light Frame', 'light', 'Object' → ('LIGHT', False); 'Master Dark' → ('DARK', True)."""
    s = " ".join(raw.replace("_", " ").replace("-", " ").split()).lower()
    master = s.startswith("master")
    if master:
        s = s[6:].strip()
    return _TYPE_WORDS.get(s), master


CATALOGUE = re.compile(
    r"(?<![A-Za-z0-9])(sharpless|sh\s*2|abell|barnard|ngc|ldn|lbn|vdb|ic|m|b)[\s_-]*0*(\d+)(?![0-9])",
    re.IGNORECASE,
)
_CATALOGUE_PREFIX = {
    "m": "M",
    "ngc": "NGC",
    "ic": "IC",
    "ldn": "LDN",
    "lbn": "LBN",
    "vdb": "vdB",
    "abell": "Abell",
    "barnard": "B",
    "b": "B",
    "sharpless": "Sh2-",
    "sh2": "Sh2-",
}


def _fold_designation(m: re.Match[str]) -> str:
    prefix = "".join(m.group(1).split()).lower()
    return _CATALOGUE_PREFIX[prefix] + m.group(2)


@lru_cache(maxsize=4096)
def normalize_target(raw: str) -> str | None:
    """Trim, collapse whitespace, fold catalogue designations: 'm 031' → 'M31', 'Sh2 129' → 'Sh2-129'."""
    s = " ".join(raw.split())
    if not s:
        return None
    return CATALOGUE.sub(_fold_designation, s)


_FILTER_ALIASES = {
    "ha": "Ha",
    "halpha": "Ha",
    "hα": "Ha",
    "oiii": "OIII",
    "o3": "OIII",
    "sii": "SII",
    "s2": "SII",
    "l": "L",
    "lum": "L",
    "luminance": "L",
    "r": "R",
    "red": "R",
    "g": "G",
    "green": "G",
    "b": "B",
    "blue": "B",
}


def _filter_key(s: str) -> str:
    return s.lower().replace("-", "").replace("_", "").replace(" ", "")


@lru_cache(maxsize=1024)
def normalize_filter(raw: str) -> str | None:
    """Default alias table (Ha/H-alpha/HA → Ha, O3 → OIII, Lum → L, Red → R, …); else trimmed."""
    s = " ".join(raw.split())
    if not s:
        return None
    return _FILTER_ALIASES.get(_filter_key(s), s)


def is_filter_name(s: str) -> bool:
    return _filter_key(s) in _FILTER_ALIASES


# ---------------------------------------------------------------------------------------------
# Dates


_ISO = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:T|\s+|T\s*)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d*))?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_DMY = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{2,4})\s*$")
_TIME = re.compile(r"\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d*))?)?\s*$")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _frac_ms(frac: str | None) -> int:
    """Fractional seconds of any length → whole ms (truncated: identity must be stable)."""
    if not frac:
        return 0
    return int((frac + "000")[:3])


@lru_cache(maxsize=4096)
def _day_ms(y: int, mo: int, d: int) -> int:
    return (date(y, mo, d).toordinal() - _EPOCH_ORDINAL) * 86_400_000


class ParsedTime(NamedTuple):  # a tuple: made twice per frame, and a frozen dataclass costs more
    ms: int  # Unix ms (UTC when the source is UTC)
    has_time: bool
    has_frac: bool


def parse_datetime(raw: object) -> ParsedTime | None:
    """ISO 8601 (T or blank, any fraction, Z or ±hh:mm), date-only, or FITS 'DD/MM/YY'."""
    if not isinstance(raw, str):
        return None
    fast = _iso_fast(raw)
    if fast is not None:
        return fast
    m = _ISO.match(raw)
    try:
        if m:
            y, mo, d, hh, mi, ss, frac, zone = m.groups()
            ms = _day_ms(int(y), int(mo), int(d))
            if hh is None:
                return ParsedTime(ms, False, False)
            h, mn, s = int(hh), int(mi), int(ss or 0)
            if h > 24 or mn > 59 or s > 60:
                return None
            ms += ((h * 60 + mn) * 60 + s) * 1000 + _frac_ms(frac)
            if zone and zone[0] in "+-":
                z = zone.replace(":", "")
                off = (int(z[1:3]) * 60 + int(z[3:5])) * (1 if z[0] == "+" else -1)
                ms -= off * 60_000
            return ParsedTime(ms, True, bool(frac))
        m = _DMY.match(raw)
        if m:
            d, mo, y = (int(g) for g in m.groups())
            if y < 100:  # the pre-2000 FITS form, still written by some programs today
                y += 2000 if y < 70 else 1900
            return ParsedTime(_day_ms(y, mo, d), False, False)
    except ValueError:  # day 31 of a 30-day month and the like
        return None
    return None


def _iso_fast(s: str) -> ParsedTime | None:
    """The form nearly every capture program writes, 'YYYY-MM-DDTHH:MM:SS[.f…]', by the C
    parser (a fraction past six digits is cut, as _frac_ms cuts past three). None for anything
    else — 24:00:00, a leap second, blanks inside —, which the general parser reads."""
    n = len(s)
    if n < 19 or s[10] != "T" or s[4] != "-" or s[7] != "-" or s[13] != ":" or s[16] != ":":
        return None
    if n > 19 and (s[19] != "." or not (s[20:].isascii() and s[20:].isdigit())):
        return None
    try:
        t = _fromisoformat(s)
    except ValueError:
        return None
    return ParsedTime(
        (t.toordinal() - _EPOCH_ORDINAL) * 86_400_000
        + ((t.hour * 60 + t.minute) * 60 + t.second) * 1000
        + t.microsecond // 1000,
        True,
        n > 19,
    )


_fromisoformat = datetime.fromisoformat


def parse_time_of_day(raw: object) -> tuple[int, bool] | None:
    """'22:34:55.123' → (ms since midnight, has fraction); a float is hours (some UT keywords)."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if 0 <= raw < 24:
            return round(raw * 3_600_000), True
        return None
    if not isinstance(raw, str):
        return None
    m = _TIME.match(raw)
    if not m:
        return None
    hh, mi, ss, frac = m.groups()
    h, mn, s = int(hh), int(mi), int(ss or 0)
    if h > 24 or mn > 59 or s > 60:
        return None
    return ((h * 60 + mn) * 60 + s) * 1000 + _frac_ms(frac), bool(frac)


def format_utc_ms(ms: int | None) -> str | None:
    """Unix ms → '2024-08-13T22:34:55.123Z'."""
    if ms is None:
        return None
    dt = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _obs_time(cards: Mapping[str, object]) -> tuple[int | None, bool, str | None]:
    """DATE-OBS (+TIME-OBS/UT/UTSTART when date-only), else MJD-OBS, else JD →
    (Unix ms, has a fraction of a second, the keyword(s) it came from)."""
    t = parse_datetime(cards.get("DATE-OBS"))
    if t is not None:
        if t.has_time:
            return t.ms, t.has_frac, "DATE-OBS"
        for k in ("TIME-OBS", "UT", "UTSTART"):
            tod = parse_time_of_day(cards.get(k))
            if tod is not None:
                return t.ms + tod[0], tod[1], f"DATE-OBS+{k}"
    mjd = _num(cards.get("MJD-OBS"))
    if mjd is not None and 15_000 < mjd < 100_000:
        return round((mjd - 40_587) * 86_400_000), True, "MJD-OBS"
    jd = _num(cards.get("JD"))
    if jd is not None and 2_415_000 < jd < 2_500_000:
        return round((jd - 2_440_587.5) * 86_400_000), True, "JD"
    return None, False, None  # a date without a time is no instant: the night may still be known


def _loc_offset(loc_ms: int, utc_ms: int, exposure_s: float | None) -> int | None:
    """DATE-LOC − DATE-OBS as a zone offset in minutes, rounded to 15 min.

    Some programs stamp DATE-LOC when the file is written, an exposure later than DATE-OBS;
    take whichever reading lands closer to a real zone offset."""
    diff = (loc_ms - utc_ms) / 60_000
    best = round(diff / 15) * 15
    if exposure_s:
        alt = diff - exposure_s / 60
        alt_best = round(alt / 15) * 15
        if abs(alt - alt_best) < abs(diff - best):
            best = alt_best
    if abs(best) > 14 * 60:
        return None
    return int(best)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def night_of(
    t_obs_ms: int | None,
    rule: NightRule,
    loc_offset_min: int | None = None,
    site_lon: float | None = None,
    loc_ms: int | None = None,
) -> tuple[str | None, str | None]:
    """(session_date 'YYYY-MM-DD', basis): local time minus the boundary hour, in the site's zone.

    The offset comes from the configured IANA zone (DST-correct), else DATE-LOC, else SITELONG
    as local mean solar time, else the machine's zone. Without a UTC instant, DATE-LOC alone
    still names the night."""
    boundary_ms = int(rule.boundary_hour * 3_600_000)
    if t_obs_ms is None:
        if loc_ms is not None:
            return _ms_to_date(loc_ms - boundary_ms), "date-loc"
        return None, None
    if rule.tz:
        off = datetime.fromtimestamp(t_obs_ms / 1000, _zone(rule.tz)).utcoffset()
        offset_ms = int(off.total_seconds() * 1000) if off is not None else 0
        basis = "tz"
    elif loc_offset_min is not None:
        offset_ms, basis = loc_offset_min * 60_000, "date-loc"
    elif site_lon is not None:
        offset_ms, basis = round(site_lon / 15 * 3_600_000), "sitelong"
    else:
        offset_ms, basis = _machine_offset_ms(t_obs_ms), "machine"
    return _ms_to_date(t_obs_ms + offset_ms - boundary_ms), basis


def _loc_disagrees(loc_offset_min: int | None, t_obs_ms: int, rule: NightRule, site_lon: float | None) -> bool:
    """Does DATE-LOC − DATE-OBS contradict the site's offset (the configured zone, exactly; else
    SITELONG's solar time, loosely)? No site offset known: nothing to contradict."""
    if loc_offset_min is None:
        return True  # more than 14 h apart: no zone on Earth
    if rule.tz:
        off = datetime.fromtimestamp(t_obs_ms / 1000, _zone(rule.tz)).utcoffset()
        return off is not None and abs(loc_offset_min - off.total_seconds() / 60) >= 15
    if site_lon is not None:
        return abs(loc_offset_min - site_lon * 4) > SOLAR_OFFSET_TOLERANCE_MIN
    return False


def _machine_offset_ms(t_obs_ms: int) -> int:
    try:
        return time.localtime(t_obs_ms // 1000).tm_gmtoff * 1000
    except (OverflowError, OSError, ValueError):
        return 0


def _ms_to_date(ms: int) -> str | None:
    try:
        return date.fromordinal(_EPOCH_ORDINAL + ms // 86_400_000).isoformat()
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------------------------------------
# Angles


_SEXA = re.compile(
    r"\s*([+-])?\s*(\d+(?:\.\d*)?)\s*[:hd°\s]\s*(\d+(?:\.\d*)?)"
    r"(?:\s*[:m'\s]\s*(\d+(?:\.\d*)?))?\s*[s\"]?\s*$",
    re.IGNORECASE,
)


def parse_angle(raw: object, hours: bool) -> float | None:
    """A number (degrees) or a sexagesimal string ('05 35 17.3', '-05:23:28', '5h35m17s') →
    degrees; sexagesimal right ascension is in hours (×15)."""
    if isinstance(raw, float | int) and not isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, str):
        return None
    return _angle_text(raw, hours)


@lru_cache(maxsize=8192)  # commanded coordinates repeat for every frame of a target
def _angle_text(raw: str, hours: bool) -> float | None:
    n = _num(raw)
    if n is not None:
        return float(n)
    m = _SEXA.match(raw)
    if not m:
        return None
    sign, a, b, c = m.groups()
    val = float(a) + float(b) / 60 + (float(c) / 3600 if c else 0.0)
    if sign == "-":
        val = -val
    return val * 15 if hours else val


def _ra(v: object) -> float | None:
    a = parse_angle(v, hours=True)
    return a % 360 if a is not None and -360 <= a <= 720 else None


def _dec(v: object) -> float | None:
    a = parse_angle(v, hours=False)
    return a if a is not None and -90 <= a <= 90 else None


def _lat(v: object) -> float | None:
    return _dec(v)


def _lon(v: object) -> float | None:
    a = parse_angle(v, hours=False)
    if a is None or not -360 <= a <= 360:
        return None
    return a - 360 if a > 180 else a


def _deg(v: object) -> float | None:
    a = parse_angle(v, hours=False)
    return a if a is not None and -360 <= a <= 360 else None


# ---------------------------------------------------------------------------------------------
# Software, derived frames, folders

_SEQUENCERS = (
    ("n.i.n.a", "NINA"),
    ("nina", "NINA"),
    ("nighttime imaging", "NINA"),
    ("sequence generator", "SGP"),
    ("sgpro", "SGP"),
    ("sgp", "SGP"),
    ("astro photography tool", "APT"),
    ("apt", "APT"),
    ("kstars", "Ekos/KStars"),
    ("ekos", "Ekos/KStars"),
    ("maxim", "MaxIm DL"),
    ("sharpcap", "SharpCap"),
    ("asiair", "ASIAIR"),
    ("seestar", "Seestar"),
    ("voyager", "Voyager"),
    ("thesky", "TheSkyX"),
    ("astra", "Astra"),
)
_PROCESSORS = ("pixinsight", "siril", "deepskystacker", "astro pixel processor", "astropixelprocessor")


@lru_cache(maxsize=256)
def sequencer_of(software: str) -> str:
    low = software.lower()
    for needle, name in _SEQUENCERS:
        if needle in low:
            if needle == "apt" and not re.search(r"\bapt\b", low):
                continue
            return name
    return "other"


# Stack counts: a value above 1 is a stack. Seestar writes STACKCNT = 1 on every single sub.
_STACK_COUNT_KEYS = ("NCOMBINE", "STACKCNT", "NSTACK", "STACKNUM")
_SEEING_KEYS = ("FWHM", "STARFWHM", "HFR")
_DERIVED_SUFFIX = re.compile(r"(?:_(?:cc|c|r|a|d))+$", re.IGNORECASE)
_DERIVED_PREFIX = ("r_", "pp_")
# Products no keyword names: SharpCap live-stack saves (Stack_16frames_240s), DWARF
# stacked-16_…, Seestar DSO_Stacked_…/Stacked_30_…, PixInsight integration/masterLight,
# starless and drizzled results.
_DERIVED_NAME = re.compile(
    r"(?:^|[_\-\s.])(?:live[_\-\s]?)?stack(?:ed)?(?=[_\-\s.\d]|frames|$)"
    r"|^integration(?=[_\-\s.]|$)"
    r"|^calibrated[_\-\s]"
    r"|^master[_\-\s]?(?:light|dark|flat|bias|darkflat|flatdark|offset)"
    r"|starless|drizzle",
    re.IGNORECASE,
)
# What _DERIVED_SUFFIX and _DERIVED_NAME cannot match without (lower case).
_DERIVED_ENDINGS = ("_cc", "_c", "_r", "_a", "_d")
_DERIVED_WORDS = re.compile("stack|integration|calibrated|master|starless|drizzle")
_DERIVED_FOLDERS = frozenset({"calibrated", "registered", "master", "masters", "stacked", "integration", "integrated"})
_DATE_FOLDER = re.compile(r"(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?![0-9])")
_YEAR_FOLDER = re.compile(r"\d{4}$")
_NOT_A_TARGET = frozenset(
    {
        "raw", "subs", "data", "frames", "fits", "images", "capture", "captures", "calibration", "calib",
        "cal", "unsorted", "incoming", "inbox", "new", "tmp", "temp", "misc", "other", "todo",
        # capture programs' and devices' own folders
        "sharpcap captures", "sharpcap", "artemis capture", "autorun", "plan", "live", "preview",
        "myworks", "dwarf_dark", "dwarf_raw", "phd2", "phd2 guiding", "indigo", "simulator",
        "ccd simulator", "guide simulator", "telescope simulator", "nina", "n.i.n.a", "sgp",
        "ekos", "kstars", "asiair", "seestar", "dwarf", "dwarfii", "dwarf3", "astrophotography",
        "astro", "astronomy", "lights", "archive", "backup", "output", "process", "processed",
        "sequence", "sequences", "session", "sessions", "usb", "sd card", "sdcard",
    }
)  # fmt: skip
# Folder names that are not names of anything in the sky: capture settings
# (DWARF_RAW_EXP_15_GAIN_110_…, tele_exp_60_gain_60_bin_1_…), processing steps (APP's
# "9) Saving"), times of day, sequence numbers.
_NOT_A_TARGET_NAME = re.compile(
    r"(?:^|_)(?:exp|gain|bin)_?\d"
    r"|^\d+\)"
    r"|^\d{1,2}[-_:.h]\d{2}(?:[-_:.m]\d{2})?s?$"
    r"|^(?:#|seq|sequence|run|set|session|night)?[-_ ]?\d+$",
    re.IGNORECASE,
)
# Layouts that name the target in a folder with a device's own decoration.
_SEESTAR_SUBS = re.compile(r"^(.+?)(?:_mosaic)?_sub$", re.IGNORECASE)
_DWARF_RAW = re.compile(r"^DWARF_RAW_(?:(?:TELE|WIDE)_)?(.+?)_EXP_", re.IGNORECASE)


_DWARF_FOLDER_TYPES = {"dwarf_dark": "DARK", "dwarf_flat": "FLAT", "dwarf_bias": "BIAS"}


def _layout(part: str) -> tuple[str | None, str | None] | None:
    """(target, frame type) a known device layout puts in a folder name, or None when the folder
    is no such layout: Seestar ``M 81_sub`` (lights of M 81), DWARF ``DWARF_RAW_M81_EXP_15_…``
    (lights, of M81 when a target was chosen), DWARF ``DWARF_DARK`` (its dark library)."""
    low = part.lower()
    if low in _DWARF_FOLDER_TYPES:
        return None, _DWARF_FOLDER_TYPES[low]
    m = _SEESTAR_SUBS.match(part) or _DWARF_RAW.match(part)
    if m is None:
        return (None, "LIGHT") if low.startswith("dwarf_raw_") else None
    name = m.group(1).strip()
    if name.upper() in ("TELE", "WIDE") or _NOT_A_TARGET_NAME.search(name) or name.lower() in PLACEHOLDERS:
        name = ""
    return name or None, "LIGHT"


def derived_signal(
    cards: Mapping[str, object], stem: str, dir_parts: tuple[str, ...], software: str | None
) -> str | None:
    """Why a file is a derived product (master, calibrated, registered, stacked), or None:
    the cards first, then the file name, then the folders."""
    return _card_signal(cards, software) or _name_signal(stem) or _folder_signal(dir_parts)


def _card_signal(cards: Mapping[str, object], software: str | None) -> str | None:
    it = cards.get("IMAGETYP")
    if isinstance(it, str) and normalize_image_type(it)[1]:
        return f"IMAGETYP '{' '.join(it.split())}'"
    # A signal is a keyword's value, never its presence (MaxIm DL writes PEDESTAL = 0 on raw
    # frames, Seestar STACKCNT = 1 on every sub, some programs an empty CALSTAT).
    for key in _STACK_COUNT_KEYS:
        n = _num(cards.get(key))
        if n is not None and n > 1:
            return f"{key} = {n:g}: a stack of {n:g} frames"
    calstat = _text(cards.get("CALSTAT"))
    if calstat:
        return f"CALSTAT '{calstat}': calibrated"
    if _text(cards.get("IMCMB001")):
        return "IMCMB001: combined from other files"
    pedestal = _num(cards.get("PEDESTAL"))
    if pedestal:
        return f"PEDESTAL = {pedestal:g}: calibrated"
    if cards.get("PIPROCESSED") is True:
        return "PixInsight processing history"
    pipeline = _text(cards.get("PIPEVER"))
    if pipeline:
        return f"PIPEVER '{pipeline}': an observatory pipeline's product"
    rlevel = _num(cards.get("RLEVEL"))
    if rlevel:
        return f"RLEVEL = {rlevel:g}: reduced"
    if software:
        low = software.lower()
        for p in _PROCESSORS:
            if p in low:
                return f"written by {software}"
    for k in ("PROGRAM", "SOFTWARE"):
        v = cards.get(k)
        if isinstance(v, str) and any(p in v.lower() for p in _PROCESSORS):
            return f"written by {' '.join(v.split())}"
    return None


def _name_signal(stem: str) -> str | None:
    low_stem = stem.lower()
    # every stem is looked at: plain substring tests (in C) rule most out before any regex runs
    # (non-ASCII names go to the regexes: their IGNORECASE also matches 'ſ' for 's', 'K' for 'k')
    ascii_only = stem.isascii()
    if low_stem.endswith(_DERIVED_ENDINGS) or not ascii_only:
        m = _DERIVED_SUFFIX.search(stem)
        if m:
            return f"file name suffix {m.group(0)}"
    if not ascii_only or _DERIVED_WORDS.search(low_stem):
        m = _DERIVED_NAME.search(stem)
        if m:
            return f"file name '{m.group(0).strip('_-. ')}': a stack or processed result"
    if low_stem.startswith(_DERIVED_PREFIX):
        for pre in _DERIVED_PREFIX:
            if low_stem.startswith(pre):
                return f"file name prefix {pre}"
    return None


def _folder_signal(dir_parts: tuple[str, ...]) -> str | None:
    for part in dir_parts:
        if part.lower() in _DERIVED_FOLDERS:
            return f"folder '{part}'"
    return None


@dataclass(slots=True, frozen=True)
class FolderHints:
    target: str | None = None
    image_type: str | None = None
    session_date: str | None = None
    filter: str | None = None


@lru_cache(maxsize=4096)
def folder_hints(dir_parts: tuple[str, ...]) -> FolderHints:
    """What the folders between the archive root and the file say.

    Recognises date-first (``2024-08-13/Light/M81``) and target-first (``M81/2024-08-13/LIGHT``)
    layouts, frame-type folders in any case, filter folders (``Ha``) and ignores years and
    generic names. The target is the remaining folder nearest a date or frame-type folder."""
    kinds: list[str] = []
    image_type = session_date = filt = None
    layout_target: str | None = None
    layout_type: str | None = None
    for part in dir_parts:
        low = part.lower()
        t = _TYPE_WORDS.get(" ".join(low.replace("_", " ").replace("-", " ").split()))
        if t:
            kinds.append("type")
            image_type = image_type or t
            continue
        m = _DATE_FOLDER.match(part)
        if m:
            try:
                d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                d = None
            if d is not None:
                kinds.append("date")
                session_date = session_date or d.isoformat()
                continue
        layout = _layout(part)
        if layout is not None:
            kinds.append("layout")
            layout_target = layout[0] or layout_target
            layout_type = layout[1]
            continue
        if (
            _YEAR_FOLDER.match(part)
            or low in _NOT_A_TARGET
            or low in _DERIVED_FOLDERS
            or part.startswith(".")
            or low in PLACEHOLDERS
            or _NOT_A_TARGET_NAME.search(part)
        ):
            kinds.append("skip")
            continue
        if is_filter_name(part):
            kinds.append("filter")
            filt = filt or normalize_filter(part)
            continue
        kinds.append("candidate")
    candidates = [i for i, k in enumerate(kinds) if k == "candidate"]
    anchors = [i for i, k in enumerate(kinds) if k in ("type", "date")]
    target = None
    image_type = image_type or layout_type
    if layout_target is not None:
        target = normalize_target(layout_target)
    # inside a device's own folders (layout_type set) the names around them are not targets either
    elif candidates and layout_type is None:
        if anchors:
            best = min(candidates, key=lambda i: (min(abs(i - a) for a in anchors), -i))
        else:
            best = candidates[-1]
        target = normalize_target(dir_parts[best])
    return FolderHints(target, image_type, session_date, filt)


# ---------------------------------------------------------------------------------------------
# Identity


def exposure_identity(
    t_obs_ms: int | None,
    has_frac: bool,
    instrume: str | None,
    exposure_s: float | None,
    naxis1: int | None,
    naxis2: int | None,
    header_bytes: bytes,
    name: str = "",
    size: int = 0,
) -> int:
    """Hash of (DATE-OBS to the ms, INSTRUME, exposure, NAXIS1, NAXIS2) as a signed 64-bit int.

    Without DATE-OBS — or when DATE-OBS has whole seconds only and the exposure is shorter than
    a second, so that distinct bias frames could share every field — the header bytes, the file
    name and its size decide: a copy under the same name is the same exposure, while a device's
    factory calibration frames, byte-identical headers under different names, stay distinct."""
    if t_obs_ms is None or (not has_frac and (exposure_s is None or exposure_s < 1)):
        h = hashlib.blake2b(header_bytes, digest_size=8)
        h.update(f"|{name}|{size}".encode("utf-8", "surrogateescape"))
        digest = h.digest()
    else:
        exp = repr(float(exposure_s)) if exposure_s is not None else ""
        key = f"{t_obs_ms}|{instrume or ''}|{exp}|{naxis1}|{naxis2}"
        digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# ---------------------------------------------------------------------------------------------
# The normaliser


def _metres(v: float | None, flag: int) -> tuple[float | None, int]:
    """Some programs (Astra) write FOCALLEN/APTDIA in metres: a value below 10 is metres."""
    if v is None or v <= 0:
        return None, 0
    if v < 10:
        return round(v * 1000, 6), flag
    return float(v), 0


# A time keyword's comment may state its unit: "/ exposure time in ms", "/ [ms]",
# "/ Exposure Minutes", "µs". The first unit word in the comment wins; none means seconds.
_TIME_UNITS = re.compile(
    r"(?<![A-Za-z])(?:(ms|msec|msecs|millisec\w*)|(µs|μs|us|usec|microsec\w*)"
    r"|(min|mins|minute|minutes)|(h|hr|hrs|hour|hours)|(s|sec|secs|second|seconds))(?![A-Za-z])",
    re.IGNORECASE,
)
_UNIT_FACTORS = (0.001, 1e-6, 60.0, 3600.0, 1.0)
_UNIT_NAMES = ("ms", "µs", "min", "h", "s")


@lru_cache(maxsize=1024)
def time_unit(comment: str | None) -> tuple[float, str]:
    """(factor to seconds, unit name) stated by a card's comment; (1.0, 's') when none is."""
    if comment:
        m = _TIME_UNITS.search(comment)
        if m:
            i = (m.lastindex or 1) - 1  # one group of the alternatives matched
            return _UNIT_FACTORS[i], _UNIT_NAMES[i]
    return 1.0, "s"


# The keyword table: for each field, its keywords in order; the first usable one wins.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "target": ("OBJECT", "OBJNAME"),
    "filter": ("FILTER", "FILTNAME"),
    "exposure_s": ("EXPTIME", "EXPOSURE", "EXP_TIME", "EXP"),  # EXP: DWARF II
    "image_type": ("IMAGETYP", "FRAME", "FRAMETYP", "OBSTYPE"),  # OBSTYPE: observatories (LCO)
    "instrume": ("INSTRUME",),
    "telescop": ("TELESCOP",),
    "focallen_mm": ("FOCALLEN",),
    "aperture_mm": ("APTDIA",),
    "focratio": ("FOCRATIO",),
    "xbinning": ("XBINNING", "CCDXBIN"),
    "ybinning": ("YBINNING", "CCDYBIN"),
    "xpixsz": ("XPIXSZ",),
    "ypixsz": ("YPIXSZ",),
    "gain": ("GAIN",),  # EGAIN is e-/ADU, not the gain setting
    "offset": ("OFFSET",),
    "ccd_temp": ("CCD-TEMP", "TEMPERAT", "CCD_TEMP"),
    "set_temp": ("SET-TEMP", "SETTEMP"),
    "readout": ("READOUTM", "READMODE"),
    "bayer": ("BAYERPAT", "COLORTYP"),
    "ra_deg": ("OBJCTRA", "RA"),
    "dec_deg": ("OBJCTDEC", "DEC"),
    "alt_deg": ("OBJCTALT", "CENTALT"),
    "az_deg": ("OBJCTAZ", "CENTAZ"),
    "airmass": ("AIRMASS",),
    "sky_quality": ("SKYQUAL", "SQM", "MPSAS"),
    "ambient_temp": ("AMBTEMP", "AOCAMBT", "AMB_TEMP"),
    "site_lat": ("SITELAT", "LAT-OBS", "OBSGEO-B"),
    "site_lon": ("SITELONG", "LONG-OBS", "OBSGEO-L"),
    "site_elev": ("SITEELEV", "ALT-OBS", "OBSGEO-H"),
    "software": ("SWCREATE", "CREATOR", "PROGRAM"),
    "run_guid": ("SEQGUID", "RUNGUID"),
    "naxis1": ("NAXIS1",),
    "naxis2": ("NAXIS2",),
}
_CONVERTERS = {
    "exposure_s": _num,
    "focallen_mm": _num,
    "aperture_mm": _num,
    "focratio": _num,
    "xbinning": _int,
    "ybinning": _int,
    "xpixsz": _num,
    "ypixsz": _num,
    "gain": _num,
    "offset": _num,
    "ccd_temp": _num,
    "set_temp": _num,
    "ra_deg": _ra,
    "dec_deg": _dec,
    "alt_deg": _deg,
    "az_deg": _deg,
    "airmass": _num,
    "sky_quality": _num,
    "ambient_temp": _num,
    "site_lat": _lat,
    "site_lon": _lon,
    "site_elev": _num,
    "naxis1": _int,
    "naxis2": _int,
}
_FIELDS = tuple((name, keys, _CONVERTERS.get(name, _text)) for name, keys in KEYWORDS.items())

# Every keyword the normaliser reads. A lazily parsed header is asked for exactly these, once:
# the other cards of the header (weather, focuser, rotator …) are never parsed.
READ_KEYWORDS: frozenset[str] = frozenset(
    {k for keys in KEYWORDS.values() for k in keys}
    | {"DATE-OBS", "TIME-OBS", "UT", "UTSTART", "MJD-OBS", "JD", "DATE-LOC", "ASTRA", "IMAGETYP"}
    | {"CALSTAT", "IMCMB001", "PEDESTAL", "PIPROCESSED", "PROGRAM", "SOFTWARE", "CAMNAME", "PIPEVER", "RLEVEL"}
    | set(_STACK_COUNT_KEYS)
    | set(_SEEING_KEYS)
)


def keyword_sources(cards: Mapping[str, object]) -> dict[str, str]:
    """For the inspector: the keyword each field was taken from (same rules as normalize)."""
    out = {}
    for name, keys, conv in _FIELDS:
        for k in keys:
            v = cards.get(k)
            if v is not None and conv(v) is not None:
                out[name] = k
                break
    source = _obs_time(cards)[2]
    if source:
        out["date_obs_utc"] = source
    if "DATE-LOC" in cards:
        out["loc_offset_min"] = "DATE-LOC"
    return out


def _fwhm_arcsec(
    cards: Mapping[str, object],
    header_bytes: bytes,
    xpixsz: float | None,
    focallen_mm: float | None,
    seeing: Sequence[float | int | None] | None = None,
) -> float | None:
    """Star FWHM in arcsec: FWHM/STARFWHM in arcsec when the comment says so, else in pixels
    times the image scale; HFR (pixels) doubled — the FWHM of a Gaussian star. Never guessed:
    pixels without a known image scale give None. ``seeing``: the _SEEING_KEYS cards' values as
    _seeing_value takes them, when the caller has read them already (the one-pass numbers)."""
    if seeing is None:
        seeing = [_seeing_value(cards.get(key)) for key in _SEEING_KEYS]
    for key, n in zip(_SEEING_KEYS, seeing, strict=True):
        if n is None:
            continue
        if key != "HFR" and _says_arcsec(_comment(cards, header_bytes, key)):
            return float(n)
        scale = xpixsz * 206.265 / focallen_mm if xpixsz and focallen_mm else None
        px = n * 2 if key == "HFR" else n
        return round(px * scale, 3) if scale else None
    return None


def _seeing_value(v: object) -> float | int | None:
    """A seeing card's value when it is a plausible one (0 < n < 1000), else None."""
    n = _num(v)
    return n if n is not None and 0 < n < 1000 else None


@lru_cache(maxsize=256)
def _says_arcsec(comment: str | None) -> bool:
    low = (comment or "").lower()
    return "arcsec" in low or '"' in low


def _comment(cards: Mapping[str, object], header_bytes: bytes, key: str) -> str | None:
    return cards.comment(key) if isinstance(cards, Cards) else card_comment(header_bytes, key)


def _first_raw(cards: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        raw = _raw_text(cards.get(k))
        if raw is not None:
            return raw
    return None


def _exposure(
    cards: Mapping[str, object], header_bytes: bytes, image_type: str | None
) -> tuple[float | None, int, str | None]:
    """(seconds, flags, how) of the exposure keyword: its comment's unit applied; an impossible
    value (≤ 0 — but 0 s for a bias —, longer than a day) is kept out as None and flagged."""
    for key in KEYWORDS["exposure_s"]:
        n = _num(cards.get(key))
        if n is None:
            continue
        factor, unit = time_unit(_comment(cards, header_bytes, key))
        seconds = n * factor
        flags = FLAG_EXPOSURE_UNIT if factor != 1.0 else 0
        how = f"{key} = {n:g} {unit}" if flags else key
        if seconds < 0 or seconds > MAX_EXPOSURE_S or (seconds == 0 and image_type not in ("BIAS", "DARKFLAT")):
            return None, flags | FLAG_EXPOSURE_IMPOSSIBLE, f"{key} = {n:g} {unit}: impossible, not counted"
        return float(seconds), flags, how
    return None, 0, None


_EXPOSURE_KEYS = KEYWORDS["exposure_s"]
_EXPOSURES: dict[tuple[bytes, str | None], tuple[float | None, int, str | None]] = {}
_EXPOSURES_MAX = 4096  # flats of varying length each add one


def _exposure_of(
    cards: Mapping[str, object], header_bytes: bytes, image_type: str | None
) -> tuple[float | None, int, str | None]:
    """:func:`_exposure`, worked out once per distinct set of exposure cards (their exact bytes,
    comments included) and frame type: a sequence writes the same EXPTIME card frame after frame."""
    if not isinstance(cards, Cards):
        return _exposure(cards, header_bytes, image_type)
    key = (cards.raw(_EXPOSURE_KEYS), image_type)
    got = _EXPOSURES.get(key)
    if got is None:
        if len(_EXPOSURES) >= _EXPOSURES_MAX:
            _EXPOSURES.clear()
        got = _EXPOSURES[key] = _exposure(cards, header_bytes, image_type)
    return got


# Keywords whose values change from frame to frame in real headers: times, the sensor's
# temperature, pointing, the night's conditions, the exposure (flats). Everything else a header
# says — target, filter, frame type, rig, site, software, derived-product signals — repeats over
# hundreds of frames, and with the folders decides the same fields every time: normalise works
# those out once per distinct set of those cards (their exact bytes) and folder, and per frame
# reads only the cards below.
_PER_FRAME_FIELDS = ("ccd_temp", "ra_deg", "dec_deg", "alt_deg", "az_deg", "airmass", "sky_quality", "ambient_temp")
PER_FRAME_KEYWORDS: frozenset[str] = frozenset(
    {k for name in _PER_FRAME_FIELDS for k in KEYWORDS[name]}
    | set(KEYWORDS["exposure_s"])
    | {"DATE-OBS", "TIME-OBS", "UT", "UTSTART", "MJD-OBS", "JD", "DATE-LOC"}
    | set(_SEEING_KEYS)
)
SETUP_KEYWORDS: frozenset[str] = READ_KEYWORDS - PER_FRAME_KEYWORDS
_SETUP_ORDER = tuple(sorted(SETUP_KEYWORDS))
_PER_FRAME = tuple(f for f in _FIELDS if f[0] in _PER_FRAME_FIELDS)
_PER_FRAME_NAMES = tuple(f[0] for f in _PER_FRAME)
_PER_FRAME_KEYS = tuple(keys for _, keys, _ in _PER_FRAME)
_PER_FRAME_CONVS = tuple(conv for _, _, conv in _PER_FRAME)
# what Cards.firsts reads in one pass: those, then each seeing keyword on its own
_PASS_KEYS = (*_PER_FRAME_KEYS, *((k,) for k in _SEEING_KEYS))
_PASS_CONVS = (*_PER_FRAME_CONVS, *(_seeing_value for _ in _SEEING_KEYS))
_SETUP_FIELDS = tuple(f for f in _FIELDS if f[0] not in _PER_FRAME_FIELDS and f[0] != "exposure_s")


@dataclass(slots=True, frozen=True)
class _Setup:
    """What the cards in SETUP_KEYWORDS and the folders decide (the same for a whole run)."""

    fields: dict[str, Any]  # Frame fields
    image_type: str | None
    site_lon: float | None
    hints_date: str | None
    card_reason: str | None  # a derived-product signal in the cards
    folder_reason: str | None  # … in the folders
    values: tuple  # the SETUP_COLUMNS values, as the ledger stores them


_SETUPS: dict[tuple[bytes, tuple[str, ...]], _Setup] = {}
# the last frame's (setup card bytes, folders, setup): the frames of a folder come one after another
_LAST_SETUP: list[tuple[bytes, tuple[str, ...], _Setup] | None] = [None]
_SETUPS_MAX = 4096


def _setup_of(cards: Mapping[str, object], dir_parts: tuple[str, ...]) -> _Setup:
    if not isinstance(cards, Cards):
        return _work_out_setup(cards, dir_parts)
    raw = cards.raw(_SETUP_ORDER)
    last = _LAST_SETUP[0]
    if last is not None and last[1] is dir_parts and last[0] == raw:  # as the frame before: no hashing
        return last[2]
    key = (raw, dir_parts)
    setup = _SETUPS.get(key)
    if setup is None:
        if len(_SETUPS) >= _SETUPS_MAX:
            _SETUPS.clear()
        setup = _SETUPS[key] = _work_out_setup(cards.subset(SETUP_KEYWORDS), dir_parts)
    _LAST_SETUP[0] = (raw, dir_parts, setup)
    return setup


def _table_values(cards: Mapping[str, object], fields: tuple) -> dict[str, Any]:
    """The keyword table for ``fields``: each field's first keyword whose value converts."""
    v: dict[str, Any] = {}
    get = cards.get
    for name, keys, conv in fields:  # _pick, inlined
        value = None
        for k in keys:
            raw = get(k)
            if raw is not None:
                value = conv(raw)
                if value is not None:
                    break
        v[name] = value
    return v


def _work_out_setup(cards: Mapping[str, object], dir_parts: tuple[str, ...]) -> _Setup:
    v = _table_values(cards, _SETUP_FIELDS)

    software = v["software"]
    if software is None and "ASTRA" in cards:
        software = v["software"] = "Astra"
    bayer = v["bayer"]
    osc = 1 if bayer is not None and bayer.upper() not in ("MONO", "NONE") else 0
    type_raw = v["image_type"]
    image_type = normalize_image_type(type_raw)[0] if type_raw is not None else None
    if type_raw is None:
        type_raw = _first_raw(cards, KEYWORDS["image_type"])
    focallen, f1 = _metres(v["focallen_mm"], FLAG_FOCALLEN_METRES)
    aperture, f2 = _metres(v["aperture_mm"], FLAG_APERTURE_METRES)

    hints = folder_hints(dir_parts)
    inferred = 0
    target_raw = v["target"]
    target = normalize_target(target_raw) if target_raw else None
    if target_raw is None:
        target_raw = _first_raw(cards, KEYWORDS["target"])  # a placeholder, kept to be shown
    if image_type is None and v["image_type"] is None and hints.image_type:
        image_type, inferred = hints.image_type, inferred | INFERRED_TYPE
    # calibration frames have no target: only lights (or untyped frames) borrow the folder's,
    # and never a folder named after the camera or telescope (a driver's "Simulator" folder)
    if (
        target is None
        and hints.target
        and image_type in (None, "LIGHT")
        and hints.target.casefold() not in _device_names(v["instrume"], v["telescop"], cards.get("CAMNAME"))
    ):
        target, inferred = hints.target, inferred | INFERRED_TARGET
    filter_raw = v["filter"]
    filt = normalize_filter(filter_raw) if filter_raw else None
    if filter_raw is None:
        filter_raw = _first_raw(cards, KEYWORDS["filter"])
    if filt is None and not osc and hints.filter:
        filt, inferred = hints.filter, inferred | INFERRED_FILTER
    v.update(
        target=target,
        target_raw=target_raw,
        filter=filt,
        filter_raw=filter_raw,
        image_type=image_type,
        image_type_raw=type_raw,
        focallen_mm=focallen,
        aperture_mm=aperture,
        osc=osc,
        sequencer=sequencer_of(software) if software else None,
        folder_type=hints.image_type,
        inferred=inferred,
        flags=f1 | f2,
    )
    return _Setup(
        v,
        image_type,
        v["site_lon"],
        hints.session_date,
        _card_signal(cards, software),
        _folder_signal(dir_parts),
        _setup_values(v),
    )


def normalize(
    cards: Mapping[str, object],
    header_bytes: bytes,
    stem: str,
    dir_parts: tuple[str, ...],
    rule: NightRule = NightRule(),
    explain: bool = False,
    size: int = 0,
) -> Frame:
    """Build the Frame for one header. ``dir_parts`` are the folders below the archive root;
    ``stem`` is the file name without its extension(s); ``size`` the file's size in bytes."""
    return Frame(**_normalized(cards, header_bytes, stem, dir_parts, rule, explain, size)[1])


def normalize_parts(
    cards: Mapping[str, object],
    header_bytes: bytes,
    stem: str,
    dir_parts: tuple[str, ...],
    rule: NightRule = NightRule(),
    size: int = 0,
) -> tuple[tuple, tuple, str | None]:
    """What the scan stores, without a Frame: (the SETUP_COLUMNS values — one tuple shared by
    every frame of a setup —, the EXPOSURE_ONLY values, the derived-product reason)."""
    setup, values = _normalized(cards, header_bytes, stem, dir_parts, rule, False, size)
    return setup.values, _exposure_values(values), values["derived_reason"]


def _normalized(
    cards: Mapping[str, object],
    header_bytes: bytes,
    stem: str,
    dir_parts: tuple[str, ...],
    rule: NightRule,
    explain: bool,
    size: int,
) -> tuple[_Setup, dict[str, Any]]:
    setup = _setup_of(cards, dir_parts)
    fields = setup.fields
    image_type = setup.image_type
    get = cards.get  # a lazy Cards parses only the cards asked for below
    seeing: Sequence[float | int | None] | None = None
    if isinstance(cards, Cards):  # the per-frame numbers and the seeing cards in one pass
        got = cards.firsts(_PASS_KEYS, _PASS_CONVS)
        v = dict(zip(_PER_FRAME_NAMES, got, strict=False))  # the seeing values follow
        seeing = cast("list[float | int | None]", got[len(_PER_FRAME_NAMES) :])  # _seeing_value's
    else:
        v = _table_values(cards, _PER_FRAME)

    exposure, exposure_flags, exposure_how = _exposure_of(cards, header_bytes, image_type)
    t_obs_ms, has_frac, _source = _obs_time(cards)
    loc = parse_datetime(get("DATE-LOC"))
    loc_ms = loc.ms if loc is not None and loc.has_time else None
    loc_offset = None
    if loc_ms is not None and t_obs_ms is not None:
        loc_offset = _loc_offset(loc_ms, t_obs_ms, exposure)

    inferred = fields["inferred"]
    site_lon = setup.site_lon
    session_date, basis = night_of(t_obs_ms, rule, loc_offset, site_lon, loc_ms)
    flags = fields["flags"] | exposure_flags
    if loc_ms is not None and t_obs_ms is not None and _loc_disagrees(loc_offset, t_obs_ms, rule, site_lon):
        flags |= FLAG_LOC_DISAGREES
    if session_date is None and setup.hints_date:
        session_date, basis = setup.hints_date, "folder"
        inferred |= INFERRED_DATE

    exposure_f = float(exposure) if exposure is not None else None
    v.update(
        exposure_s=exposure_f,
        fwhm_arcsec=_fwhm_arcsec(cards, header_bytes, fields["xpixsz"], fields["focallen_mm"], seeing),
        identity=exposure_identity(
            t_obs_ms,
            has_frac,
            fields["instrume"],
            exposure_f,
            fields["naxis1"],
            fields["naxis2"],
            header_bytes,
            stem,
            size,
        ),
        t_obs_ms=t_obs_ms,
        loc_offset_min=loc_offset,
        session_date=session_date,
        night_basis=basis,
        inferred=inferred,
        flags=flags,
        derived_reason=setup.card_reason or _name_signal(stem) or setup.folder_reason,
        sources=_sources(cards, exposure_how) if explain else None,
    )
    merged = fields.copy()
    merged.update(v)
    return setup, merged


def _device_names(*names: object) -> tuple[str, ...]:
    return tuple(n.strip().casefold() for n in names if isinstance(n, str) and n.strip())


def _sources(cards: Mapping[str, object], exposure_how: str | None) -> dict[str, str]:
    out = keyword_sources(cards)
    if exposure_how:
        out["exposure_s"] = exposure_how
    return out


_PLAIN_EXTENSIONS = frozenset({"fits", "fit", "fts", "xisf"})


def split_name(name: str) -> str:
    """File name → stem without the FITS/XISF extension(s): 'a_c.fits.fz' → 'a_c'."""
    stem, dot, ext = name.rpartition(".")
    if dot and ext.lower() in _PLAIN_EXTENSIONS:  # nearly every frame: one extension, nothing before it
        return stem
    low = name.lower()
    for ext in (".fits.fz", ".fit.gz", ".fits.gz", ".fts.gz", ".fits", ".fit", ".fts", ".fz", ".xisf"):
        if low.endswith(ext):
            return name[: -len(ext)]
    return name.rsplit(".", 1)[0]
