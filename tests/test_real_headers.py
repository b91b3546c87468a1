"""Real capture-program headers (tests/fixtures/real/): each one written as a FITS file where its
program puts it, scanned through the real path, and checked against what a careful imager expects
(SPEC §2–§5). The corpus and its sources are in tests/fixtures/real/corpus.json; nothing in it is
invented — see each entry's ``source`` and ``notes``."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.export import report_columns, report_rows

CORPUS_DIR = Path(__file__).parent / "fixtures" / "real"
ENTRIES: list[dict] = json.loads((CORPUS_DIR / "corpus.json").read_text(encoding="utf-8"))
BY_SLUG = {e["slug"]: e for e in ENTRIES}

BLOCK = 2880
CARD = 80
DATA_CAP = 512 * 1024 * 1024  # apparent size only: the data unit is a hole (sparse file)


# ---------------------------------------------------------------------------------------------
# Writing a corpus entry as a FITS file


def header_cards(slug: str) -> list[str]:
    lines = (CORPUS_DIR / f"{slug}.hdr").read_text(encoding="utf-8").split("\n")
    return [line.rstrip("\r") for line in lines if line.strip()]


def header_bytes(cards: list[str]) -> bytes:
    """The cards as a FITS header: each left-justified and padded to 80 bytes of UTF-8 (as real
    N.I.N.A. writes a non-ASCII card), an END card if the source had none, padded with spaces to
    a whole number of 2880-byte blocks."""
    if not any(c[:8].rstrip() == "END" and not c[8:].strip() for c in cards):
        cards = [*cards, "END"]
    out = bytearray()
    for card in cards:
        raw = card.encode("utf-8")
        assert len(raw) <= CARD, f"card longer than 80 bytes: {card!r}"
        out += raw.ljust(CARD, b" ")
        if card[:8].rstrip() == "END" and not card[8:].strip():
            break
    out += b" " * (-len(out) % BLOCK)
    return bytes(out)


def _int_card(cards: list[str], key: str) -> int | None:
    for c in cards:
        if c[:8].rstrip() == key and c[8:10] == "= ":
            value = c[10:].split("/", 1)[0].strip()
            try:
                return int(float(value))
            except ValueError:
                return None
    return None


def data_size(cards: list[str]) -> int:
    """The declared data unit (|BITPIX|/8 × ΠNAXISn), padded to 2880, capped."""
    bitpix, naxis = _int_card(cards, "BITPIX"), _int_card(cards, "NAXIS")
    if not bitpix or not naxis:
        return 0
    n = abs(bitpix) // 8
    for i in range(1, naxis + 1):
        n *= _int_card(cards, f"NAXIS{i}") or 0
    n += -n % BLOCK
    return min(n, DATA_CAP)


def write_entry(archive: Path, entry: dict) -> Path:
    cards = header_cards(entry["slug"])
    path = archive / entry["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    head = header_bytes(cards)
    path.write_bytes(head)
    os.truncate(path, len(head) + data_size(cards))  # sparse data unit
    st = path.stat()  # older than the settle window: the scanner defers files newer than 30 s
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 3600 * 1_000_000_000))
    return path


# ---------------------------------------------------------------------------------------------
# Reading the ledger through the reports


def frames(ledger_path: Path) -> list[dict]:
    conn = L.connect(ledger_path, create=False)
    try:
        columns = report_columns("frames")
        return [dict(zip(columns, row, strict=False)) for row in report_rows(conn, "frames")]
    finally:
        conn.close()


def report_sum(ledger_path: Path, report: str) -> int:
    conn = L.connect(ledger_path, create=False)
    try:
        columns = report_columns(report)
        i = columns.index("frame_count")
        return sum(row[i] for row in report_rows(conn, report))
    finally:
        conn.close()


def row_for(rows: list[dict], archive: Path, entry: dict) -> dict | None:
    want = os.path.normpath(str(archive / entry["path"]))
    for row in rows:
        p = str(row.get("path") or "")
        if os.path.normpath(p) == want or os.path.normpath(os.path.join(archive, p)) == want:
            return row
    return None


def _same_instant(expected: str, got: object) -> bool:
    if not isinstance(got, str) or not got:
        return False
    try:
        a = datetime.fromisoformat(expected.replace("Z", "+00:00"))
        b = datetime.fromisoformat(got.replace("Z", "+00:00"))
    except ValueError:
        return False
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return abs(a - b) < timedelta(milliseconds=1)  # ms precision, whether truncated or rounded


def _close(expected: float, got: object) -> bool:
    return isinstance(got, int | float) and math.isclose(float(got), expected, rel_tol=1e-6, abs_tol=1e-9)


def mismatches(entry: dict, row: dict, counted: int) -> list[str]:
    exp = entry["expected"]
    out: list[str] = []

    def differs(field: str, want: object, got: object) -> None:
        out.append(f"{field}: expected {want!r}, got {got!r}")

    for field, column in (
        ("image_type", "image_type"),
        ("status", "status"),
        ("target", "target"),
        ("filter", "filter"),
        ("session_date", "session_date"),
        ("instrume", "instrume"),
    ):
        if field in exp:
            got = row.get(column)
            if isinstance(got, str) and field == "instrume":
                got = got.strip()
            if got != exp[field]:
                differs(field, exp[field], got)
    for field, column in (("exposure_s", "exposure_s"), ("focallen_mm", "focallen")):
        if field in exp and not _close(exp[field], row.get(column)):
            differs(field, exp[field], row.get(column))
    if "date_obs_utc" in exp:
        want, got = exp["date_obs_utc"], row.get("date_obs_utc")
        if (want is None and got is not None) or (want is not None and not _same_instant(want, got)):
            differs("date_obs_utc", want, got)
    if "counts" in exp and (counted == 1) != exp["counts"]:
        differs("counts", exp["counts"], counted == 1)
    return out


# ---------------------------------------------------------------------------------------------


def test_corpus_is_well_formed() -> None:
    slugs = [e["slug"] for e in ENTRIES]
    assert len(slugs) == len(set(slugs))
    assert len({e["path"] for e in ENTRIES}) == len(ENTRIES)
    on_disk = {p.stem for p in CORPUS_DIR.glob("*.hdr")}
    assert on_disk == set(slugs)
    for e in ENTRIES:
        assert {"slug", "program", "version", "source", "notes", "path", "expected"} <= e.keys(), e["slug"]
        assert "counts" in e["expected"], e["slug"]
        for card in header_cards(e["slug"]):
            assert len(card.encode("utf-8")) <= CARD, (e["slug"], card)


@pytest.mark.parametrize("slug", [e["slug"] for e in ENTRIES])
def test_real_header(slug: str, archive: Path, run_scan, ledger_path: Path) -> None:
    entry = BY_SLUG[slug]
    write_entry(archive, entry)
    progress = run_scan(archive)
    assert progress.unreadable == 0, f"{slug}: read as unreadable"
    row = row_for(frames(ledger_path), archive, entry)
    assert row is not None, f"{slug}: not in the Frames report"
    counted = report_sum(ledger_path, "totals")
    problems = mismatches(entry, row, counted)
    assert not problems, f"{slug} ({entry['program']} {entry['version'] or ''}):\n  " + "\n  ".join(problems)


def test_whole_corpus_in_one_archive(archive: Path, run_scan, ledger_path: Path) -> None:
    for entry in ENTRIES:
        write_entry(archive, entry)
    run_scan(archive)
    counting = [e for e in ENTRIES if e["expected"]["counts"]]
    rows = frames(ledger_path)
    not_counted = [
        e["slug"]
        for e in counting
        if (r := row_for(rows, archive, e)) is None or (r.get("image_type"), r.get("status")) != ("LIGHT", "accepted")
    ]
    got = (report_sum(ledger_path, "totals"), report_sum(ledger_path, "sessions"))
    assert got == (len(counting), len(counting)), f"Σ Totals, Σ Sessions = {got}; not counted: {not_counted}"


def test_no_corpus_frame_is_taken_for_a_copy_of_another(archive: Path, run_scan, ledger_path: Path) -> None:
    """Every corpus file is its own exposure (SPEC §5) — also the DWARF factory bias and flat,
    whose headers are byte-identical."""
    for entry in ENTRIES:
        write_entry(archive, entry)
    run_scan(archive)
    rows = frames(ledger_path)
    missing = [e["slug"] for e in ENTRIES if row_for(rows, archive, e) is None]
    assert missing == []
    copies = [r["path"] for r in rows if r.get("status") == "duplicate"]
    assert copies == []
