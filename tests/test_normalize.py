"""The normaliser on real FITS bytes: every row of the SPEC §2 keyword table, §3 normalisation,
§4 folder fallback, §5 derived signals and identity, §6 nights."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pl_tui.core import normalize as normalize_module
from pl_tui.core.fitsgen import Card, write_fits, xisf_bytes
from pl_tui.core.headers import read_header
from pl_tui.core.normalize import (
    FLAG_APERTURE_METRES,
    FLAG_EXPOSURE_IMPOSSIBLE,
    FLAG_EXPOSURE_UNIT,
    FLAG_FOCALLEN_METRES,
    INFERRED_DATE,
    INFERRED_FILTER,
    INFERRED_TARGET,
    INFERRED_TYPE,
    Frame,
    NightRule,
    folder_hints,
    format_utc_ms,
    normalize,
    normalize_filter,
    normalize_image_type,
    normalize_target,
    parse_angle,
    parse_datetime,
    sequencer_of,
    split_name,
)

from .conftest import BASE_LIGHT

DEFAULT_RULE = NightRule()


@pytest.fixture
def frame_of(make_fits: Callable[..., Path]) -> Callable[..., Frame]:
    """Write a real FITS file, read it back with the block reader, normalise it."""

    def go(
        changes: dict[str, object] | None = None,
        rel: str = "f.fits",
        cards: list[Card] | None = None,
        rule: NightRule = DEFAULT_RULE,
        archive: str = "archive",
    ) -> Frame:
        path = make_fits(rel, changes, cards)
        raw = read_header(str(path))
        parts = tuple(Path(rel).parts[:-1])
        return normalize(raw.cards, raw.header_bytes, split_name(path.name), parts, rule, explain=True)

    return go


# ---------------------------------------------------------------------------------------------
# SPEC §2: every row of the keyword table, with its fallbacks

ROWS = [
    # (field, header changes, expected value, keyword it came from)
    ("target", {"OBJECT": "M 31"}, "M31", "OBJECT"),
    ("target", {"OBJECT": None, "OBJNAME": "NGC 891"}, "NGC891", "OBJNAME"),
    ("filter", {"FILTER": "Lum"}, "L", "FILTER"),
    ("filter", {"FILTER": None, "FILTNAME": "H-alpha"}, "Ha", "FILTNAME"),
    ("exposure_s", {"EXPTIME": 120.5}, 120.5, "EXPTIME"),
    ("exposure_s", {"EXPTIME": None, "EXPOSURE": 180.0}, 180.0, "EXPOSURE"),
    ("exposure_s", {"EXPTIME": None, "EXP_TIME": 60}, 60, "EXP_TIME"),
    ("exposure_s", {"EXPTIME": "300"}, 300, "EXPTIME"),  # quoted numbers happen
    ("image_type", {"IMAGETYP": "Light Frame"}, "LIGHT", "IMAGETYP"),
    ("image_type", {"IMAGETYP": None, "FRAME": "Dark"}, "DARK", "FRAME"),
    ("image_type", {"IMAGETYP": None, "FRAMETYP": "Flat Field"}, "FLAT", "FRAMETYP"),
    ("instrume", {"INSTRUME": "QHY268M"}, "QHY268M", "INSTRUME"),
    ("telescop", {"TELESCOP": "Esprit 100ED"}, "Esprit 100ED", "TELESCOP"),
    ("focallen_mm", {"FOCALLEN": 530.0}, 530.0, "FOCALLEN"),
    ("focallen_mm", {"FOCALLEN": 0.53}, 530.0, "FOCALLEN"),  # Astra writes metres
    ("aperture_mm", {"APTDIA": 100}, 100.0, "APTDIA"),
    ("aperture_mm", {"APTDIA": 0.1}, 100.0, "APTDIA"),
    ("focratio", {"FOCRATIO": 5.3}, 5.3, "FOCRATIO"),
    ("xbinning", {"XBINNING": 2}, 2, "XBINNING"),
    ("xbinning", {"CCDXBIN": 2}, 2, "CCDXBIN"),
    ("ybinning", {"YBINNING": 2}, 2, "YBINNING"),
    ("ybinning", {"CCDYBIN": 3}, 3, "CCDYBIN"),
    ("xpixsz", {"XPIXSZ": 3.76}, 3.76, "XPIXSZ"),
    ("ypixsz", {"YPIXSZ": 3.76}, 3.76, "YPIXSZ"),
    ("gain", {"GAIN": 100}, 100, "GAIN"),
    ("gain", {"EGAIN": 0.25}, None, None),  # EGAIN is e-/ADU, not the gain setting
    ("offset", {"OFFSET": 50}, 50, "OFFSET"),
    ("ccd_temp", {"CCD-TEMP": -10.1}, -10.1, "CCD-TEMP"),
    ("ccd_temp", {"TEMPERAT": -5.2}, -5.2, "TEMPERAT"),
    ("ccd_temp", {"CCD_TEMP": -15.0}, -15.0, "CCD_TEMP"),
    ("set_temp", {"SET-TEMP": -10.0}, -10.0, "SET-TEMP"),
    ("set_temp", {"SETTEMP": -20.0}, -20.0, "SETTEMP"),
    ("readout", {"READOUTM": "High Gain"}, "High Gain", "READOUTM"),
    ("readout", {"READMODE": "Photographic"}, "Photographic", "READMODE"),
    ("bayer", {"BAYERPAT": "RGGB"}, "RGGB", "BAYERPAT"),
    ("bayer", {"COLORTYP": "GRBG"}, "GRBG", "COLORTYP"),
    ("ra_deg", {"OBJCTRA": "05 35 17.3"}, 83.82208333, "OBJCTRA"),
    ("ra_deg", {"RA": 83.822}, 83.822, "RA"),
    ("ra_deg", {"RA": "05:35:17.3"}, 83.82208333, "RA"),
    ("dec_deg", {"OBJCTDEC": "-05 23 28"}, -5.39111111, "OBJCTDEC"),
    ("dec_deg", {"DEC": -5.391}, -5.391, "DEC"),
    ("dec_deg", {"OBJCTDEC": "+41d16m09s"}, 41.26916667, "OBJCTDEC"),
    ("alt_deg", {"OBJCTALT": 45.5}, 45.5, "OBJCTALT"),
    ("alt_deg", {"CENTALT": "45 30 00"}, 45.5, "CENTALT"),
    ("az_deg", {"OBJCTAZ": 120.25}, 120.25, "OBJCTAZ"),
    ("az_deg", {"CENTAZ": 300.0}, 300.0, "CENTAZ"),
    ("airmass", {"AIRMASS": 1.41}, 1.41, "AIRMASS"),
    ("site_lat", {"SITELAT": "+52 30 00"}, 52.5, "SITELAT"),
    ("site_lat", {"LAT-OBS": 19.82}, 19.82, "LAT-OBS"),
    ("site_lat", {"OBSGEO-B": -31.27}, -31.27, "OBSGEO-B"),
    ("site_lon", {"SITELONG": "13 24 00"}, 13.4, "SITELONG"),
    ("site_lon", {"LONG-OBS": -155.47}, -155.47, "LONG-OBS"),
    ("site_lon", {"OBSGEO-L": 149.06}, 149.06, "OBSGEO-L"),
    ("site_lon", {"SITELONG": 350.0}, -10.0, "SITELONG"),  # 0..360 east → ±180
    ("site_elev", {"SITEELEV": 34.0}, 34.0, "SITEELEV"),
    ("site_elev", {"ALT-OBS": 4205}, 4205, "ALT-OBS"),
    ("software", {"SWCREATE": "N.I.N.A. 3.1"}, "N.I.N.A. 3.1", "SWCREATE"),
    ("software", {"CREATOR": "Sequence Generator Pro v4"}, "Sequence Generator Pro v4", "CREATOR"),
    ("software", {"PROGRAM": "Astro Photography Tool - APT v. 4.3"}, "Astro Photography Tool - APT v. 4.3", "PROGRAM"),
    ("run_guid", {"SEQGUID": "7d8a-11"}, "7d8a-11", "SEQGUID"),
    ("run_guid", {"RUNGUID": "abc"}, "abc", "RUNGUID"),
]


@pytest.mark.parametrize(("field", "changes", "expected", "source"), ROWS, ids=[f"{r[0]}-{r[3]}" for r in ROWS])
def test_keyword_table_row(frame_of, field: str, changes: dict, expected: object, source: str | None) -> None:
    frame = frame_of(changes)
    got = getattr(frame, field)
    if isinstance(expected, float):
        assert got is not None and math.isclose(got, expected, rel_tol=1e-7), got
    else:
        assert got == expected
    assert frame.sources.get(field) == source  # type: ignore[union-attr]


def test_first_present_wins(frame_of) -> None:
    f = frame_of(
        {"EXPTIME": 300.0, "EXPOSURE": 120.0, "CCD-TEMP": -10.0, "TEMPERAT": 5.0, "OBJCTRA": "10 00 00", "RA": 1.0}
    )
    assert (f.exposure_s, f.ccd_temp) == (300.0, -10.0) and math.isclose(f.ra_deg, 150.0)  # type: ignore[arg-type]


def test_unusable_first_keyword_falls_back(frame_of) -> None:
    assert frame_of({"EXPTIME": "n/a", "EXPOSURE": 90.0}).exposure_s == 90.0


def test_metres_are_flagged_and_image_scale(frame_of) -> None:
    f = frame_of({"FOCALLEN": 0.25, "APTDIA": 0.051, "XPIXSZ": 3.76})
    assert f.flags & FLAG_FOCALLEN_METRES and f.flags & FLAG_APERTURE_METRES
    assert math.isclose(f.image_scale, 3.76 * 206.265 / 250.0)  # type: ignore[arg-type]
    assert frame_of({"XPIXSZ": 3.76}).image_scale is None  # no focal length: never guessed


def test_astra_key_is_the_sequencer(frame_of) -> None:
    f = frame_of({"ASTRA": True})
    assert (f.software, f.sequencer) == ("Astra", "Astra")


@pytest.mark.parametrize(
    ("software", "name"),
    [
        ("N.I.N.A. 3.1.2.9001 (x64)", "NINA"),
        ("Sequence Generator Pro v4.2.0.1000", "SGP"),
        ("Astro Photography Tool - APT v. 4.30", "APT"),
        ("KStars 3.7.0", "Ekos/KStars"),
        ("MaxIm DL Version 6.40 200817 23VR0", "MaxIm DL"),
        ("SharpCap v4.1.11880.0, 64 bit", "SharpCap"),
        ("ZWO ASIAIR Plus", "ASIAIR"),
        ("ZWO Seestar S50", "Seestar"),
        ("Voyager 2.3.14", "Voyager"),
        ("TheSkyX Professional Edition", "TheSkyX"),
        ("Astra 1.0", "Astra"),
        ("MyCapture 0.1", "other"),
        ("Adaptive Optics Captor", "other"),  # 'apt' inside a word is not APT
    ],
)
def test_sequencer_names(software: str, name: str) -> None:
    assert sequencer_of(software) == name


def test_missing_is_null_never_a_sentinel(frame_of) -> None:
    f = frame_of(cards=[("IMAGETYP", "LIGHT")])
    for field in (
        "target",
        "filter",
        "exposure_s",
        "t_obs_ms",
        "session_date",
        "instrume",
        "gain",
        "ccd_temp",
        "ra_deg",
    ):
        assert getattr(f, field) is None, field


# ---------------------------------------------------------------------------------------------
# SPEC §3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Light Frame", "LIGHT"), ("LIGHT", "LIGHT"), ("light", "LIGHT"), ("Light_Frame", "LIGHT"), ("Object", "LIGHT"),
        ("Dark Frame", "DARK"), ("DARK", "DARK"),
        ("Bias Frame", "BIAS"), ("BIAS", "BIAS"), ("Offset", "BIAS"), ("Zero", "BIAS"),
        ("Flat Frame", "FLAT"), ("FLAT", "FLAT"), ("Flat Field", "FLAT"),
        ("DARKFLAT", "DARKFLAT"), ("FLAT DARK", "DARKFLAT"), ("DARK FLAT", "DARKFLAT"), ("Flat Dark", "DARKFLAT"),
        ("Snapshot", None), ("", None),
    ],
)  # fmt: skip
def test_frame_types(raw: str, expected: str | None) -> None:
    assert normalize_image_type(raw) == (expected, False)


@pytest.mark.parametrize("raw", ["Master Dark", "MASTER FLAT", "Master_Bias", "master light"])
def test_master_frames_are_derived(frame_of, raw: str) -> None:
    assert normalize_image_type(raw)[1] is True
    assert frame_of({"IMAGETYP": raw}).derived_reason == f"IMAGETYP '{raw}'"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M 31", "M31"), ("m31", "M31"), ("M031", "M31"), ("  M   31  ", "M31"),
        ("NGC 7000", "NGC7000"), ("ngc7000", "NGC7000"), ("NGC 0891", "NGC891"),
        ("IC 1396", "IC1396"), ("IC1396A", "IC1396A"),
        ("Sh2-129", "Sh2-129"), ("SH2 129", "Sh2-129"), ("sh 2-129", "Sh2-129"), ("Sharpless 129", "Sh2-129"),
        ("LDN 1235", "LDN1235"), ("LBN 552", "LBN552"), ("vdB 14", "vdB14"), ("VDB14", "vdB14"),
        ("Abell 39", "Abell39"), ("Barnard 33", "B33"), ("B 33", "B33"),
        ("M 81 Panel 2", "M81 Panel 2"), ("Andromeda  Galaxy", "Andromeda Galaxy"),
        ("Atom 31", "Atom 31"), ("ATOM31", "ATOM31"),  # a word ending in M is no Messier
        ("", None), ("   ", None),
    ],
)  # fmt: skip
def test_target_folding(raw: str, expected: str | None) -> None:
    assert normalize_target(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ha", "Ha"), ("H-alpha", "Ha"), ("Halpha", "Ha"), ("HA", "Ha"), ("H_alpha", "Ha"),
        ("OIII", "OIII"), ("O3", "OIII"), ("O-III", "OIII"), ("SII", "SII"), ("S2", "SII"),
        ("L", "L"), ("Lum", "L"), ("Luminance", "L"), ("R", "R"), ("Red", "R"),
        ("G", "G"), ("Green", "G"), ("B", "B"), ("Blue", "B"),
        ("Ha 7nm", "Ha 7nm"), ("UV/IR Cut", "UV/IR Cut"), ("", None),
    ],
)  # fmt: skip
def test_filter_aliases(raw: str, expected: str | None) -> None:
    assert normalize_filter(raw) == expected


def test_raw_values_are_kept(frame_of) -> None:
    f = frame_of({"OBJECT": "m 031", "FILTER": "H-alpha", "IMAGETYP": "Light Frame"})
    assert (f.target, f.target_raw, f.filter, f.filter_raw, f.image_type, f.image_type_raw) == (
        "M31", "m 031", "Ha", "H-alpha", "LIGHT", "Light Frame")  # fmt: skip


@given(st.text(max_size=60))
@settings(max_examples=300)
def test_normalisers_never_raise_and_are_idempotent(s: str) -> None:
    t = normalize_target(s)
    assert t is None or normalize_target(t) == t
    f = normalize_filter(s)
    assert f is None or normalize_filter(f) == f
    normalize_image_type(s)
    parse_datetime(s)
    parse_angle(s, hours=True)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "OBJECT",
                "EXPTIME",
                "DATE-OBS",
                "DATE-LOC",
                "FILTER",
                "IMAGETYP",
                "RA",
                "DEC",
                "FOCALLEN",
                "SITELONG",
                "XBINNING",
                "GAIN",
                "MJD-OBS",
                "JD",
                "TIME-OBS",
                "NAXIS1",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=30),
            st.complex_numbers(allow_nan=False, allow_infinity=False),
        ),
    ),
    st.lists(st.text(min_size=1, max_size=12), max_size=4),
)
@settings(max_examples=400)
def test_normalize_never_raises(cards: dict, parts: list[str]) -> None:
    f = normalize(cards, b"", "stem", tuple(parts), NightRule(tz="Europe/Berlin"))
    assert isinstance(f.identity, int)


_SCALE = 3.76 * 206.265 / 530.0  # arcsec a pixel of the rig below


@pytest.mark.parametrize(
    ("seeing", "expected", "without_scale"),
    [
        ([("FWHM", 3.2, "[arcsec] star FWHM")], 3.2, 3.2),
        ([("FWHM", 3.2, '[" ] seeing')], 3.2, 3.2),
        ([("FWHM", 3.2, "[px] star FWHM")], round(3.2 * _SCALE, 3), None),
        ([("STARFWHM", 1.849, "[arcsec] Star FWHM")], 1.849, 1.849),
        ([("HFR", 2.0, "[arcsec] ignored: HFR is in pixels")], round(4.0 * _SCALE, 3), None),
        ([("FWHM", 1500.0, "[arcsec]"), ("HFR", 2.0, "")], round(4.0 * _SCALE, 3), None),  # implausible: next
        ([("FWHM", "n/a", ""), ("STARFWHM", 2.5, "[arcsec]")], 2.5, 2.5),
        ([("FWHM", 0, "[arcsec]")], None, None),
        ([("FWHM", -3.0, "[arcsec]"), ("STARFWHM", 999.0, "[arcsec]")], 999.0, 999.0),
        ([], None, None),
    ],
)
def test_star_fwhm_in_arcsec(
    frame_of, seeing: list[tuple[str, object, str]], expected: float | None, without_scale: float | None
) -> None:
    """SPEC: FWHM/STARFWHM in arcsec when the comment says so, else pixels × the image scale
    (none known: no figure); HFR doubled; the first plausible one (0 < n < 1000) counts."""
    rig: list[Card] = [("XPIXSZ", 3.76, "[um]"), ("FOCALLEN", 530.0, "[mm]")]
    assert frame_of(cards=[*BASE_LIGHT, *rig, *seeing]).fwhm_arcsec == expected
    assert frame_of(cards=[*BASE_LIGHT, *seeing], rel="other.fits").fwhm_arcsec == without_scale


# ---------------------------------------------------------------------------------------------
# Dates


_ISO_DIGIT = st.sampled_from("0123456789")
_ISO_ODD = st.sampled_from(" +-٣9０")  # blanks, signs and non-ASCII digits the C parser refuses


def _iso_field(width: int) -> st.SearchStrategy[str]:
    return st.lists(_ISO_DIGIT | _ISO_ODD, min_size=width, max_size=width).map("".join)


@given(
    st.tuples(_iso_field(4), _iso_field(2), _iso_field(2), _iso_field(2), _iso_field(2), _iso_field(2)),
    st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=0, max_size=12).map(lambda f: "." + f)),
    st.booleans(),
)
@settings(max_examples=1500)
def test_iso_fast_path_reads_what_the_general_parser_reads(fields: tuple[str, ...], frac: str, plausible: bool) -> None:
    """The C fast path (datetime.fromisoformat) gives the general parser's instant for every
    'YYYY-MM-DDTHH:MM:SS[.f…]' it takes — a cut fraction, 24:00:00, leap seconds, 31 April,
    blanks and signs inside included — and leaves it the rest."""
    y, mo, d, h, mi, sec = fields
    if plausible:  # most draws: a real calendar date and time, so the fast path is the one taken
        y, mo, d = f"{2000 + int(''.join(c for c in y if c.isdigit()) or 0) % 100:04d}", "03", "31"
        h, mi = f"{int(''.join(c for c in h if c.isascii() and c.isdigit()) or 0) % 25:02d}", "59"
    s = f"{y}-{mo}-{d}T{h}:{mi}:{sec}{frac}"
    general = normalize_module._ISO.match(s)
    fast = normalize_module._iso_fast(s)
    got = parse_datetime(s)
    if fast is not None:
        assert general is not None
        assert fast == got
    saved = normalize_module._iso_fast
    try:
        normalize_module._iso_fast = lambda _s: None  # the general parser alone
        assert parse_datetime(s) == got
    finally:
        normalize_module._iso_fast = saved


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"DATE-OBS": "2024-08-13T21:34:55.123"}, "2024-08-13T21:34:55.123Z"),
        ({"DATE-OBS": "2024-08-13T21:34:55"}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "2024-08-13T21:34:55.1234567"}, "2024-08-13T21:34:55.123Z"),
        ({"DATE-OBS": "2024-08-13T21:34:55.5"}, "2024-08-13T21:34:55.500Z"),
        ({"DATE-OBS": "2024-08-13T21:34:55.123Z"}, "2024-08-13T21:34:55.123Z"),
        ({"DATE-OBS": "2024-08-13 21:34:55"}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "2024-08-13T23:34:55+02:00"}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "2024-08-13", "TIME-OBS": "21:34:55.25"}, "2024-08-13T21:34:55.250Z"),
        ({"DATE-OBS": "2024-08-13", "UT": "21:34:55"}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "2024-08-13", "UTSTART": "21:34:55"}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "13/08/24", "TIME-OBS": "21:34:55"}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "13/08/98", "UT": "21:34:55"}, "1998-08-13T21:34:55.000Z"),
        ({"DATE-OBS": None, "MJD-OBS": 60535.8992476852}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": None, "JD": 2460536.3992476852}, "2024-08-13T21:34:55.000Z"),
        ({"DATE-OBS": "2024-08-13"}, None),  # a date is not an instant
        ({"DATE-OBS": "2024-02-30T01:00:00"}, None),
        ({"DATE-OBS": "yesterday"}, None),
    ],
)
def test_date_forms(frame_of, changes: dict, expected: str | None) -> None:
    assert frame_of(changes).date_obs_utc == expected


def test_unquoted_date_as_capture_programs_write_it(frame_of) -> None:
    cards = [c for c in BASE_LIGHT if c[0] != "DATE-OBS"] + ["DATE-OBS= 2024-08-13T21:34:55.123"]
    assert frame_of(cards=cards).date_obs_utc == "2024-08-13T21:34:55.123Z"


def test_date_loc_offset(frame_of) -> None:
    f = frame_of({"DATE-OBS": "2024-08-13T21:34:55", "DATE-LOC": "2024-08-13T23:34:55"})
    assert f.loc_offset_min == 120
    # SGP stamps DATE-LOC when the file is written, one long exposure later
    g = frame_of({"DATE-OBS": "2024-08-13T21:34:55", "DATE-LOC": "2024-08-13T23:45:03", "EXPTIME": 600.0})
    assert g.loc_offset_min == 120


def test_format_utc_ms() -> None:
    assert format_utc_ms(0) == "1970-01-01T00:00:00.000Z"
    assert format_utc_ms(1723584895123) == "2024-08-13T21:34:55.123Z"
    assert format_utc_ms(None) is None


# ---------------------------------------------------------------------------------------------
# SPEC §6: nights


def night(frame_of, date_obs: str, rule: NightRule = DEFAULT_RULE, **extra: object) -> tuple[str | None, str | None]:
    changes = {"DATE-OBS": date_obs, **extra}
    f = frame_of(changes, rule=rule)
    return f.session_date, f.night_basis


def test_session_crossing_utc_midnight_is_one_night(frame_of) -> None:
    rule = NightRule(tz="Europe/Berlin")
    assert night(frame_of, "2024-08-13T19:30:00", rule) == ("2024-08-13", "tz")
    assert night(frame_of, "2024-08-13T23:59:59", rule) == ("2024-08-13", "tz")
    assert night(frame_of, "2024-08-14T00:00:01", rule) == ("2024-08-13", "tz")
    assert night(frame_of, "2024-08-14T03:30:00", rule) == ("2024-08-13", "tz")
    assert night(frame_of, "2024-08-14T10:30:00", rule) == ("2024-08-14", "tz")  # local 12:30


def test_dst_change_uses_the_offset_of_the_instant(frame_of) -> None:
    """Europe/Berlin leaves summer time on 2024-10-27 at 01:00 UTC. At 10:30 UTC the local time
    is 11:30 (CET): still the night of the 26th. One day earlier, 10:30 UTC is 12:30 CEST: the
    night of the 26th already. A fixed +2 h offset would get the first one wrong."""
    rule = NightRule(tz="Europe/Berlin")
    assert night(frame_of, "2024-10-27T10:30:00", rule)[0] == "2024-10-26"
    assert night(frame_of, "2024-10-26T10:30:00", rule)[0] == "2024-10-26"
    # spring forward (2024-03-31 01:00 UTC): 10:30 UTC is 12:30 CEST → the night of the 31st
    assert night(frame_of, "2024-03-31T10:30:00", rule)[0] == "2024-03-31"
    assert night(frame_of, "2024-03-30T10:30:00", rule)[0] == "2024-03-29"  # 11:30 CET


def test_far_east_and_far_west(frame_of) -> None:
    # Sydney (UTC+10 in June): 10:00 UTC is 20:00 local on the 15th → night of the 15th
    assert night(frame_of, "2024-06-15T10:00:00", NightRule(tz="Australia/Sydney")) == ("2024-06-15", "tz")
    # by SITELONG alone: 151.2° east ≈ +10.1 h local mean solar time
    assert night(frame_of, "2024-06-15T10:00:00", SITELONG=151.2) == ("2024-06-15", "sitelong")
    # Hawaii (UTC-10): 08:00 UTC on the 16th is 22:00 on the 15th → night of the 15th
    assert night(frame_of, "2024-06-16T08:00:00", NightRule(tz="Pacific/Honolulu")) == ("2024-06-15", "tz")
    assert night(frame_of, "2024-06-16T08:00:00", SITELONG=-155.5) == ("2024-06-15", "sitelong")
    # a naive UTC night would put that Hawaiian frame on the 16th
    assert night(frame_of, "2024-06-16T08:00:00", NightRule(tz="UTC"))[0] == "2024-06-15"
    assert night(frame_of, "2024-06-16T13:00:00", NightRule(tz="UTC"))[0] == "2024-06-16"


def test_offset_source_order(frame_of, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured zone, then DATE-LOC, then SITELONG, then the machine — and each one's
    offset really is the one used: consecutive sources give different nights here."""
    t = "2024-08-14T01:00:00"
    loc = {"DATE-LOC": "2024-08-13T21:00:00"}  # UTC-4: 21:00 on the 13th → night of the 13th
    lon = {"SITELONG": 170.0}  # +11.3 h: 12:20 on the 14th → night of the 14th
    # Auckland is UTC+12 in August: 13:00 on the 14th → night of the 14th
    assert night(frame_of, t, NightRule(tz="Pacific/Auckland"), **loc, **lon) == ("2024-08-14", "tz")
    assert night(frame_of, t, **loc, **lon) == ("2024-08-13", "date-loc")
    assert night(frame_of, t, **lon) == ("2024-08-14", "sitelong")
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+5:30: 06:30 on the 14th → night of the 13th
    time.tzset()
    try:
        assert night(frame_of, t) == ("2024-08-13", "machine")
        assert night(frame_of, "2024-08-14T07:00:00") == ("2024-08-14", "machine")  # 12:30 IST
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_boundary_hour_is_configurable(frame_of) -> None:
    # 2024-08-14 09:30 local (UTC 07:30 in Berlin summer): before noon → night of the 13th;
    # with the boundary at 08:00 it is already the 14th
    assert night(frame_of, "2024-08-14T07:30:00", NightRule(tz="Europe/Berlin"))[0] == "2024-08-13"
    assert night(frame_of, "2024-08-14T07:30:00", NightRule(boundary_hour=8, tz="Europe/Berlin"))[0] == "2024-08-14"


