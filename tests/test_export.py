"""Reports as people use them: exact CSV bytes, pandas and Excel-safe CSV, JSON, AstroBin's
acquisition CSV by its documented field rules, and files written safely."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pl_tui import ledger as L
from pl_tui.core.config import Config
from pl_tui.domain import frames
from pl_tui.domain.rigs import calibration
from pl_tui.export import (
    ASTROBIN_COLUMNS,
    FRAMES_COLUMNS,
    ExportError,
    _umask,
    astrobin_rows,
    bortle_of,
    export_file,
    report_columns,
    report_rows,
    write_report,
)
from pl_tui.scan import scan

NAMED = 'NGC 7000, "North America" é'  # a comma, quotes and a non-ASCII letter


@pytest.fixture
def ledger(make_fits, archive: Path, ledger_path: Path) -> Path:
    def light(rel: str, t: str, **changes: object) -> None:
        make_fits(rel, {"DATE-OBS": t, **changes})

    light("n1/a.fits", "2024-08-13T21:00:00.100", OBJECT=NAMED, EXPTIME=300.0, **{"CCD-TEMP": -10.2})
    light("n1/b.fits", "2024-08-13T21:05:00.100", OBJECT=NAMED, EXPTIME=300.0, **{"CCD-TEMP": -9.8})
    light("n1/c.fits", "2024-08-13T21:10:00.100", OBJECT=NAMED, EXPTIME=300.0, INSTRUME="QHY268M")  # mixed rigs
    light("n1/d.fits", "2024-08-13T21:20:00.100", OBJECT=NAMED, EXPTIME=0.1, FILTER="OIII")
    light("n1/e.fits", "2024-08-13T21:21:00.100", OBJECT=NAMED, EXPTIME=0.2, FILTER="OIII")  # 0.1 + 0.2
    light("n2/odd\nname.fits", "2024-08-14T21:00:00.100", OBJECT="M 31", FILTER=None, TELESCOP=None)  # missing
    make_fits("n2/broken.fits").write_bytes(b"")
    os.utime(archive / "n2" / "broken.fits", (1, 1))
    scan(ledger_path, [str(archive)], Config(settle_seconds=0, time_zone="UTC"), workers=0)
    return ledger_path


def csv_bytes(ledger_path: Path, report: str, **where: str) -> bytes:
    conn = L.connect(ledger_path, create=False)
    buf = io.BytesIO()
    out = io.TextIOWrapper(buf, encoding="utf-8", newline="")
    write_report(conn, report, out, "csv", L.FrameFilter(**where))
    out.flush()
    conn.close()
    return buf.getvalue()


def test_totals_bytes(ledger: Path) -> None:
    assert csv_bytes(ledger, "totals") == (
        b"target,filter,total_hours,frame_count,first_seen,last_seen\r\n"
        b"M31,,0.0833,1,2024-08-14,2024-08-14\r\n"
        b'"NGC7000, ""North America"" \xc3\xa9",Ha,0.25,3,2024-08-13,2024-08-13\r\n'
        b'"NGC7000, ""North America"" \xc3\xa9",OIII,0.0001,2,2024-08-13,2024-08-13\r\n'
    )


def test_sessions_bytes_with_mixed_rigs_and_no_float_noise(ledger: Path) -> None:
    assert csv_bytes(ledger, "sessions") == (
        b"session_date,target,filter,frame_count,total_exposure_s,instrume,telescop\r\n"
        b"2024-08-14,M31,,1,300.0,ZWO ASI2600MM Pro,\r\n"
        b'2024-08-13,"NGC7000, ""North America"" \xc3\xa9",Ha,3,900.0,QHY268M;ZWO ASI2600MM Pro,RedCat 51\r\n'
        b'2024-08-13,"NGC7000, ""North America"" \xc3\xa9",OIII,2,0.3,ZWO ASI2600MM Pro,RedCat 51\r\n'
    )


def test_a_target_with_a_newline_is_quoted(ledger: Path) -> None:
    """Header values cannot carry one (whitespace folds), but a retag can: emulate one as the
    retag issue writes it (an override row and its denormalised copy on the exposure)."""
    conn = L.connect(ledger, create=False)
    (ident,) = conn.execute("SELECT identity FROM exposures WHERE target = 'M31'").fetchone()
    conn.execute("INSERT INTO overrides (identity, target) VALUES (?, ?)", (ident, "Andromeda\r\nGalaxy"))
    conn.execute("UPDATE exposures SET ov_target = ? WHERE identity = ?", ("Andromeda\r\nGalaxy", ident))
    conn.close()
    data = csv_bytes(ledger, "totals")
    assert b'\r\n"Andromeda\r\nGalaxy",,0.0833,1,2024-08-14,2024-08-14\r\n' in data
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert ["Andromeda\r\nGalaxy", "", "0.0833", "1", "2024-08-14", "2024-08-14"] in rows
    assert pd.read_csv(io.BytesIO(data))["target"].tolist()[0] == "Andromeda\r\nGalaxy"


def test_frames_csv_round_trips_every_field(ledger: Path) -> None:
    data = csv_bytes(ledger, "frames")
    assert not data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") >= 8
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert tuple(parsed[0]) == frames.FRAME_COLUMNS
    conn = L.connect(ledger, create=False)
    rows = list(report_rows(conn, "frames"))
    conn.close()
    assert len(parsed) == len(rows) + 1
    for got, want in zip(parsed[1:], rows, strict=True):
        assert got == ["" if v is None else str(v) for v in want]
    assert any("\n" in r[0] for r in parsed[1:])  # the odd file name survived quoting


def test_pandas_reads_numbers_as_numbers_and_dates_as_datetimes(ledger: Path) -> None:
    totals = pd.read_csv(io.BytesIO(csv_bytes(ledger, "totals")))
    assert str(totals["total_hours"].dtype) == "float64" and str(totals["frame_count"].dtype) == "int64"
    sessions = pd.read_csv(io.BytesIO(csv_bytes(ledger, "sessions")))
    assert str(sessions["frame_count"].dtype) == "int64" and str(sessions["total_exposure_s"].dtype) == "float64"
    assert sessions["total_exposure_s"].sum() == pytest.approx(1200.3)
    frames = pd.read_csv(io.BytesIO(csv_bytes(ledger, "frames")), parse_dates=["date_obs_utc"])
    assert str(frames["date_obs_utc"].dtype).startswith("datetime64")
    assert frames["date_obs_utc"].dt.tz is not None
    for col in ("exposure_s", "focallen", "xbinning", "gain", "ccd_temp"):
        assert frames[col].dtype.kind in "if", col
    first = frames.sort_values("date_obs_utc").iloc[0]
    assert str(first["date_obs_utc"]) == "2024-08-13 21:00:00.100000+00:00"


def test_json_is_typed(ledger: Path) -> None:
    conn = L.connect(ledger, create=False)
    out = io.StringIO()
    write_report(conn, "frames", out, "json", L.FrameFilter(target="M31"))
    conn.close()
    (row,) = json.loads(out.getvalue())
    assert row["exposure_s"] == 300.0 and row["xbinning"] is None and row["filter"] is None
    assert row["date_obs_utc"] == "2024-08-14T21:00:00.100Z" and row["rig"] == "ZWO ASI2600MM Pro"


def test_reports_agree(ledger: Path) -> None:
    conn = L.connect(ledger, create=False)
    totals = list(report_rows(conn, "totals"))
    sessions = list(report_rows(conn, "sessions"))
    counting = L.counting_frame_count(conn)
    frames = [r for r in report_rows(conn, "frames", L.FrameFilter(status="accepted")) if r[4] == "LIGHT"]
    conn.close()
    assert sum(r[3] for r in totals) == sum(r[3] for r in sessions) == counting == len(frames) == 6
    assert round(sum(r[4] for r in sessions), 6) == round(sum(r[3] for r in frames), 6) == 1200.3


def test_frames_filters(ledger: Path) -> None:
    conn = L.connect(ledger, create=False)

    def n(**where: str) -> int:
        return len(list(report_rows(conn, "frames", L.FrameFilter(**where))))

    assert n() == 7
    assert n(status="unreadable") == 1 and n(bucket="unreadable") == 1
    assert n(bucket="unknown") == 1  # the mono light without filter
    assert n(target="M31") == 1 and n(filter="OIII") == 2 and n(filter="-") == 1
    assert n(since="2024-08-14") == 1 and n(until="2024-08-13") == 5 and n(since="2024-08-15") == 0
    assert n(bucket="duplicates", status="accepted") == 0
    conn.close()


def test_totals_and_sessions_for_a_range_of_nights(ledger: Path) -> None:
    conn = L.connect(ledger, create=False)
    assert [t.target for t in L.totals(conn, since="2024-08-14")] == ["M31"]
    assert len(L.sessions(conn, until="2024-08-13")) == 2
    conn.close()


# ---------------------------------------------------------------------------------------------
# AstroBin


@pytest.fixture
def astro(make_fits, archive: Path, ledger_path: Path) -> Path:
    """One night with two cameras, and that night's calibration frames for one of them."""
    t = "2024-08-13T21:{:02d}:00.100"
    for i in range(4):
        make_fits(f"L/a{i}.fits", {"DATE-OBS": t.format(i * 6), "CCD-TEMP": -10.4, "FOCRATIO": 4.9, "GAIN": 100})
    for i in range(2):
        make_fits(f"L/b{i}.fits", {"DATE-OBS": t.format(40 + i), "INSTRUME": "QHY268M", "EXPTIME": 120.0})
    make_fits("L/osc.fits", {"DATE-OBS": t.format(50), "FILTER": None, "BAYERPAT": "RGGB", "INSTRUME": "ASI533MC"})
    cal = {"OBJECT": None, "FILTER": None, "GAIN": 100}
    for i in range(5):
        make_fits(f"D/d{i}.fits", {**cal, "IMAGETYP": "DARK", "DATE-OBS": f"2024-08-14T03:0{i}:00.1"})
    make_fits("D/other.fits", {**cal, "IMAGETYP": "DARK", "EXPTIME": 60.0, "DATE-OBS": "2024-08-14T03:09:00.1"})
    for i in range(3):
        make_fits(
            f"F/f{i}.fits",
            {**cal, "IMAGETYP": "FLAT", "FILTER": "Ha", "EXPTIME": 2.0, "DATE-OBS": f"2024-08-13T19:0{i}:00.1"},
        )
    make_fits(
        "F/oiii.fits",
        {**cal, "IMAGETYP": "FLAT", "FILTER": "OIII", "EXPTIME": 2.0, "DATE-OBS": "2024-08-13T19:09:00.1"},
    )
    for i in range(2):
        make_fits(
            f"F/fd{i}.fits", {**cal, "IMAGETYP": "DARKFLAT", "EXPTIME": 2.0, "DATE-OBS": f"2024-08-13T19:3{i}:00.1"}
        )
    for i in range(7):
        make_fits(f"B/b{i}.fits", {**cal, "IMAGETYP": "BIAS", "EXPTIME": 0.0, "DATE-OBS": f"2024-08-13T19:40:0{i}.1"})
    scan(ledger_path, [str(archive)], Config(settle_seconds=0, time_zone="Europe/Berlin"), workers=0)
    return ledger_path


