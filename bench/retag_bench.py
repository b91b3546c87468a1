"""Retag benchmark: `pl-tui retag` and `pl-tui undo` on a 100,000-frame ledger, as a user runs them
(a fresh process each: Python start-up, the lock, the selection, the audit, the tally triggers).

    python bench/retag_bench.py            # builds the ledger if scan_bench has not
    python bench/retag_bench.py --record   # also rewrite its section of bench/RESULTS.md

Baselines measured in the same run:
* `pl-tui totals` in a fresh process — the floor for any CLI command on this ledger;
* a bare `UPDATE exposures SET ov_target = …` of the same rows (tally triggers firing) — the
  floor for any retag that keeps Totals exact.
Also: the bucket counts (the Suspect rules need every pointed light) on 100k and 1M frames, the
Buckets screen's first cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results import replace_section
from scan_bench import best_seconds, query_ledger

from pl_tui import ledger as L
from pl_tui.domain import triage as T

EXE = shutil.which("pl-tui") or str(Path(sys.executable).with_name("pl-tui"))


def cli(ledger: Path, *argv: str) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run([EXE, "--ledger", str(ledger), *argv], capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - t, out.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pl-tui-bench")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    source = query_ledger(args.work, args.frames)
    ledger = args.work / "retag.sqlite"
    ledger.unlink(missing_ok=True)
    conn = L.connect(source)  # migrates an older bench ledger first
    conn.execute(f"VACUUM INTO '{ledger}'")
    conn.close()

    floor_cli, _ = min(cli(ledger, "totals", "--format", "csv") for _ in range(3))
    retag_s, out = cli(ledger, "retag", "--where", "path=/archive/*", "--set", "target=M999")
    print(f"retag: {out}  ({retag_s:.2f} s)", flush=True)
    assert f"retagged {args.frames:,}".replace(",", "") in out.replace(",", ""), out
    undo_s, out = cli(ledger, "undo")
    print(f"undo: {out}  ({undo_s:.2f} s)", flush=True)
    bucket_s, out = cli(ledger, "retag", "--where", "filter=Ha", "--set", "status=rejected")
    print(f"retag a filter's frames: {out}  ({bucket_s:.2f} s)", flush=True)
    cli(ledger, "undo")

    conn = L.connect(ledger, create=False)
    conn.execute("BEGIN")
    t = time.perf_counter()
    conn.execute("UPDATE exposures SET ov_target = 'M999'")
    floor_sql = time.perf_counter() - t
    conn.execute("ROLLBACK")
    counts_small = best_seconds(lambda: T.bucket_counts(conn))
    conn.close()
    big = args.work / "query-1000000.sqlite"
    counts_big = None
    if big.exists():
        conn = L.connect(big)
        counts_big = best_seconds(lambda: T.bucket_counts(conn), repeat=2)
        conn.close()
    print(
        f"retag {args.frames:,} frames {retag_s:.2f} s, undo {undo_s:.2f} s; `pl-tui totals` {floor_cli:.2f} s; "
        f"bare UPDATE {floor_sql:.2f} s; bucket counts {counts_small * 1000:.0f} ms"
        + (f" (1M: {counts_big * 1000:.0f} ms)" if counts_big else ""),
        flush=True,
    )
    if args.record:
        record(args.frames, retag_s, undo_s, bucket_s, floor_cli, floor_sql, counts_small, counts_big)


def record(n, retag_s, undo_s, filter_s, floor_cli, floor_sql, counts_small, counts_big) -> None:
    ok = "met" if retag_s < 2 else "MISSED"
    lines = [
        f"## Retag benchmark — {datetime.now():%Y-%m-%d}, {os.cpu_count()} CPUs, a {n:,}-frame ledger",
        "",
        "Each command in a fresh `pl-tui` process, as typed: start-up, writer lock, selection, audit,",
        "overrides and the tally triggers, all in one transaction.",
        "",
        "| figure | measured | target | | vs baseline |",
        "|---|---|---|---|---|",
        f"| `retag --where path=/archive/* --set target=M999` ({n:,} frames) | {retag_s:.2f} s | < 2 s | {ok} "
        f"| `pl-tui totals` takes {floor_cli:.2f} s; a bare UPDATE of the rows {floor_sql:.2f} s |",
        f"| `undo` of it | {undo_s:.2f} s | | | |",
        f"| `retag --where filter=Ha --set status=rejected` | {filter_s:.2f} s | | | |",
        f"| bucket counts (all seven, Suspect rules included), {n:,} frames | {counts_small * 1000:.0f} ms | | | |",
    ]
    if counts_big:
        lines.append(f"| bucket counts, 1,000,000 frames | {counts_big * 1000:.0f} ms | | | |")
    lines += [
        "",
        "Marking in the Buckets screen is set arithmetic on frame indices: `tests/ui/test_buckets.py`",
        "marks, unmarks and inverts 100,000 frames through the keys.",
        "",
        "Reproduce: `python bench/retag_bench.py --record`.",
        "",
    ]
    replace_section("## Retag benchmark", lines)


if __name__ == "__main__":
    main()
