"""Scan benchmark: the engine's figures against baselines measured in the same run.

    python bench/scan_bench.py                 # 100,000 frames, 1,000,000-frame query ledger
    python bench/scan_bench.py --frames 20000 --query-frames 200000   # quicker
    python bench/scan_bench.py --record        # also rewrite bench/RESULTS.md

The headline archive comes from bench/gen_archive.py (a copy of ../shared/bench/gen_archive.py):
N.I.N.A.-like headers of 60-115 cards whose times, temperatures, pointing, focuser and weather vary
from frame to frame as real ones do, sparse data units of the camera's size, mtimes at the end of
each exposure. A second, cache-friendly archive (headers whose cards mostly repeat, the old
benchmark) is scanned too and labelled as such. Then it measures: a plain os.open/os.read/close of every
header (baseline; in a loop, and as a whole process that walks the archive too), a stat-only walk
(baseline), the first full scan, a rescan with nothing
changed, a scan with 1 ms added to every open (a NAS), peak RSS, ledger bytes per frame, and
Totals/Sessions on a synthetic 1,000,000-frame ledger.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from results import replace_section

from pl_tui import ledger as L
from pl_tui.core.fitsgen import write_fits
from pl_tui.core.normalize import exposure_row, normalize
from pl_tui.demo import nina_cards

TARGETS = [("M 81", 148.9, 69.1), ("NGC 7000", 314.7, 44.3), ("IC 1396", 324.7, 57.5), ("Sh2-129", 325.8, 60.2)]
FILTERS = [("L", 120.0), ("R", 120.0), ("G", 120.0), ("B", 120.0), ("Ha", 300.0), ("OIII", 300.0), ("SII", 300.0)]


def generate(root: Path, n: int, seed: int = 1) -> None:
    """n realistic frames: gen_archive.py, whose headers vary frame to frame as real ones do."""
    subprocess.run(
        [sys.executable, str(HERE / "gen_archive.py"), "--root", str(root), "-n", str(n), "--seed", str(seed)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def generate_friendly(root: Path, n: int, seed: int = 1) -> None:
    """n cache-friendly frames (most cards repeat from frame to frame), date-first layout, ~50
    frames per folder: the old benchmark's archive, kept as a secondary, labelled figure."""
    rnd = random.Random(seed)
    made = 0
    night = datetime(2022, 1, 1, 19, 0, tzinfo=UTC)
    while made < n:
        night += timedelta(days=rnd.randint(1, 3))
        target, ra, dec = rnd.choice(TARGETS)
        t = night
        for filt, exp in rnd.sample(FILTERS, 3):
            folder = root / night.strftime("%Y-%m-%d") / "LIGHT" / target.replace(" ", "") / filt
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(50):
                if made >= n:
                    return
                t += timedelta(seconds=exp + 2, milliseconds=rnd.randint(0, 999))
                cards = nina_cards(target, filt, t, exp, ra=ra, dec=dec, ccd_temp=-10 + rnd.choice((0, 0.1, -0.1)))
                write_fits(folder / f"{target.replace(' ', '')}_{filt}_{exp:.0f}s_{k:04d}.fits", cards, (6248, 4176))
                made += 1


def files_of(root: Path) -> list[str]:
    out = []
    for d, _dirs, files in os.walk(root):
        out += [os.path.join(d, f) for f in files]
    return out


def baseline_read(paths: list[str]) -> float:
    """µs per file for os.open + os.read(header blocks) + close: the floor for any header reader."""
    t = time.perf_counter()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        os.read(fd, 2880 * 3)
        os.close(fd)
    return (time.perf_counter() - t) / len(paths) * 1e6


def baseline_stat_walk(root: Path) -> float:
    """files/s of a scandir walk that stats every file: the floor for a rescan."""
    t = time.perf_counter()
    n = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir():
                    stack.append(e.path)
                else:
                    e.stat()
                    n += 1
    return n / (time.perf_counter() - t)


def baseline_fitsio(paths: list[str]) -> float:
    import fitsio

    t = time.perf_counter()
    for p in paths:
        fitsio.read_header(p)
    return (time.perf_counter() - t) / len(paths) * 1e6


