"""Chart benchmark: everything the Timeline screen draws, from a 100,000- and a 1,000,000-frame ledger.

    python bench/chart_bench.py            # builds the ledgers if scan_bench has not
    python bench/chart_bench.py --record   # also rewrite its section of bench/RESULTS.md

Measured: the screen's data (a target's nights, months, gaps, sensor nights, rigs, rig changes —
all aggregated in SQL) and plotext building the nights and sensor charts at 100×30. Baseline in
the same run: `pl-tui totals`'s query (the tallies, the floor for any aggregate view).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from plotext._figure import _figure_class
from results import replace_section
from scan_bench import best_seconds, query_ledger

from pl_tui import ledger as L
from pl_tui.domain import rigs as G


def best_ms(fn, repeat: int = 3) -> float:
    return best_seconds(fn, repeat) * 1000


def timeline(conn, target: str) -> dict:
    return {
        "series": G.night_series(conn, target, max_bins=30),
        "months": G.month_hours(conn),
        "gaps": G.gaps(conn),
        "sensor": G.sensor_nights(conn),
        "rigs": G.rigs(conn),
        "changes": G.rig_changes(conn, target),
    }


def draw(data: dict) -> None:
    s = data["series"]
    plt = _figure_class()
    plt.plotsize(100, 24)
    plt.stacked_bar(s.bins, s.hours, labels=s.filters)
    plt.build()
    plt = _figure_class()
    plt.plotsize(100, 12)
    plt.date_form("Y-m-d")
    by_rig: dict[str, list] = {}
    for n in data["sensor"]:
        by_rig.setdefault(n.rig, []).append(n)
    for rows in by_rig.values():
        plt.plot([r.night for r in rows], [r.ccd_temp for r in rows], marker="dot")
    plt.build()


def measure(path: Path) -> tuple:
    conn = L.connect(path)
    n = L.counting_frame_count(conn)
    target = conn.execute("SELECT target FROM tallies GROUP BY target ORDER BY sum(frame_count) DESC").fetchone()[0]
    nights = conn.execute("SELECT count(DISTINCT session_date) FROM tallies WHERE target = ?", (target,)).fetchone()[0]
    base = best_ms(lambda: L.totals(conn))
    load = best_ms(lambda: timeline(conn, target))
    data = timeline(conn, target)
    drawing = best_ms(lambda: draw(data))
    conn.close()
    return n, target, nights, load, drawing, base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pl-tui-bench")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    figures = []
    for n in (100_000, 1_000_000):
        figures.append(measure(query_ledger(args.work, n)))
        frames, target, nights, load, drawing, base = figures[-1]
        print(f"{frames:,} frames ({target}, {nights} nights): data {load:.0f} ms, drawing {drawing:.0f} ms; "
              f"totals {base:.1f} ms", flush=True)  # fmt: skip
    if args.record:
        record(figures)


def record(figures: list[tuple]) -> None:
    lines = [
        f"## Chart benchmark — {datetime.now():%Y-%m-%d}, {os.cpu_count()} CPUs",
        "",
        "Everything the Timeline screen shows: a target's nights by filter (binned to fit), the archive's",
        "months, gaps, sensor nights per rig, rigs and rig changes — aggregated in SQL — then plotext",
        "building the nights and sensor charts at 100 columns.",
        "",
        "| ledger | target (nights) | data | drawing | total | target | | vs baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, target, nights, load, drawing, base in figures:
        total = load + drawing
        ok = "met" if total < 300 or n > 100_000 else "MISSED"
        goal = "< 300 ms" if n == 100_000 else "(no target)"
        lines.append(
            f"| {n:,} frames | {target} ({nights:,}) | {load:.0f} ms | {drawing:.0f} ms | {total:.0f} ms | {goal} "
            f"| {ok if n == 100_000 else ''} | `totals` query {base:.1f} ms |"
        )
    lines += ["", "Reproduce: `python bench/chart_bench.py --record`.", ""]
    replace_section("## Chart benchmark", lines)


if __name__ == "__main__":
    main()
