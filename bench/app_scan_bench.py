"""App scan vs CLI scan: the same archive scanned by `pl-tui scan` and by the app's scan screen
(headless, Pilot), each in a fresh process, alternating, best of --repeat; files/s and the ratio.

    python bench/app_scan_bench.py                  # 100,000 frames (gen_archive.py, ~25 s to make)
    python bench/app_scan_bench.py --frames 20000   # quicker
    python bench/app_scan_bench.py --record         # also write the figures into bench/RESULTS.md

Both figures are the scan's own clock (ScanProgress.elapsed_s: from the ledger's lock to the
summary), so interpreter and Textual start-up are left out of both; the wall time of the whole
process is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results import replace_section

EXE = shutil.which("pl-tui") or str(Path(sys.executable).with_name("pl-tui"))

APP_SCAN = """
import asyncio, json, sys, time
from pathlib import Path
from pl_tui.app import PlTuiApp
from pl_tui.core.config import Config
from pl_tui.screens.targets import TargetsScreen

ledger, root = sys.argv[1], sys.argv[2]

async def main():
    app = PlTuiApp(Path(ledger), Config(settle_seconds=0), [root])
    finals = []
    done = app._scan_done
    app._scan_done = lambda p: (finals.append(p), done(p))
    async with app.run_test(size=(80, 24)) as pilot:
        while not finals:
            await pilot.pause(0.05)
        while not isinstance(app.screen, TargetsScreen):
            await pilot.pause(0.05)
    p = finals[0]
    return dict(elapsed=p.elapsed_s, indexed=p.indexed, found=p.found, state=p.state)

if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
"""


def fresh(ledger: Path) -> None:
    for p in ledger.parent.glob(ledger.name + "*"):
        p.unlink()


def run(cmd: list[str]) -> tuple[str, float, float]:
    """(stdout, wall seconds, CPU seconds of the process and the readers it reaped)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout is not None
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    assert p.returncode == 0, (cmd, out)
    return out, time.perf_counter() - t, usage.ru_utime + usage.ru_stime


def cli_scan(ledger: Path, root: Path) -> dict:
    fresh(ledger)
    out, wall, cpu = run([EXE, "--ledger", str(ledger), "scan", "--quiet", str(root)])
    m = re.search(r"indexed (\d+).*elapsed ([\d.]+) s", out)
    assert m, out
    return {"elapsed": float(m.group(2)), "indexed": int(m.group(1)), "wall": wall, "cpu": cpu}


def app_scan(ledger: Path, root: Path) -> dict:
    fresh(ledger)
    out, wall, cpu = run([sys.executable, "-c", APP_SCAN, str(ledger), str(root)])
    r = json.loads(out.strip().splitlines()[-1])
    assert r["state"] == "complete", r
    r["wall"], r["cpu"] = wall, cpu
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pl-tui-bench")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    root = args.work / f"gen-archive-{args.frames}"
    if not root.exists():
        print(f"generating {args.frames:,} frames with gen_archive.py …", flush=True)
        subprocess.run([sys.executable, str(HERE / "gen_archive.py"), "--root", str(root), "-n", str(args.frames)],
                       check=True)  # fmt: skip
    ledger = args.work / "app-scan-bench.sqlite"
    # warm the page cache: both faces then read from memory, as a second scan of the night would
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                fh.read(11520)
    cli: list[dict] = []
    app: list[dict] = []
    load_before = os.getloadavg()[0]
    for i in range(args.repeat):
        cli.append(cli_scan(ledger, root))
        app.append(app_scan(ledger, root))
        print(
            f"run {i + 1}: CLI {cli[-1]['indexed'] / cli[-1]['elapsed']:,.0f} files/s "
            f"({cli[-1]['elapsed']:.2f} s), app {app[-1]['indexed'] / app[-1]['elapsed']:,.0f} files/s "
            f"({app[-1]['elapsed']:.2f} s)",
            flush=True,
        )
    fresh(ledger)
    load_after = os.getloadavg()[0]
    best_cli = min(cli, key=lambda r: r["elapsed"])
    best_app = min(app, key=lambda r: r["elapsed"])
    assert best_cli["indexed"] == best_app["indexed"] == args.frames, (best_cli, best_app)
    cli_rate = args.frames / best_cli["elapsed"]
    app_rate = args.frames / best_app["elapsed"]
    ratio = app_rate / cli_rate
    median = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    median_ratio = median(cli, "elapsed") / median(app, "elapsed")
    print(
        f"{args.frames:,} frames, best of {args.repeat}: CLI {cli_rate:,.0f} files/s, app {app_rate:,.0f} files/s, "
        f"app/CLI {ratio:.2f} (medians: {median_ratio:.2f}); CPU seconds, median: CLI {median(cli, 'cpu'):.1f}, "
        f"app {median(app, 'cpu'):.1f}"
    )
    if args.record:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        runs = lambda rs: ", ".join(f"{r['elapsed']:.2f}" for r in rs)  # noqa: E731
        replace_section(
            "## App scan benchmark",
            [
                f"## App scan benchmark — {datetime.now():%Y-%m-%d}, {cpus} CPUs, warm page cache",
                "",
                f"{args.frames:,} NINA-like frames made by `bench/gen_archive.py` (sparse data units), a fresh",
                "ledger each run; `pl-tui scan` and the app's scan screen (headless Pilot, 80×24) in fresh",
                f"processes, alternating; the scan's own clock (lock taken → summary), best of {args.repeat}.",
                "",
                "| face | files/s (best) | seconds (each run) | CPU s, all processes (median) |",
                "|---|---|---|---|",
                f"| `pl-tui scan` | {cli_rate:,.0f} | {runs(cli)} | {median(cli, 'cpu'):.1f} |",
                f"| the app (scan screen) | {app_rate:,.0f} | {runs(app)} | {median(app, 'cpu'):.1f} |",
                f"| app / CLI, best runs | {ratio:.2f} | goal ≥ 0.85 | {'met' if ratio >= 0.85 else 'MISSED'} |",
                f"| app / CLI, median runs | {median_ratio:.2f} | goal ≥ 0.85 | "
                f"{'met' if median_ratio >= 0.85 else 'MISSED'} |",
                "",
                "The CPU column is the steadiest figure on a shared machine: the app spends about "
                f"{median(app, 'cpu') - median(cli, 'cpu'):.1f} s more",
                "than the CLI (Textual's start, its event loop and the scan screen's repaints, four a second)",
                "out of the total, on two cores the readers keep busy.",
                "",
                f"The machine is shared (load average {load_before:.1f} before, {load_after:.1f} after): single runs",
                "of either face vary by ±15 %, hence the best of several, alternating.",
                "",
                "Both faces use the same reader processes at normal priority. The app lowers the priority",
                "of its scanning thread only (nice 10): that thread shares the app's process and GIL with",
                "the keys. Measured on 100,000 frames, three alternating runs each (key = p95 loop lag +",
                "opening the help screen during the scan; scan = files/s):",
                "",
                "| scanning thread / readers | key | scan |",
                "|---|---|---|",
                "| nice 0 / nice 0 | 160–217 ms | 5,300–8,600 |",
                "| nice 10 / nice 10 (before issue 12) | 60–71 ms | 6,900–8,800 |",
                "| **nice 10 / nice 0 (now)** | 56–73 ms | 7,300–9,500 |",
                "",
                f"Reproduce: `python bench/app_scan_bench.py --frames {args.frames} --record`.",
            ],
        )


if __name__ == "__main__":
    main()
