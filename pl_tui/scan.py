"""The scanner: walk archive roots, diff against the ledger, read what is new, write batches.

Owns finding frames (what is picked up, hidden/excluded/rejected paths, symlink loops, the settle
window, unreadable files with reasons) and the incremental, resumable, cancellable scan that
a kill -9 cannot corrupt. Unchanged files cost one ``stat``. New and changed files are read concurrently — worker
processes for CPU (parsing is the cost on a warm local disk), several threads in each for
latency (a NAS answers every open a millisecond late). Results are written in batched
transactions, so a killed scan loses at most the last batch and the next scan resumes.

``scan()`` is the plain call (CLI); ``scan_async()`` yields the same progress events to an
asyncio consumer (TUI). Neither touches any UI.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import multiprocessing
import os
import signal
import stat as stat_mod
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import ledger
from .core.config import Config, max_workers
from .core.globs import Globs
from .core.headers import Opener, header_kind
from .core.normalize import RULES_VERSION, NightRule
from .domain.retag import sync_config_aliases
from .reading import VANISHED, BatchResult, Item, lower_priority, read_batch, reader_started

PROGRESS_INTERVAL_S = 0.25
WRITE_INTERVAL_S = 0.5
# frames a transaction holds at most (and WRITE_INTERVAL_S bounds what a kill loses): 8,000 made
# the 100k scan 2.5 % faster than 4,000 (median of 20 paired runs; +8 MB), now that 16 batches of
# 1,024 in flight keep the readers busy through a longer write (16,000 with 512-file batches stalled them)
WRITE_BATCH = 8000
PROCESS_THRESHOLD = 1500  # files to read before worker processes are worth their start-up
CENSUS_AFTER_S = 1.0  # a walk with nothing to read yet gets its census after this long
CENSUS_VERDICT_S = 0.05  # a first scan's first read waits this long at most for the census's verdict


@dataclass(slots=True)
class ScanProgress:
    """A snapshot of a scan, emitted about four times a second and once at the end."""

    found: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    unreadable: int = 0
    deferred: int = 0
    missing: int = 0
    indexed: int = 0  # files read and written to the ledger
    queued: int = 0  # files waiting to be read
    elapsed_s: float = 0.0
    rate: float = 0.0  # files read per second
    current_folder: str = ""
    folders: int = 0
    walk_done: bool = False
    done: bool = False
    state: str = "running"  # running, complete, cancelled
    new_unreadable: list[tuple[str, str]] = field(default_factory=list)  # since the last event
    problems: list[str] = field(default_factory=list)  # folders or roots that could not be walked
    # Files to expect before the walk is done: a quick count of the folders' listings runs beside
    # the scan (no stat, no read); ``counted`` once it has listed every folder.
    expected: int | None = None
    counted: bool = False
    # Folders whose numbers moved since the last event: (folder, its picked-up files, how many
    # of them are done — read, unchanged or deferred). Folders without frames are left out.
    folder_updates: list[tuple[str, int, int]] = field(default_factory=list)
    settle_s: float = 0.0  # the settle window the deferred files wait out
    deferred_until: float | None = None  # epoch seconds when the last deferred file is settled

    @property
    def processed(self) -> int:
        """Files dealt with: read (new, changed, unreadable), unchanged or deferred."""
        return self.new + self.changed + self.unchanged + self.deferred

    @property
    def total(self) -> int | None:
        """Files this scan will deal with: exact once the walk is done; until then an estimate
        (the count beside the walk, or what was found so far); None before anything is known."""
        if self.walk_done:
            return self.found
        if self.expected is None:
            return None
        return max(self.found, self.expected)

    @property
    def total_is_estimate(self) -> bool:
        return not self.walk_done

    @property
    def total_text(self) -> str:
        """The total as shown: "20,000"; "≈20,000" during the walk; "≥1,200" while counting; "?"."""
        total = self.total
        if total is None:
            return "?"
        if self.walk_done:
            return f"{total:,}"
        return f"≈{total:,}" if self.counted else f"≥{total:,}"

    @property
    def eta_s(self) -> float | None:
        """Seconds left: the queue over the read rate once the walk is done; before, the files
        still expected over the pace so far (an estimate, like the total)."""
        if self.walk_done:
            return self.queued / self.rate if self.rate > 0 else None
        total = self.total
        if total is None or not self.counted or self.processed <= 0 or self.elapsed_s <= 0:
            return None
        return max(0, total - self.processed) / (self.processed / self.elapsed_s)

    def counts(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("found", "new", "changed", "unchanged", "unreadable", "deferred", "missing", "indexed")
        }


ProgressCallback = Callable[[ScanProgress], None]


# ---------------------------------------------------------------------------------------------
# Globs


# ---------------------------------------------------------------------------------------------
# Walking


@dataclass(slots=True)
class _Dir:
    path: str
    parts: tuple[str, ...]  # folders below the root
    files: list[tuple[str, str, os.DirEntry[str]]]  # name, reader kind, entry


def _is_file(entry: os.DirEntry[str]) -> bool:
    """A regular file, or a link to one, as the folder listing says (no stat where it can say)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def walk(root: str, exclude: Globs, problems: list[str]) -> Iterator[_Dir]:
    """Folders under root with their picked-up files; hidden names skipped, excluded folders
    pruned, directory symlinks followed once (a folder reached twice is walked once)."""
    try:
        st = os.stat(root)
        visited = {(st.st_dev, st.st_ino)}
    except OSError as e:
        problems.append(f"{root}: {e.strerror or e}")
        return
    stack: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while stack:
        path, parts = stack.pop()
        files: list[tuple[str, str, os.DirEntry[str]]] = []
        subdirs: list[tuple[str, str]] = []
        try:
            with os.scandir(path) as it:
                for entry in it:
                    name = entry.name
                    if name[0] == ".":
                        continue
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    if is_dir:
                        if not exclude.folder((*parts, name)):
                            subdirs.append((name, entry.path))
                        continue
                    kind = header_kind(name)
                    if kind is None or exclude.file(parts, name):
                        continue
                    files.append((name, kind, entry))
        except OSError as e:
            problems.append(f"{path}: cannot list folder ({e.strerror or e})")
            continue
        yield _Dir(path, parts, files)
        for name, sub in sorted(subdirs, reverse=True):
            try:
                st = os.stat(sub)
            except OSError as e:
                problems.append(f"{sub}: {e.strerror or e}")
                continue
            key = (st.st_dev, st.st_ino)
            if key in visited:  # a symlink loop, or a second way into a folder already walked
                continue
            visited.add(key)
            stack.append((sub, (*parts, name)))