def test_astrobin_rows_and_calibration(astro: Path) -> None:
    conn = L.connect(astro, create=False)
    rows = astrobin_rows(conn, "M81", {"Ha": 4663})
    conn.close()
    assert rows == [
        # date, filter, number, duration, binning, gain, sensorCooling, fNumber, darks, flats, flatDarks, bias,
        # then bortle, meanSqm, meanFwhm, temperature (none of these frames recorded conditions)
        ("2024-08-13", None, 1, 300, None, None, None, None, None, None, None, None, None, None, None, None),  # OSC
        ("2024-08-13", 4663, 2, 120, None, None, None, None, None, None, None, None, None, None, None, None),  # QHY
        ("2024-08-13", 4663, 4, 300, None, 100, -10, 4.9, 5, 3, 2, 7, None, None, None, None),
    ]


def test_astrobin_file_follows_astrobins_field_rules(astro: Path, tmp_path: Path) -> None:
    conn = L.connect(astro, create=False)
    out = tmp_path / "acq.csv"
    export_file(conn, "astrobin", out, where=L.FrameFilter(target="M81"), astrobin_filters={"Ha": 4663})
    conn.close()
    data = out.read_bytes()
    assert data.startswith(
        b"date,filter,number,duration,binning,gain,sensorCooling,fNumber,darks,flats,flatDarks,bias,"
        b"bortle,meanSqm,meanFwhm,temperature\r\n"
    )
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    assert rows and list(rows[0]) == list(ASTROBIN_COLUMNS)
    whole = re.compile(r"-?\d+$")
    for r in rows:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["date"])
        assert r["filter"] == "" or whole.match(r["filter"])
        assert whole.match(r["number"]) and int(r["number"]) > 0
        assert re.fullmatch(r"\d+(\.\d{1,4})?", r["duration"]) and 0.0001 <= float(r["duration"]) <= 999999.9999
        assert r["binning"] in ("", "1", "2", "3", "4")
        assert r["gain"] == "" or re.fullmatch(r"-?\d+(\.\d{1,2})?", r["gain"])
        assert r["sensorCooling"] == "" or (whole.match(r["sensorCooling"]) and -274 <= int(r["sensorCooling"]) <= 100)
        assert r["fNumber"] == "" or re.fullmatch(r"\d+(\.\d{1,2})?", r["fNumber"])
        for k in ("darks", "flats", "flatDarks", "bias"):
            assert r[k] == "" or (r[k].isdigit() and int(r[k]) >= 0)


