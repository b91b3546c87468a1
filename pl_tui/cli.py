"""The command line: headless scan and reports, and the demo. A thin face on the core.

Exit codes: 0 ok, 1 error (a clear message, never a traceback), 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sqlite3
import sys
import threading
from datetime import date
from pathlib import Path

from . import __version__, ledger
from .core.config import Config, ConfigError, check_poll, check_workers, default_ledger_path, load_config
from .core.errors import PlTuiError, UserInputError
from .domain import history, retag, rigs, triage
from .domain.explain import explain_file
from .domain.triage import BUCKET_COLUMNS, BUCKETS
from .export import (
    REPORTS,
    WRITERS,
    export_file,
    report_columns,
    report_rows,
    terminal_rows,
    write_report,
)
from .scan import scan
from .text import format_value, plain
from .watch import Watcher

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad argument: argparse prints it with the usage line and exits 2."""


def _parser() -> argparse.ArgumentParser:
    def add_globals(parser: argparse.ArgumentParser, default: object) -> None:
        # on sub-commands the default is SUPPRESS, or they would reset what came before them
        parser.add_argument(
            "--ledger", type=Path, default=default, help="ledger file (default: $PL_TUI_LEDGER or the user data dir)"
        )
        parser.add_argument(
            "--config", type=Path, default=default, help="TOML config file (default: the user config dir)"
        )

    common = argparse.ArgumentParser(add_help=False)
    add_globals(common, argparse.SUPPRESS)
    p = argparse.ArgumentParser(
        prog="pl-tui",
        description="Index the headers of your astrophotography sub-frames and answer 'what do I have?'. "
        "Plain 'pl-tui' (or 'pl-tui ARCHIVE...', which scans them first) opens the terminal app; "
        "'pl-tui demo' opens it on a generated demo archive. The commands below work without it.",
    )
    add_globals(p, None)
    p.add_argument("--version", action="version", version=f"pl-tui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("scan", parents=[common], help="scan archive folders into the ledger")
    s.add_argument("archives", nargs="+", metavar="ARCHIVE", help="archive root folder(s)")
    s.add_argument("--wait", action="store_true", help="wait for another scan of the same ledger to finish")
    s.add_argument("--workers", type=_workers, help="reader processes (default: one per CPU)")
    s.add_argument("--quiet", action="store_true", help="only the summary")
    s.add_argument("--watch", action="store_true", help="keep going: scan again as files arrive (Ctrl+C stops)")
    s.add_argument(
        "--poll", type=_poll, metavar="SECONDS",
        help="with --watch: rescan every SECONDS instead of waiting for change events (NFS/SMB shares: default 30)",
    )  # fmt: skip

    def add_format(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")

    def add_filters(parser: argparse.ArgumentParser, frames: bool) -> None:
        parser.add_argument("--target", help="only this target (as shown, e.g. M31)")
        parser.add_argument("--filter", help="only this filter (as shown, e.g. Ha; '-' for none)")
        parser.add_argument("--since", type=_night, metavar="YYYY-MM-DD", help="only nights from this one on")
        parser.add_argument("--until", type=_night, metavar="YYYY-MM-DD", help="only nights up to this one")
        if frames:
            parser.add_argument("--status", choices=STATUSES, help="only frames with this status (frames report)")
            parser.add_argument("--bucket", choices=BUCKETS, help="only frames in this bucket (frames report)")

    for name, help_ in (
        ("totals", "hours and frames per target x filter"),
        ("sessions", "frames and exposure per night x target x filter"),
        ("frames", "every indexed file"),
    ):
        r = sub.add_parser(name, parents=[common], help=help_)
        add_filters(r, frames=name == "frames")
        add_format(r)

    e = sub.add_parser("export", parents=[common], help="write a report as CSV or JSON (stdout, or -o FILE)")
    e.add_argument("report", choices=REPORTS)
    e.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout")
    e.add_argument("--force", action="store_true", help="replace FILE if it exists")
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument(
        "--allow-missing-filter-ids",
        action="store_true",
        help="astrobin: leave the filter empty where [astrobin.filters] has no id for it",
    )
    add_filters(e, frames=True)

    b = sub.add_parser("buckets", parents=[common], help="frames that need a look: counts, or one bucket's frames")
    b.add_argument("name", nargs="?", choices=BUCKETS, help="list the frames of this bucket")
    b.add_argument("--format", choices=("table", "json"), default="table")

    t = sub.add_parser(
        "retag",
        parents=[common],
        help="set target, filter, frame type or status on a selection (in the ledger only)",
        description="Set fields on the frames that match every --where. The files are never changed; "
        "'pl-tui undo' reverts. Values: '-' selects frames without a value (--where) or drops the "
        "override (--set); session_date takes a night or FIRST..LAST; path is a glob on the full path.",
    )
    t.add_argument(
        "--where", action="append", default=[], metavar="FIELD=VALUE", required=True,
        help="target, filter, image_type, status, path (glob), session_date, bucket",
    )  # fmt: skip
    t.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", required=True,
        dest="changes", help="target, filter, image_type or status (accepted|rejected)",
    )  # fmt: skip
    t.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    sub.add_parser("undo", parents=[common], help="revert the last retag, alias or rig change (again: the one before)")
    a = sub.add_parser(
        "alias",
        parents=[common],
        help="a global rename rule: alias target 'Andromeda Galaxy' M31; no arguments: list the rules",
    )
    a.add_argument("kind", nargs="?", choices=("target", "filter"))
    a.add_argument("from_name", nargs="?", metavar="FROM")
    a.add_argument("to_name", nargs="?", metavar="TO")
    a.add_argument("--remove", action="store_true", help="drop the rule for FROM")
    lg = sub.add_parser("log", parents=[common], help="the audit log of retags, aliases and rig names, newest first")
    add_format(lg)

    rg = sub.add_parser("rigs", parents=[common], help="rigs with their hours; rename, merge; rig changes")
    rg.add_argument("action", nargs="?", choices=("list", "rename", "merge", "changes"), default="list")
    rg.add_argument("names", nargs="*", metavar="RIG", help="rename OLD NEW | merge SOURCE INTO")
    rg.add_argument("--target", help="changes: only this target")
    add_format(rg)
    sq = sub.add_parser("sequencers", parents=[common], help="frames per capture program and version")
    add_format(sq)
    se = sub.add_parser("sensor", parents=[common], help="sensor temperature vs set-point per rig and night")
    se.add_argument("--rig", help="only this rig (its name)")
    se.add_argument("--flagged", action="store_true", help="only nights with frames more than 1 °C off")
    add_format(se)
    go = sub.add_parser("goals", parents=[common], help="hour goals per target x filter, most starved first")
    go.add_argument("--set", nargs=3, metavar=("TARGET", "FILTER", "HOURS"), help="set a goal (0 removes it)")
    add_format(go)
    ca = sub.add_parser("calibration", parents=[common], help="darks, flats, flat-darks, bias for each light session")
    ca.add_argument("--target", help="only this target")
    ca.add_argument("--missing", action="store_true", help="only sessions missing some calibration")
    add_format(ca)

    ex = sub.add_parser(
        "explain", parents=[common], help="why a frame does or does not count: each field's origin, every rule"
    )
    ex.add_argument("files", nargs="+", metavar="FILE", help="FITS/XISF files (need not be scanned yet)")
    ex.add_argument("--format", choices=("text", "json"), default="text")

    d = sub.add_parser("demo", parents=[common], help="build the demo archive and open it")
    d.add_argument("--dir", type=Path, help="where to write the demo archive (default: the user data dir)")
    d.add_argument("--headless", action="store_true", help="scan it and print the totals instead of opening the app")
    return p


STATUSES = ("accepted", "duplicate", "rejected", "derived", "missing", "unreadable")


def _night(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _workers(text: str) -> int:
    try:
        return check_workers(int(text))
    except ValueError as e:  # UserInputError is a ValueError
        message = str(e) if isinstance(e, UserInputError) else f"not a whole number: {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _poll(text: str) -> float:
    try:
        return check_poll(text)
    except UserInputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def say(text: object, file=None) -> None:
    """Print a line the user reads: every line through plain() (header text and paths may carry
    a screen clear, a title change, an OSC 52 clipboard write: they reach the screen as '�')."""
    print("\n".join(plain(line) for line in str(text).split("\n")), file=file or sys.stdout)


def _has_command(argv: list[str]) -> bool:
    """Is there a sub-command, or only options and archive folders (open the app)?"""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--ledger", "--config"):
            skip = True
        elif a.startswith("-"):
            if a in ("-h", "--help", "--version"):
                return True
        else:
            return a in COMMANDS
    return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not _has_command(argv):
        return _open_app(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    # a file name may hold bytes that are not UTF-8: print them as they are, never crash on them
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    # No traceback reaches the user: what the user typed → 2 with the usage line; the
    # ledger, the config, an export → 1 with one line saying what is wrong and what to do.
    try:
        config = load_config(args.config)
        for warning in config.warnings:
            say(f"pl-tui: warning: {warning}", sys.stderr)
        return COMMANDS[args.command](args, config)
    except (UsageError, UserInputError) as e:
        parser.error(plain(str(e)))  # exits 2
    except PlTuiError as e:  # LedgerError, ConfigError, ExportError
        say(f"pl-tui: {e}", sys.stderr)
        return EXIT_ERROR
    except sqlite3.Error as e:  # anything the ledger module did not already turn into a LedgerError
        say(f"pl-tui: {ledger.ledger_trouble(_ledger_path(args), e)}", sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        say("pl-tui: interrupted", sys.stderr)
        return 130
    except BrokenPipeError:
        # `pl-tui frames | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:  # a full disk under `> file`, a terminal gone away
        where = f" ({plain(os.fsdecode(e.filename))})" if e.filename else ""
        say(f"pl-tui: {e.strerror or e}{where}; check the disk and try again", sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _ledger_path(args: argparse.Namespace) -> Path:
    return (args.ledger or default_ledger_path()).expanduser()


# ---------------------------------------------------------------------------------------------
# scan


def cmd_scan(args: argparse.Namespace, config: Config) -> int:
    for a in args.archives:
        if not os.path.isdir(os.path.expanduser(a)):
            raise UsageError(f"archive folder not found: {a}")
    if args.poll is not None and not args.watch:
        raise UsageError("--poll goes with --watch")
    if args.watch:
        return _watch(_ledger_path(args), args.archives, config, args.workers, args.poll)
    return _run_scan(_ledger_path(args), args.archives, config, args.wait, args.workers, args.quiet)


def _watch(ledger_path: Path, archives: list[str], config: Config, workers: int | None, poll: float | None) -> int:
    """``scan --watch``: a line per scan that found something, until Ctrl+C or SIGTERM."""
    import time as _time

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda signum, frame: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}

    def on_scan(p) -> None:
        if p.new or p.changed or p.missing or p.unreadable or p.deferred:
            print(
                f"{_time.strftime('%H:%M:%S')} new {p.new}, changed {p.changed}, missing {p.missing}, "
                f"unreadable {p.unreadable}, waiting to settle {p.deferred}",
                flush=True,
            )

    watcher = Watcher(ledger_path, [os.path.expanduser(a) for a in archives], config, stop, on_scan, poll, workers)
    how = "change events" if watcher.uses_events else f"a rescan every {poll or 30:g} s"
    say(f"watching {', '.join(watcher.roots)} ({how}); Ctrl+C stops")
    sys.stdout.flush()
    try:
        watcher.run()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    print("stopped", flush=True)
    return EXIT_OK


def _run_scan(
    ledger_path: Path, archives: list[str], config: Config, wait: bool, workers: int | None, quiet: bool
) -> int:
    stop = threading.Event()
    # Ctrl+C / SIGTERM: stop cleanly, keeping what was read (the next scan resumes), print the
    # summary, exit 128 + the signal (130 for Ctrl+C). A second one stops at once.
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    stopped_by: list[int] = []

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stopped_by.append(signum)
        stop.set()

    for s in previous:
        signal.signal(s, on_signal)
    try:
        if quiet:
            final = scan(ledger_path, archives, config, stop=stop, wait_for_lock=wait, workers=workers)
        elif sys.stderr.isatty():
            final = _scan_with_bar(ledger_path, archives, config, stop, wait, workers)
        else:
            final = scan(
                ledger_path,
                archives,
                config,
                stop=stop,
                wait_for_lock=wait,
                workers=workers,
                progress=_plain_progress(),
            )
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    _print_summary(final, ledger_path)
    if final.state == "cancelled":
        return 128 + stopped_by[0] if stopped_by else EXIT_ERROR
    return EXIT_OK


def _plain_progress():
    last = [0.0]

    def show(p) -> None:
        for path, reason in p.new_unreadable:
            say(f"unreadable: {path}: {reason}", sys.stderr)
        if p.done or p.elapsed_s - last[0] >= 2:
            last[0] = p.elapsed_s
            print(
                f"scanning: {p.found} found, {p.new} new, {p.changed} changed, {p.unchanged} unchanged, "
                f"{p.unreadable} unreadable, {p.rate:.0f} frames/s",
                file=sys.stderr,
            )

    return show


def _scan_with_bar(ledger_path: Path, archives: list[str], config: Config, stop: threading.Event, wait: bool, workers):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.fields[of]}"),  # the total: ≈ until the walk is done
        TextColumn("{task.fields[rate]} frames/s"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[folder]}", markup=False),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("scanning", total=None, rate="0", folder="", of="?")

        def show(p) -> None:
            for path, reason in p.new_unreadable:
                bar.console.print(Text(f"unreadable: {plain(path)}: {plain(reason)}", style="yellow"))
            done = p.processed
            folder = plain(p.current_folder)
            if len(folder) > 40:
                folder = "…" + folder[-39:]
            bar.update(
                task,
                completed=done,
                total=p.total,
                of=p.total_text,
                rate=f"{p.rate:.0f}",
                folder=folder,
            )

        return scan(ledger_path, archives, config, stop=stop, wait_for_lock=wait, workers=workers, progress=show)


def _print_summary(p, ledger_path: Path) -> None:
    rate = p.indexed / p.elapsed_s if p.elapsed_s > 0 else 0.0
    state = "" if p.state == "complete" else f" ({p.state}: what was read is kept; scan again to resume)"
    print(
        f"indexed {p.indexed}, new {p.new}, changed {p.changed}, unchanged {p.unchanged}, "
        f"unreadable {p.unreadable}, missing {p.missing}, deferred {p.deferred}, "
        f"elapsed {p.elapsed_s:.1f} s, {rate:.0f} frames/s{state}"
    )
    for problem in p.problems:
        say(f"warning: {problem}", sys.stderr)
    if p.deferred:
        print(f"{p.deferred} files are still being written (settle window); the next scan picks them up")
    if p.unreadable:
        say(f"{p.unreadable} unreadable files: pl-tui --ledger {ledger_path} buckets unreadable")


# ---------------------------------------------------------------------------------------------
# reports


def _where(args: argparse.Namespace) -> ledger.FrameFilter:
    return ledger.FrameFilter(
        target=args.target,
        filter=args.filter,
        status=getattr(args, "status", None),
        bucket=getattr(args, "bucket", None),
        since=args.since,
        until=args.until,
    )


def cmd_report(args: argparse.Namespace, config: Config) -> int:
    with ledger.reading(_ledger_path(args)) as conn:
        if args.format == "table":
            _table(report_columns(args.command), report_rows(conn, args.command, _where(args)))
        else:
            with _stdout() as out:
                write_report(conn, args.command, out, args.format, _where(args), for_terminal=sys.stdout.isatty())
    return EXIT_OK


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    if args.report != "frames" and (args.status or args.bucket):
        raise UsageError("--status and --bucket apply to the frames report")
    if args.report == "astrobin" and not args.target:
        raise UsageError("the astrobin export is for one target: give --target")
    with ledger.reading(_ledger_path(args)) as conn:
        options = {
            "astrobin_filters": config.astrobin_filters,
            "allow_missing_filter_ids": args.allow_missing_filter_ids,
            "flat_nights": config.flat_nights,  # the same matching as `pl-tui calibration`
        }
        if args.output is None:
            with _stdout() as out:
                write_report(
                    conn, args.report, out, args.format, _where(args), for_terminal=sys.stdout.isatty(), **options
                )
        else:
            n = export_file(conn, args.report, args.output, args.format, args.force, _where(args), **options)
            say(f"wrote {n} rows to {args.output}", sys.stderr)
    return EXIT_OK


@contextlib.contextmanager
def _stdout():
    """Reports go to stdout as UTF-8 bytes, CRLF untouched, whatever the locale."""
    sys.stdout.flush()
    stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="surrogateescape", newline="")
    try:
        yield stream
        stream.flush()
    finally:
        stream.detach()


def _emit(fmt: str, columns: tuple[str, ...], rows) -> None:
    if fmt == "table":
        _table(columns, rows)
    else:
        with _stdout() as out:
            WRITERS[fmt](out, columns, terminal_rows(rows) if sys.stdout.isatty() else rows)


NUMERIC_COLUMNS = frozenset(
    ("total_hours", "frame_count", "total_exposure_s", "exposure_s", "gain", "ccd_temp", "xbinning", "focallen")
)
TABLE_PAGE = 500  # the rows that set the column widths; the rest stream under them


def _table(columns: tuple[str, ...], rows) -> None:
    """Print rows as a table while they come: the column widths are measured on the first page,
    then every row is formatted and written at once (22,000 frames: no table held in memory).
    On a terminal the columns fit its width and a longer value folds onto more lines; in a pipe
    or a file nothing is cut or folded (a value wider than its column just pushes the row)."""
    import itertools
    import shutil

    from rich.cells import cell_len, chop_cells, set_cell_size

    rows = iter(rows)
    first = [tuple(plain(v) for v in row) for row in itertools.islice(rows, TABLE_PAGE)]
    if not first:
        print("(no rows)")
        return
    widths = [max(cell_len(c), *(cell_len(r[i]) for r in first)) for i, c in enumerate(columns)]
    tty = sys.stdout.isatty()
    if tty:
        room = shutil.get_terminal_size().columns - 1 - 2 * (len(columns) - 1) - 1
        while sum(widths) > room and max(widths) > 6:  # narrow the widest column, down to 6 cells
            widths[widths.index(max(widths))] -= 1
    right = [c in NUMERIC_COLUMNS for c in columns]

    def cell(text: str, i: int) -> str:
        pad = widths[i] - cell_len(text)
        if pad <= 0:
            return text
        return " " * pad + text if right[i] else text + " " * pad

    def lines(values: tuple[str, ...]) -> str:
        if not tty or all(cell_len(v) <= w for v, w in zip(values, widths, strict=True)):
            return " " + "  ".join(cell(v, i) for i, v in enumerate(values)).rstrip() + "\n"
        parts = [chop_cells(v, w) or [""] for v, w in zip(values, widths, strict=True)]
        out = []
        for k in range(max(map(len, parts))):
            out.append(
                " " + "  ".join(cell(p[k] if k < len(p) else "", i) for i, p in enumerate(parts)).rstrip() + "\n"
            )
        return "".join(out)

    with _stdout() as out:
        out.write(lines(tuple(set_cell_size(c, min(cell_len(c), w)) for c, w in zip(columns, widths, strict=True))))
        out.write(" " + "─" * (sum(widths) + 2 * (len(columns) - 1)) + "\n")
        for row in first:
            out.write(lines(row))
        for row in rows:
            out.write(lines(tuple(plain(v) for v in row)))


# ---------------------------------------------------------------------------------------------
# buckets


def cmd_buckets(args: argparse.Namespace, config: Config) -> int:
    with ledger.reading(_ledger_path(args)) as conn:
        if args.name is None:
            counts, merges = triage.overview(conn)
            _emit(args.format, ("bucket", "frames"), list(counts.items()))
            if args.format == "table":
                for m in merges:
                    print(
                        f"{plain(m.source)} ({m.source_frames} frames) and {plain(m.into)} ({m.into_frames}) point "
                        f"{m.separation_deg:.2f}° apart; merge: pl-tui alias target {_quote(m.source)} {_quote(m.into)}"
                    )
        else:
            rows = ((r.path, r.target, r.filter, r.session_date, r.why) for r in triage.bucket_rows(conn, args.name))
            _emit(args.format, BUCKET_COLUMNS, rows)
    return EXIT_OK


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(plain(s))


# ---------------------------------------------------------------------------------------------
# retag, undo, alias, log


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--{what} takes FIELD=VALUE, not {item!r}")
        out[field.strip().lower()] = value
    return out


def cmd_retag(args: argparse.Namespace, config: Config) -> int:
    where = retag.parse_where(args.where)  # a RetagError is a UserInputError: exit 2
    changes = {f: retag.normalise_value(f, v) for f, v in _pairs(args.changes, "set").items()}
    with ledger.writing(_ledger_path(args)) as conn:
        chosen = retag.select(conn, where)
        if args.dry_run:
            say(f"would retag {retag.preview(conn, chosen, changes).describe(changes)}")
            return EXIT_OK
        result = retag.retag(conn, chosen, changes, where.describe())
    if result.audit_id is None:
        say(f"no frame changes ({len(chosen)} frames match, all already so)")
    else:
        say(f"retagged {result.description}  (revert: pl-tui undo)")
    return EXIT_OK


def cmd_undo(args: argparse.Namespace, config: Config) -> int:
    with ledger.writing(_ledger_path(args)) as conn:
        entry = history.undo(conn)
    if entry is None:
        say("nothing to undo")
    else:
        say(f"undid {entry.action} of {entry.when} ({entry.selection}): {entry.description}")
    return EXIT_OK


def cmd_alias(args: argparse.Namespace, config: Config) -> int:
    if args.kind is None:
        with ledger.reading(_ledger_path(args)) as conn:
            rows = [(a.kind, a.from_name, a.to_name, a.source, a.frames) for a in retag.aliases(conn)]
        _emit("table", ("kind", "from", "to", "source", "frames"), rows)
        return EXIT_OK
    if args.from_name is None or (args.to_name is None) != args.remove:
        raise UsageError("alias target|filter FROM TO, or alias target|filter FROM --remove")
    with ledger.writing(_ledger_path(args)) as conn:  # a RetagError is a UserInputError: exit 2
        result = retag.set_alias(conn, args.kind, args.from_name, args.to_name)
    say(result.description + ("  (revert: pl-tui undo)" if result.audit_id else ""))
    return EXIT_OK


def cmd_log(args: argparse.Namespace, config: Config) -> int:
    with ledger.reading(_ledger_path(args)) as conn:
        entries = history.audit_log(conn, limit=10_000)
    rows = [
        (e.id, e.when, e.action, e.selection, e.description, e.frames, "undone" if e.undone_ms else "") for e in entries
    ]
    _emit(args.format, ("id", "when", "action", "selection", "change", "frames", "state"), rows)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# rigs, sequencers, sensor, goals, calibration


def cmd_rigs(args: argparse.Namespace, config: Config) -> int:
    wanted = {"list": 0, "changes": 0, "rename": 2, "merge": 2}[args.action]
    if len(args.names) != wanted:
        raise UsageError("rigs rename OLD NEW | rigs merge SOURCE INTO | rigs | rigs changes [--target T]")
    if args.action in ("rename", "merge"):
        with ledger.writing(_ledger_path(args)) as conn:
            change = rigs.rename_rig if args.action == "rename" else rigs.merge_rigs
            say(change(conn, *args.names) + "  (revert: pl-tui undo)")
        return EXIT_OK
    with ledger.reading(_ledger_path(args)) as conn:
        if args.action == "changes":
            changes = [
                (c.target, c.night, "; ".join(c.before), "; ".join(c.after))
                for c in rigs.rig_changes(conn, args.target)
            ]
            _emit(args.format, ("target", "night", "before", "after"), changes)
            return EXIT_OK
        rows = [
            (r.name, r.key, ", ".join(f"{k} ({n})" for k, n in r.configurations.items()), r.frames, round(r.hours, 4),
             r.first_night, r.last_night, r.image_scale_text or None)
            for r in rigs.rigs(conn)
        ]  # fmt: skip
        _emit(
            args.format,
            ("rig", "fingerprint", "configurations", "frame_count", "total_hours", "first_seen", "last_seen",
             "image_scale"),
            rows,
        )  # fmt: skip
    return EXIT_OK


def cmd_sequencers(args: argparse.Namespace, config: Config) -> int:
    with ledger.reading(_ledger_path(args)) as conn:
        _emit(args.format, ("sequencer", "software", "frame_count"), rigs.sequencers(conn))
    return EXIT_OK


def cmd_sensor(args: argparse.Namespace, config: Config) -> int:
    with ledger.reading(_ledger_path(args)) as conn:
        nights = [n for n in rigs.sensor_nights(conn, args.rig) if n.flagged or not args.flagged]
    rows = [(n.rig, n.night, n.frames, round(n.ccd_temp, 2), n.set_temp, n.off, n.gain, n.offset) for n in nights]
    _emit(args.format, ("rig", "night", "frame_count", "ccd_temp", "set_temp", "frames_off", "gain", "offset"), rows)
    return EXIT_OK


def cmd_goals(args: argparse.Namespace, config: Config) -> int:
    if args.set:
        target, filt, hours_text = args.set
        try:
            hours = float(hours_text)
        except ValueError:
            raise UsageError(f"hours must be a number, not {hours_text!r}") from None
        # set_goal refuses NaN, infinities and negative hours (a UserInputError: exit 2)
        with ledger.writing(_ledger_path(args)) as conn:
            rigs.set_goal(
                conn,
                retag.normalise_value("target", target) or target,
                retag.normalise_value("filter", filt) or filt,
                hours,
            )
    with ledger.reading(_ledger_path(args)) as conn:
        rows = [
            (g.target, g.filter, g.goal_hours, round(g.hours, 4), round(100 * g.fraction, 1))
            for g in rigs.goals(conn, config.goals)
        ]
    _emit(args.format, ("target", "filter", "goal_hours", "total_hours", "percent"), rows)
    return EXIT_OK


def cmd_calibration(args: argparse.Namespace, config: Config) -> int:
    with ledger.reading(_ledger_path(args)) as conn:
        sessions = [c for c in rigs.calibration(conn, args.target, config.flat_nights) if c.missing or not args.missing]
    rows = [
        (c.night, c.target, c.filter, c.camera, c.exposure_s, c.frames, c.darks, c.flats, c.flat_darks, c.biases,
         "; ".join(c.missing))
        for c in sessions
    ]  # fmt: skip
    columns = ("session_date", "target", "filter", "instrume", "exposure_s", "frame_count", "darks", "flats",
               "flat_darks", "bias", "missing")  # fmt: skip
    _emit(args.format, columns, rows)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# demo


def cmd_explain(args: argparse.Namespace, config: Config) -> int:
    ledger_path = _ledger_path(args)
    found = ledger_path if ledger_path.exists() else None
    status = EXIT_OK
    out = []
    for f in args.files:
        if not os.path.lexists(f):
            say(f"pl-tui: {f}: no such file", sys.stderr)
            status = EXIT_ERROR
            continue
        ex = explain_file(f, config, found)
        if args.format == "json":
            out.append(
                {
                    "path": ex.path,
                    "counts": ex.counts,
                    "verdict": ex.verdict,
                    "fields": {x.name: {"value": x.value, "from": x.origin} for x in ex.fields},
                    "rules": ex.rules,
                }
            )
            continue
        print(plain(ex.path))
        print(f"  {plain(ex.verdict)}")
        width = max((len(x.name) for x in ex.fields), default=0)
        values = [plain(format_value(x.value)) for x in ex.fields]
        vwidth = min(30, max((len(v) for v in values), default=0))
        for x, v in zip(ex.fields, values, strict=True):
            print(f"  {x.name:<{width}}  {v:<{vwidth}}  {plain(x.origin)}")
        for r in ex.rules:
            print(f"  - {plain(r)}")
    if args.format == "json":
        with _stdout() as stream:
            json.dump(out, stream, ensure_ascii=False, indent=1, default=str)
            stream.write("\n")
    return status


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    import platformdirs

    data = Path(platformdirs.user_data_dir("pl-tui", appauthor=False))
    archive = (args.dir or data / "demo-archive").expanduser()
    # the demo keeps its own ledger unless told otherwise: it must not mix into the user's
    ledger_path = args.ledger or (
        Path(os.environ["PL_TUI_LEDGER"]) if os.environ.get("PL_TUI_LEDGER") else data / "demo-ledger.sqlite"
    )
    if not (archive / "README.txt").exists():
        if archive.exists() and any(archive.iterdir()):
            raise UsageError(f"{archive} exists and is not a pl-tui demo archive; choose another --dir")
        from .demo import build_demo_archive  # fitsgen and its XML writer: only the demo needs them

        counts = build_demo_archive(archive)
        say(f"wrote the demo archive to {archive} ({sum(counts.values())} files)")
    # the demo's files were all written a moment ago: no settle window for them
    demo_config = Config(settle_seconds=0, path=config.path, astrobin_filters=config.astrobin_filters)
    if not args.headless:
        rc = _run_app(ledger_path, demo_config, [str(archive)])
        own = args.ledger is None and not os.environ.get("PL_TUI_LEDGER")
        print(
            plain(f"The demo keeps its own ledger, apart from your archives': {ledger_path}")
            if own
            else plain(f"The demo used the ledger {ledger_path}")
        )
        print(plain(f"Open it again:  pl-tui --ledger {ledger_path}    (the demo archive: {archive})"))
        return rc
    rc = _run_scan(ledger_path, [str(archive)], demo_config, False, None, True)
    with ledger.reading(ledger_path) as conn:
        print()
        _emit("table", report_columns("totals"), report_rows(conn, "totals"))
        print("buckets: " + ", ".join(f"{k} {n}" for k, n in triage.bucket_counts(conn).items()))
    print()
    say(f"explore it:  pl-tui --ledger {ledger_path} sessions --target M81")
    return rc


def _open_app(argv: list[str]) -> int:
    """``pl-tui [--ledger L] [--config C] [ARCHIVE...]``: the terminal app (scanning ARCHIVE first)."""
    p = argparse.ArgumentParser(prog="pl-tui", description="Open the terminal app (see 'pl-tui --help' for commands).")
    p.add_argument("--ledger", type=Path)
    p.add_argument("--config", type=Path)
    p.add_argument("archives", nargs="*", metavar="ARCHIVE")
    args = p.parse_args(argv)
    for a in args.archives:
        if not os.path.isdir(os.path.expanduser(a)):
            p.error(f"archive folder not found: {a} (commands: {', '.join(COMMANDS)})")
    try:
        config = load_config(args.config)
    except ConfigError as e:
        say(f"pl-tui: {e}", sys.stderr)
        return EXIT_ERROR
    for warning in config.warnings:
        say(f"pl-tui: warning: {warning}", sys.stderr)
    return _run_app(_ledger_path(args), config, [os.path.abspath(os.path.expanduser(a)) for a in args.archives])


def _run_app(ledger_path: Path, config: Config, archives: list[str]) -> int:
    import asyncio

    from .app import PlTuiApp  # Textual is imported only when the app opens: CLI commands start fast

    app = PlTuiApp(ledger_path, config, archives)

    def hang_up(signum, frame):
        try:
            asyncio.get_event_loop().call_soon_threadsafe(app.exit)
        except RuntimeError:
            raise SystemExit(EXIT_ERROR) from None

    signal.signal(signal.SIGHUP, hang_up)
    app.run()
    return EXIT_OK


COMMANDS = {
    "scan": cmd_scan,
    "totals": cmd_report,
    "sessions": cmd_report,
    "frames": cmd_report,
    "export": cmd_export,
    "buckets": cmd_buckets,
    "retag": cmd_retag,
    "undo": cmd_undo,
    "alias": cmd_alias,
    "log": cmd_log,
    "rigs": cmd_rigs,
    "sequencers": cmd_sequencers,
    "sensor": cmd_sensor,
    "goals": cmd_goals,
    "calibration": cmd_calibration,
    "explain": cmd_explain,
    "demo": cmd_demo,
}


if __name__ == "__main__":
    sys.exit(main())