def test_date_loc_alone_names_the_night(frame_of) -> None:
    assert night(frame_of, None, **{"DATE-LOC": "2024-08-14T02:00:00"}) == ("2024-08-13", "date-loc")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# SPEC §4: the folder fallback


def test_date_first_layout(frame_of) -> None:
    f = frame_of({"OBJECT": None, "IMAGETYP": None, "DATE-OBS": None}, rel="2024-08-13/Light/M81/x.fit")
    assert (f.target, f.image_type, f.session_date) == ("M81", "LIGHT", "2024-08-13")
    assert f.inferred == INFERRED_TARGET | INFERRED_TYPE | INFERRED_DATE and f.night_basis == "folder"


def test_target_first_layout(frame_of) -> None:
    f = frame_of({"OBJECT": None, "IMAGETYP": None, "FILTER": None}, rel="M 81/2024-08-13/LIGHT/Ha/x.fits")
    assert (f.target, f.image_type, f.filter) == ("M81", "LIGHT", "Ha")
    assert f.inferred == INFERRED_TARGET | INFERRED_TYPE | INFERRED_FILTER
    assert f.session_date == "2024-08-13" and not f.inferred & INFERRED_DATE  # DATE-OBS wins


def test_header_values_beat_folders_and_nothing_is_inferred(frame_of) -> None:
    f = frame_of(rel="2024-01-01/DARK/NGC 7000/x.fits")
    assert (f.target, f.image_type, f.inferred) == ("M81", "LIGHT", 0)
    assert f.folder_type == "DARK"  # kept: a type contradicting its folder is suspect