def test_astrobin_decimals_are_capped(make_fits, archive: Path, ledger_path: Path) -> None:
    make_fits("x.fits", {"EXPTIME": 30.000049, "GAIN": 1.005, "FOCRATIO": 5.3333, "XBINNING": 5, "CCD-TEMP": -300.0})
    scan(ledger_path, [str(archive)], Config(settle_seconds=0), workers=0)
    conn = L.connect(ledger_path, create=False)
    ((_, _, _, duration, binning, gain, cooling, f_number, *_),) = astrobin_rows(conn, "M81", {"Ha": 1})
    conn.close()
    assert (duration, binning, gain, cooling, f_number) == (30, None, 1.0, None, 5.33)


def test_astrobin_filter_without_id_is_a_clear_error(astro: Path, tmp_path: Path) -> None:
    conn = L.connect(astro, create=False)
    with pytest.raises(ExportError, match=r"no AstroBin filter id for 'Ha'.*\[astrobin.filters\]"):
        astrobin_rows(conn, "M81", {})
    out = tmp_path / "acq.csv"
    with pytest.raises(ExportError):
        export_file(conn, "astrobin", out, where=L.FrameFilter(target="M81"))
    assert not out.exists() and not list(tmp_path.glob(".acq.csv*"))
    rows = astrobin_rows(conn, "M81", {}, allow_missing=True)
    assert [r[1] for r in rows] == [None, None, None]
    assert astrobin_rows(conn, "M81", {"ha": 7})[1][1] == 7  # ids match filter names case-insensitively
    with pytest.raises(ExportError, match="no counting frames"):
        astrobin_rows(conn, "M999", {})
    conn.close()


