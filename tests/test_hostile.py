"""Hostile input (SPEC §12): bytes and file system entries built to break a reader. Each one is
listed with a reason or read correctly, the scan goes on, nothing is written to the archive.
The open-ended part is the fuzzer (tests/fuzz_headers.py), run here for a bounded time."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pl_tui import ledger as L
from pl_tui.core.fitsgen import write_fits
from pl_tui.core.headers import HeaderError, parse_xisf_xml, read_header

from .conftest import BASE_LIGHT, cards_with, tree_digest

FUZZ_SECONDS = float(os.environ.get("PL_TUI_FUZZ_SECONDS", "60"))


def test_a_header_of_ten_thousand_cards(tmp_path: Path, run_scan, ledger_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    cards = cards_with(BASE_LIGHT) + [(f"X{i:07d}", i) for i in range(10_000)]
    write_fits(archive / "long.fits", cards)
    os.utime(archive / "long.fits", (1, 1))
    header = read_header(str(archive / "long.fits"))
    assert len(header.cards) > 10_000 and header.cards["X0009999"] == 9999
    p = run_scan(archive)
    assert (p.indexed, p.unreadable) == (1, 0)


def test_device_files_and_links_to_them_are_listed_not_read(tmp_path: Path, run_scan, ledger_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "zero.fits").symlink_to("/dev/zero")  # endless bytes: must never be read
    (archive / "urandom.fits").symlink_to("/dev/urandom")
    try:
        os.mknod(archive / "null.fits", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        devices = 3
    except PermissionError:
        devices = 2  # not root: no device node of our own
    digest = tree_digest(archive, limit=0)
    p = run_scan(archive)
    assert p.unreadable == devices
    conn = L.connect(ledger_path)
    reasons = {Path(path).name: why for path, why in L.unreadable(conn)}
    conn.close()
    assert set(reasons.values()) == {"not a regular file (FIFO, device or socket)"}
    assert tree_digest(archive, limit=0) == digest


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        # a billion laughs: expat refuses the entity expansion
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(8))
            + b']><xisf><Image><FITSKeyword name="OBJECT" value="&i;"/></Image></xisf>',
            "not valid XML",
        ),
        # an external entity: never fetched, never read
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<xisf><Image><FITSKeyword name="OBJECT" value="&e;"/></Image></xisf>',
            None,
        ),
        (b'<?xml version="1.0" encoding="UTF-8F"?><xisf><Image/></xisf>', "cannot be decoded"),  # found by fuzzing
    ],
)
def test_hostile_xisf_headers(xml: bytes, reason: str | None) -> None:
    if reason is None:
        try:
            cards = parse_xisf_xml(xml)
        except HeaderError:
            return
        assert "root:" not in str(cards.get("OBJECT", ""))
        return
    with pytest.raises(HeaderError, match=reason):
        parse_xisf_xml(xml)


@pytest.mark.slow  # a soak: `pytest -m 'not slow'` is the quick loop
def test_fuzz_the_parsers_and_the_normaliser() -> None:
    """A bounded run in CI; `python tests/fuzz_headers.py --seconds 300` is the full soak."""
    script = Path(__file__).with_name("fuzz_headers.py")
    proc = subprocess.run(
        [sys.executable, str(script), "--seconds", str(FUZZ_SECONDS)],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
