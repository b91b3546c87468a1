"""Unbreakable, round two (issue 14): every way a user hit a traceback, a wrong count or a
hostile byte on the screen, tried the way the user did — the CLI, the `pl-tui` binary, real
FITS files, a read-only mount, a full disk, a corrupt page, a second program on the ledger.

Read-only and full disks are real: a read-only bind mount and a tiny tmpfs, made in a private
mount namespace (`unshare -m`) so nothing outside the test sees them. Where the sandbox does not
allow that, those tests are skipped and say so.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pty
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.cli import main
from pl_tui.core.errors import UserInputError
from pl_tui.core.headers import MAX_XISF_HEADER
from pl_tui.domain import frames
from pl_tui.domain import retag as R
from pl_tui.domain import rigs as G

from .conftest import tree_digest

REPO = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).with_name("pl-tui"))
GEN_ARCHIVE = REPO / "bench" / "gen_archive.py"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse: usage errors
        code = e.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, expected_code: int = 1) -> str:
    """The promise of SPEC §12: no traceback, one line saying what is wrong and what to do."""
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("pl-tui")]
    assert len(lines) == 1, err
    return lines[0]


def rows(ledger: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(ledger)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def env(archive: Path, ledger_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PL_TUI_LEDGER", str(ledger_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user config leaks in
    return archive


def nights(make_fits, folder: str, n: int, start: int = 0, **changes: object) -> None:
    for i in range(start, start + n):
        make_fits(
            f"{folder}/f{i:04d}.fits", {"DATE-OBS": f"2024-08-13T21:{i // 60 % 60:02d}:{i % 60:02d}.000", **changes}
        )


def _can_unshare() -> str | None:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return "needs root and unshare(1) for a private mount namespace"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
        capture_output=True,
    )
    return None if probe.returncode == 0 else f"mounts not permitted here: {probe.stderr.decode()[:100]}"


UNSHARE_SKIP = _can_unshare()
needs_mounts = pytest.mark.skipif(UNSHARE_SKIP is not None, reason=UNSHARE_SKIP or "")


def in_namespace(setup: str, *commands: list[str], env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """Run the pl-tui binary after shell ``setup`` (mounts) in a private mount namespace: each
    command's (exit code, stdout, stderr)."""
    script = [f"{{ {setup} ; }} || exit 99"]
    for i, argv in enumerate(commands):
        quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)
        script.append(f'{EXE} {quoted} >"$OUT/{i}.out" 2>"$OUT/{i}.err"; echo $? >"$OUT/{i}.rc"')
    out_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"pl-tui-ns-{os.getpid()}-{time.monotonic_ns()}"
    out_dir.mkdir()
    try:
        proc = subprocess.run(
            ["unshare", "-m", "sh", "-c", "\n".join(script)],
            env={**os.environ, **(env or {}), "OUT": str(out_dir)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return [
            (
                int((out_dir / f"{i}.rc").read_text()),
                (out_dir / f"{i}.out").read_text(errors="replace"),
                (out_dir / f"{i}.err").read_text(errors="replace"),
            )
            for i in range(len(commands))
        ]
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# 2. Overlapping roots: a folder is one row whatever root reached it


def test_a_folder_inside_a_scanned_root_is_one_row(make_fits, env: Path, ledger_path: Path, capsys) -> None:
    archive = env
    nights(make_fits, "2023/M81", 3)
    nights(make_fits, "2024/M81", 2, start=100)
    assert run(capsys, "scan", str(archive / "2023"), "--workers", "0")[0] == 0
    for _ in range(2):
        assert run(capsys, "scan", str(archive), "--workers", "0")[0] == 0
    assert rows(ledger_path, "SELECT count(*) FROM files") == [(5,)]  # not 8, then 11
    assert [p for (p,) in rows(ledger_path, "SELECT path FROM roots")] == [str(archive)]
    code, out, _ = run(capsys, "scan", str(archive), "--workers", "0")
    assert "new 0, changed 0, unchanged 5" in out
    # the 2023 frames were reached through the 2023 root first: deleting them is noticed
    shutil.rmtree(archive / "2023")
    code, out, _ = run(capsys, "scan", str(archive), "--workers", "0")
    assert code == 0 and "missing 3" in out
    assert rows(ledger_path, "SELECT sum(frame_count) FROM tallies") == [(2,)]


def test_a_root_and_its_subfolder_in_one_scan(make_fits, env: Path, ledger_path: Path, capsys) -> None:
    archive = env
    nights(make_fits, "A/sub", 3)
    nights(make_fits, "A/other", 2, start=100)
    code, out, _ = run(capsys, "scan", str(archive / "A"), str(archive / "A" / "sub"), "--workers", "0")
    assert code == 0 and "new 5," in out
    code, out, _ = run(capsys, "scan", str(archive / "A" / "sub"), str(archive / "A"), "--workers", "0")
    assert code == 0 and "new 0, changed 0, unchanged 5" in out
    assert rows(ledger_path, "SELECT count(*) FROM files") == [(5,)]


def test_a_root_spelled_through_a_symlink_is_that_root(
    make_fits, env: Path, ledger_path: Path, tmp_path, capsys
) -> None:
    archive = env
    nights(make_fits, "2023/M81", 3)
    assert run(capsys, "scan", str(archive), "--workers", "0")[0] == 0
    link = tmp_path / "link"
    link.symlink_to(archive)
    code, out, _ = run(capsys, "scan", str(link / "2023"), "--workers", "0")
    assert code == 0 and "unchanged 3" in out
    code, out, _ = run(capsys, "scan", str(link), "--workers", "0")
    assert code == 0 and "unchanged 3" in out
    assert rows(ledger_path, "SELECT count(*), count(DISTINCT dir_id) FROM files") == [(3, 1)]
    assert rows(ledger_path, "SELECT path FROM dirs") == [(str(archive / "2023" / "M81"),)]


def test_a_ledger_with_folders_counted_twice_is_repaired(make_fits, env: Path, ledger_path: Path, capsys) -> None:
    """Ledgers written before roots were placed hold the 2023 files twice (under both roots)."""
    archive = env
    nights(make_fits, "2023/M81", 3)
    nights(make_fits, "2024/M81", 2, start=100)
    assert run(capsys, "scan", str(archive / "2023"), "--workers", "0")[0] == 0
    conn = sqlite3.connect(ledger_path)
    conn.execute(
        "INSERT INTO files (dir_id, name, size, mtime_ns, identity, exposure_id, state, reason) "
        "SELECT dir_id, name, size, mtime_ns, identity, exposure_id, state, reason FROM files"
    )
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "scan", str(archive), "--workers", "0")
    assert code == 0 and "new 2," in out
    assert rows(ledger_path, "SELECT count(*) FROM files") == [(5,)]
    shutil.rmtree(archive / "2023")
    assert "missing 3" in run(capsys, "scan", str(archive), "--workers", "0")[1]
    assert rows(ledger_path, "SELECT sum(frame_count) FROM tallies") == [(2,)]


# ---------------------------------------------------------------------------------------------
# 4. Ctrl+C in a terminal: the summary, exit 130, the scan row closed


def _wait_for_readers(pid: int, timeout: float = 60) -> None:
    """Until the scan has a resource tracker and a reader process (both are its children)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = set()
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids |= set(Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
        if len(kids) >= 2:
            return
        time.sleep(0.01)
    raise AssertionError("no reader process started")


@pytest.fixture(scope="module")
def archive_3000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Big enough that the scan is still running 0.3 s after its readers start (a 3,000-frame
    archive no longer is: the scan got faster)."""
    root = tmp_path_factory.mktemp("ctrl-c") / "archive"
    subprocess.run(
        [sys.executable, str(GEN_ARCHIVE), "--root", str(root), "-n", "20000"], check=True, capture_output=True
    )
    return root


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the reader processes")
@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_ctrl_c_ends_a_scan_with_its_summary_and_130(archive_3000: Path, tmp_path: Path, delay: float) -> None:
    ledger = tmp_path / "ledger.sqlite"
    # a new session: SIGINT to the whole process group, as a terminal's Ctrl+C sends it
    proc = subprocess.Popen(
        [EXE, "--ledger", str(ledger), "scan", str(archive_3000), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    try:
        _wait_for_readers(proc.pid)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err and "BrokenProcessPool" not in err, err
    assert proc.returncode == 130, (out, err)
    assert "indexed " in out and "cancelled" in out, out
    assert rows(ledger, "SELECT state FROM scans") == [("cancelled",)]
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(proc.pid)  # no reader (nor resource tracker) left behind


def _group_alive(pgid: int) -> list[int]:
    """Running processes of a process group (a zombie no init reaps is not running)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                found.append(int(entry))
    return found


# ---------------------------------------------------------------------------------------------
# 6. Ledger trouble: one line, exit 1, "corrupt" only when SQLite says so


@pytest.fixture
def scanned(make_fits, env: Path, ledger_path: Path, capsys) -> Path:
    nights(make_fits, "M81", 40)
    assert run(capsys, "scan", str(env), "--workers", "0")[0] == 0
    return env


@needs_mounts
def test_a_read_only_ledger_folder(scanned: Path, ledger_path: Path) -> None:
    folder = ledger_path.parent
    results = in_namespace(
        f"mount --bind {folder} {folder}; mount -o remount,bind,ro {folder}",
        ["--ledger", str(ledger_path), "totals"],
        ["--ledger", str(ledger_path), "frames", "--format", "csv"],
        ["--ledger", str(ledger_path), "scan", str(scanned)],
        ["--ledger", str(ledger_path), "retag", "--where", "target=M81", "--set", "target=M82"],
    )
    (read_code, read_out, read_err), (csv_code, csv_out, _), *writes = results
    assert read_code == 0 and "M81" in read_out, read_err  # a read-only ledger is still read
    assert csv_code == 0 and csv_out.count("\n") == 41
    for code, _, err in writes:
        line = one_line_error(code, err)
        assert "Read-only file system" in line and "--ledger" in line and "corrupt" not in line


@needs_mounts
def test_a_read_only_ledger_file(scanned: Path, ledger_path: Path) -> None:
    results = in_namespace(
        f"mount --bind {ledger_path} {ledger_path}; mount -o remount,bind,ro {ledger_path}",
        ["--ledger", str(ledger_path), "totals"],
        ["--ledger", str(ledger_path), "retag", "--where", "target=M81", "--set", "target=M82"],
        ["--ledger", str(ledger_path), "alias", "target", "M81", "M82"],
        ["--ledger", str(ledger_path), "scan", str(scanned)],
    )
    assert results[0][0] == 0, results[0][2]
    for code, _, err in results[1:]:
        line = one_line_error(code, err)
        assert "cannot be written" in line and "readonly" in line and "corrupt" not in line


@needs_mounts
def test_a_full_disk(scanned: Path, tmp_path: Path, ledger_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    ledger = disk / "ledger.sqlite"
    size = ledger_path.stat().st_size
    results = in_namespace(
        f"mount -t tmpfs -o size={size + 64 * 1024} tmpfs {disk}; cp {ledger_path} {ledger}; "
        f"dd if=/dev/zero of={disk}/filler bs=4096 2>/dev/null || true",
        ["--ledger", str(ledger), "totals"],
        ["--ledger", str(ledger), "scan", str(scanned)],
        ["--ledger", str(ledger), "retag", "--where", "target=M81", "--set", "target=M82"],
        ["--ledger", str(ledger), "export", "frames", "-o", str(disk / "frames.csv")],
    )
    assert results[0][0] == 0 and "M81" in results[0][1], results[0][2]  # read commands still work
    for code, _, err in results[1:3]:
        line = one_line_error(code, err)
        assert "the disk is full" in line and "free some space" in line and "corrupt" not in line
    line = one_line_error(*results[3][::2])
    assert "No space left on device" in line and "frames.csv" in line


@needs_mounts
def test_a_disk_that_fills_during_a_scan(make_fits, env: Path, tmp_path: Path) -> None:
    nights(make_fits, "M81", 600)
    disk = tmp_path / "disk"
    disk.mkdir()
    ledger = disk / "ledger.sqlite"
    ((code, _, err),) = in_namespace(
        f"mount -t tmpfs -o size=160k tmpfs {disk}", ["--ledger", str(ledger), "scan", str(env), "--workers", "0"]
    )
    assert "the disk is full" in one_line_error(code, err)


def test_a_retag_on_a_full_ledger_reports_the_full_disk(
    make_fits, env: Path, ledger_path: Path, capsys, monkeypatch
) -> None:
    """SQLite rolls a full transaction back by itself: the ROLLBACK after it must not mask it."""
    nights(make_fits, "M81", 300)
    assert run(capsys, "scan", str(env), "--workers", "0")[0] == 0
    pages = rows(ledger_path, "PRAGMA page_count")[0][0]
    real_connect = sqlite3.connect

    def small_disk(*a, **k):  # the ledger may not grow past a few pages: a disk that is full
        conn = real_connect(*a, **k)
        conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", small_disk)
    code, _, err = run(capsys, "retag", "--where", "target=M81", "--set", "target=M82", "--set", "filter=OIII")
    line = one_line_error(code, err)
    assert "the disk is full" in line and "cannot rollback" not in line


def _corrupt(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for page in range(2, size // 4096, 2):  # every other page after the schema: junk
            f.seek(page * 4096)
            f.write(os.urandom(4096))


@pytest.mark.parametrize(
    "argv",
    [
        ["frames"],
        ["buckets"],
        ["totals", "--format", "csv"],
        ["retag", "--where", "target=M81", "--set", "target=M82"],
        ["export", "frames"],
        ["scan", "ARCHIVE"],
    ],
)
def test_a_corrupt_ledger_is_called_corrupt(scanned: Path, ledger_path: Path, capsys, argv: list[str]) -> None:
    _corrupt(ledger_path)
    code, _, err = run(
        capsys,
        *[str(scanned) if a == "ARCHIVE" else a for a in argv],
        *(["--workers", "0"] if argv[0] == "scan" else []),
    )
    line = one_line_error(code, err)
    assert "is corrupt (SQLite: database disk image is malformed)" in line and "backup" in line


def test_a_file_that_is_not_a_database(env: Path, tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all " * 500)
    line = one_line_error(*run(capsys, "--ledger", str(junk), "totals")[::2])
    assert "not a pl-tui ledger, or it is corrupt" in line and "file is not a database" in line


def test_an_outside_program_holding_the_ledger(scanned: Path, ledger_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PL_TUI_BUSY_TIMEOUT", "1")  # default 30 s
    holder = sqlite3.connect(ledger_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a sqlite3 shell in the middle of something
    try:
        started = time.monotonic()
        assert run(capsys, "totals")[0] == 0  # readers never wait (WAL)
        for argv in (
            ["retag", "--where", "target=M81", "--set", "target=M82"],
            ["scan", str(scanned), "--workers", "0"],
        ):
            line = one_line_error(*run(capsys, *argv)[::2])
            assert "held by another program for 1 s" in line and "database is locked" in line
        assert time.monotonic() - started < 15
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_busy_timeout_must_be_a_number(scanned: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PL_TUI_BUSY_TIMEOUT", "soon")
    code, _, err = run(capsys, "totals")
    assert code == 2 and "PL_TUI_BUSY_TIMEOUT" in err and "Traceback" not in err


def test_a_ledger_whose_folder_is_a_file(env: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "plain-file").write_text("x")
    ledger = tmp_path / "plain-file" / "sub" / "ledger.sqlite"
    for argv in (["scan", str(env)], ["retag", "--where", "target=M81", "--set", "target=M82"]):
        line = one_line_error(*run(capsys, "--ledger", str(ledger), *argv)[::2])
        assert "a file is in the way" in line and "--ledger" in line


@pytest.mark.parametrize("spelling", ["inside", "symlink", "dotdot"])
def test_a_ledger_is_never_placed_inside_an_archive(
    make_fits, env: Path, tmp_path: Path, capsys, spelling: str
) -> None:
    archive = env
    nights(make_fits, "M81", 2)
    (tmp_path / "to-archive").symlink_to(archive)
    ledger = {
        "inside": archive / "l.sqlite",
        "symlink": tmp_path / "to-archive" / ".pl-tui" / "l.sqlite",
        "dotdot": archive / "M81" / ".." / "l.sqlite",
    }[spelling]
    before = sorted(os.listdir(archive))
    digest = tree_digest(archive)
    line = one_line_error(*run(capsys, "--ledger", str(ledger), "scan", str(archive), "--workers", "0")[::2])
    assert "inside the archive" in line and "--ledger" in line
    assert sorted(os.listdir(archive)) == before and tree_digest(archive) == digest


# ---------------------------------------------------------------------------------------------
# 7. The writer lock holds for every spelling of the ledger


def test_the_writer_lock_holds_through_a_symlink(scanned: Path, ledger_path: Path, tmp_path: Path, capsys) -> None:
    link = tmp_path / "another-name.sqlite"
    link.symlink_to(ledger_path)
    with L.writer_lock(ledger_path):
        with pytest.raises(L.LedgerBusy), L.writer_lock(link):
            pass
        code, _, err = run(capsys, "--ledger", str(link), "scan", str(scanned), "--workers", "0")
        assert code == 1 and "ledger is busy" in err
        code, _, err = run(capsys, "--ledger", str(link), "retag", "--where", "target=M81", "--set", "target=M82")
        assert code == 1 and "ledger is busy" in err
    other_spelling = tmp_path / "ledger" / ".." / "ledger" / "ledger.sqlite"
    with L.writer_lock(link), pytest.raises(L.LedgerBusy), L.writer_lock(other_spelling):
        pass


# ---------------------------------------------------------------------------------------------
# 8. "Inside the archive" by device and inode


def test_an_export_through_a_symlink_into_the_archive_is_refused(scanned: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "reports").symlink_to(scanned / "M81")
    line = one_line_error(*run(capsys, "export", "frames", "-o", str(tmp_path / "reports" / "f.csv"))[::2])
    assert "inside the archive" in line
    assert not (scanned / "M81" / "f.csv").exists()


@needs_mounts
def test_an_export_through_a_bind_mount_of_the_archive_is_refused(scanned: Path, tmp_path: Path, ledger_path) -> None:
    view = tmp_path / "view"
    view.mkdir()
    digest = tree_digest(scanned)
    ((code, _, err), (ok, _, ok_err)) = in_namespace(
        f"mount --bind {scanned} {view}",
        ["--ledger", str(ledger_path), "export", "frames", "-o", str(view / "M81" / "frames.csv")],
        ["--ledger", str(ledger_path), "export", "frames", "-o", str(tmp_path / "frames.csv")],
    )
    assert "inside the archive" in one_line_error(code, err)
    assert ok == 0, ok_err
    assert tree_digest(scanned) == digest


# ---------------------------------------------------------------------------------------------
# 9. One export, one snapshot


def test_an_export_is_one_snapshot_while_a_retag_commits(
    scanned: Path, ledger_path: Path, tmp_path, capsys, monkeypatch
) -> None:
    real = frames.iter_frames
    retagged: list[int] = []

    def paged(conn, where=L.EVERY_FRAME, page=5000):
        for i, row in enumerate(real(conn, where, page=3)):  # pages of 3 rows: 14 fetches
            if i == 4 and not retagged:  # between pages: another process retags every frame
                with L.writing(ledger_path) as other:
                    retagged.append(
                        R.retag(other, R.select(other, R.Where(target="M81")), {"target": "M31"}, "t").frames
                    )
            yield row

    monkeypatch.setattr(frames, "iter_frames", paged)
    out = tmp_path / "frames.csv"
    assert run(capsys, "export", "frames", "-o", str(out))[0] == 0
    assert retagged == [40]
    targets = [line.split(",")[1] for line in out.read_text().splitlines()[1:]]
    assert targets == ["M81"] * 40  # the export saw the ledger as it was when it began
    monkeypatch.setattr(frames, "iter_frames", real)
    assert run(capsys, "frames", "--target", "M31", "--format", "json")[1].count('"M31"') == 40


# ---------------------------------------------------------------------------------------------
# 10. Config: one line, exit 1; unknown keys are named


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('time_zone = "Europe"', "unknown time zone 'Europe'"),
        ('archives = "x"', "archives must be a table"),
        ('aliases = "x"', "aliases must be a table"),
        ("astrobin = 5", "astrobin must be a table"),
        ("[archives]\nx = 1", "archives.'x' must be a table"),
        ("settle_seconds = inf", "settle_seconds must be a number from 0 to 86400"),
        ("settle_seconds = nan", "settle_seconds must be a number from 0 to 86400"),
        ("night_boundary_hour = nan", "night_boundary_hour"),
        ("workers = 1e30", "workers must be a whole number"),
        ("workers = -1", "workers must be a whole number"),
        ("flat_nights = inf", "flat_nights must be a whole number"),
        ("[goals.M81]\nHa = inf", "[goals]"),
        ('[archives."/x"]\ntime_zone = "Europe"', "unknown time zone"),
    ],
)
def test_a_bad_config_value_is_one_line(env: Path, tmp_path: Path, capsys, toml: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    for argv in (["totals"], ["scan", str(env)]):
        line = one_line_error(*run(capsys, "--config", str(config), *argv)[::2])
        assert message in line and str(config) in line


def test_unknown_config_keys_are_named_with_the_file(scanned: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "typo.toml"
    config.write_text('setle_seconds = 0\n[aliases]\ntargets = {}\n[archives."/x"]\ntimezone = "UTC"\n')
    code, out, err = run(capsys, "--config", str(config), "totals")
    assert code == 0 and "M81" in out
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 3 and all(str(config) in w for w in warnings)
    for key in ("'setle_seconds'", "[aliases] 'targets'", "[archives.'/x'] 'timezone'"):
        assert sum(key in w for w in warnings) == 1, (key, warnings)


def test_reader_processes_are_bounded(scanned: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "scan", str(scanned), "--workers", "1000")
    assert code == 2 and "--workers takes 0" in err
    config = tmp_path / "many.toml"
    config.write_text("workers = 1000\n")
    code, _, err = run(capsys, "--config", str(config), "scan", str(scanned))
    assert code == 0 and "workers = 1000 is more than this machine uses" in err


# ---------------------------------------------------------------------------------------------
# 11. Arguments: bytes that are not UTF-8, NaN and infinities


def test_a_file_whose_name_is_not_utf8_can_be_selected(make_fits, env: Path, ledger_path: Path, capsys) -> None:
    folder = os.fsdecode(b"caf\xe9")
    make_fits(f"{folder}/" + os.fsdecode(b"M81-\xff.fits"))
    nights(make_fits, "plain", 2)
    assert run(capsys, "scan", str(env), "--workers", "0")[0] == 0
    pattern = str(env / folder) + "/*"
    code, out, err = run(capsys, "retag", "--where", f"path={pattern}", "--set", "target=M31", "--dry-run")
    assert code == 0 and "would retag 1 frame: target M81 → M31" in out, err
    code, out, _ = run(capsys, "retag", "--where", f"path={pattern}", "--set", "target=M31")
    assert code == 0 and "retagged 1 frame" in out
    assert rows(ledger_path, "SELECT count(*) FROM overrides WHERE target = 'M31'") == [(1,)]


@pytest.mark.parametrize(
    "argv",
    [
        ["frames", "--target", os.fsdecode(b"M\xe9")],
        ["totals", "--filter", os.fsdecode(b"H\xe9")],
        ["retag", "--where", "target=" + os.fsdecode(b"M\xe9"), "--set", "target=M1"],
        ["retag", "--where", "target=M81", "--set", "target=" + os.fsdecode(b"N\xe9buleuse")],
        ["alias", "target", os.fsdecode(b"M\xe9"), "M1"],
        ["goals", "--set", os.fsdecode(b"M\xe9"), "Ha", "3"],
        ["rigs", "rename", os.fsdecode(b"\xff"), "x"],
    ],
)
def test_arguments_that_are_not_utf8(scanned: Path, capsys, argv: list[str]) -> None:
    code, _out, err = run(capsys, *argv)
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    assert code in (0, 2), err  # done, or a usage error that says why (no such rig)


def test_non_utf8_text_is_read_like_header_text(scanned: Path, ledger_path: Path, capsys) -> None:
    """Latin-1 bytes (a Latin-1 terminal) are read as header text is: UTF-8, else Latin-1."""
    code, _out, _ = run(capsys, "retag", "--where", "target=M81", "--set", "target=" + os.fsdecode(b"N\xe9buleuse"))
    assert code == 0
    assert rows(ledger_path, "SELECT DISTINCT target FROM overrides") == [("Nébuleuse",)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "ARCHIVE", "--watch", "--poll", "nan"], "--poll"),
        (["scan", "ARCHIVE", "--watch", "--poll", "inf"], "--poll"),
        (["scan", "ARCHIVE", "--watch", "--poll", "0.001"], "--poll"),
        (["goals", "--set", "M31", "Ha", "nan"], "a goal's hours must be a number"),
        (["goals", "--set", "M31", "Ha", "inf"], "a goal's hours must be a number"),
        (["goals", "--set", "M31", "Ha", "-1"], "a goal's hours must be a number"),
        (["scan", "ARCHIVE", "--workers", "-1"], "--workers takes 0"),
    ],
)
def test_nan_and_infinity_are_usage_errors(scanned: Path, ledger_path: Path, argv: list[str], message: str) -> None:
    # the binary, with a time limit: a NaN poll interval used to spin for ever
    proc = subprocess.run(
        [EXE, "--ledger", str(ledger_path), *[str(scanned) if a == "ARCHIVE" else a for a in argv]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_the_core_refuses_what_the_cli_refuses(scanned: Path, ledger_path: Path) -> None:
    """The app's modals call the same functions: validation lives there, not in the CLI."""
    with L.writing(ledger_path) as conn:
        for hours in (math.nan, math.inf, -1.0):
            with pytest.raises(UserInputError, match="hours"):
                G.set_goal(conn, "M31", "Ha", hours)
        with pytest.raises(UserInputError):
            R.normalise_value("status", "maybe")
    from pl_tui.core.config import check_poll, check_workers

    for bad in (math.nan, math.inf, 0.0):
        with pytest.raises(UserInputError):
            check_poll(bad)
    with pytest.raises(UserInputError):
        check_workers(10_000)


# ---------------------------------------------------------------------------------------------
# 12. Hostile text never reaches the terminal raw; formulas are defused in CSV

HOSTILE_OBJECT = "\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;owned\x07M\x9b31"


@pytest.fixture
def hostile(make_fits, env: Path, capsys) -> Path:
    make_fits("a/h.fits", {"OBJECT": HOSTILE_OBJECT, "FILTER": '=HYPERLINK("http://x","Ha")'})
    make_fits(
        "a/g.fits", {"OBJECT": "+cmd|' /C calc'!A0", "DATE-OBS": "2024-08-14T21:00:00.000", "INSTRUME": "@SUM(1+1)"}
    )
    make_fits("a/k.fits", {"OBJECT": "-2+3", "DATE-OBS": "2024-08-15T21:00:00.000", "CCD-TEMP": -10.5})
    assert run(capsys, "scan", str(env), "--workers", "0")[0] == 0
    return env


def _no_escapes(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\r\n") or 127 <= ord(c) < 160]
    assert not bad, repr(text)


def test_retag_messages_never_print_header_text_raw(hostile: Path, capsys) -> None:
    for argv in (
        ["retag", "--where", "path=*/h.fits", "--set", "target=M31", "--dry-run"],
        ["retag", "--where", "path=*/h.fits", "--set", "target=M31"],
        ["undo"],
        ["retag", "--where", "path=*/h.fits", "--set", "target=" + HOSTILE_OBJECT],
        ["alias", "target", HOSTILE_OBJECT, "M33"],
        ["undo"],
        ["log"],
        ["buckets", "unknown"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        _no_escapes(out + err)


def test_csv_defuses_formulas_and_keeps_numbers(hostile: Path, tmp_path: Path, capsys) -> None:
    import pandas as pd

    out = tmp_path / "frames.csv"
    assert run(capsys, "export", "frames", "-o", str(out))[0] == 0
    frames = pd.read_csv(out, parse_dates=["date_obs_utc"])
    by_name = {Path(p).name: r for p, r in zip(frames["path"], frames.itertuples(), strict=True)}
    assert by_name["h.fits"].filter == '\'=HYPERLINK("http://x","Ha")'
    assert by_name["g.fits"].target == "'+cmd|' /C calc'!A0" and by_name["g.fits"].instrume == "'@SUM(1+1)"
    assert by_name["k.fits"].target == "'-2+3"
    assert by_name["k.fits"].ccd_temp == -10.5  # numbers are never touched
    assert frames["exposure_s"].dtype.kind == "f" and frames["ccd_temp"].dtype.kind == "f"
    # JSON keeps the text as it is
    assert run(capsys, "frames", "--format", "json", "--target=-2+3")[1].count('"target": "-2+3"') == 1
    _code, text, _ = run(capsys, "totals", "--format", "csv")
    assert "'+cmd|' /C calc'!A0" in text and "'-2+3" in text


def test_csv_in_a_pipe_keeps_the_bytes_and_on_a_terminal_has_no_escapes(hostile: Path, ledger_path: Path) -> None:
    argv = [EXE, "--ledger", str(ledger_path), "export", "frames"]
    piped = subprocess.run(argv, capture_output=True, check=True).stdout
    assert HOSTILE_OBJECT.encode() in piped  # a file or a pipe gets the header's exact bytes
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=30) == 0
    assert b"owned" in shown and b"\x1b" not in shown and b"\x07" not in shown and b"\xc2\x9b" not in shown
    _no_escapes(shown.decode())


# ---------------------------------------------------------------------------------------------
# 14. An XISF header too large to parse is listed with the reason


def test_an_xisf_header_beyond_the_bound_is_unreadable_with_the_reason(env: Path, ledger_path: Path, capsys) -> None:
    keyword = b'<FITSKeyword name="COMMENT" value="" comment="' + b"x" * 1000 + b'"/>'
    body = b'<?xml version="1.0"?><xisf version="1.0" xmlns="http://www.pixinsight.com/xisf"><Image geometry="8:8:1">'
    body += b'<FITSKeyword name="IMAGETYP" value="\'Light\'"/><FITSKeyword name="OBJECT" value="\'M81\'"/>'
    body += keyword * (MAX_XISF_HEADER // len(keyword) + 10) + b"</Image></xisf>"
    path = env / "huge.xisf"
    path.write_bytes(b"XISF0100" + struct.pack("<II", len(body), 0) + body)
    os.utime(path, (1, 1))
    code, out, _err = run(capsys, "scan", str(env), "--workers", "0")
    assert code == 0 and "unreadable 1" in out
    ((reason,),) = rows(ledger_path, "SELECT reason FROM files")
    assert "larger than pl-tui reads" in reason and f"{MAX_XISF_HEADER:,}" in reason
    code, out, _ = run(capsys, "buckets", "unreadable", "--format", "json")
    assert "larger than pl-tui reads" in json.loads(out)[0]["why"]
