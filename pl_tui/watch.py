"""Watch mode: keep the ledger current while the capture program writes tonight's frames.

One scan first; then, where the kernel reports changes (inotify, through watchfiles), a rescan a
settle window after the last change — an incremental scan costs a ``stat`` per unchanged file, and
a file rewritten in place (programs that complete headers after the exposure) has a new size or
mtime, so it is read again. Network shares (NFS, SMB, sshfs …) report no changes made by other
machines: there the scan simply repeats every ``poll_seconds``. Each scan takes the writer lock
only while it runs (waiting for a retag, never failing on it), so retags go on in between.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .core.config import Config
from .scan import ScanProgress, scan

# File systems whose change events do not include other machines' writes.
NETWORK_FS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "fuse.rclone", "davfs", "fuse.gvfsd-fuse", "afs"}
)
DEFAULT_POLL_SECONDS = 30.0


def filesystem_type(path: str, mounts: str = "/proc/mounts") -> str | None:
    """The type of the file system ``path`` lives on (the longest mount point above it)."""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as f:
            entries = [line.split() for line in f]
    except OSError:
        return None
    real = os.path.realpath(path)
    best, kind = "", None
    for entry in entries:
        if len(entry) < 3:
            continue
        point = entry[1].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, entry[2]
    return kind


def has_change_events(roots: Sequence[str]) -> bool:
    """Will the kernel tell us about new files under every root? Not on network shares."""
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return all(filesystem_type(r) not in NETWORK_FS for r in roots)


class Watcher:
    """``run()`` scans, then keeps scanning as files arrive until ``stop`` is set.

    ``on_scan`` gets every finished scan's progress (in this thread)."""

    def __init__(
        self,
        ledger_path: str | os.PathLike[str],
        roots: Sequence[str],
        config: Config,
        stop: threading.Event,
        on_scan: Callable[[ScanProgress], None],
        poll_seconds: float | None = None,
        workers: int | None = None,
        nice: int = 0,
    ) -> None:
        self.ledger_path = Path(ledger_path)
        self.roots = [os.path.abspath(r) for r in roots]
        self.config = config
        self.stop = stop
        self.on_scan = on_scan
        self.poll_seconds = poll_seconds
        self.workers = workers
        self.nice = nice
        self.uses_events = poll_seconds is None and has_change_events(self.roots)

    def run(self) -> None:
        first = self._scan()
        if self.uses_events:
            self._follow_events(first)
        while not self.stop.wait(self.poll_seconds or DEFAULT_POLL_SECONDS):
            self._scan()

    def _scan(self) -> ScanProgress:
        progress = scan(
            self.ledger_path,
            self.roots,
            self.config,
            stop=self.stop,
            wait_for_lock=True,
            workers=self.workers,
            nice=self.nice,
        )
        if not self.stop.is_set():
            self.on_scan(progress)
        return progress

    def _due(self, progress: ScanProgress) -> float | None:
        """When to scan again for the files a scan found still inside their settle window."""
        if not progress.deferred:
            return None
        wait = self.config.settle_seconds
        if progress.deferred_until is not None:
            wait = min(wait, max(0.0, progress.deferred_until - time.time()))
        return time.monotonic() + wait + 0.2

    def _follow_events(self, first: ScanProgress) -> None:
        """Scan a settle window after the last change event. Returns (to polling) when events
        cannot be had: watchfiles failing (a name it cannot decode, a watch limit reached)."""
        due = self._due(first)  # frames already settling when watching began
        while not self.stop.is_set():
            roots = _identities(self.roots)
            try:
                due = self._watch_once(roots, due)
            except Exception:  # watchfiles' own errors (RustInternalError …): keep going by polling
                return
            if not self.stop.is_set():
                due = self._due(self._scan())  # a root came back (remounted, recreated): rescan it

    def _watch_once(self, roots: dict[str, tuple[int, int] | None], due: float | None) -> float | None:
        """Follow events until stopped or until a root is no longer the folder it was (removed,
        recreated, a share remounted: its watch would be silently gone)."""
        from watchfiles import watch

        settle = max(0.0, self.config.settle_seconds)
        for changes in watch(
            *[r for r, ident in roots.items() if ident is not None] or self.roots,
            stop_event=self.stop,
            yield_on_timeout=True,
            rust_timeout=250,
            debounce=200,
            ignore_permission_denied=True,
            raise_interrupt=False,
        ):
            now = time.monotonic()
            if changes:
                due = now + settle + 0.2
            if due is not None and now >= due and not self.stop.is_set():
                # files still inside their settle window are read on the next pass
                due = self._due(self._scan())
            if _identities(self.roots) != roots:
                return due
        return due


def _identities(roots: Sequence[str]) -> dict[str, tuple[int, int] | None]:
    """(device, inode) of each root, None where it is missing: a changed one is a new folder."""
    out: dict[str, tuple[int, int] | None] = {}
    for r in roots:
        try:
            st = os.stat(r)
        except OSError:
            out[r] = None
        else:
            out[r] = (st.st_dev, st.st_ino)
    return out
