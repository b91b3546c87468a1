"""The real `pl-tui` binary in tmux, the way a user over SSH sees it: scan, read M31's hours,
export a file, quit with the terminal restored."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pl_tui.demo import build_demo_archive

from ..conftest import tree_digest

TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)"),
    pytest.mark.slow,  # the real binary in a terminal: CI runs it, the quick loop skips it
]


def pane(session: str) -> str:
    return subprocess.run([TMUX, "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout


def keys(session: str, *k: str) -> None:
    for key in k:  # one at a time: an Escape followed at once by a letter would read as Alt+letter
        subprocess.run([TMUX, "send-keys", "-t", session, key], check=True)
        time.sleep(0.15)


def wait_for(session: str, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = pane(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{pane(session)}")


EXE = shutil.which("pl-tui") or str(Path(sys.executable).with_name("pl-tui"))


def launch(
    tmp_path: Path, name: str, archive: Path | None = None, config: str = "settle_seconds = 0\n"
) -> tuple[str, Path, Path]:
    """The demo archive (or ``archive``), a config without settle window (the demo's files were
    just written), and the real binary scanning it in an 80×24 tmux session run from tmp_path.
    → (session, archive, ledger)"""
    if archive is None:
        archive = tmp_path / "archive"
        build_demo_archive(archive)
    ledger = tmp_path / "ledger.sqlite"
    (tmp_path / "cfg" / "pl-tui").mkdir(parents=True)
    (tmp_path / "cfg" / "pl-tui" / "config.toml").write_text(config)
    session = f"pl-tui-{name}-{os.getpid()}"
    command = (
        f"cd {tmp_path} && env HOME={tmp_path} XDG_CONFIG_HOME={tmp_path / 'cfg'} TERM=xterm-256color "
        f"{EXE} --ledger {ledger} {archive}; echo PL-TUI-EXITED rc=$?; sleep 60"
    )
    subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command], check=True)
    return session, archive, ledger


def test_scan_read_export_quit(tmp_path: Path) -> None:
    session, _archive, _ledger = launch(tmp_path, "e2e")
    try:
        screen = wait_for(session, "193 frames")  # the scan ran and landed on Targets
        m31 = next(line for line in screen.splitlines() if "M31" in line)
        assert "1.5 h" in m31 and "30" in m31
        keys(session, "Down", "e")  # M31 highlighted; the export modal defaults to its sessions
        wait_for(session, "Export a report")
        keys(session, "Tab", "Tab", "Tab", "Enter")
        wait_for(session, "Wrote 2 rows")
        written = tmp_path / "sessions-M31.csv"
        assert written.read_bytes().startswith(b"session_date,target,filter")
        keys(session, "q")
        screen = wait_for(session, "PL-TUI-EXITED rc=0", timeout=15)
        assert "193 frames" not in screen  # the alternate screen is gone: the terminal is restored
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)


def test_a_closed_ssh_session_ends_the_app_cleanly(tmp_path: Path) -> None:
    """SSH drops the connection: the app gets SIGHUP and must leave, not hang or spin."""
    session, _archive, _ledger = launch(tmp_path, "hup")
    try:
        wait_for(session, "193 frames")
        shell = subprocess.run(
            [TMUX, "display-message", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True
        ).stdout.strip()
        app_pid = int(subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()[0])
        os.kill(app_pid, 1)  # SIGHUP
        wait_for(session, "PL-TUI-EXITED", timeout=15)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)


def test_retag_a_suspect_frame_then_undo(tmp_path: Path) -> None:
    """Buckets → Suspect → the mis-labelled frame → r → its real target → Enter; the totals
    change; Ctrl+Z puts them back. The archive's bytes never change."""
    session, archive, ledger = launch(tmp_path, "retag")
    digest = tree_digest(archive, limit=1 << 20)  # the scan starts at once: nothing it does writes

    def ngc7000_frames() -> int:
        out = subprocess.run(
            [EXE, "--ledger", str(ledger), "totals", "--target", "NGC7000", "--filter", "Ha", "--format", "csv"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return int(out.splitlines()[1].split(",")[3])

    try:
        wait_for(session, "193 frames")
        before = ngc7000_frames()
        keys(session, "b")
        wait_for(session, "Suspect 2")
        keys(session, "Right")
        wait_for(session, "pointing 66.1° off M81")
        keys(session, "Down", "r")
        wait_for(session, "Retag 1 frame")
        keys(session, *"NGC7000")
        wait_for(session, "Retag 1 frame: target M81 → NGC7000")
        keys(session, "Enter")
        wait_for(session, "Suspect 1")
        assert ngc7000_frames() == before + 1
        keys(session, "C-z")
        wait_for(session, "Suspect 2")
        assert ngc7000_frames() == before
        keys(session, "Escape", "q")
        wait_for(session, "PL-TUI-EXITED rc=0", timeout=15)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)
    assert tree_digest(archive, limit=1 << 20) == digest
