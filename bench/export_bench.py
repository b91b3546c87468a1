"""Export benchmark: the Frames CSV of a 1,000,000-frame ledger, streamed.

    python bench/export_bench.py            # builds the ledger if scan_bench has not
    python bench/export_bench.py --record   # also rewrite its section of bench/RESULTS.md

Baseline measured in the same run: a bare SELECT of the files table (path parts and sizes)
through the same connection — the floor for any export that reads the ledger.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results import replace_section
from scan_bench import query_ledger

from pl_tui import ledger as L
from pl_tui.export import export_file


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pl-tui-bench")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ledger = query_ledger(args.work, args.frames)
    conn = L.connect(ledger, create=False)
    n_files = conn.execute("SELECT count(*) FROM files").fetchone()[0]

    t = time.perf_counter()
    conn.execute("SELECT d.path, f.name, f.size FROM files f JOIN dirs d ON d.id = f.dir_id").fetchall()
    base = time.perf_counter() - t

    out = args.work / "frames.csv"
    out.unlink(missing_ok=True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    rows = export_file(conn, "frames", out, force=True)
    elapsed = time.perf_counter() - t
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = out.stat().st_size
    conn.close()
    print(
        f"frames CSV: {rows:,} rows in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s, {size / 1e6:.0f} MB); "
        f"bare SELECT of the files {base:.2f} s ({elapsed / base:.1f}x); "
        f"peak RSS grew {(rss_after - rss_before) / 1024:.1f} MB",
        flush=True,
    )
    assert rows == n_files
    out.unlink()
    if args.record:
        record(rows, elapsed, base, size, (rss_after - rss_before) / 1024)


def record(rows: int, elapsed: float, base: float, size: int, rss_growth_mb: float) -> None:
    ok = "met" if elapsed <= 10 else "MISSED"
    lines = [
        f"## Export benchmark — {datetime.now():%Y-%m-%d}, {os.cpu_count()} CPUs",
        "",
        "| figure | measured | target | | vs baseline |",
        "|---|---|---|---|---|",
        f"| Frames CSV of a {rows:,}-frame ledger "
        f"| {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s, {size / 1e6:.0f} MB) "
        f"| ≤ 10 s | {ok} | a bare SELECT of the files takes {base:.2f} s ({elapsed / base:.1f}×) |",
        f"| memory while exporting | peak RSS grew {rss_growth_mb:.1f} MB | constant | "
        f"{'met' if rss_growth_mb < 50 else 'MISSED'} | rows stream in keyset pages of 5,000 |",
        "",
        "Reproduce: `python bench/export_bench.py --record`.",
        "",
    ]
    replace_section("## Export benchmark", lines)


if __name__ == "__main__":
    main()