def test_calibration_frames_take_no_target_from_folders(frame_of) -> None:
    f = frame_of({"OBJECT": None, "IMAGETYP": "DARK"}, rel="Calibration/Darks/M81/x.fits")
    assert f.target is None and not f.inferred & INFERRED_TARGET


def test_folder_hints_ignore_years_and_generic_names() -> None:
    h = folder_hints(("2024", "raw", "NGC 7000", "2024-08-13", "lights"))
    assert (h.target, h.image_type, h.session_date) == ("NGC7000", "LIGHT", "2024-08-13")
    assert folder_hints(()).target is None
    assert folder_hints(("Sh2-129",)).target == "Sh2-129"


def test_osc_frames_are_legitimately_filterless(frame_of) -> None:
    f = frame_of({"FILTER": None, "BAYERPAT": "RGGB"}, rel="M81/Ha/x.fits")
    assert f.filter is None and f.osc == 1 and not f.inferred & INFERRED_FILTER


# ---------------------------------------------------------------------------------------------
# SPEC §5: derived frames and identity


@pytest.mark.parametrize(
    ("rel", "changes", "reason"),
    [
        ("M81/light_0001_c.fits", {}, "file name suffix _c"),
        ("M81/light_0001_c_cc_r.fits", {}, "file name suffix _c_cc_r"),
        ("M81/light_0001_d.xisf.fits", {}, None),  # '_d' must end the stem
        ("M81/r_pp_light_0001.fits", {}, "file name prefix r_"),
        ("M81/pp_light_0001.fit", {}, "file name prefix pp_"),
        ("M81/calibrated/light_0001.fits", {}, "folder 'calibrated'"),
        ("M81/Registered/light_0001.fits", {}, "folder 'Registered'"),
        ("M81/master/x.fits", {}, "folder 'master'"),
        ("M81/x.fits", {"NCOMBINE": 40}, "NCOMBINE = 40: a stack of 40 frames"),
        ("M81/x.fits", {"STACKCNT": 16}, "STACKCNT = 16: a stack of 16 frames"),
        ("M81/x.fits", {"PEDESTAL": 100}, "PEDESTAL = 100: calibrated"),
        ("M81/x.fits", {"CALSTAT": "BDF"}, "CALSTAT 'BDF': calibrated"),
        ("M81/x.fits", {"IMCMB001": "light_0001.fits"}, "IMCMB001: combined from other files"),
        # a signal is a value, never a keyword's presence: raw subs that must stay accepted
        ("M81/x.fits", {"STACKCNT": 1}, None),  # Seestar writes it on every sub
        ("M81/x.fits", {"NCOMBINE": 1}, None),
        ("M81/x.fits", {"PEDESTAL": 0}, None),  # MaxIm DL / ACP raw lights
        ("M81/x.fits", {"CALSTAT": ""}, None),
        ("M81/x.fits", {"RLEVEL": 0}, None),  # Las Cumbres raw frames
        ("M81/x.fits", {"RLEVEL": 91}, "RLEVEL = 91: reduced"),
        ("M81/x.fits", {"PIPEVER": "LCOPIPE-V0.7.8"}, "PIPEVER 'LCOPIPE-V0.7.8': an observatory pipeline's product"),
        ("M81/x.fits", {"PIPEVER": ""}, None),
        # stacks no keyword names
        ("SharpCap Captures/M13/Stack_16frames_240s.fits", {}, "file name 'Stack': a stack or processed result"),
        ("DWARF/stacked-16_M81_10s.fits", {}, "file name 'stacked': a stack or processed result"),
        ("MyWorks/M 81/DSO_Stacked_30_M 81_10.0s.fit", {}, "file name 'Stacked': a stack or processed result"),
        ("M81/masterLight_BIN-1_Ha.fits", {}, "file name 'masterLight': a stack or processed result"),
        ("M81/M81_starless.fits", {}, "file name 'starless': a stack or processed result"),
        ("M81/Stackable_light_0001.fits", {}, None),
        ("M81/x.fits", {"SWCREATE": "PixInsight 1.8.9-2"}, "written by PixInsight 1.8.9-2"),
        ("M81/x.fits", {"PROGRAM": "Siril v1.2.1"}, "written by Siril v1.2.1"),
        ("M81/light_0001.fits", {}, None),
    ],
)
def test_derived_signals(frame_of, rel: str, changes: dict, reason: str | None) -> None:
    assert frame_of(changes, rel=rel).derived_reason == reason


