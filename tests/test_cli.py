"""The command line, as cron jobs and scripts use it: output formats, exit codes, messages."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.cli import main


@pytest.fixture
def scanned(make_fits, archive: Path, ledger_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PL_TUI_LEDGER", str(ledger_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(archive.parent / "config"))  # no user config leaks in
    make_fits("M81/a.fits", {"DATE-OBS": "2024-08-13T21:00:00.100"})
    make_fits("M81/b.fits", {"DATE-OBS": "2024-08-13T21:05:00.100", "EXPTIME": 0.1})
    make_fits("M81/c.fits", {"DATE-OBS": "2024-08-13T21:06:00.100", "EXPTIME": 0.2})
    make_fits('M 31, "the" galaxy/d.fits', {"DATE-OBS": "2024-09-01T21:00:00.100", "OBJECT": 'M31, "the" Andromeda'})
    (archive / "broken.fits").write_bytes(b"")
    os.utime(archive / "broken.fits", (1, 1))
    assert main(["scan", str(archive), "--workers", "0"]) == 0
    return archive


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_prints_a_summary(make_fits, archive: Path, ledger_path: Path, capsys) -> None:
    make_fits("x.fits")
    (archive / "bad.fits").write_bytes(b"nope")
    os.utime(archive / "bad.fits", (1, 1))
    code, out, err = run(capsys, "--ledger", str(ledger_path), "scan", str(archive), "--workers", "0")
    assert code == 0
    assert "indexed 2, new 2, changed 0, unchanged 0, unreadable 1" in out and "frames/s" in out
    assert "unreadable: " in err and "bad.fits: not a FITS file" in err  # plain lines when not a TTY
    assert "buckets unreadable" in out


def test_totals_csv_is_rfc4180(scanned: Path) -> None:
    # CSV is written as bytes to the real stdout: read it through a pipe, as a script would
    proc = subprocess.run(
        [sys.executable, "-m", "pl_tui.cli", "totals", "--format", "csv"], capture_output=True, env=os.environ.copy()
    )
    assert proc.returncode == 0
    data = proc.stdout
    assert data.startswith(b"target,filter,total_hours,frame_count,first_seen,last_seen\r\n")
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == ['M31, "the" Andromeda', "Ha", "0.0833", "1", "2024-09-01", "2024-09-01"]
    assert rows[2] == ["M81", "Ha", "0.0834", "3", "2024-08-13", "2024-08-13"]
    assert b'"M31, ""the"" Andromeda"' in data


def test_totals_json_is_typed(scanned: Path, capsys) -> None:
    code, out, _ = run(capsys, "totals", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    m81 = next(r for r in rows if r["target"] == "M81")
    assert m81 == {"target": "M81", "filter": "Ha", "total_hours": 0.0834, "frame_count": 3,
                   "first_seen": "2024-08-13", "last_seen": "2024-08-13"}  # fmt: skip


def test_sessions_and_frames(scanned: Path, capsys) -> None:
    code, out, _ = run(capsys, "sessions", "--target", "M81", "--format", "json")
    assert code == 0
    expected = {"session_date": "2024-08-13", "target": "M81", "filter": "Ha", "frame_count": 3}
    expected |= {"total_exposure_s": 300.3, "instrume": "ZWO ASI2600MM Pro", "telescop": "RedCat 51"}
    assert json.loads(out) == [expected]
    code, out, _ = run(capsys, "frames", "--format", "json", "--status", "unreadable")
    frames = json.loads(out)
    assert (
        len(frames) == 1 and frames[0]["path"].endswith("broken.fits") and frames[0]["reason"] == "empty file (0 bytes)"
    )
    code, out, _ = run(capsys, "frames", "--target", "M81")
    assert code == 0 and out.count("a.fits") == 1 and "2024-08-13T21:00:00.100Z" in out


def test_table_output_shows_header_text_literally(make_fits, archive: Path, ledger_path: Path, capsys) -> None:
    make_fits("x.fits", {"OBJECT": "[bold red]M 81[/]\x1b[31m"})
    main(["--ledger", str(ledger_path), "scan", str(archive), "--workers", "0", "--quiet"])
    capsys.readouterr()
    code, out, _ = run(capsys, "--ledger", str(ledger_path), "totals")
    assert code == 0 and "[bold red]M81[/]" in out and "\x1b" not in out


def test_buckets(scanned: Path, capsys) -> None:
    code, out, _ = run(capsys, "buckets", "--format", "json")
    assert code == 0
    counts = {r["bucket"]: r["frames"] for r in json.loads(out)}
    assert counts["unreadable"] == 1 and counts["duplicates"] == 0
    code, out, _ = run(capsys, "buckets", "unreadable")
    assert code == 0 and "broken.fits" in out and "empty file (0 bytes)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "/no/such/archive"], "archive folder not found"),
        (["totals", "--format", "xml"], "invalid choice"),
        (["frobnicate"], "archive folder not found: frobnicate (commands: scan"),
        (["buckets", "nonsense"], "invalid choice"),
        (["scan"], "required"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--ledger", str(tmp_path / "l.sqlite"), *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_errors_exit_1_with_a_message(tmp_path: Path, capsys, archive: Path) -> None:
    code, _, err = run(capsys, "--ledger", str(tmp_path / "none.sqlite"), "totals")
    assert code == 1 and "no ledger at" in err and "Traceback" not in err
    bad = tmp_path / "bad.toml"
    bad.write_text("settle_seconds = [")
    code, _, err = run(capsys, "--config", str(bad), "--ledger", str(tmp_path / "l.sqlite"), "scan", str(archive))
    assert code == 1 and "cannot read config" in err
    tz = tmp_path / "tz.toml"
    tz.write_text('time_zone = "Mars/Olympus_Mons"')
    code, _, err = run(capsys, "--config", str(tz), "--ledger", str(tmp_path / "l.sqlite"), "scan", str(archive))
    assert code == 1 and "unknown time zone" in err


def test_busy_ledger(scanned: Path, ledger_path: Path, capsys) -> None:
    with L.writer_lock(ledger_path):
        code, _, err = run(capsys, "scan", str(scanned))
    assert code == 1 and f"ledger is busy (scan in progress by pid {os.getpid()})" in err


def test_ledger_option_before_or_after_the_command(scanned: Path, ledger_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PL_TUI_LEDGER")
    a = run(capsys, "--ledger", str(ledger_path), "totals", "--format", "json")
    b = run(capsys, "totals", "--ledger", str(ledger_path), "--format", "json")
    assert a == b and a[0] == 0 and json.loads(a[1])


def test_config_file_settings_apply(make_fits, archive: Path, tmp_path: Path, capsys) -> None:
    make_fits("keep/a.fits", {"DATE-OBS": "2024-08-14T02:00:00.100"})
    make_fits("_trash/b.fits", {"DATE-OBS": "2024-08-14T02:10:00.100"})
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'exclude = ["**/_trash/**"]\nsettle_seconds = 0\n[archives."{archive}"]\ntime_zone = "Asia/Tokyo"\n'
    )
    ledger = tmp_path / "l.sqlite"
    assert main(["--config", str(cfg), "--ledger", str(ledger), "scan", str(archive), "--quiet"]) == 0
    capsys.readouterr()
    _code, out, _ = run(capsys, "--ledger", str(ledger), "sessions", "--format", "json")
    assert [(r["session_date"], r["frame_count"]) for r in json.loads(out)] == [("2024-08-13", 1)]


def test_installed_entry_point_demo(tmp_path: Path) -> None:
    """The README's first command, headless: the real pl-tui binary builds and scans the demo."""
    exe = shutil.which("pl-tui") or str(Path(sys.executable).with_name("pl-tui"))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    env.pop("PL_TUI_LEDGER", None)
    proc = subprocess.run([exe, "demo", "--headless"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote the demo archive" in proc.stdout and "M81" in proc.stdout and "Sh2-129" in proc.stdout
    assert "unreadable 4" in proc.stdout and "duplicates 5" in proc.stdout
    assert (tmp_path / "data" / "pl-tui" / "demo-ledger.sqlite").exists()
    again = subprocess.run([exe, "demo", "--headless"], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and "wrote the demo archive" not in again.stdout and "unchanged" in again.stdout


def test_retag_undo_alias_and_log(scanned: Path, capsys) -> None:
    code, out, _ = run(capsys, "retag", "--where", "target=M81", "--where", "path=*/M81/b.fits", "--set", "filter=OIII",
                       "--dry-run")  # fmt: skip
    assert (code, out) == (0, "would retag 1 frame: filter Ha → OIII\n")
    code, out, _ = run(capsys, "retag", "--where", "target=M81", "--where", "path=*/M81/b.fits", "--set", "filter=O3")
    assert code == 0 and out.startswith("retagged 1 frame: filter Ha → OIII") and "pl-tui undo" in out
    code, out, _ = run(capsys, "totals", "--format", "json")
    rows = {(r["target"], r["filter"]): r["frame_count"] for r in json.loads(out)}
    assert rows[("M81", "Ha")] == 2 and rows[("M81", "OIII")] == 1
    code, out, _ = run(capsys, "alias", "target", 'M31, "the" Andromeda', "M31")
    assert code == 0 and 'target M31, "the" Andromeda → M31: 1 frames renamed; M31 0 → 1 frames' in out
    code, out, _ = run(capsys, "alias")
    assert 'M31, "the" Andromeda' in out and "user" in out
    code, out, _ = run(capsys, "log", "--format", "json")
    log = json.loads(out)
    assert [e["action"] for e in log] == ["alias", "retag"] and log[1]["change"] == "1 frame: filter Ha → OIII"
    code, out, _ = run(capsys, "undo")
    assert code == 0 and out.startswith("undid alias of ")
    code, out, _ = run(capsys, "undo")
    assert code == 0 and "filter Ha → OIII" in out
    code, out, _ = run(capsys, "undo")
    assert (code, out) == (0, "nothing to undo\n")
    code, out, _ = run(capsys, "totals", "--format", "json")
    assert {(r["target"], r["filter"]): r["frame_count"] for r in json.loads(out)}[("M81", "Ha")] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retag", "--set", "target=M31"], "required: --where"),
        (["retag", "--where", "target=M81"], "required: --set"),
        (["retag", "--where", "colour=red", "--set", "target=M31"], "FIELD=VALUE with FIELD one of"),
        (["retag", "--where", "target=M81", "--set", "status=derived"], "status can be set to accepted or rejected"),
        (["retag", "--where", "target=M81", "--set", "target"], "--set takes FIELD=VALUE"),
        (["alias", "target", "M 31"], "alias target|filter FROM TO"),
        (["alias", "target", "M 31", "M31"], "already called that"),
        (["alias", "exposure", "a", "b"], "invalid choice"),
    ],
)
def test_retag_usage_errors_exit_2(scanned: Path, argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_retag_while_a_scan_runs_is_refused_clearly(scanned: Path, ledger_path: Path, capsys) -> None:
    with L.writer_lock(ledger_path):
        code, _, err = run(capsys, "retag", "--where", "target=M81", "--set", "status=rejected")
    assert code == 1 and "ledger is busy" in err
    code, out, _ = run(capsys, "buckets", "rejected")
    assert "(no rows)" in out


def test_buckets_list_suspects_and_merge_suggestions(make_fits, archive: Path, ledger_path: Path, capsys) -> None:
    sky = {"RA": 10.685, "DEC": 41.269}
    for i, name in enumerate(["M 31", "M31", "M31", "Andromeda Galaxy"]):
        make_fits(f"a/{i}.fits", {"DATE-OBS": f"2024-09-01T21:0{i}:00", "OBJECT": name, **sky})
    make_fits("a/off.fits", {"DATE-OBS": "2024-09-01T22:00:00", "OBJECT": "M31", "RA": 148.9, "DEC": 69.1})
    assert main(["--ledger", str(ledger_path), "scan", str(archive), "--workers", "0", "--quiet"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "--ledger", str(ledger_path), "buckets")
    assert code == 0
    assert "merge: pl-tui alias target 'Andromeda Galaxy' M31" in out
    code, out, _ = run(capsys, "--ledger", str(ledger_path), "buckets", "suspect", "--format", "json")
    rows = json.loads(out)
    assert [Path(r["path"]).name for r in rows] == ["off.fits"] and "off M31" in rows[0]["why"]
    code, out, _ = run(capsys, "--ledger", str(ledger_path), "frames", "--bucket", "suspect", "--format", "json")
    assert [Path(r["path"]).name for r in json.loads(out)] == ["off.fits"]
