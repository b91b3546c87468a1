"""Fuzz the FITS card parser, the XISF reader and the normaliser with hostile bytes.

    python tests/fuzz_headers.py --seconds 300     # the full soak (5 minutes)

Uses atheris (coverage-guided) when it is installed, otherwise a mutation fuzzer over real
headers (bit flips, byte runs, splices, cards with odd values). The only exception allowed out of
the readers is HeaderError; the normaliser must never raise. Exit 0 when nothing broke; a crash
prints the input (base64) and its traceback and exits 1.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import random
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pl_tui.core.fitsgen import header_bytes, xisf_bytes
from pl_tui.core.headers import HeaderError, parse_header, parse_xisf_xml
from pl_tui.core.normalize import NightRule, normalize
from pl_tui.demo import nina_cards, seestar_cards, sgp_cards

RULES = (NightRule(), NightRule(boundary_hour=6, tz="Pacific/Chatham"))
FOLDERS = ((), ("2024-08-13", "Light", "M81"), ("M 31", "2024-08-13", "LIGHT", "Ha"), ("calibrated", "Darks"))


def one_input(data: bytes) -> None:
    """Everything a hostile file's bytes reach, as the scanner calls it."""
    for parse in (parse_header, parse_xisf_xml):
        try:
            cards = parse(data)
        except HeaderError:
            continue
        for rule in RULES:
            for folders in FOLDERS:
                normalize(cards, data, "light_c", folders, rule)
        normalize(cards, data, "x", FOLDERS[2], RULES[0], explain=True)


def seeds() -> list[bytes]:
    t = datetime(2024, 8, 13, 21, 34, 55, 123000, tzinfo=UTC)
    headers = [
        header_bytes(nina_cards("M 81", "Ha", t, 300.0), (6248, 4176)),
        header_bytes(sgp_cards("NGC 7000", t), (4656, 3520)),
        header_bytes(seestar_cards("M 31", t), (1080, 1920)),
    ]
    xisf = xisf_bytes(
        [("OBJECT", "'M 81'"), ("EXPTIME", "300."), ("DATE-OBS", "'2024-08-13T21:34:55'")],
        [("Instrument:Telescope:FocalLength", "Float64", "0.25"), ("Observation:Object:Name", "String", "M81")],
    )
    length = int.from_bytes(xisf[8:12], "little")
    return [*headers, xisf[16 : 16 + length]]


TOKENS = [
    b"'", b"''", b"=", b"/", b" ", b"\x00", b"\xff", b"\n", b"END", b"CONTINUE", b"HIERARCH ", b"&", b"1E400",
    b"NaN", b"-0", b"T", b"F", b"(1,2)", b"9" * 40, b"2024-13-45T25:61:61", b"13/08/24", b"+69 03 55",
    b"<Image>", b"</xisf>", b"<!ENTITY", b"&amp;", b"]]>", b"[b]x[/b]", b"\x1b[31m",
]  # fmt: skip


def mutate(data: bytes, rnd: random.Random, corpus: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        op = rnd.randrange(6)
        pos = rnd.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(pos, len(b) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            b[pos:pos] = rnd.choice(TOKENS)
        elif op == 2:
            del b[pos : pos + rnd.randint(1, 200)]
        elif op == 3:
            other = rnd.choice(corpus)
            start = rnd.randrange(len(other) + 1)
            b[pos:pos] = other[start : start + rnd.randint(1, 800)]
        elif op == 4:
            b[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 80)))
        else:  # a card-aligned overwrite: keep the 80-column structure, break the value
            card = (pos // 80) * 80
            b[card + 10 : card + 80] = rnd.choice(TOKENS).ljust(70, b" ")[:70]
    return bytes(b)


def run_mutations(seconds: float, seed: int) -> int:
    rnd = random.Random(seed)
    corpus = seeds()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        data = mutate(rnd.choice(corpus), rnd, corpus)
        try:
            one_input(data)
        except Exception:
            print(f"CRASH on input (base64): {base64.b64encode(data).decode()}", file=sys.stderr)
            traceback.print_exc()
            return 1
        n += 1
        if n % 500 == 0 and rnd.random() < 0.1:
            corpus.append(data)  # keep some survivors: deeper mutations
    print(f"{n:,} inputs in {seconds:.0f} s, no crash (mutation fuzzer)")
    return 0


def run_atheris(seconds: float) -> int:
    import atheris

    corpus_dir = Path(tempfile.mkdtemp(prefix="pl-tui-fuzz-"))  # atheris adds what it finds
    for i, s in enumerate(seeds()):
        (corpus_dir / f"seed{i}").write_bytes(s)
    atheris.instrument_all()  # coverage feedback from every loaded module (pl_tui's parsers included)
    atheris.Setup(
        [sys.argv[0], f"-max_total_time={int(seconds)}", "-rss_limit_mb=2048", str(corpus_dir)],
        one_input,
    )
    atheris.Fuzz()  # exits the process: 0 when time is up, non-zero on a crash
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--no-atheris", action="store_true", help="the mutation fuzzer even when atheris is installed")
    args = ap.parse_args()
    if not args.no_atheris and importlib.util.find_spec("atheris") is not None:
        return run_atheris(args.seconds)
    return run_mutations(args.seconds, args.seed)


if __name__ == "__main__":
    sys.exit(main())