def test_identity_is_the_same_for_copies_and_different_otherwise(frame_of, make_fits) -> None:
    a = frame_of(rel="a/x.fits")
    b = frame_of(rel="stack project/copy of x.fits")
    assert a.identity == b.identity
    assert frame_of({"DATE-OBS": "2024-08-13T21:34:55.124"}).identity != a.identity
    assert frame_of({"INSTRUME": "other cam"}).identity != a.identity
    assert frame_of({"EXPTIME": 301.0}).identity != a.identity
    assert frame_of({"EXPTIME": 300}).identity == a.identity  # 300 and 300.0 are the same exposure
    assert frame_of({"OBJECT": "renamed target"}).identity == a.identity  # a retitled copy is the same exposure


def test_identity_without_date_obs_hashes_the_header(frame_of) -> None:
    a = frame_of({"DATE-OBS": None}, rel="a/x.fits")
    assert frame_of({"DATE-OBS": None}, rel="b/x.fits").identity == a.identity
    assert frame_of({"DATE-OBS": None, "OBJECT": "other"}).identity != a.identity


def test_fast_bias_frames_with_whole_second_dates_stay_distinct(frame_of) -> None:
    """Bias frames come several per second; with DATE-OBS to the second only, the fields alone
    would merge them. Their headers differ (a frame counter), so the header bytes decide."""
    common = {"IMAGETYP": "BIAS", "EXPTIME": 0.001, "DATE-OBS": "2024-08-13T12:00:00"}
    a = frame_of({**common, "FRAMENO": 1})
    b = frame_of({**common, "FRAMENO": 2})
    assert a.identity != b.identity


