"""The CLI's words around the app (the screens' side of issue 12): ``--help`` says plain pl-tui
opens the app, the interactive demo says where its own ledger is, and tables stream — the first
rows are out before the last are read, as the CSV is (22,000 frames no longer take a minute)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pl_tui import cli


class Pipe:
    """A stdout that is not a terminal, with the bytes written so far."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        return self.buffer.write(text.encode())

    def flush(self) -> None:
        pass


def test_help_says_plain_pl_tui_opens_the_app(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Plain 'pl-tui'" in text and "opens the terminal app" in text and "pl-tui demo" in text


def test_the_interactive_demo_says_where_its_own_ledger_is(tmp_path: Path, monkeypatch, capsys) -> None:
    import platformdirs

    monkeypatch.delenv("PL_TUI_LEDGER", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "data"))
    monkeypatch.setattr(cli, "_run_app", lambda ledger, config, archives: 0)  # the app, closed at once
    assert cli.main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    ledger = tmp_path / "data" / "demo-ledger.sqlite"
    assert "own ledger" in out and f"pl-tui --ledger {ledger}" in out


def test_a_table_streams_its_rows(monkeypatch) -> None:
    pipe = Pipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    seen_before_the_end: list[bytes] = []

    def rows():
        for i in range(20_000):
            if i == 10_000:  # half-way through the rows: the first ones are written already
                seen_before_the_end.append(pipe.buffer.getvalue())
            yield (f"/archive/night/frame-{i:05d}.fits", "M81", 300.0)

    cli._table(("path", "target", "exposure_s"), rows())
    assert b"frame-00001.fits" in seen_before_the_end[0]
    lines = pipe.buffer.getvalue().decode().splitlines()
    assert len(lines) == 2 + 20_000
    assert lines[0].split() == ["path", "target", "exposure_s"]
    assert lines[2] == f" /archive/night/frame-00000.fits  {'M81':<6}  {'300':>10}"  # numbers to the right


def test_a_value_wider_than_the_first_page_is_never_cut_in_a_pipe(monkeypatch) -> None:
    pipe = Pipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    long = "/archive/" + "deep/" * 40 + "frame.fits"
    cli._table(("path", "target"), [("/a.fits", "M81")] * 600 + [(long, "[b]M 81[/]\x1b[31m")])
    last = pipe.buffer.getvalue().decode().splitlines()[-1]
    assert long in last and "[b]M 81[/]" in last and "\x1b" not in last
