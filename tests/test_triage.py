"""The buckets of SPEC §4 on real FITS files: each Suspect rule, merge suggestions, Unknown reasons,
and how a user's retag moves frames in and out of buckets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.domain import history
from pl_tui.domain import retag as R
from pl_tui.domain import triage as T

M81 = {"OBJCTRA": "09 55 33.17", "OBJCTDEC": "+69 03 55.1"}  # 148.888°, +69.065°
M31 = {"OBJCTRA": "00 42 44.33", "OBJCTDEC": "+41 16 07.5"}  # 10.685°, +41.269°


def lights(make_fits, folder: str, n: int, start: int = 0, **changes: object) -> list[Path]:
    return [
        make_fits(f"{folder}/f{start + i:03d}.fits", {"DATE-OBS": f"2024-08-13T21:{start + i:02d}:00.000", **changes})
        for i in range(n)
    ]


def buckets(ledger_path: Path, name: str) -> dict[str, str]:
    """file name → why, for one bucket."""
    conn = L.connect(ledger_path, create=False)
    try:
        return {r.name: r.why for r in T.bucket_rows(conn, name)}
    finally:
        conn.close()


def counts(ledger_path: Path) -> dict[str, int]:
    conn = L.connect(ledger_path, create=False)
    try:
        return T.bucket_counts(conn)
    finally:
        conn.close()


def test_a_frame_pointing_at_another_target_is_suspect(make_fits, archive, run_scan, ledger_path) -> None:
    lights(make_fits, "M81", 5, **M81)
    make_fits("M81/stray.fits", {"DATE-OBS": "2024-08-13T22:30:00.000", **M31})  # labelled M 81, points at M31
    run_scan(archive)
    suspect = buckets(ledger_path, "suspect")
    assert list(suspect) == ["stray.fits"]
    assert suspect["stray.fits"].startswith("pointing ") and suspect["stray.fits"].endswith("° off M81")
    degrees = float(suspect["stray.fits"].split()[1].rstrip("°"))
    assert 65 < degrees < 66  # M81 to M31: 65.4° on the sky (spherical law of cosines)
    assert counts(ledger_path)["suspect"] == 1


def test_the_field_of_view_widens_the_tolerance(make_fits, archive, run_scan, ledger_path) -> None:
    # a 135 mm lens on an APS-C sensor (6248×4176 px of 3.76 µm): a 12.0° diagonal
    wide = {"FOCALLEN": 135.0, "XPIXSZ": 3.76, "RA": 83.8, "DEC": -5.4, "OBJECT": "Orion"}
    for i in range(4):
        make_fits(f"Orion/w{i}.fits", {"DATE-OBS": f"2024-12-01T22:0{i}:00.000", **wide}, naxis=(6248, 4176))
    make_fits("Orion/w9.fits", {"DATE-OBS": "2024-12-01T23:00:00.000", **wide, "RA": 88.8}, naxis=(6248, 4176))
    # the same 5° step at 1000 mm (a 1.6° field): suspect
    tele = {"FOCALLEN": 1000.0, "XPIXSZ": 3.76, "RA": 83.8, "DEC": -5.4, "OBJECT": "M42"}
    for i in range(4):
        make_fits(f"M42/t{i}.fits", {"DATE-OBS": f"2024-12-02T22:0{i}:00.000", **tele}, naxis=(6248, 4176))
    make_fits("M42/t9.fits", {"DATE-OBS": "2024-12-02T23:00:00.000", **tele, "RA": 88.8}, naxis=(6248, 4176))
    run_scan(archive)
    assert list(buckets(ledger_path, "suspect")) == ["t9.fits"]
    assert T.field_of_view_deg(6248, 4176, 3.76, 135.0) == pytest.approx(11.99, abs=0.01)


def test_a_target_at_ra_zero_is_centred_across_the_wrap(make_fits, archive, run_scan, ledger_path) -> None:
    for i, ra in enumerate((359.9, 0.1, 359.95, 0.05, 0.0)):
        make_fits(
            f"NGC7814/f{i}.fits",
            {"DATE-OBS": f"2024-09-01T22:0{i}:00.000", "RA": ra, "DEC": 16.1, "OBJECT": "NGC 7814"},
        )
    run_scan(archive)
    assert buckets(ledger_path, "suspect") == {}
    ra, dec = T.robust_centre([(359.9, 16.1), (0.1, 16.1), (359.95, 16.1), (0.05, 16.1), (0.0, 16.1)])
    assert min(ra, 360 - ra) < 1e-9 and dec == 16.1


def test_frame_type_contradicting_its_folder_is_suspect(make_fits, archive, run_scan, ledger_path) -> None:
    make_fits("2024-08-13/Darks/d1.fits", {"IMAGETYP": "LIGHT"})  # a light filed with the darks
    make_fits("2024-08-13/Darks/d2.fits", {"IMAGETYP": "DARK", "OBJECT": None, "DATE-OBS": "2024-08-13T23:00:00"})
    make_fits("2024-08-13/Light/M81/l1.fits", {"DATE-OBS": "2024-08-13T22:00:00"})
    run_scan(archive)
    assert buckets(ledger_path, "suspect") == {"d1.fits": "type LIGHT but folder says DARK"}


@pytest.mark.parametrize(
    ("changes", "config", "suspect"),
    [
        # DATE-LOC 2 h after DATE-OBS, site at 10°E (solar +40 min): central Europe in summer, fine
        ({"DATE-LOC": "2024-08-13T23:34:55.123", "SITELONG": 10.0}, Config(settle_seconds=0), False),
        # the same at 120°W (solar −8 h): the capture PC's zone is wrong
        ({"DATE-LOC": "2024-08-13T23:34:55.123", "SITELONG": -120.0}, Config(settle_seconds=0), True),
        # the archive's zone is configured: Berlin is UTC+2 in August, so +1 h is wrong, +2 h right
        ({"DATE-LOC": "2024-08-13T22:34:55.123"}, Config(settle_seconds=0, time_zone="Europe/Berlin"), True),
        ({"DATE-LOC": "2024-08-13T23:34:55.123"}, Config(settle_seconds=0, time_zone="Europe/Berlin"), False),
        # no site offset known at all: nothing to contradict
        ({"DATE-LOC": "2024-08-14T05:34:55.123"}, Config(settle_seconds=0), False),
    ],
)
def test_date_loc_against_the_site_offset(make_fits, archive, run_scan, ledger_path, changes, config, suspect) -> None:
    make_fits("M81/a.fits", changes)
    run_scan(archive, config=config)
    assert buckets(ledger_path, "suspect") == (
        {"a.fits": "DATE-OBS and DATE-LOC disagree with the site offset"} if suspect else {}
    )


def test_focratio_inconsistent_with_focal_length_and_aperture(make_fits, archive, run_scan, ledger_path) -> None:
    make_fits("M81/ok.fits", {"FOCALLEN": 250.0, "APTDIA": 51.0, "FOCRATIO": 4.9})
    make_fits("M81/bad.fits", {"FOCALLEN": 250.0, "APTDIA": 51.0, "FOCRATIO": 7.0, "DATE-OBS": "2024-08-13T22:00:00"})
    run_scan(archive)
    assert buckets(ledger_path, "suspect") == {
        "bad.fits": "f-ratio inconsistent: FOCRATIO 7 but FOCALLEN/APTDIA = 4.90"
    }


def test_a_status_set_by_hand_clears_suspicion(make_fits, archive, run_scan, ledger_path) -> None:
    make_fits("2024-08-13/Darks/d1.fits", {"IMAGETYP": "LIGHT"})
    run_scan(archive)
    conn = L.connect(ledger_path)
    chosen = T.bucket_identities(conn, "suspect")
    assert len(chosen) == 1
    R.retag(conn, chosen, {"status": "accepted"}, "looked at it")
    assert T.bucket_counts(conn)["suspect"] == 0
    history.undo(conn)
    assert T.bucket_counts(conn)["suspect"] == 1
    conn.close()


def test_two_names_for_one_patch_of_sky_are_offered_as_a_merge(make_fits, archive, run_scan, ledger_path) -> None:
    lights(make_fits, "M31", 4, **M31, OBJECT="M 31")
    lights(make_fits, "Andromeda", 2, start=10, **M31, OBJECT="Andromeda Galaxy")
    lights(make_fits, "M81", 3, start=20, **M81)
    run_scan(archive)
    conn = L.connect(ledger_path)
    merges = T.merge_suggestions(conn)
    assert [(m.source, m.into, m.source_frames, m.into_frames) for m in merges] == [("Andromeda Galaxy", "M31", 2, 4)]
    assert merges[0].separation_deg < 0.01
    R.set_alias(conn, "target", merges[0].source, merges[0].into)
    assert T.merge_suggestions(conn) == []
    conn.close()


def test_unknown_names_what_is_missing_or_inferred(make_fits, archive, run_scan, ledger_path) -> None:
    make_fits("2024-08-13/Light/M81/no_object.fits", {"OBJECT": None})
    make_fits("M81/no_filter.fits", {"FILTER": None, "DATE-OBS": "2024-08-13T22:00:00"})
    make_fits("M81/no_exposure.fits", {"EXPTIME": None, "DATE-OBS": "2024-08-13T23:00:00"})
    run_scan(archive)
    assert buckets(ledger_path, "unknown") == {
        "no_object.fits": "target from folder",
        "no_filter.fits": "no filter (mono)",
        "no_exposure.fits": "no exposure",
    }
    # confirming the folder's guess by hand takes the frame out of Unknown
    conn = L.connect(ledger_path)
    with_guess = {r.identity for r in T.bucket_rows(conn, "unknown") if r.name == "no_object.fits"}
    R.retag(conn, with_guess, {"target": "M81"}, "confirm")
    assert {r.name for r in T.bucket_rows(conn, "unknown")} == {"no_filter.fits", "no_exposure.fits"}
    conn.close()


def test_derived_and_rejected_follow_the_status_shown(make_fits, archive, run_scan, ledger_path) -> None:
    make_fits("M81/light_c.fits")  # '_c': calibrated, derived
    make_fits("M81/good.fits", {"DATE-OBS": "2024-08-13T22:00:00"})
    run_scan(archive)
    assert buckets(ledger_path, "derived") == {"light_c.fits": "file name suffix _c"}
    conn = L.connect(ledger_path)
    derived = T.bucket_identities(conn, "derived")
    good = R.select(conn, R.Where(path="*/good.fits"))
    R.retag(conn, derived, {"status": "accepted"}, "not really calibrated")  # a false positive
    R.retag(conn, good, {"status": "rejected"}, "clouds")
    conn.close()
    assert buckets(ledger_path, "derived") == {}
    assert buckets(ledger_path, "rejected") == {"good.fits": "set by retag"}
    assert counts(ledger_path)["rejected"] == 1


@given(st.lists(st.tuples(st.floats(0, 360), st.floats(-89, 89)), min_size=1, max_size=30))
def test_robust_centre_and_separation_are_sane(points) -> None:
    ra, dec = T.robust_centre(points)
    assert 0 <= ra < 360 and -89 <= dec <= 89
    for pra, pdec in points:
        sep = T.separation_deg(pra, pdec, ra, dec)
        assert 0 <= sep <= 180
        assert T.separation_deg(ra, dec, pra, pdec) == pytest.approx(sep, abs=1e-9)