def test_split_name() -> None:
    assert split_name("a_c.fits.fz") == "a_c" and split_name("x.FIT") == "x" and split_name("y.fts.gz") == "y"
    assert split_name("z.xisf") == "z" and split_name("noext") == "noext"


def test_explain_names_sources_without_changing_values(frame_of) -> None:
    f = frame_of({"EXPTIME": None, "EXPOSURE": 60.0})
    assert f.sources["exposure_s"] == "EXPOSURE" and f.sources["date_obs_utc"] == "DATE-OBS"  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# What real capture programs write: text encodings, units in comments, impossible values,
# placeholders, device folders, identity without DATE-OBS


def _read_written(tmp_path: Path, cards: list[Card], encoding: str = "utf-8", rel: str = "f.fits") -> Frame:
    path = tmp_path / "enc" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    write_fits(path, cards, encoding=encoding)
    raw = read_header(str(path))
    return normalize(raw.cards, raw.header_bytes, split_name(path.name), tuple(Path(rel).parts[:-1]), explain=True)


def test_utf8_card_text_is_read_as_utf8_never_mojibake(tmp_path: Path) -> None:
    frame = _read_written(tmp_path, [*BASE_LIGHT[:-1], ("OBJECT", "Nébuleuse du Cœur")])
    assert frame.target == "Nébuleuse du Cœur"
    assert frame.target_raw == "Nébuleuse du Cœur"


