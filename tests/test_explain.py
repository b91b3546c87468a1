"""`pl-tui explain FILE`: each field with where it came from and every rule that fired, so a
user sees why a frame does or does not count — on files in the ledger and files not yet scanned."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pl_tui.cli import main


@pytest.fixture(autouse=True)
def no_user_config(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(archive.parent / "config"))


@pytest.fixture
def scanned(make_fits, archive: Path, ledger_path: Path) -> Path:
    make_fits("M81/2024-03-05/LIGHT/ms.fits", cards=None, changes={"EXPTIME": None, "EXPOSURE": 160.0})
    make_fits(
        "Seestar/MyWorks/M 81_sub/Light_1.fit",
        {"OBJECT": "Unknown", "FILTER": "None", "STACKCNT": 1, "DATE-OBS": "2024-03-05T21:30:00.500"},
    )
    make_fits("Seestar/MyWorks/M 81_sub/Stacked_30_M 81.fit", {"STACKCNT": 30, "DATE-OBS": "2024-03-05T22:00:00.5"})
    make_fits("Bad/broken.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    assert main(["--ledger", str(ledger_path), "scan", str(archive), "--workers", "0", "--quiet"]) == 0
    return archive


def explain(capsys, ledger_path: Path, *files: Path, fmt: str = "text") -> tuple[int, str]:
    code = main(["--ledger", str(ledger_path), "explain", "--format", fmt, *map(str, files)])
    return code, capsys.readouterr().out


def test_a_frame_that_counts_says_so_with_each_fields_origin(scanned: Path, ledger_path: Path, capsys) -> None:
    code, out = explain(capsys, ledger_path, scanned / "M81/2024-03-05/LIGHT/ms.fits")
    assert code == 0
    assert "counts: a LIGHT of 160 s" in out
    assert "EXPOSURE = 160.0" in out  # the fallback keyword it came from
    assert "OBJECT = 'M 81'" in out


def test_placeholders_folders_and_missing_fields_are_named(scanned: Path, ledger_path: Path, capsys) -> None:
    _, out = explain(capsys, ledger_path, scanned / "Seestar/MyWorks/M 81_sub/Light_1.fit")
    assert "OBJECT/OBJNAME 'Unknown' is a placeholder" in out
    assert "FILTER/FILTNAME 'None' is a placeholder" in out
    assert "target 'M81' taken from the folders" in out
    assert "Unknown: a light without filter" in out


def test_a_stack_says_why_it_is_derived(scanned: Path, ledger_path: Path, capsys) -> None:
    _, out = explain(capsys, ledger_path, scanned / "Seestar/MyWorks/M 81_sub/Stacked_30_M 81.fit")
    assert "does not count: derived (STACKCNT = 30: a stack of 30 frames)" in out


def test_retags_and_copies_come_from_the_ledger(scanned: Path, ledger_path: Path, capsys) -> None:
    light = scanned / "M81/2024-03-05/LIGHT/ms.fits"
    copy = scanned / "Backup/ms.fits"
    copy.parent.mkdir()
    shutil.copy2(light, copy)
    assert main(["--ledger", str(ledger_path), "scan", str(scanned), "--workers", "0", "--quiet"]) == 0
    where = f"path={light}"
    assert main(["--ledger", str(ledger_path), "retag", "--where", where, "--set", "target=Bode's Galaxy"]) == 0
    capsys.readouterr()
    _, out = explain(capsys, ledger_path, light, copy, fmt="json")
    original, duplicate = json.loads(out)
    assert original["counts"] is True
    assert original["fields"]["target"] == {"value": "Bode's Galaxy", "from": "retag (pl-tui undo reverts it)"}
    assert "target set by a retag: 'M81' → \"Bode's Galaxy\"" in original["rules"]
    assert duplicate["counts"] is False
    assert any(r.startswith(f"copy of {light}") for r in duplicate["rules"])


def test_unreadable_and_unscanned_files(scanned: Path, ledger_path: Path, make_fits, capsys) -> None:
    fresh = make_fits("New/n.fits", {"OBJECT": "\x1b]52;c;aGk=\x07[b]M 33[/b]"})
    code, out = explain(capsys, ledger_path, scanned / "Bad/broken.fits", fresh)
    assert code == 0
    assert "does not count: unreadable: smaller than one FITS block" in out
    assert "not in the ledger yet" in out
    assert "\x1b" not in out and "\x07" not in out  # header text never reaches the terminal raw
    code, _ = explain(capsys, ledger_path, scanned / "nope.fits")
    assert code == 1


def test_explain_works_without_any_ledger(make_fits, tmp_path: Path, capsys) -> None:
    f = make_fits("M 101/2024-03-05/LIGHT/x.fits", {"OBJECT": None})
    code, out = explain(capsys, tmp_path / "none.sqlite", f)
    assert code == 0
    assert "target 'M101' taken from the folders" in out