# ---------------------------------------------------------------------------------------------
# Files


def test_export_file_is_atomic_and_asks_before_replacing(ledger: Path, tmp_path: Path, monkeypatch) -> None:
    conn = L.connect(ledger, create=False)
    out = tmp_path / "reports" / "frames.csv"
    with pytest.raises(ExportError, match="does not exist"):
        export_file(conn, "frames", out)
    out.parent.mkdir()
    assert export_file(conn, "frames", out) == 7
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()  # an ordinary file, not mkstemp's 0600
    first = out.read_bytes()
    with pytest.raises(ExportError, match="exists: add --force"):
        export_file(conn, "totals", out)
    assert out.read_bytes() == first
    assert export_file(conn, "totals", out, force=True) == 3

    real_rows = list(frames.iter_frames(conn))[:3]

    def exploding(*a: object, **k: object):
        yield from real_rows
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(frames, "iter_frames", exploding)
    with pytest.raises(ExportError, match="No space"):  # one line for the user, no traceback
        export_file(conn, "frames", out, force=True)
    assert out.read_bytes().startswith(b"target,filter,total_hours")  # the old file, untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["frames.csv"]  # no partial file left

    real_open = os.open

    def no_tmpfile(path, flags, *a):
        if flags & getattr(os, "O_TMPFILE", 0) == getattr(os, "O_TMPFILE", -1):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a)

    monkeypatch.setattr(os, "open", no_tmpfile)
    with pytest.raises(ExportError, match=r"cannot write to .*Permission denied"):
        export_file(conn, "frames", tmp_path / "reports" / "again.csv")
    monkeypatch.setattr(os, "open", real_open)

    def denied(*a: object, **k: object):
        raise PermissionError(13, "Permission denied")

    monkeypatch.delattr(os, "O_TMPFILE", raising=False)  # a system without it: a hidden temporary file
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ExportError, match=r"cannot write to .*Permission denied"):
        export_file(conn, "totals", tmp_path / "elsewhere.csv")
    conn.close()