def test_latin1_card_text_falls_back_per_card(tmp_path: Path) -> None:
    # an older program writing Latin-1 bytes: not valid UTF-8, so that card is read as Latin-1
    frame = _read_written(tmp_path, [*BASE_LIGHT[:-1], ("OBJECT", "Nébuleuse")], encoding="latin-1")
    assert frame.target == "Nébuleuse"


@pytest.mark.parametrize(
    ("cards", "seconds", "how"),
    [
        ([("EXPTIME", 160000, "exposure time in ms")], 160.0, "EXPTIME = 160000 ms"),
        ([("EXPTIME", 300.0, "[ms]")], 0.3, "EXPTIME = 300 ms"),
        ([("EXPOSURE", 65.0, "Exposure Minutes")], 3900.0, "EXPOSURE = 65 min"),
        ([("EXPTIME", 2000000, "[µs] exposure")], 2.0, "EXPTIME = 2e+06 µs"),
        ([("EXPTIME", 300.0, "[s] Exposure time")], 300.0, "EXPTIME"),
        ([("EXPTIME", 300.0, "Exposure time in seconds")], 300.0, "EXPTIME"),
        ([("EXPTIME", 300.0, "Total Exposure Time")], 300.0, "EXPTIME"),
        ([("EXPTIME", 300.0)], 300.0, "EXPTIME"),
    ],
)
def test_units_in_comments(tmp_path: Path, cards: list[Card], seconds: float, how: str) -> None:
    base = [c for c in BASE_LIGHT if c[0] != "EXPTIME"]
    frame = _read_written(tmp_path, [*base, *cards])
    assert frame.exposure_s == pytest.approx(seconds)
    assert (frame.sources or {})["exposure_s"] == how
    assert bool(frame.flags & FLAG_EXPOSURE_UNIT) == (how != cards[0][0])


