"""Rigs, rig changes, sensor drift, goals and calibration coverage on real FITS files (SPEC §8, §10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.cli import main
from pl_tui.core.config import Config, ConfigError, load_config
from pl_tui.domain import frames, history
from pl_tui.domain import rigs as G

RIG_A = {"INSTRUME": "ZWO ASI2600MM Pro", "TELESCOP": "RedCat 51", "FOCALLEN": 250.0, "XPIXSZ": 3.76}
RIG_B = {"INSTRUME": "ZWO ASI2600MM Pro", "TELESCOP": None, "FOCALLEN": 530.0, "XPIXSZ": 3.76}
SENSOR = {"GAIN": 100, "OFFSET": 50, "SET-TEMP": -10.0}


@pytest.fixture
def season(make_fits, archive: Path) -> Path:
    """M81 Ha over three nights: rig A, rig A (binned 2x2), rig B; drift on the second night."""
    for i in range(3):
        make_fits(f"n1/a{i}.fits", {**RIG_A, **SENSOR, "DATE-OBS": f"2024-03-08T21:0{i}:00", "CCD-TEMP": -10.0})
    for i in range(3):  # binned: another configuration of the same rig (XPIXSZ is the binned pixel)
        temp = -10.0 if i else -7.5  # one frame 2.5 °C warm
        make_fits(
            f"n2/b{i}.fits",
            {**RIG_A, **SENSOR, "XBINNING": 2, "YBINNING": 2, "XPIXSZ": 7.52, "DATE-OBS": f"2024-03-09T21:0{i}:00",
             "CCD-TEMP": temp},
        )  # fmt: skip
    for i in range(2):
        make_fits(f"n3/c{i}.fits", {**RIG_B, **SENSOR, "DATE-OBS": f"2024-03-12T21:0{i}:00", "CCD-TEMP": -10.2})
    return archive


def open_ledger(ledger_path: Path):
    return L.connect(ledger_path, create=False)


def test_rig_fingerprints_names_and_configurations(season, run_scan, ledger_path) -> None:
    run_scan(season)
    conn = open_ledger(ledger_path)
    found = {r.name: r for r in G.rigs(conn)}
    assert set(found) == {"ZWO ASI2600MM Pro @ RedCat 51", "ZWO ASI2600MM Pro @ 530mm"}
    a = found["ZWO ASI2600MM Pro @ RedCat 51"]
    assert a.key == "ZWO ASI2600MM Pro|RedCat 51|3.76"  # the native pixel, binned or not
    assert a.configurations == {"1x1": 3, "2x2": 3} and a.frames == 6 and a.hours == pytest.approx(0.5)
    assert (a.first_night, a.last_night) == ("2024-03-08", "2024-03-09")
    assert G.rig_key(" ZWO  ASI2600MM Pro ", "RedCat 51", None, 3.76, 1) == a.key  # whitespace folds
    assert G.rig_key(None, None, None, 3.76, 1) is None
    conn.close()


def test_rig_changes_between_sessions(season, run_scan, ledger_path) -> None:
    run_scan(season)
    conn = open_ledger(ledger_path)
    assert G.rig_changes(conn) == [
        G.RigChange("M81", "2024-03-12", ("ZWO ASI2600MM Pro @ RedCat 51",), ("ZWO ASI2600MM Pro @ 530mm",))
    ]
    conn.close()


def test_rename_and_merge_are_undoable_rules(season, run_scan, ledger_path) -> None:
    run_scan(season)
    conn = open_ledger(ledger_path)
    G.rename_rig(conn, "ZWO ASI2600MM Pro @ RedCat 51", "Little refractor")
    assert {r.name for r in G.rigs(conn)} == {"Little refractor", "ZWO ASI2600MM Pro @ 530mm"}
    G.merge_rigs(conn, "ZWO ASI2600MM Pro @ 530mm", "Little refractor")  # TELESCOP was just missing
    [rig] = G.rigs(conn)
    assert rig.name == "Little refractor" and rig.frames == 8
    assert G.rig_changes(conn) == []
    assert [e.description for e in history.audit_log(conn)] == [
        "rig ZWO ASI2600MM Pro @ 530mm merged into ZWO ASI2600MM Pro @ RedCat 51",
        "rig ZWO ASI2600MM Pro @ RedCat 51 named Little refractor",
    ]
    history.undo(conn)
    assert len(G.rigs(conn)) == 2
    history.undo(conn)
    assert {r.name for r in G.rigs(conn)} == {"ZWO ASI2600MM Pro @ RedCat 51", "ZWO ASI2600MM Pro @ 530mm"}
    with pytest.raises(L.LedgerError, match="no rig"):
        G.rename_rig(conn, "Hubble", "x")
    conn.close()
    run_scan(season)  # rules live in the ledger, not in the files: a rescan keeps them


def test_sensor_drift_is_counted_and_flagged_per_session(season, run_scan, ledger_path) -> None:
    run_scan(season)
    conn = open_ledger(ledger_path)
    nights = {(n.rig, n.night): n for n in G.sensor_nights(conn)}
    warm = nights[("ZWO ASI2600MM Pro @ RedCat 51", "2024-03-09")]
    assert (warm.frames, warm.off, warm.flagged) == (3, 1, True)
    assert warm.ccd_temp == pytest.approx((-7.5 - 10 - 10) / 3)
    assert not nights[("ZWO ASI2600MM Pro @ RedCat 51", "2024-03-08")].flagged
    assert not nights[("ZWO ASI2600MM Pro @ 530mm", "2024-03-12")].flagged  # 0.2 °C is within 1 °C
    assert (warm.gain, warm.offset) == (100, 50)
    conn.close()


def test_goals_from_config_and_ledger_most_starved_first(season, run_scan, ledger_path, tmp_path) -> None:
    run_scan(season)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[goals.M81]\nHa = 2\nOIII = 4\n[goals."NGC 7000"]\nHa = 1\n')
    config = load_config(cfg)
    conn = open_ledger(ledger_path)
    got = [(g.target, g.filter, g.goal_hours, round(g.hours, 3)) for g in G.goals(conn, config.goals)]
    assert got == [("M81", "OIII", 4.0, 0.0), ("NGC 7000", "Ha", 1.0, 0.0), ("M81", "Ha", 2.0, 0.667)]
    G.set_goal(conn, "M81", "Ha", 0.5)  # set in the app: wins over the config
    assert next(g for g in G.goals(conn, config.goals) if g.filter == "Ha" and g.target == "M81").fraction > 1
    G.set_goal(conn, "M81", "Ha", None)
    conn.close()
    bad = tmp_path / "bad.toml"
    bad.write_text("[goals.M81]\nHa = 'lots'\n")
    with pytest.raises(ConfigError, match=r"\[goals\]"):
        load_config(bad)


def test_calibration_matching(make_fits, archive, run_scan, ledger_path) -> None:
    cam = {**RIG_A, **SENSOR, "READOUTM": "High Gain"}
    make_fits("lights/l0.fits", {**cam, "DATE-OBS": "2024-03-08T21:00:00", "EXPTIME": 300.0})
    make_fits("lights/l1.fits", {**cam, "DATE-OBS": "2024-03-20T21:00:00", "EXPTIME": 300.0})
    cal = {**cam, "OBJECT": None, "FILTER": None}
    for i, (kind, changes) in enumerate(
        [
            ("DARK", {"EXPTIME": 300.0, "SET-TEMP": -11.5}),  # within ±2 °C: matches both nights (a library)
            ("DARK", {"EXPTIME": 300.0, "SET-TEMP": -5.0}),  # too warm
            ("DARK", {"EXPTIME": 120.0}),  # another exposure
            ("DARK", {"EXPTIME": 300.0, "GAIN": 0}),  # another gain
            ("FLAT", {"EXPTIME": 1.0, "FILTER": "Ha"}),  # at dawn: the first night only
            ("FLAT", {"EXPTIME": 1.0, "FILTER": "OIII"}),  # another filter
            ("DARKFLAT", {"EXPTIME": 1.0}),
            ("BIAS", {"EXPTIME": 0.001}),
        ]
    ):
        make_fits(f"cal/{i}.fits", {**cal, "IMAGETYP": kind, "DATE-OBS": f"2024-03-09T0{i}:00:00", **changes})
    run_scan(archive)
    conn = open_ledger(ledger_path)
    first, second = G.calibration(conn)
    assert (first.darks, first.flats, first.flat_darks, first.biases, first.missing) == (1, 1, 1, 1, ())
    assert (second.darks, second.flats, second.missing) == (1, 0, ("flats",))
    assert G.calibration(conn, flat_nights=14)[1].flats == 1  # a flat 12 nights old, allowed by config
    assert G.calibration(conn, target="M31") == []
    conn.close()


def test_cli_rigs_goals_calibration(season, run_scan, ledger_path, capsys) -> None:
    import json

    run_scan(season)
    assert main(["--ledger", str(ledger_path), "rigs", "rename", "ZWO ASI2600MM Pro @ 530mm", "Big scope"]) == 0
    assert "is now called Big scope" in capsys.readouterr().out
    assert main(["--ledger", str(ledger_path), "rigs", "--format", "json"]) == 0
    listed = {r["rig"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"ZWO ASI2600MM Pro @ RedCat 51", "Big scope"}
    # arcsec/px per configuration: 3.76 µm at 250 mm, binned 2x2 (XPIXSZ 7.52); 3.76 µm at 530 mm
    assert listed["ZWO ASI2600MM Pro @ RedCat 51"]["image_scale"] == "3.1;6.2"
    assert listed["Big scope"]["image_scale"] == "1.46"
    assert main(["--ledger", str(ledger_path), "rigs", "changes", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["after"] == "Big scope"
    assert main(["--ledger", str(ledger_path), "goals", "--set", "M 81", "ha", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"target": "M81", "filter": "Ha", "goal_hours": 1.0, "total_hours": 0.6667, "percent": 66.7}
    ]
    assert main(["--ledger", str(ledger_path), "sensor", "--flagged", "--format", "json"]) == 0
    assert [n["night"] for n in json.loads(capsys.readouterr().out)] == ["2024-03-09"]
    assert main(["--ledger", str(ledger_path), "calibration", "--missing", "--format", "json"]) == 0
    assert all(r["missing"] for r in json.loads(capsys.readouterr().out))
    with pytest.raises(SystemExit):
        main(["--ledger", str(ledger_path), "rigs", "rename", "only-one"])
    assert Config().flat_nights == 0


@pytest.mark.parametrize(("nights", "max_bins", "unit"), [(10, 40, "night"), (200, 40, "week"), (1000, 40, "month"),
                                                         (1000, 30, "quarter"), (4000, 30, "year"),
                                                         (15000, 30, "year")])  # fmt: skip
def test_a_thousand_nights_are_binned_on_a_linear_time_axis(tmp_path, nights, max_bins, unit) -> None:
    from datetime import date, timedelta

    conn = L.connect(tmp_path / "l.sqlite")
    start = date(2020, 1, 1)
    conn.executemany(
        "INSERT INTO tallies (target, filter, session_date, setup_id, frame_count, total_us) VALUES (?, ?, ?, 1, 1, ?)",
        [("M81", "Ha" if i % 2 else "OIII", (start + timedelta(days=i)).isoformat(), 3_600_000_000)
         for i in range(nights)],
    )  # fmt: skip
    s = G.night_series(conn, "M81", max_bins=max_bins)
    assert s.unit == unit and (len(s.bins) <= max_bins or unit == "year")  # 41 years: 41 bars
    assert sum(map(sum, s.hours)) == pytest.approx(nights)  # every hour lands in a bin
    assert s.bins == sorted(s.bins) and len(set(s.bins)) == len(s.bins)
    conn.close()


def test_a_renamed_rig_shows_in_reports_and_details(season, run_scan, ledger_path) -> None:
    run_scan(season)
    conn = open_ledger(ledger_path)
    G.rename_rig(conn, "ZWO ASI2600MM Pro @ 530mm", "Big scope")
    column = frames.FRAME_COLUMNS.index("rig")  # the Frames report's rig column
    rigs_of_frames = {row[column] for row in frames.iter_frames(conn)}
    assert rigs_of_frames == {"ZWO ASI2600MM Pro @ RedCat 51", "Big scope"}
    assert {r for r, _n, _h in frames.rigs_used(conn, "M81")} == {"ZWO ASI2600MM Pro @ RedCat 51", "Big scope"}
    conn.close()
