"""TUI benchmark (Pilot timings, not a test: timings flake on shared machines).

    python bench/tui_bench.py            # needs ~30 s to generate a 100k archive the first time
    python bench/tui_bench.py --record

1. Targets on a large ledger: time from the app's start to the target tree filled.
2. Responsiveness during a 100,000-file scan: a key opens the help modal and another closes it,
   twenty times while the scan runs; the time from each key to the screen it asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from results import replace_section
from scan_bench import build_query_ledger, generate

from pl_tui.app import PlTuiApp
from pl_tui.config import Config
from pl_tui.screens.modals import HelpModal
from pl_tui.screens.scan import ScanScreen
from pl_tui.screens.targets import TargetsScreen


async def time_targets(ledger: Path) -> float:
    app = PlTuiApp(ledger, Config())
    started = time.perf_counter()
    async with app.run_test(size=(100, 30)) as pilot:
        while not (isinstance(app.screen, TargetsScreen) and app.screen.query_one("#targets-tree").root.children):
            await pilot.pause(0.005)
        return (time.perf_counter() - started) * 1000


async def key_latency_during_scan(archive: Path, ledger: Path) -> tuple[list[float], float, int]:
    app = PlTuiApp(ledger, Config(settle_seconds=0), archives=[str(archive)])
    latencies: list[float] = []
    async with app.run_test(size=(100, 30)) as pilot:
        scan_screen = app.screen
        assert isinstance(scan_screen, ScanScreen)
        await pilot.pause(1.0)  # the scan is well under way (worker processes started)
        for _ in range(20):
            if not isinstance(app.screen, ScanScreen):
                break
            for key, wanted in (("question_mark", HelpModal), ("escape", ScanScreen)):
                t = time.perf_counter()
                await pilot.press(key)
                while not isinstance(app.screen, wanted):
                    await pilot.pause(0.001)
                latencies.append((time.perf_counter() - t) * 1000)
            await pilot.pause(0.1)
        while not isinstance(app.screen, TargetsScreen):
            await pilot.pause(0.05)
        return latencies, 0.0, len(latencies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pl-tui-bench")
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in (100_000, 1_000_000):
        ledger = args.work / f"query-{n}.sqlite"
        if not ledger.exists():
            print(f"building a {n:,}-frame ledger …", flush=True)
            build_query_ledger(ledger, n)
        ms = min(asyncio.run(time_targets(ledger)) for _ in range(3))
        results[n] = ms
        print(f"Targets on a {n:,}-frame ledger: tree filled {ms:.0f} ms after start", flush=True)
    archive = args.work / f"archive-{args.frames}"
    if not archive.exists():
        print(f"generating {args.frames:,} frames …", flush=True)
        generate(archive, args.frames)
    ledger = args.work / "tui-scan.sqlite"
    for p in args.work.glob("tui-scan.sqlite*"):
        p.unlink()
    latencies, _, n = asyncio.run(key_latency_during_scan(archive, ledger))
    p50, p95, worst = statistics.median(latencies), sorted(latencies)[int(0.95 * (n - 1))], max(latencies)
    print(f"keys during a {args.frames:,}-file scan: {n} presses, median {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms")
    if args.record:
        ok = lambda b: "met" if b else "MISSED"  # noqa: E731
        replace_section(
            "## TUI benchmark",
            [
                f"## TUI benchmark — {datetime.now():%Y-%m-%d}, Pilot at 100×30",
                "",
                "| figure | measured | target | |",
                "|---|---|---|---|",
                f"| Targets open (start → tree filled), 100,000-frame ledger | {results[100_000]:.0f} ms | < 300 ms "
                f"| {ok(results[100_000] < 300)} |",
                f"| Targets open, 1,000,000-frame ledger | {results[1_000_000]:.0f} ms | (for scale) | |",
                f"| a key answered during a {args.frames:,}-file scan ({n} presses) | median {p50:.0f} ms, "
                f"p95 {p95:.0f} ms, max {worst:.0f} ms | < 100 ms | {ok(p95 < 100)} |",
                "",
                "The start time includes Textual's own start-up in Pilot. Reproduce: `python bench/tui_bench.py --record`.",
            ],
        )


if __name__ == "__main__":
    main()