def test_unit_in_an_xisf_keyword_comment(tmp_path: Path) -> None:
    path = tmp_path / "f.xisf"
    xml = xisf_bytes([("IMAGETYP", "Light"), ("EXPTIME", 1500), ("DATE-OBS", "2024-08-13T21:00:00.5")])
    path.write_bytes(
        xml.replace(b'name="EXPTIME" value="1500" comment=""', b'name="EXPTIME" value="1500" comment="[ms]"')
    )
    raw = read_header(str(path))
    assert normalize(raw.cards, raw.header_bytes, "f", ()).exposure_s == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("changes", "impossible"),
    [
        ({"EXPTIME": 1e308}, True),
        ({"EXPTIME": -5.0}, True),
        ({"EXPTIME": 0.0}, True),  # a light of no time
        ({"EXPTIME": 90000.0}, True),  # longer than a day: a stack total or a typo
        ({"EXPTIME": "1E400"}, False),  # not a number at all: missing, nothing to flag
        ({"EXPTIME": 0.0, "IMAGETYP": "Bias Frame"}, False),  # a bias is 0 s
        ({"EXPTIME": 86400.0}, False),
    ],
)
def test_impossible_exposures_are_flagged_and_kept_out(frame_of, changes: dict, impossible: bool) -> None:
    frame = frame_of(changes)
    assert bool(frame.flags & FLAG_EXPOSURE_IMPOSSIBLE) == impossible
    if impossible:
        assert frame.exposure_s is None


@pytest.mark.parametrize("key", ["GAIN", "OFFSET", "CCD-TEMP", "XBINNING", "AIRMASS", "XPIXSZ"])
def test_numbers_too_large_for_the_ledger_become_missing(frame_of, key: str) -> None:
    field = {"GAIN": "gain", "OFFSET": "offset", "CCD-TEMP": "ccd_temp", "XBINNING": "xbinning",
             "AIRMASS": "airmass", "XPIXSZ": "xpixsz"}[key]  # fmt: skip
    frame = frame_of({key: 99999999999999999999999})
    assert getattr(frame, field) is None