def stage_costs(paths: list[str], root: Path) -> dict[str, float]:
    """µs/frame of each stage of a reader, in this process, every cache emptied first (as in a
    fresh reader): the header read + keyword layout, normalising (which parses the cards it
    reads), and the whole read_one with the row it hands back."""
    from pl_tui.core import headers
    from pl_tui.core import normalize as norm
    from pl_tui.core.headers import read_header
    from pl_tui.core.normalize import NightRule, split_name
    from pl_tui.reading import read_one

    def empty_caches() -> None:
        headers._CARD_CACHE.clear()
        headers._LAYOUTS.clear()
        headers._CONVERTED.clear()
        norm._SETUPS.clear()
        norm._LAST_SETUP[0] = None
        norm._EXPOSURES.clear()

    rule = NightRule()
    parts = [Path(p).relative_to(root).parts[:-1] for p in paths]
    empty_caches()
    t = time.perf_counter()
    raws = [read_header(p, "fits") for p in paths]
    read_us = (time.perf_counter() - t) / len(paths) * 1e6
    t = time.perf_counter()
    for p, raw, dirs in zip(paths, raws, parts, strict=True):
        normalize(raw.cards, raw.header_bytes, split_name(os.path.basename(p)), dirs, rule, size=raw.size)
    norm_us = (time.perf_counter() - t) / len(paths) * 1e6
    empty_caches()
    items = [(p, os.path.basename(p), "fits", dirs, False) for p, dirs in zip(paths, parts, strict=True)]
    t = time.perf_counter()
    for it in items:
        read_one(it, rule)
    one_us = (time.perf_counter() - t) / len(paths) * 1e6
    return {"read_us": read_us, "normalize_us": norm_us, "read_one_us": one_us}


def run_scan_child(ledger: Path, root: Path, latency_ms: float = 0.0, workers: int | None = None) -> dict:
    """Run one scan in a fresh interpreter (clean RSS figures); returns its summary.

    The scan runs from a script file, as ``pl-tui`` does: its reader processes re-run the main
    script (as ``__mp_main__``), so everything it imports sits under the main guard, as the
    console script's one import of ``pl_tui.__main__`` does."""
    code = f"""
import sys
if __name__ == "__main__":
    import json, os, resource, time
    sys.path.insert(0, {str(HERE.parent)!r})
    sys.path.insert(0, {str(HERE)!r})
    from pl_tui.scan import scan
    from pl_tui.core.config import Config
    from bench_opener import slow_open
    kw = {{}}
    if {latency_ms!r} > 0:
        os.environ["PL_BENCH_LATENCY_MS"] = {str(latency_ms)!r}
        kw["opener"] = slow_open
    t = time.perf_counter()
    p = scan({str(ledger)!r}, [{str(root)!r}], Config(settle_seconds=0), workers={workers!r}, **kw)
    el = time.perf_counter() - t
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across exec (Linux)
    hwm = next((int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")), None)
    print(json.dumps(dict(elapsed=el, indexed=p.indexed, unchanged=p.unchanged, found=p.found,
          unreadable=p.unreadable, rss_self_kb=hwm or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          rss_children_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)))
"""
    with tempfile.NamedTemporaryFile("w", suffix="_scan.py", delete=False) as f:
        f.write(code)
    try:
        t = time.perf_counter()
        out = subprocess.run([sys.executable, f.name], check=True, capture_output=True, text=True)
        process_s = time.perf_counter() - t  # the whole process: interpreter start, imports, scan, exit
    finally:
        os.unlink(f.name)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_elapsed": process_s}


def baseline_read_process(root: Path) -> float:
    """files/s of a whole Python process that walks the archive and reads every file's header
    bytes (os.scandir, then os.open/os.read/close): the like-for-like floor of a whole-process
    scan, interpreter start included."""
    code = f"""
import os
n, stack = 0, [{str(root)!r}]
while stack:
    with os.scandir(stack.pop()) as it:
        for e in it:
            if e.is_dir():
                stack.append(e.path)
            else:
                fd = os.open(e.path, os.O_RDONLY)
                os.read(fd, 11520)
                os.close(fd)
                n += 1
print(n)
"""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout) / (time.perf_counter() - t)


