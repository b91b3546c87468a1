"""Reader processes: they start from any host (a TUI whose stderr has no file descriptor), and
no process of a scan outlives it — not even after a kill -9."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pl_tui.scan import PROCESS_THRESHOLD

REPO = Path(__file__).resolve().parent.parent
GEN_ARCHIVE = REPO / "bench" / "gen_archive.py"
EXE = str(Path(sys.executable).with_name("pl-tui"))

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")


def generate(root: Path, n: int, seed: int = 12345) -> Path:
    """n NINA-like frames with sparse data units (bench/gen_archive.py: ~5,000 files/s)."""
    subprocess.run(
        [sys.executable, str(GEN_ARCHIVE), "--root", str(root), "-n", str(n), "--seed", str(seed)],
        check=True,
        capture_output=True,
    )
    return root


def children(pid: int) -> set[int]:
    """Direct children of pid (every thread's)."""
    out: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        with contextlib.suppress(OSError):
            out |= {int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()}
    return out


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for c in children(todo.pop()):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that a container's init may never be is dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "X")
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("processes") / "archive", 20_000)


def test_reader_processes_start_when_stderr_has_no_file_descriptor(tmp_path: Path) -> None:
    """Textual replaces sys.stderr with an object whose fileno() is -1; multiprocessing's
    resource tracker passed that to the spawn: "bad value(s) in fds_to_keep" (issue 12). A fresh
    interpreter, so that no tracker is running yet."""
    archive = generate(tmp_path / "archive", PROCESS_THRESHOLD + 300)
    code = textwrap.dedent(
        f"""
        import sys
        from pl_tui.core.config import Config
        from pl_tui.scan import scan

        class Captured:  # what Textual's _PrintCapture looks like to multiprocessing
            def write(self, text): return len(text)
            def flush(self): pass
            def fileno(self): return -1

        if __name__ == "__main__":
            real = sys.stdout
            sys.stderr = Captured()
            p = scan({str(tmp_path / "l.sqlite")!r}, [{str(archive)!r}], Config(settle_seconds=0), workers=2)
            import multiprocessing.resource_tracker as rt
            print(p.indexed, p.unreadable, rt._resource_tracker._pid is not None, file=real)
        """
    )
    script = tmp_path / "host.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(PROCESS_THRESHOLD + 300), "0", "True"]  # reader processes did run


@linux_only
def test_a_scan_killed_with_sigkill_leaves_no_process_behind(tmp_path: Path, big_archive: Path) -> None:
    """SPEC §12: reader processes exit when their parent dies, and so does multiprocessing's
    resource tracker (it ends when the last holder of its pipe is gone)."""
    ledger = tmp_path / "l.sqlite"
    scan = subprocess.Popen(
        [EXE, "--ledger", str(ledger), "scan", "--quiet", "--workers", "2", str(big_archive)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        # readers and the tracker: at least three processes once the pool is up (2 CPUs here)
        while time.monotonic() < deadline and scan.poll() is None:
            kids = {k for k in descendants(scan.pid) if "multiprocessing" in cmdline(k)}
            if len(kids) >= 3:
                break
            time.sleep(0.01)
        assert scan.poll() is None, "the scan ended before its reader processes could be seen"
        assert any("resource_tracker" in cmdline(k) for k in kids), [cmdline(k) for k in kids]
        assert any("spawn_main" in cmdline(k) for k in kids), [cmdline(k) for k in kids]
        kids |= descendants(scan.pid)
        os.kill(scan.pid, signal.SIGKILL)
        scan.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.05)
        left = [f"{k}: {cmdline(k)}" for k in kids if alive(k)]
        assert not left, f"processes outlived the killed scan: {left}"
    finally:
        if scan.poll() is None:
            scan.kill()
        for k in kids:  # never leave a stray reader on a CI machine, even when this test fails
            if alive(k) and "multiprocessing" in cmdline(k):
                os.kill(k, signal.SIGKILL)


def test_the_cli_progress_bar_has_a_total_before_the_walk_is_done(tmp_path: Path, big_archive: Path) -> None:
    """On a terminal the bar printed `9600/None` until the walk was done (issue 12)."""
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
    scan = subprocess.Popen(
        [EXE, "--ledger", str(tmp_path / "l.sqlite"), "scan", "--workers", "2", str(big_archive)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"},
    )
    os.close(terminal)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the scan closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        scan.wait(timeout=120)
        os.close(controller)
    text = out.decode("utf-8", "replace")
    assert scan.returncode == 0, text[-2000:]
    assert "/None" not in text
    assert "/≈20,000" in text  # the count beside the walk, marked as an estimate
    assert "indexed 20000" in text
