"""What a reader process runs: read and normalise a batch of files, hand back compact rows.

Kept apart from the scanner so that a reader process imports only this and the core (the header
readers and the normaliser), not the ledger, the configuration or the domain: it starts sooner.
The scanner (scan.py) walks, decides what to read, and writes what comes back.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

from .core.headers import HeaderError, Opener, read_header
from .core.normalize import ACCEPTED, DERIVED, REJECTED, UNREADABLE, NightRule, normalize_parts, split_name

Item = tuple[str, str, str, tuple[str, ...], bool]  # path, name, kind, dir parts, rejected
# status, reason, setup values, exposure values, the file's size and mtime as the reader saw them
Result = tuple[str, str | None, tuple | None, tuple | None, int | None, int | None]
# What a batch sends back: its distinct setups once, then per file (status, reason, index of
# its setup, its exposure values, size, mtime) — half the bytes of full rows.
Row = tuple[str, str | None, int | None, tuple | None, int | None, int | None]
BatchResult = tuple[list[tuple], list[Row]]
# Not a ledger status: the file was listed, then gone when its reader opened it.
VANISHED = "vanished"


def read_one(item: Item, rule: NightRule, opener: Opener = os.open) -> Result:
    """Read and normalise one file. Its size and mtime come from the reader's own fstat (the
    scanner does not stat files in folders new to the ledger): recorded as they were when the
    header was read, so a file that changes afterwards is read again next time."""
    path, name, kind, parts, rejected = item
    try:
        raw = read_header(path, kind, opener)
    except HeaderError as e:
        if isinstance(e.__cause__, FileNotFoundError):
            return VANISHED, str(e), None, None, None, None
        return (UNREADABLE, str(e), None, None, *_stat_of(path))
    except Exception as e:
        return (UNREADABLE, f"cannot read header: {type(e).__name__}: {e}", None, None, *_stat_of(path))
    size, mtime = raw.size, raw.mtime_ns
    try:
        setup, exposure, derived = normalize_parts(raw.cards, raw.header_bytes, split_name(name), parts, rule, size)
    except Exception as e:
        return UNREADABLE, f"cannot interpret header: {type(e).__name__}: {e}", None, None, size, mtime
    if rejected:
        return REJECTED, "reject folder", setup, exposure, size, mtime
    if derived:
        return DERIVED, derived, setup, exposure, size, mtime
    return ACCEPTED, None, setup, exposure, size, mtime


def _stat_of(path: str) -> tuple[int, int]:
    """(size, mtime) of a file its reader could not read (permissions, say): kept, so that the
    next scan sees it unchanged and tries it again without counting it as changed."""
    try:
        st = os.stat(path)
    except OSError:
        return 0, 0
    return st.st_size, st.st_mtime_ns


_thread_pool: cf.ThreadPoolExecutor | None = None
_PROBE = 8  # files read one by one to learn whether this storage is slow to answer
_SLOW_OPEN_S = 0.0002  # a local open takes a few µs; a network share's, a millisecond
_slow_until = 0.0  # until then, this process knows its storage is slow and skips the probe


def read_batch(items: list[Item], rule: NightRule, threads: int, opener: Opener = os.open) -> BatchResult:
    """Read a batch. On a local disk files are read one after another (threads would only
    fight over the GIL). When opens are slow — a NAS answering each a millisecond late — the
    batch is read by ``threads`` threads at once so the waits overlap. Which case this is, the
    first files of a batch tell, timed; the verdict "slow" is kept for a few seconds."""
    return _compact(_read_all(items, rule, threads, opener))


def _compact(results: list[Result]) -> BatchResult:
    # frames of one setup share its tuple (the normaliser's memo): list each once, by identity
    # (the list holds them, so no id is reused while this runs)
    index: dict[int, int] = {}
    setups: list[tuple] = []
    rows: list[Row] = []
    for status, reason, setup, exposure, size, mtime in results:
        if setup is None:
            rows.append((status, reason, None, None, size, mtime))
            continue
        i = index.get(id(setup))
        if i is None:
            i = index[id(setup)] = len(setups)
            setups.append(setup)
        rows.append((status, reason, i, exposure, size, mtime))
    return setups, rows


def _read_all(items: list[Item], rule: NightRule, threads: int, opener: Opener) -> list[Result]:
    global _thread_pool, _slow_until
    if threads <= 1 or len(items) <= 2 * _PROBE:
        return [read_one(it, rule, opener) for it in items]
    head: list[Result] = []
    rest = items
    if time.monotonic() > _slow_until:
        spent = 0.0

        def timed(path: str, flags: int) -> int:
            nonlocal spent
            t = time.perf_counter()
            try:
                return opener(path, flags)
            finally:
                spent += time.perf_counter() - t

        head = [read_one(it, rule, timed) for it in items[:_PROBE]]
        rest = items[_PROBE:]
        if spent < _SLOW_OPEN_S * _PROBE:
            return head + [read_one(it, rule, opener) for it in rest]
        _slow_until = time.monotonic() + 5.0
    if _thread_pool is None:
        _thread_pool = cf.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pl-tui-read")
    step = max(1, len(rest) // (4 * threads))  # small chunks: no thread idles while one lags
    chunks = [rest[i : i + step] for i in range(0, len(rest), step)]
    parts = _thread_pool.map(lambda ch: [read_one(it, rule, opener) for it in ch], chunks)
    return head + [r for part in parts for r in part]


def lower_priority(nice: int) -> None:
    """This process or thread yields the CPU to an interactive one (the TUI) when both want it."""
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not Linux: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel SIGKILLs this reader when the scanner dies (kill -9 included), so no
    reader outlives a scan. The scanner that spawned it may already be gone: then leave now."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def reader_started(parent_pid: int, nice: int) -> None:
    """Initializer of every reader process."""
    # Ctrl+C in a terminal signals the whole process group: the scanner decides (it stops and
    # keeps what was read); a reader killed by it would break the pool. The reader was started
    # with SIGINT blocked (_Readers.submit), so none can arrive before it is ignored here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent_pid)
    if nice:
        lower_priority(nice)