def compile_package() -> None:
    """Bytecode for the package, as pip writes it when it installs one: without it every process
    of a whole-process run (the scanner and each reader) would compile the modules it imports
    (PYTHONDONTWRITEBYTECODE, or an editable install)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "pl_tui")], check=True)


def build_query_ledger(path: Path, n: int) -> float:
    """A synthetic ledger of n frames written through the same writer the scanner uses."""
    rnd = random.Random(7)
    conn = L.connect(path)
    w = L.LedgerWriter(conn)
    root_id = w.root_id("/archive")
    t0 = time.perf_counter()
    batch: list[L.FileRecord] = []
    night = datetime(2015, 1, 1, 20, 0, tzinfo=UTC)
    dir_id = None
    for i in range(n):
        if i % 50 == 0:
            night += timedelta(hours=rnd.randint(1, 30))  # never two folders at the same instant
            target, ra, dec = rnd.choice(TARGETS)
            filt, exp = rnd.choice(FILTERS)
            dir_id = w.dir_id(f"/archive/{night:%Y-%m-%d}/{target}/{filt}/{i}", root_id)
        t = night + timedelta(seconds=(i % 50) * (exp + 2))
        cards = {c[0]: c[1] for c in nina_cards(target, filt, t, exp, ra=ra, dec=dec) if not isinstance(c, str)}
        cards["NAXIS1"], cards["NAXIS2"] = 6248, 4176
        frame = normalize(cards, b"", f"f{i}", ())
        batch.append(
            L.FileRecord(dir_id, f"f{i:07d}.fits", 52_000_000, i, L.ACCEPTED, None, *L.split_row(exposure_row(frame)))
        )
        if len(batch) >= 20000:
            w.write(batch)
            w.commit()
            batch = []
    w.write(batch)
    w.commit()
    conn.close()
    return time.perf_counter() - t0


def query_ledger(work: Path, n: int) -> Path:
    """The synthetic n-frame ledger the query, export, retag, chart and TUI benchmarks share."""
    path = work / f"query-{n}.sqlite"
    if not path.exists():
        print(f"building a {n:,}-frame ledger …", flush=True)
        build_query_ledger(path, n)
    return path


def best_seconds(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` calls: the figure least disturbed by a shared machine."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def time_query(path: Path, fn, repeat: int = 5) -> float:
    conn = L.connect(path, create=False)
    try:
        return best_seconds(lambda: fn(conn), repeat) * 1000
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--query-frames", type=int, default=1_000_000)
    ap.add_argument("--latency-frames", type=int, default=20_000, help="frames for the 1 ms-latency scan")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "pl-tui-bench")
    ap.add_argument("--record", action="store_true", help="write the figures into bench/RESULTS.md")
    ap.add_argument("--keep", action="store_true", help="keep the generated archive for the next run")
    args = ap.parse_args()

    work = args.work
    archive = work / f"realistic-{args.frames}"
    if not archive.exists():
        t = time.perf_counter()
        generate(archive, args.frames)
        print(f"generated {args.frames} frames in {time.perf_counter() - t:.1f} s", flush=True)
    compile_package()
    paths = files_of(archive)
    n = len(paths)
    baseline_read(paths)  # warm the page cache
    base_read_us = baseline_read(paths)
    base_read_process = max(baseline_read_process(archive) for _ in range(3))
    stages = stage_costs(paths[:20000], archive)
    print(
        "reader stages (one process, µs/frame): read + keyword layout {read_us:.1f}, normalise (parses the "
        "cards it reads) {normalize_us:.1f}, read_one {read_one_us:.1f}".format(**stages),
        flush=True,
    )
    base_fitsio_us = baseline_fitsio(paths[:2000])
    base_walk = baseline_stat_walk(archive)
    print(
        f"baseline: plain header read {base_read_us:.1f} µs/file, the same as a whole process with its walk "
        f"{base_read_process:,.0f} files/s, fitsio {base_fitsio_us:.0f} µs/file, stat walk {base_walk:,.0f} files/s",
        flush=True,
    )

    ledger = work / "bench.sqlite"
    # the best of three first scans (the one least disturbed on a shared machine), all three shown
    firsts = []
    for _ in range(3):
        for p in work.glob("bench.sqlite*"):
            p.unlink()
        firsts.append(run_scan_child(ledger, archive))
    rates = sorted(f["indexed"] / f["process_elapsed"] for f in firsts)
    first = min(firsts, key=lambda f: f["process_elapsed"])  # the rescans use the last run's ledger
    first_rate = rates[-1]
    print(f"first scans: {', '.join(f'{r:,.0f}' for r in rates)} frames/s", flush=True)
    print(
        f"first scan, whole process: {first['indexed']} frames in {first['process_elapsed']:.2f} s = "
        f"{first_rate:,.0f} frames/s ({first['process_elapsed'] / n * 1e6:.1f} µs/frame = "
        f"{first['process_elapsed'] / n * 1e6 / base_read_us:.1f}x the plain read); "
        f"the scan() call alone {first['indexed'] / first['elapsed']:,.0f} frames/s",
        flush=True,
    )
    size = sum(p.stat().st_size for p in work.glob("bench.sqlite*"))
    conn = L.connect(ledger)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = ledger.stat().st_size
    print(f"ledger: {size / n:.0f} bytes/frame ({size / 1e6:.1f} MB)", flush=True)
    cold = run_scan_child(ledger, archive)  # the first rescan also warms the ledger's pages
    cold_rate = cold["unchanged"] / cold["process_elapsed"]
    rescan = run_scan_child(ledger, archive)
    rescan_rate = rescan["unchanged"] / rescan["process_elapsed"]
    print(
        f"rescan, nothing changed: {rescan_rate:,.0f} files/s ({rescan_rate / base_walk:.2f}x the stat walk; "
        f"first rescan after the scan {cold_rate:,.0f} files/s)",
        flush=True,
    )

    friendly = work / f"friendly-{args.frames}"
    if not friendly.exists():
        generate_friendly(friendly, args.frames)
    baseline_read(files_of(friendly))
    for p in work.glob("bench-friendly.sqlite*"):
        p.unlink()
    fr = run_scan_child(work / "bench-friendly.sqlite", friendly)
    friendly_rate = fr["indexed"] / fr["process_elapsed"]
    print(f"first scan of the cache-friendly archive: {friendly_rate:,.0f} frames/s", flush=True)

    lat_archive = work / f"realistic-lat-{args.latency_frames}"
    if not lat_archive.exists():
        generate(lat_archive, args.latency_frames, seed=3)
    lat_paths = files_of(lat_archive)
    baseline_read(lat_paths)
    lat_ledger = work / "bench-lat.sqlite"
    for p in work.glob("bench-lat.sqlite*"):
        p.unlink()
    lat = run_scan_child(lat_ledger, lat_archive, latency_ms=1.0)
    lat_rate = lat["indexed"] / lat["process_elapsed"]
    print(
        f"scan with +1 ms per open: {lat_rate:,.0f} frames/s (serial floor: {1000 / (1 + base_read_us / 1000):,.0f}/s)",
        flush=True,
    )

    qledger = work / f"query-{args.query_frames}.sqlite"
    if not qledger.exists():
        el = build_query_ledger(qledger, args.query_frames)
        print(f"built a {args.query_frames}-frame ledger in {el:.1f} s", flush=True)
    c = L.connect(qledger, create=False)
    q_n = L.counting_frame_count(c)
    c.close()
    totals_ms = time_query(qledger, L.totals)
    sessions_ms = time_query(qledger, L.sessions)
    scan_count_ms = time_query(qledger, L.counting_frame_count, repeat=1)
    print(
        f"queries on {q_n:,} counting frames: totals {totals_ms:.1f} ms, sessions {sessions_ms:.1f} ms "
        f"(a GROUP BY over the exposures themselves: {scan_count_ms:.0f} ms just to count them)",
        flush=True,
    )

    rss_mb = max(first["rss_self_kb"], 1) / 1024
    rss_child_mb = first["rss_children_kb"] / 1024
    print(f"peak RSS: scanner {rss_mb:.0f} MB, largest reader process {rss_child_mb:.0f} MB", flush=True)

    figures = {
        "frames": n,
        "base_read_us": base_read_us,
        "base_read_process": base_read_process,
        "base_fitsio_us": base_fitsio_us,
        "base_walk": base_walk,
        "first_rate": first_rate,
        "first_us": first["process_elapsed"] / n * 1e6,
        "first_call_rate": first["indexed"] / first["elapsed"],
        "first_rates": rates,
        "rescan_rate": rescan_rate,
        "rescan_cold_rate": cold_rate,
        "lat_rate": lat_rate,
        "lat_frames": len(lat_paths),
        "bytes_per_frame": size / n,
        "rss_mb": rss_mb,
        "rss_child_mb": rss_child_mb,
        "query_frames": q_n,
        "totals_ms": totals_ms,
        "sessions_ms": sessions_ms,
        "scan_count_ms": scan_count_ms,
        "friendly_rate": friendly_rate,
        **stages,
    }
    print(json.dumps(figures))
    if args.record:
        record(figures)
    if not args.keep:
        shutil.rmtree(archive, ignore_errors=True)
        shutil.rmtree(lat_archive, ignore_errors=True)
        shutil.rmtree(friendly, ignore_errors=True)


def record(f: dict) -> None:
    cpu = os.cpu_count()
    date = datetime.now().strftime("%Y-%m-%d")

    def row(name, val, target, ok, scale):
        return f"| {name} | {val} | {target} | {'met' if ok else 'MISSED'} | {scale} |"

    lines = [
        f"## Scan benchmark — {date}, {cpu} CPUs, page cache warm, {f['frames']:,} realistic frames "
        "(gen_archive.py: headers that vary frame to frame)",
        "",
        f"Baselines measured in the same run: a plain `os.open`/`os.read`/`close` of the header bytes "
        f"**{f['base_read_us']:.1f} µs/file** ({1e6 / f['base_read_us']:,.0f} files/s) in a loop, and "
        f"**{f['base_read_process']:,.0f} files/s** as a whole Python process that walks the archive and "
        "reads every header's bytes (start-up included: the like-for-like floor of a whole-process "
        "scan, best of three); fitsio `read_header` "
        f"**{f['base_fitsio_us']:.0f} µs/file**; a scandir walk that stats every file "
        f"**{f['base_walk']:,.0f} files/s**.",
        "",
        "Reader stages in one process, every cache emptied first: header read + keyword layout "
        f"**{f['read_us']:.1f} µs**, normalise "
        f"(parsing only the cards it reads) **{f['normalize_us']:.1f} µs**, the whole `read_one` "
        f"**{f['read_one_us']:.1f} µs** per frame.",
        "",
        "| figure | measured | target | | vs baseline |",
        "|---|---|---|---|---|",
        row(
            "first full scan, whole process (start-up, walk, read, normalise, ledger, exit)",
            f"{f['first_rate']:,.0f} frames/s ({f['first_us']:.1f} µs/frame; best of three runs: "
            f"{', '.join(f'{r:,.0f}' for r in f['first_rates'])}; the scan call alone "
            f"{f['first_call_rate']:,.0f}/s)",
            "≥ 25,000 frames/s",
            f["first_rate"] >= 25_000,
            f"ratio {f['first_rate'] / f['base_read_process']:.3f} of the whole-process plain read, "
            f"{f['base_read_us'] / f['first_us']:.2f} of the plain read in a loop (target ≥ 0.2); "
            f"fitsio alone is {f['base_fitsio_us'] / f['first_us']:.0f}× slower",
        ),
        row(
            "first scan, cache-friendly archive (cards repeat; secondary, not the headline)",
            f"{f['friendly_rate']:,.0f} frames/s",
            "",
            True,
            "the old benchmark's archive",
        ),
        row(
            "rescan, nothing changed",
            f"{f['rescan_rate']:,.0f} files/s",
            "≥ 100,000 files/s",
            f["rescan_rate"] >= 100_000,
            f"{f['rescan_rate'] / f['base_walk']:.2f}× the stat walk "
            f"(the first rescan after the scan: {f['rescan_cold_rate']:,.0f} files/s)",
        ),
        row(
            f"scan with 1 ms added to every open ({f['lat_frames']:,} frames)",
            f"{f['lat_rate']:,.0f} frames/s",
            "≥ 8,000 frames/s",
            f["lat_rate"] >= 8_000,
            f"{f['lat_rate'] / 1000 * (1 + f['base_read_us'] / 1000):.1f}× a serial reader's ceiling",
        ),
        row(
            "ledger size",
            f"{f['bytes_per_frame']:.0f} bytes/frame",
            "≤ 300 bytes/frame",
            f["bytes_per_frame"] <= 300,
            "PL states 1–2 kB",
        ),
        row(
            "peak RSS of the 100k scan",
            f"{f['rss_mb']:.0f} MB (+ {f['rss_child_mb']:.0f} MB per reader process)",
            "≤ 250 MB",
            f["rss_mb"] + f["rss_child_mb"] * 2 <= 250,
            "scanner + 2 readers",
        ),
        row(
            f"Totals on a {f['query_frames']:,}-frame ledger",
            f"{f['totals_ms']:.1f} ms",
            "≤ 100 ms",
            f["totals_ms"] <= 100,
            f"counting the exposures directly takes {f['scan_count_ms']:.0f} ms",
        ),
        row(
            f"Sessions on a {f['query_frames']:,}-frame ledger",
            f"{f['sessions_ms']:.1f} ms",
            "≤ 100 ms",
            f["sessions_ms"] <= 100,
            "",
        ),
        "",
        "Reproduce: `python bench/scan_bench.py --record` (see the script's docstring for smaller runs).",
        "",
    ]
    replace_section("## Scan benchmark", lines)


if __name__ == "__main__":
    main()