# ---------------------------------------------------------------------------------------------
# Reading (runs in worker processes or threads; plain picklable data in and out)


def _has_real_fd(stream: object) -> bool:
    try:
        return bool(stream.fileno() >= 0)  # type: ignore[attr-defined]  # any object: the except decides
    except (AttributeError, OSError, ValueError):
        return False


_tracker_lock = threading.Lock()


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (the reader pool's semaphores register with it)
    so that it works from any host. The tracker is given ``sys.stderr.fileno()`` to write to;
    a TUI (Textual) replaces ``sys.stderr`` with an object whose fileno() is -1, and the spawn
    then fails with "bad value(s) in fds_to_keep". Then it gets /dev/null: its only output, a
    leak warning after a crash, must not land on a full-screen app's terminal either.

    The tracker ends by itself when the last process holding its pipe — this one and the
    readers — is gone, which the readers' parent-death signal guarantees after a kill -9."""
    from multiprocessing import resource_tracker

    with _tracker_lock:
        if _has_real_fd(sys.stderr):
            resource_tracker.ensure_running()
            return
        saved = sys.stderr
        with open(os.devnull, "w") as devnull:
            sys.stderr = devnull
            try:
                resource_tracker.ensure_running()
            finally:
                sys.stderr = saved


class _Readers:
    """Runs read_batch first on threads in this process; past PROCESS_THRESHOLD files it
    starts worker processes (spawned, so it is safe from a threaded TUI).

    The kernel counts the *thread* that spawned a reader as its parent for the parent-death
    signal: the pool is started and shut down by the scanning thread (``close`` before the scan
    returns), never left behind for another thread."""

    def __init__(self, workers: int, threads: int, opener: Opener, nice: int = 0) -> None:
        self.nice = nice
        self.workers = workers
        self.threads = threads
        self.opener = opener
        self.submitted = 0
        # before (or instead of) worker processes: a few batches at once, enough to overlap a NAS's
        # latency for a small archive without many threads fighting over this process's GIL
        self.local_threads = max(2, min(threads, 8))
        self._local = cf.ThreadPoolExecutor(max_workers=self.local_threads, thread_name_prefix="pl-tui-scan")
        self._procs: cf.ProcessPoolExecutor | None = None

    @property
    def batch_size(self) -> int:
        # a process batch costs the pool a few hundred µs of this process's time (futures,
        # pickling, the pool's own threads): 1,024 files share it (bench: 256 → 512 saved ~1 µs a
        # frame; 512 → 1,024 made the whole 100k scan 2.5 % faster, median of 18 paired runs)
        return 1024 if self._procs is not None else 32

    @property
    def max_in_flight(self) -> int:
        # enough queued work that readers stay busy while this process writes a batch
        return 8 * self.workers if self._procs is not None else self.local_threads

    @property
    def processes_started(self) -> bool:
        return self._procs is not None

    def start_processes(self) -> None:
        """Start the reader processes now (they take a few tenths of a second to start)."""
        if self._procs is None and self.workers > 0:
            _start_resource_tracker()
            self._procs = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=reader_started,
                initargs=(os.getpid(), self.nice),
            )

    def submit(self, items: list[Item], rule: NightRule) -> cf.Future[BatchResult]:
        self.submitted += len(items)
        if self._procs is None and self.submitted > PROCESS_THRESHOLD:
            self.start_processes()
        if self._procs is not None:
            # the pool spawns its readers inside submit: they inherit SIGINT blocked (see reader_started)
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                return self._procs.submit(read_batch, items, rule, self.threads, self.opener)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self._local.submit(read_batch, items, rule, 1, self.opener)

    def close(self, cancel: bool) -> None:
        self._local.shutdown(wait=True, cancel_futures=cancel)
        if self._procs is not None:
            self._procs.shutdown(wait=True, cancel_futures=cancel)