@pytest.mark.parametrize(
    ("changes", "field", "raw_field", "raw"),
    [
        ({"OBJECT": "Unknown"}, "target", "target_raw", "Unknown"),  # Seestar
        ({"OBJECT": ""}, "target", "target_raw", None),
        ({"OBJECT": "N/A"}, "target", "target_raw", "N/A"),
        ({"OBJECT": "undefined"}, "target", "target_raw", "undefined"),
        ({"FILTER": "None"}, "filter", "filter_raw", "None"),  # ASIAIR
        ({"FOCALLEN": 0}, "focallen_mm", None, None),  # MaxIm DL
        ({"APTDIA": 0.0}, "aperture_mm", None, None),
    ],
)
def test_placeholders_are_missing_and_the_raw_text_is_kept(frame_of, changes, field, raw_field, raw) -> None:
    frame = frame_of(changes)
    assert getattr(frame, field) is None
    if raw_field:
        assert getattr(frame, raw_field) == raw


def test_a_placeholder_object_falls_back_to_objname_then_the_folder(frame_of) -> None:
    assert frame_of({"OBJECT": "Unknown", "OBJNAME": "M 81"}).target == "M81"
    frame = frame_of({"OBJECT": "Unknown"}, rel="M 101/2024-03-05/LIGHT/x.fits")
    assert (frame.target, frame.inferred & INFERRED_TARGET) == ("M101", INFERRED_TARGET)


@pytest.mark.parametrize(
    ("rel", "target"),
    [
        ("SharpCap Captures/2023-06-10/M13/21_13_04/x.fits", "M13"),
        ("SharpCap Captures/2023-06-10/x.fits", None),
        ("PHD2/x.fits", None),
        ("INDIGO/x.fits", None),
        ("Artemis Capture/x.fits", None),
        ("CCD Simulator/x.fits", None),
        ("DWARF_RAW_EXP_15_GAIN_110_2023-06-10-21-13-04-123/0001.fits", None),
        ("DWARF_RAW_M81_EXP_15_GAIN_80_2024-03-05-21-13-04-123/0001.fits", "M81"),
        ("DWARF_RAW_TELE_M 42_EXP_15_GAIN_60_2024-01-15-19-33-35-123/0001.fits", "M42"),
        ("MyWorks/M 81_sub/Light_M 81_10.0s_IRCUT_20240305-211304.fit", "M81"),
        ("MyWorks/NGC 7000_mosaic_sub/x.fit", "NGC7000"),
        ("9) Saving/x.fits", None),
        ("tele_exp_60_gain_60_bin_1_2024-05-01/x.fits", None),
        ("M31/0001/x.fits", "M31"),
        ("ASIAIR/Autorun/Light/x.fit", None),
        ("ASIAIR/Autorun/Light/M 33/x.fit", "M33"),
        ("ASIAIR/Plan/Light/x.fit", None),
        ("Seestar/MyWorks/x.fit", None),
    ],
)
def test_folder_fallback_never_takes_a_program_or_settings_folder(frame_of, rel: str, target: str | None) -> None:
    assert frame_of({"OBJECT": None}, rel=rel).target == target


def test_a_folder_named_after_the_camera_is_no_target(frame_of) -> None:
    assert frame_of({"OBJECT": None, "INSTRUME": "Simulator"}, rel="Simulator/x.fits").target is None
    assert frame_of({"OBJECT": None, "INSTRUME": "Simulator"}, rel="Orion/x.fits").target == "Orion"


def test_identity_without_date_obs_is_bytes_name_and_size(tmp_path: Path) -> None:
    cards: list[Card] = [("IMAGETYP", "Bias Frame"), ("EXPTIME", 0.0), ("INSTRUME", "DWARF II")]
    ids = {}
    for rel in ("a/bias_0001.fits", "a/bias_0002.fits", "b/bias_0001.fits"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_fits(path, cards)  # byte-identical headers, no DATE-OBS: a device's factory frames
        raw = read_header(str(path))
        ids[rel] = normalize(raw.cards, raw.header_bytes, split_name(path.name), (), size=raw.size).identity
    assert ids["a/bias_0001.fits"] != ids["a/bias_0002.fits"]  # different exposures
    assert ids["a/bias_0001.fits"] == ids["b/bias_0001.fits"]  # a copy under the same name


_NAME_BITS = st.sampled_from(
    ["stack", "Stacked", "STACK", "integration", "calibrated_", "masterLight", "starless", "Drizzle", "_c", "_cc",
     "_R", "_a", "_d", "r_", "PP_", "Live_Stack", "ſtack", "K", "ı", "é", "_", "-", ".", " ", "0", "16frames", "M81"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_NAME_BITS | st.text(alphabet="_-. 0123456789stackedintegrcmldfbozpKſı", max_size=4), max_size=5))
def test_file_name_signal_is_the_regexes_with_a_quick_rejection_in_front(bits: list[str]) -> None:
    """Every file name is looked at, so plain substring tests rule most out before any regex
    runs: they must never rule out a name the regexes (case-insensitive, Unicode) would match."""
    from pl_tui.core import normalize as n

    stem = "".join(bits)
    m = n._DERIVED_SUFFIX.search(stem)
    want = f"file name suffix {m.group(0)}" if m else None
    if want is None and (m := n._DERIVED_NAME.search(stem)):
        want = f"file name '{m.group(0).strip('_-. ')}': a stack or processed result"
    if want is None:
        want = next((f"file name prefix {p}" for p in n._DERIVED_PREFIX if stem.lower().startswith(p)), None)
    assert n._name_signal(stem) == want


def _split_name_by_suffixes(name: str) -> str:
    low = name.lower()
    for ext in (".fits.fz", ".fit.gz", ".fits.gz", ".fts.gz", ".fits", ".fit", ".fts", ".fz", ".xisf"):
        if low.endswith(ext):
            return name[: -len(ext)]
    return name.rsplit(".", 1)[0]


@given(
    st.text(alphabet="aB._-İſK ", max_size=8),
    st.lists(st.sampled_from(["fits", "FIT", "fts", "fz", "gz", "xisf", "Fits", "txt", "", "fİts"]), max_size=3),
)
def test_file_stem_fast_path_is_the_suffix_rule(base: str, exts: list[str]) -> None:
    name = ".".join([base, *exts])
    assert split_name(name) == _split_name_by_suffixes(name)