def test_export_never_writes_inside_an_archive(ledger: Path, archive: Path) -> None:
    conn = L.connect(ledger, create=False)
    for path in (archive / "totals.csv", archive / "n1" / "totals.csv"):
        with pytest.raises(ExportError, match="inside the archive"):
            export_file(conn, "totals", path)
        assert not path.exists()
    conn.close()


def test_cli_export(ledger: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from pl_tui.cli import main

    monkeypatch.setenv("PL_TUI_LEDGER", str(ledger))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    out = tmp_path / "sessions.json"
    assert (
        main(["export", "sessions", "-o", str(out), "--format", "json", "--target", NAMED.replace(" 7000", "7000")])
        == 0
    )
    assert "wrote 2 rows" in capsys.readouterr().err
    assert [r["filter"] for r in json.loads(out.read_text())] == ["Ha", "OIII"]
    assert main(["export", "sessions", "-o", str(out)]) == 1
    assert "add --force" in capsys.readouterr().err
    for argv in (
        ["export", "totals", "--status", "accepted"],
        ["export", "astrobin"],
        ["export", "frames", "--since", "13/08/24"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


# ---------------------------------------------------------------------------------------------
# Property: whatever the frames, the exported reports agree with each other


@given(
    st.lists(
        st.tuples(
            st.sampled_from(['A, "x"', "B", "Ω"]),
            st.sampled_from(["Ha", "OIII", None]),
            st.sampled_from([0.1, 0.2, 60.0, 123.4567]),
            st.integers(0, 50),
            st.sampled_from(["LIGHT", "FLAT"]),
        ),
        max_size=30,
    )
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_ledgers_export_consistent_sums(tmp_path: Path, frames: list) -> None:
    from pl_tui.core.normalize import NightRule, exposure_row, normalize

    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "l.sqlite"
    conn = L.connect(path)
    w = L.LedgerWriter(conn)
    d = w.dir_id("/r", w.root_id("/r"))
    for i, (target, filt, exp, minute, kind) in enumerate(frames):
        cards = {
            "OBJECT": target,
            "EXPTIME": exp,
            "IMAGETYP": kind,
            "DATE-OBS": f"2024-01-0{1 + minute % 3}T20:{minute:02d}:00.5",
        }
        if filt:
            cards["FILTER"] = filt
        f = normalize(cards, b"", f"f{i}", (), NightRule(tz="UTC"))
        w.write([L.FileRecord(d, f"f{i}.fits", 1, 1, L.ACCEPTED, None, *L.split_row(exposure_row(f)))])
    w.commit()

    def parsed(report: str) -> list[dict]:
        buf = io.StringIO(newline="")
        write_report(conn, report, buf, "csv")
        return list(csv.DictReader(io.StringIO(buf.getvalue(), newline="")))

    totals, sessions = parsed("totals"), parsed("sessions")
    n = L.counting_frame_count(conn)
    assert sum(int(r["frame_count"]) for r in totals) == sum(int(r["frame_count"]) for r in sessions) == n
    hours = sum(float(r["total_exposure_s"]) for r in sessions) / 3600
    assert abs(sum(float(r["total_hours"]) for r in totals) - hours) <= 0.0001 * max(1, len(totals))
    assert all(c in report_columns("sessions") for c in sessions[0]) if sessions else True
    conn.close()


def test_astrobin_uses_the_calibration_matching_and_the_nights_conditions(
    make_fits, archive: Path, ledger_path: Path
) -> None:
    """A dark library and biases from another month: `pl-tui calibration` matches them, so the
    AstroBin CSV must too; SQM, FWHM and ambient temperature are session means from the headers."""
    light = {"GAIN": 100, "XPIXSZ": 3.76, "FOCALLEN": 250.0, "SKYQUAL": 21.3, "AMBTEMP": 4.0, "HFR": 1.5}
    make_fits("L/a.fits", {**light, "DATE-OBS": "2024-08-13T21:00:00.100"})
    make_fits("L/b.fits", {**light, "DATE-OBS": "2024-08-13T21:06:00.100", "SKYQUAL": 21.5, "AMBTEMP": 3.0, "HFR": 2.5})
    cal = {"OBJECT": None, "FILTER": None, "GAIN": 100, "XPIXSZ": 3.76, "FOCALLEN": 250.0}
    for i in range(3):  # the dark library, shot a month earlier
        make_fits(f"Darks/d{i}.fits", {**cal, "IMAGETYP": "Dark Frame", "DATE-OBS": f"2024-07-10T12:0{i}:00.1"})
    for i in range(4):
        make_fits(
            f"Bias/b{i}.fits", {**cal, "IMAGETYP": "Bias Frame", "EXPTIME": 0.0, "DATE-OBS": f"2024-07-10T12:3{i}:00.1"}
        )
    scan(ledger_path, [str(archive)], Config(settle_seconds=0, time_zone="Europe/Berlin"), workers=0)
    conn = L.connect(ledger_path, create=False)
    (coverage,) = calibration(conn, "M81")
    (row,) = astrobin_rows(conn, "M81", {"Ha": 4663})
    conn.close()
    assert (coverage.darks, coverage.biases) == (3, 4)
    named = dict(zip(ASTROBIN_COLUMNS, row, strict=True))
    assert (named["darks"], named["flats"], named["flatDarks"], named["bias"]) == (3, None, None, 4)
    scale = 3.76 * 206.265 / 250.0  # 3.102 arcsec/px; FWHM = 2 × HFR
    assert named["meanSqm"] == 21.4 and named["bortle"] == 4
    assert named["temperature"] == 3.5
    assert named["meanFwhm"] == pytest.approx(round((3.0 * scale + 5.0 * scale) / 2, 2), abs=0.01)


@pytest.mark.parametrize(
    ("sqm", "bortle"),
    [
        (22.0, 1),
        (21.95, 2),
        (21.7, 3),
        (21.0, 4),
        (20.0, 5),
        (19.0, 6),
        (18.5, 7),
        (18.0, 8),
        (17.0, 9),
        (None, None),
        (5.0, None),
    ],
)
def test_bortle_from_sky_quality(sqm: float | None, bortle: int | None) -> None:
    assert bortle_of(sqm) == bortle


def test_frames_report_has_the_image_scale(make_fits, archive: Path, ledger_path: Path) -> None:
    make_fits("a.fits", {"XPIXSZ": 3.76, "FOCALLEN": 250.0})
    make_fits("b.fits", {"XPIXSZ": 3.76, "FOCALLEN": 0, "DATE-OBS": "2024-08-13T22:00:00.000"})  # MaxIm's "not set"
    scan(ledger_path, [str(archive)], Config(settle_seconds=0), workers=0)
    with L.reading(ledger_path) as conn:
        rows = {Path(r[0]).name: dict(zip(FRAMES_COLUMNS, r, strict=True)) for r in report_rows(conn, "frames")}
    assert rows["a.fits"]["image_scale"] == 3.102
    assert rows["b.fits"]["image_scale"] is None  # never guessed