# ---------------------------------------------------------------------------------------------
# The scan


@dataclass(slots=True)
class _Pending:
    dir_id: int
    folder: str  # the folder's path, shared by its files
    name: str
    path: str
    size: int
    mtime_ns: int
    file_id: int | None  # its row, when the ledger knew the file before
    old_identity: int | None
    retry: bool  # was unreadable: read again, permissions may have been fixed
    stat_later: bool = False  # new folder, not stat-ed here: size and mtime come from the reader


class _Scan:
    def __init__(
        self,
        ledger_path: Path,
        roots: list[str],
        config: Config,
        stop: threading.Event,
        progress: ProgressCallback | None,
        workers: int,
        threads: int,
        opener: Opener,
        wait_for_lock: bool,
        nice: int = 0,
    ) -> None:
        self.nice = nice
        self.ledger_path = ledger_path
        self.wait_for_lock = wait_for_lock
        self.roots = roots
        self.config = config
        self.stop = stop
        self.callback = progress
        self.p = ScanProgress()
        self.exclude = Globs.compile(config.exclude)
        self.reject = Globs.compile(config.reject)
        # the readers run at normal priority whatever ``nice`` says: they compete for CPU only, and
        # a TUI answers keys as fast with them at 0 as at 10 (bench/RESULTS.md, App scan benchmark)
        self.readers = _Readers(workers, threads, opener)
        self.in_flight: dict[cf.Future[BatchResult], list[_Pending]] = {}
        self.to_write: list[ledger.FileRecord] = []
        self.started = time.monotonic()
        self.last_emit = 0.0
        self.last_write = time.monotonic()
        self._batch: list[_Pending] = []
        self._batch_items: list[Item] = []
        self.p.settle_s = config.settle_seconds
        self._deferred_until_ns = 0
        self._settle_ns = int(config.settle_seconds * 1e9)
        self._folders: dict[str, list[int]] = {}  # folder → [picked-up files, done], until done
        self._touched: dict[str, None] = {}  # folders changed since the last event, in walk order
        self._census = 0
        self._census_started = False
        self._known_files = 0
        self._census_done = False
        self._census_stop = threading.Event()
        self._census_verdict = threading.Event()  # it counted enough new files for processes, or all

    # -- plumbing

    def _start_census(self) -> None:
        """Start the census when there is something to read, or when the walk takes a while: a
        no-change rescan of a local disk is over in about a second, and a second walk beside it
        would cost a tenth of that."""
        if not self._census_started:
            self._census_started = True
            threading.Thread(target=self._count_files, name="pl-tui-census", daemon=True).start()

    def _count_files(self) -> None:
        """The census beside the scan: list every folder once (no stat, no read) so that the
        progress has a total long before the walk — which waits for the reads — is done."""
        n = 0
        for root in self.roots:
            for d in walk(root, self.exclude, []):
                if self._census_stop.is_set() or self.stop.is_set():
                    return
                n += len(d.files)
                self._census = n
                if n - self._known_files > PROCESS_THRESHOLD:
                    self._census_verdict.set()
        self._census_done = True
        self._census_verdict.set()

    def _folder_done(self, folder: str) -> None:
        counts = self._folders.get(folder)
        if counts is not None:
            counts[1] += 1
            self._touched[folder] = None

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_emit < PROGRESS_INTERVAL_S:
            return
        self.last_emit = now
        p = self.p
        p.elapsed_s = now - self.started
        p.rate = p.indexed / p.elapsed_s if p.elapsed_s > 0 else 0.0
        p.queued = sum(len(v) for v in self.in_flight.values()) + len(self._batch)
        p.expected = self._census if (self._census or self._census_done) else None
        p.counted = self._census_done
        p.deferred_until = self._deferred_until_ns / 1e9 if p.deferred else None
        updates = []
        for folder in self._touched:
            files, done = self._folders[folder]
            updates.append((folder, files, done))
            if done >= files:
                del self._folders[folder]
        self._touched.clear()
        if self.callback is not None:
            self.callback(
                replace(p, new_unreadable=list(p.new_unreadable), problems=list(p.problems), folder_updates=updates)
            )
        p.new_unreadable.clear()

    def flush(self, force: bool = False) -> None:
        if not self.to_write:
            return
        if force or len(self.to_write) >= WRITE_BATCH or time.monotonic() - self.last_write > WRITE_INTERVAL_S:
            self.writer.write(self.to_write)
            self.writer.commit()
            self.p.indexed += len(self.to_write)
            self.to_write = []
            self.last_write = time.monotonic()

    def collect(self, block: bool) -> None:
        """Take finished reads off the pool and queue them for writing."""
        if not self.in_flight:
            return
        done, _ = cf.wait(list(self.in_flight), timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            self._take(self.in_flight.pop(fut), fut.result())
        # once the walk is done, each batch is written as it comes, while the readers read the
        # rest: the last write, which nothing overlaps, is then one batch and not WRITE_BATCH frames
        self.flush(force=self.p.walk_done)
        self.emit()

    def _take(self, pendings: list[_Pending], result: BatchResult) -> None:
        setups, rows = result
        now_ns = time.time_ns()  # the batch's results came back together
        for pend, (read_status, reason, setup, row, size, mtime) in zip(pendings, rows, strict=True):
            status = read_status
            if pend.stat_later:
                if status == VANISHED:  # listed, then gone: it is simply not there
                    self.p.found -= 1
                    counts = self._folders.get(pend.folder)
                    if counts is not None:
                        counts[0] -= 1
                    continue
                pend.size, pend.mtime_ns = size or 0, mtime or 0
                if self._settling(pend.mtime_ns, now_ns):
                    self._folder_done(pend.folder)
                    continue
            elif status == VANISHED:
                status = ledger.UNREADABLE
            self._record(pend, status, reason, row, None if setup is None else setups[setup])

    def _settling(self, mtime_ns: int, now_ns: int) -> bool:
        """A file written in the last settle window is still being written: deferred to the next
        scan or watch tick. One dated more than a window ahead is a wrong clock, not a write in
        progress: read it now (else every watch tick would wait for it again, for days)."""
        if -self._settle_ns <= now_ns - mtime_ns < self._settle_ns:
            self.p.deferred += 1
            self._deferred_until_ns = max(self._deferred_until_ns, mtime_ns + self._settle_ns)
            return True
        return False

    def _record(
        self, pend: _Pending, status: str, reason: str | None, row: tuple | None, setup: tuple | None = None
    ) -> None:
        p = self.p
        if status == ledger.UNREADABLE:
            p.unreadable += 1
            p.new_unreadable.append((pend.path, reason or ""))
        if pend.retry and status == ledger.UNREADABLE:
            p.unchanged += 1
        elif pend.file_id is not None:
            p.changed += 1
        else:
            p.new += 1
        self._folder_done(pend.folder)
        self.to_write.append(
            ledger.FileRecord(
                pend.dir_id,
                pend.name,
                pend.size,
                pend.mtime_ns,
                status,
                reason,
                row,
                setup,
                pend.file_id,
                pend.old_identity,
            )
        )

    def submit_batch(self, rule: NightRule) -> None:
        if not self._batch:
            return
        if not self._census_started and self._known_files < PROCESS_THRESHOLD:
            # a first scan: the census's first milliseconds tell a large archive (start the reader
            # processes now, 0.05 s sooner than the reads would) from a small one (it is done)
            self._start_census()
            self._census_verdict.wait(CENSUS_VERDICT_S)
        self._start_census()
        if self._census - self._known_files > PROCESS_THRESHOLD:
            # the census already counts more files than the ledger has: at least that many are
            # new, so the reader processes start now instead of after PROCESS_THRESHOLD reads
            self.readers.start_processes()
        fut = self.readers.submit(self._batch_items, rule)
        self.in_flight[fut] = self._batch
        self._batch, self._batch_items = [], []
        while len(self.in_flight) >= self.readers.max_in_flight:
            self.collect(block=True)

    # -- the walk of one root

    def scan_root(self, root: str) -> None:
        w = self.writer
        plan = self._plans[root]  # a folder has one row whatever root reached it (ledger.plan_roots)
        root_id = plan.root_id
        rule = self.config.night_rule(plan.root)
        # a changed zone, boundary or normalising rule re-reads the root's headers once
        rule_key = f"{rule!r} rules={RULES_VERSION}"
        old_rule = self.conn.execute("SELECT night_rule FROM roots WHERE id = ?", (root_id,)).fetchone()[0]
        force = old_rule is not None and old_rule != rule_key  # nights must be recomputed
        known_dirs = ledger.dirs_within(self.conn, root)
        visited: set[str] = set()
        missing_ids: list[int] = []
        problems_before = len(self.p.problems)
        any_entry = False

        for d in walk(root, self.exclude, self.p.problems):
            if self.stop.is_set():
                break
            visited.add(d.path)
            if time.monotonic() - self.started > CENSUS_AFTER_S:
                self._start_census()
            self.p.folders += 1
            self.p.current_folder = d.path
            did = known_dirs.get(d.path)
            new_folder = did is None  # all its files are new: their readers stat them
            known = w.known_rows(did) if did is not None else {}  # KnownFile fields, unnamed
            if d.files:
                any_entry = True
            now_ns = time.time_ns()
            seen: set[str] = set()
            folder_rejected = self.reject.folder(d.parts)
            folder: list[int] = [len(d.files), 0]  # picked-up files, done
            if d.files:
                self._folders[d.path] = folder
                self._touched[d.path] = None
            for name, kind, entry in d.files:
                self.p.found += 1
                if new_folder and _is_file(entry):
                    if did is None:
                        did = known_dirs[d.path] = w.dir_id(d.path, root_id)
                    self._batch.append(_Pending(did, d.path, name, entry.path, 0, 0, None, None, False, True))
                    self._batch_items.append(
                        (entry.path, name, kind, d.parts, folder_rejected or self.reject.file(d.parts, name))
                    )
                    if len(self._batch) >= self.readers.batch_size:
                        self.submit_batch(rule)
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:  # vanished between listing and stat: it is simply not there
                    self.p.found -= 1
                    folder[0] -= 1
                    continue
                except OSError as e:
                    st = None
                    reason = f"cannot stat: {e.strerror or e}"
                seen.add(name)
                row = known.get(name)
                if (
                    row is not None
                    and st is not None
                    and row[1] == st.st_size  # KnownFile.size
                    and row[2] == st.st_mtime_ns  # .mtime_ns
                    and row[3] not in (ledger.MISSING, ledger.UNREADABLE)  # .status
                    and not force
                    and stat_mod.S_ISREG(st.st_mode)
                ):
                    self.p.unchanged += 1  # the rescan's common case, answered without naming the row
                    folder[1] += 1
                    continue
                prev = ledger.KnownFile._make(row) if row is not None else None
                if st is not None and not stat_mod.S_ISREG(st.st_mode):
                    reason = "not a regular file (FIFO, device or socket)"
                    st = None
                if st is None:  # recorded as unreadable without reading
                    if did is None:
                        did = known_dirs[d.path] = w.dir_id(d.path, root_id)
                    still = prev is not None and prev.status == ledger.UNREADABLE
                    pend = _Pending(
                        did,
                        d.path,
                        name,
                        entry.path,
                        0,
                        0,
                        prev.id if prev else None,
                        prev.identity if prev else None,
                        still,
                    )
                    self._record(pend, ledger.UNREADABLE, reason, None)
                    continue
                size, mtime = st.st_size, st.st_mtime_ns
                same = prev is not None and prev.size == size and prev.mtime_ns == mtime
                if same and not force and prev is not None and prev.status not in (ledger.MISSING, ledger.UNREADABLE):
                    self.p.unchanged += 1
                    folder[1] += 1
                    continue
                # a file written in the last settle window is still being written; one dated more
                # than a window ahead is a wrong clock, not a write in progress: read it now (else
                # every watch tick would wait for it again, for days)
                if not same and self._settling(mtime, now_ns):
                    folder[1] += 1
                    continue
                if did is None:
                    did = known_dirs[d.path] = w.dir_id(d.path, root_id)
                rejected = folder_rejected or self.reject.file(d.parts, name)
                retry = same and prev is not None and prev.status == ledger.UNREADABLE
                pend = _Pending(
                    did,
                    d.path,
                    name,
                    entry.path,
                    size,
                    mtime,
                    prev.id if prev else None,
                    prev.identity if prev else None,
                    retry,
                )
                self._batch.append(pend)
                self._batch_items.append((entry.path, name, kind, d.parts, rejected))
                if len(self._batch) >= self.readers.batch_size:
                    self.submit_batch(rule)
            missing_ids += [r[0] for n, r in known.items() if n not in seen and r[3] != ledger.MISSING]  # id, status
            # a batch goes on into the next folder: real archives keep 20-200 frames a folder,
            # and a batch per folder would pay the readers' per-batch cost that many times more
            if not self.readers.processes_started:
                self.submit_batch(rule)  # in-process threads: small batches keep them all busy
            self.collect(block=False)
            self.emit()
        else:
            # The walk of this root completed. Only now may absent files be called missing —
            # and not when the root itself looks empty or unreachable (an unmounted share).
            complete = len(self.p.problems) == problems_before
            if complete and (any_entry or not known_dirs):
                for path, did in known_dirs.items():
                    if path not in visited:
                        missing_ids += [f.id for f in w.files_in_dir(did).values() if f.status != ledger.MISSING]
                self._pending_missing += missing_ids
                if plan.whole:  # a folder inside the root, walked alone, leaves the root's stamp as it was
                    self._complete_roots.append((root_id, rule_key))
            elif not complete:
                self.p.problems.append(f"{root}: walk incomplete, no file marked missing")
            else:
                self.p.problems.append(f"{root}: no frames found (unmounted?), no file marked missing")
        self.submit_batch(rule)

    def run(self) -> ScanProgress:
        if self.nice:
            lower_priority(self.nice)
        with ledger.writer_lock(self.ledger_path, wait=self.wait_for_lock):
            self.conn = ledger.connect(self.ledger_path)
            try:
                # the config file's [aliases] become ledger rules before any frame is written
                sync_config_aliases(
                    self.conn, {"target": self.config.target_aliases, "filter": self.config.filter_aliases}
                )
                self.writer = ledger.LedgerWriter(self.conn)
                self._plans = {p.walk: p for p in ledger.plan_roots(self.conn, self.roots)}
                self.roots = list(self._plans)
                scan_id = ledger.begin_scan(self.conn, self.roots)
                self._known_files = self.conn.execute("SELECT count(*) FROM files").fetchone()[0]
                self._pending_missing: list[int] = []
                self._complete_roots: list[tuple[int, str]] = []
                try:
                    for root in self.roots:
                        if self.stop.is_set():
                            break
                        self.scan_root(root)
                    self.p.walk_done = True
                    self.p.current_folder = ""
                    while self.in_flight and not self.stop.is_set():
                        self.collect(block=True)
                finally:
                    self._census_stop.set()
                    cancelled = self.stop.is_set()
                    self.readers.close(cancel=cancelled)
                    if not cancelled:
                        while self.in_flight:
                            self.collect(block=True)
                    else:  # keep what finished; the rest is read next time
                        for fut in [f for f in self.in_flight if f.done() and not f.cancelled()]:
                            self._take(self.in_flight.pop(fut), fut.result())
                        self.in_flight.clear()
                    self.flush(force=True)
                if not cancelled:
                    self.p.missing = self.writer.mark_missing(self._pending_missing)
                    for root_id, rule_key in self._complete_roots:
                        self.conn.execute(
                            "UPDATE roots SET night_rule = ?, last_walk_ms = ? WHERE id = ?",
                            (rule_key, int(time.time() * 1000), root_id),
                        )
                self.writer.commit()
                self.p.state = "cancelled" if cancelled else "complete"
                ledger.finish_scan(self.conn, scan_id, self.p.state, self.p.counts())
                self.p.done = True
                self.emit(force=True)
                return self.p
            finally:
                self.conn.close()


def scan(
    ledger_path: str | os.PathLike[str],
    roots: Sequence[str | os.PathLike[str]],
    config: Config | None = None,
    *,
    stop: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    wait_for_lock: bool = False,
    workers: int | None = None,
    threads: int | None = None,
    opener: Opener = os.open,
    nice: int = 0,
) -> ScanProgress:
    """Scan archive roots into the ledger; returns the final progress (the summary).

    ``stop`` cancels cleanly (what was read is kept); ``progress`` is called about four times a
    second from this thread. Raises LedgerBusy when another writer holds the ledger.
    ``workers``: reader processes for large scans (default one per CPU; 0 reads in-process).
    They are spawned, so a script calling this needs the ``if __name__ == "__main__":`` guard.
    ``nice`` > 0 lowers the priority of the scanning thread (the TUI passes it: that thread shares
    the TUI's process and its GIL, so keys stay answered while a scan runs); the reader processes
    run at normal priority, as the CLI's do."""
    config = config or Config()
    root_list = [os.path.abspath(os.path.expanduser(os.fspath(r))) for r in roots]
    ledger.check_ledger_outside(ledger_path, root_list)
    n_workers = (
        workers if workers is not None else (config.workers if config.workers is not None else _default_workers())
    )
    n_workers = max(0, min(n_workers, max_workers()))  # 1e30 readers would start ~80 before failing
    s = _Scan(
        Path(ledger_path),
        root_list,
        config,
        stop or threading.Event(),
        progress,
        n_workers,
        threads if threads is not None else 32,
        opener,
        wait_for_lock,
        nice,
    )
    with ledger.sqlite_errors(ledger_path), _collector_paused():  # a bad ledger: one line
        return s.run()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a scan run on the main thread (the CLI's scan
    and watch). A scan makes no reference cycles, but holds thousands of records between read
    and write, and the collector would walk them over and over: ~2 µs a frame of the scanner's
    time. Another thread (the TUI's scan) leaves it alone: the process is not the scan's."""
    if threading.current_thread() is not threading.main_thread() or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


async def scan_async(
    ledger_path: str | os.PathLike[str],
    roots: Sequence[str | os.PathLike[str]],
    config: Config | None = None,
    *,
    stop: threading.Event | None = None,
    wait_for_lock: bool = False,
    workers: int | None = None,
    threads: int | None = None,
    opener: Opener = os.open,
    nice: int = 0,
) -> AsyncIterator[ScanProgress]:
    """``async for progress in scan_async(...)``: the same scan in a thread, its progress
    events delivered to the event loop. The last event has ``done=True``."""
    import asyncio  # the TUI's: the CLI scan does without it

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[ScanProgress] = asyncio.Queue()
    stop = stop or threading.Event()

    def deliver(p: ScanProgress) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, p)

    task = loop.run_in_executor(
        None,
        lambda: scan(
            ledger_path,
            roots,
            config,
            stop=stop,
            progress=deliver,
            wait_for_lock=wait_for_lock,
            workers=workers,
            threads=threads,
            opener=opener,
            nice=nice,
        ),
    )
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                p = getter.result()
                yield p
                if p.done:
                    break
            else:
                getter.cancel()
                task.result()  # raises what the scan raised
                while not queue.empty():
                    yield queue.get_nowait()
                break
        await task
    finally:
        stop.set()
