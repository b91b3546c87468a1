"""The header readers on real bytes: the block reader, its tolerance, junk, compressed, XISF,
and the cross-check against fitsio (cfitsio) on every file both can read."""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import fitsio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pl_tui.core.fitsgen import format_card, header_bytes, write_fits, xisf_bytes
from pl_tui.core.headers import (
    Cards,
    HeaderError,
    fitsio_cards,
    header_cards,
    header_kind,
    image_header_of_compressed,
    iter_cards,
    parse_card,
    parse_header,
    parse_value,
    read_header,
)
from pl_tui.core.normalize import NightRule, normalize, split_name
from pl_tui.demo import nina_cards, seestar_cards, sgp_cards

T0 = datetime(2024, 8, 13, 21, 34, 55, 123000, tzinfo=UTC)


def raw_header(lines: list[str], naxis: tuple[int, ...] = (4, 4)) -> bytes:
    """Header bytes from literal card strings (each padded to 80), as a capture program wrote them."""
    return header_bytes(lines, naxis)


def write_raw(path: Path, lines: list[str], naxis: tuple[int, ...] = (4, 4)) -> Path:
    path.write_bytes(raw_header(lines, naxis) + b"\0" * 2880)
    return path


# ---------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("                   T", True),
        ("                   F", False),
        ("                  42", 42),
        ("  -7 / comment", -7),
        ("            3.0E+002", 300.0),
        ("             1.5D+01", 15.0),
        ("  .5", 0.5),
        ("  +1.", 1.0),
        ("  300/no space before the comment", 300),
        ("  'M 31    '           / target", "M 31"),
        ("  '   lead'", "   lead"),
        ("  'it''s'", "it's"),
        ("  'a/b' / c", "a/b"),
        ("  ''", ""),
        ("  'unterminated", "unterminated"),
        ("  (1.0, 2.0)", complex(1, 2)),
        ("", None),
        ("     / only a comment", None),
        # beyond the standard, as capture programs write them
        (" 2024-08-13T22:34:55.123", "2024-08-13T22:34:55.123"),
        (" 13/08/24", "13/08/24"),
        (" 13/08/24 / date", "13/08/24"),
        (" 2024-08-13 22:34:55", "2024-08-13 22:34:55"),
        (" NaN", "NaN"),
        (" 1E400", "1E400"),  # not a finite number: kept as text, never inf
    ],
)
def test_parse_value(text: str, expected: object) -> None:
    assert parse_value(text) == expected
    assert type(parse_value(text)) is type(expected)


@pytest.mark.parametrize(
    ("card", "key", "value"),
    [
        ("EXPTIME =                300.0 / [s]", "EXPTIME", 300.0),
        ("exptime =                300.0", "EXPTIME", 300.0),  # lower-case keyword
        ("EXPTIME =300", "EXPTIME", 300),  # '=' without the blank
        ("HIERARCH ESO DET DIT = 1.5 / hierarch", "ESO DET DIT", 1.5),
        ("NOEQ      'value without eq'", "NOEQ", None),  # no value indicator: no value
        ("KEY=1", "KEY", None),
        ("COMMENT   anything = 'at all'", None, None),
        ("HISTORY   processed", None, None),
        ("        blank keyword", None, None),
        ("OBJECT  = 'M81     '        ", "OBJECT", "M81"),  # trailing blanks
    ],
)
def test_parse_card(card: str, key: str | None, value: object) -> None:
    k, v, _ = parse_card(card.ljust(80))
    assert (k, v) == (key, value)


def test_header_quirks_together(tmp_path: Path) -> None:
    path = write_raw(
        tmp_path / "quirks.fits",
        [
            "OBJECT  = 'M 81    '           / first one wins",
            "object  = 'lowercase duplicate'",
            "DATE-OBS= 2024-08-13T21:34:55.123",
            "DATE-LOC= 2024-08-13 23:34:55",
            "EXPTIME =              3.0E+002",
            "GAINX   =              1.5D+01",
            "HIERARCH NINA CAMERA TEMP = -10.5",
            "LONGSTR = 'The quick brown fox jumps over the lazy dog and then some more text &'",
            "CONTINUE  'continues here&'",
            "CONTINUE  ' and ends'",
            "SWCREATE= 'N.I.N.A. 3.1'",
            "NOEQ      'x'",
            "ISLOG   =                    T",
            "CPLX    = (1.5, -2.0)",
            "OBJECT  = 'second'",
            "COMMENT This is a comment",
            "HISTORY This is history",
        ],
    )
    cards = read_header(str(path)).cards
    assert cards["OBJECT"] == "M 81"
    assert cards["DATE-OBS"] == "2024-08-13T21:34:55.123"
    assert cards["DATE-LOC"] == "2024-08-13 23:34:55"
    assert cards["EXPTIME"] == 300.0
    assert cards["GAINX"] == 15.0
    assert cards["NINA CAMERA TEMP"] == -10.5
    assert (
        cards["LONGSTR"]
        == "The quick brown fox jumps over the lazy dog and then some more text continues here and ends"
    )
    assert cards["NOEQ"] is None
    assert cards["ISLOG"] is True
    assert cards["CPLX"] == complex(1.5, -2.0)
    assert "COMMENT" not in cards and "HISTORY" not in cards and "CONTINUE" not in cards


def test_header_spanning_blocks_and_exactly_filling_one(tmp_path: Path) -> None:
    many = [f"KEY{i:05d}= {i}" for i in range(150)]  # ~4 blocks of cards
    path = write_raw(tmp_path / "many.fits", many)
    cards = read_header(str(path)).cards
    assert cards["KEY00149"] == 149 and len([k for k in cards if k.startswith("KEY")]) == 150
    # 36 cards = one block exactly: SIMPLE, BITPIX, NAXIS(0) + 32 + END
    exact = [f"K{i:07d}= {i}" for i in range(32)]
    data = header_bytes(exact, ())
    assert len(data) == 2880
    (tmp_path / "exact.fits").write_bytes(data)
    assert read_header(str(tmp_path / "exact.fits")).cards["K0000031"] == 31


def test_reads_only_the_header_never_the_data(tmp_path: Path) -> None:
    """A 2 GB data unit costs nothing: the reader stops at END (sparse file, no disk used)."""
    path = tmp_path / "huge.fits"
    write_fits(path, [("OBJECT", "M31")], naxis=(40000, 25000), sparse=True)
    assert path.stat().st_size > 2_000_000_000
    raw = read_header(str(path))
    assert raw.cards["OBJECT"] == "M31"
    assert len(raw.header_bytes) % 80 == 0 and raw.header_bytes.endswith(b"END" + b" " * 77)


# ---------------------------------------------------------------------------------------------
# Junk: every failure has a reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"SIMPLE  =                    T" + b" " * 50, "smaller than one FITS block"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 20, "JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 4000, "PNG"),
        (b"hello world, not FITS at all" * 200, "no SIMPLE card"),
        (b"XTENSION= 'IMAGE   '".ljust(2880), "XTENSION"),
        (header_bytes([("OBJECT", "M81")], (4, 4)).replace(b"END" + b" " * 77, b" " * 80), "no END card"),
        (header_bytes([("OBJECT", "M81")] * 40, (4, 4))[:3000], "truncated"),
        (
            header_bytes([("OBJECT", "M81")], (4, 4)).replace(b"END" + b" " * 77, b" " * 80) + b"\0" * 5760,
            "binary data",
        ),
    ],
    ids=["zero-bytes", "tiny", "jpeg", "png", "text", "xtension", "no-end", "truncated", "end-missing-before-data"],
)
def test_junk_is_unreadable_with_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "junk.fits"
    path.write_bytes(content)
    with pytest.raises(HeaderError, match=reason):
        read_header(str(path))


def test_permission_denied_as_another_user(tmp_path: Path) -> None:
    """A real permission check: a child process drops to 'nobody' and tries to read."""
    path = tmp_path / "secret.fits"
    write_fits(path, [("OBJECT", "M81")])
    path.chmod(0o000)
    if os.geteuid() != 0:
        with pytest.raises(HeaderError, match="permission denied"):
            read_header(str(path))
        return
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, report what the reader said
        os.close(r)
        try:
            os.setgid(65534)
            os.setuid(65534)
            read_header(str(path))
            msg = "read it"
        except HeaderError as e:
            msg = str(e)
        except BaseException as e:
            msg = f"{type(e).__name__}: {e}"
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    msg = os.read(r, 1000).decode()
    os.waitpid(pid, 0)
    assert msg == "permission denied"


def test_vanished_file(tmp_path: Path) -> None:
    with pytest.raises(HeaderError, match="vanished"):
        read_header(str(tmp_path / "gone.fits"))


# ---------------------------------------------------------------------------------------------
# Compressed FITS and XISF


def test_gzip_header_decompresses_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "a.fits.gz"
    body = header_bytes(seestar_cards("NGC 7000", T0), (1080, 1920))
    with gzip.open(path, "wb") as f:
        f.write(body)
        f.write(os.urandom(1 << 20))  # incompressible "pixels" after the header
    raw = read_header(str(path))
    assert raw.kind == "fits.gz" and raw.cards["OBJECT"] == "NGC 7000" and raw.cards["NAXIS1"] == 1080


def test_gzip_junk(tmp_path: Path) -> None:
    (tmp_path / "bad.fits.gz").write_bytes(b"not gzip at all" * 300)
    with pytest.raises(HeaderError, match="gzip"):
        read_header(str(tmp_path / "bad.fits.gz"))
    full = gzip.compress(header_bytes([("OBJECT", "M81")] * 60, (4, 4)))
    (tmp_path / "cut.fits.gz").write_bytes(full[: len(full) // 2])
    with pytest.raises(HeaderError):
        read_header(str(tmp_path / "cut.fits.gz"))


def test_fz_reads_the_image_header_of_the_first_extension(tmp_path: Path) -> None:
    path = tmp_path / "a.fits.fz"
    data = np.zeros((64, 48), dtype=np.uint16)
    hdr = [{"name": "OBJECT", "value": "M 81"}, {"name": "EXPTIME", "value": 300.0}, {"name": "FILTER", "value": "Ha"}]
    with fitsio.FITS(str(path), "rw", clobber=True) as f:
        f.write(data, header=hdr, compress="RICE")
    raw = read_header(str(path))
    assert raw.kind == "fits.fz"
    assert raw.cards["OBJECT"] == "M 81" and raw.cards["EXPTIME"] == 300.0
    assert raw.cards["NAXIS1"] == 48 and raw.cards["NAXIS2"] == 64  # the image's, not the table's
    assert "ZIMAGE" not in raw.cards


def test_fz_junk(tmp_path: Path) -> None:
    (tmp_path / "bad.fz").write_bytes(b"\0" * 3000)
    with pytest.raises(HeaderError, match="not a FITS file"):
        read_header(str(tmp_path / "bad.fz"))
    plain = tmp_path / "plain.fits.fz"  # an uncompressed FITS named .fz: no extension to read
    write_fits(plain, [("OBJECT", "M 81")], naxis=(16, 16))
    with pytest.raises(HeaderError, match=r"no extension|not a tile-compressed"):
        read_header(str(plain))


@pytest.mark.parametrize("compress", ["RICE", "GZIP", "HCOMPRESS", "PLIO"])
def test_fz_block_reader_matches_cfitsio(tmp_path: Path, compress: str) -> None:
    path = tmp_path / f"[odd] name {compress}.fits.fz"  # '[' is cfitsio filename syntax: not ours
    data = np.arange(64 * 48, dtype=np.int16).reshape(64, 48)
    hdr = [
        {"name": "OBJECT", "value": "M 81"},
        {"name": "EXPTIME", "value": 300.0},
        {"name": "DATE-OBS", "value": "2024-08-13T21:00:00.5"},
    ]
    copy = tmp_path / "plain-name.fits.fz"
    with fitsio.FITS(str(copy), "rw", clobber=True) as f:
        f.write(data, header=hdr, compress=compress)
    os.rename(copy, path)
    ours = dict(read_header(str(path)).cards)
    os.rename(path, copy)
    theirs = image_header_of_compressed(fitsio_cards(fitsio.read_header(str(copy), ext=1)))
    assert ours == theirs
    assert ours["NAXIS1"] == 48 and ours["OBJECT"] == "M 81"


def test_a_gzip_bombed_fz_costs_one_header_read(tmp_path: Path) -> None:
    """A .fz whose tiles inflate to 128 MB: its header is read without inflating anything."""
    import resource

    path = tmp_path / "bomb.fits.fz"
    with fitsio.FITS(str(path), "rw", clobber=True) as f:
        f.write(np.zeros((8192, 8192), dtype=np.uint16), header=[{"name": "OBJECT", "value": "M 81"}], compress="GZIP")
    assert path.stat().st_size < 4_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    raw = read_header(str(path))
    grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert raw.cards["NAXIS1"] == 8192 and raw.cards["OBJECT"] == "M 81"
    assert grew_kb < 20_000  # well under the 128 MB the image would inflate to


def test_xisf_keywords_then_properties(tmp_path: Path) -> None:
    path = tmp_path / "a.xisf"
    path.write_bytes(
        xisf_bytes(
            [("OBJECT", "M 31"), ("EXPTIME", 120.0), ("GAIN", 100)],
            [
                ("Instrument:Filter:Name", "String", "Lum"),
                ("Observation:Object:Name", "String", "ignored: OBJECT keyword wins"),
                ("Instrument:Telescope:FocalLength", "Float32", "0.53"),
                ("Observation:Time:Start", "TimePoint", "2024-08-13T21:34:55.123Z"),
            ],
            geometry="4144:2822:1",
            image_type="Light",
        )
    )
    c = read_header(str(path)).cards
    assert c["OBJECT"] == "M 31" and c["EXPTIME"] == 120.0 and c["GAIN"] == 100
    assert c["FILTER"] == "Lum" and c["DATE-OBS"] == "2024-08-13T21:34:55.123Z"
    assert math.isclose(c["FOCALLEN"], 530.0)  # XISF focal length is metres  # type: ignore[arg-type]
    assert (c["NAXIS1"], c["NAXIS2"], c["IMAGETYP"]) == (4144, 2822, "Light")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"XISF0200" + b"\0" * 100, "no XISF0100"),
        (b"XISF0100" + (1000).to_bytes(4, "little") + b"\0\0\0\0" + b"<xisf>", "truncated"),
        (b"XISF0100" + (7).to_bytes(4, "little") + b"\0\0\0\0" + b"<xisf><", "not valid XML"),
        (b"XISF0100" + (7).to_bytes(4, "little") + b"\0\0\0\0" + b"<xisf/>", "no Image"),
    ],
)
def test_xisf_junk(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "x.xisf").write_bytes(content)
    with pytest.raises(HeaderError, match=reason):
        read_header(str(tmp_path / "x.xisf"))


def test_header_kind() -> None:
    assert header_kind("a.FITS") == "fits" and header_kind("a.Fit") == "fits" and header_kind("a.fts") == "fits"
    assert header_kind("a.fits.fz") == "fits.fz" and header_kind("a.fz") == "fits.fz"
    assert header_kind("a.fit.gz") == "fits.gz" and header_kind("a.FTS.GZ") == "fits.gz"
    assert header_kind("a.xisf") == "xisf"
    assert header_kind("a.jpg") is None and header_kind("a.gz") is None and header_kind("fits") is None


def test_iter_cards_shows_every_card_literally(tmp_path: Path) -> None:
    data = raw_header(["OBJECT  = '[bold]M81[/]'", "COMMENT hello"])
    keys = [k for k, _ in iter_cards(data)]
    assert keys[:3] == ["SIMPLE", "BITPIX", "NAXIS"] and "COMMENT" in keys and "END" not in keys
    assert any("[bold]M81[/]" in rest for _, rest in iter_cards(data))


# ---------------------------------------------------------------------------------------------
# The cross-check: our block reader and cfitsio agree on every file both can read

T = datetime(2024, 3, 8, 20, 1, 2, 345000, tzinfo=UTC)
CORPUS = {
    "nina.fits": nina_cards("M 81", "Ha", T),
    "nina-osc.fits": nina_cards("NGC 7000", None, T, 60.0, camera="ZWO ASI2600MC Pro"),
    "sgp.fits": sgp_cards("M 31", T),
    "seestar.fits": seestar_cards("NGC 7000", T),
    "dark.fits": nina_cards("", None, T, 300.0, "DARK"),
    "quirks.fits": [
        "object  = 'lower-case key'",
        "EXPTIME =              3.0E+002",
        "DEXP    =              1.5D+01",
        "HIERARCH NINA FOCUSER TEMP = 12.5 / hierarch",
        "LONGSTR = 'abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz abcdefghijklm&'",
        "CONTINUE  'nopqrstuvwxyz&'",
        "CONTINUE  'end'",
        "NOEQ      'no value indicator'",
        "LOGICAL =                    F",
        "QUOTE   = 'it''s'",
        "EMPTY   =",
        "INTS    =   007",
        "BIGINT  =       12345678901234",
        "TRAIL   = 'trailing blanks      '",
        "COMMENT a comment",
        "HISTORY some history",
    ],
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_block_reader_matches_fitsio(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_fits(path, CORPUS[name], naxis=(32, 24))
    ours = read_header(str(path)).cards
    theirs = fitsio_cards(fitsio.read_header(str(path)))
    assert ours == theirs
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}


def test_demo_archive_matches_fitsio_everywhere_fitsio_reads(tmp_path: Path) -> None:
    from pl_tui.demo import build_demo_archive

    build_demo_archive(tmp_path / "demo")
    compared = 0
    for dirpath, _, files in os.walk(tmp_path / "demo"):
        for f in files:
            p = os.path.join(dirpath, f)
            if header_kind(f) not in ("fits", "fits.gz"):
                continue
            try:
                theirs = fitsio_cards(fitsio.read_header(p))
            except (OSError, UnicodeDecodeError):
                with pytest.raises(HeaderError):  # what cfitsio can't read we call unreadable too
                    read_header(p)
                continue
            assert read_header(p).cards == theirs, p
            compared += 1
    assert compared > 250


def test_duplicated_keywords_first_wins(tmp_path: Path) -> None:
    """SPEC: first wins. (fitsio is no reference here: it looks values up by name, so
    duplicated keywords come back with each other's values.)"""
    path = write_raw(
        tmp_path / "dup.fits",
        ["EXPTIME =                300.0", "OBJECT  = 'first'", "object  = 'second'", "EXPTIME =                999.0"],
    )
    cards = read_header(str(path)).cards
    assert cards["EXPTIME"] == 300.0 and cards["OBJECT"] == "first"


def test_where_we_are_more_tolerant_than_cfitsio(tmp_path: Path) -> None:
    """Capture programs write unquoted dates; cfitsio refuses the whole header, we read it."""
    path = write_raw(tmp_path / "unquoted.fits", ["DATE-OBS= 2024-08-13T21:34:55.123", "OBJECT  = 'M81'"])
    with pytest.raises(OSError):
        fitsio.read_header(str(path))
    assert read_header(str(path)).cards["DATE-OBS"] == "2024-08-13T21:34:55.123"


# ---------------------------------------------------------------------------------------------
# Properties

keys = st.text(alphabet=string.ascii_uppercase + string.digits + "-_", min_size=1, max_size=8).filter(
    lambda k: (
        k not in ("COMMENT", "HISTORY", "CONTINUE", "END", "HIERARCH", "SIMPLE", "BITPIX") and not k.startswith("NAXIS")
    )  # structural cards come first in every header we write
)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=150).map(str.rstrip),
    st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e10),
)


@given(key=keys, value=values)
@settings(max_examples=400)
def test_cards_we_write_parse_back_to_the_same_value(key: str, value: object) -> None:
    data = header_bytes([(key, value)], ())
    parsed = parse_header(data)
    got = parsed[key]
    if isinstance(value, float):
        assert isinstance(got, float) and (got == value or math.isclose(got, value))
    else:
        assert got == value and type(got) is type(value)


@given(st.binary(min_size=0, max_size=8000))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_parser_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    n = len(data) - len(data) % 80
    parse_header(data[:n])  # any bytes cut to whole cards
    parse_header(b"SIMPLE  =                    T".ljust(80) + data[:n])


@given(
    st.lists(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), min_size=80, max_size=80), max_size=60)
)
@settings(max_examples=300)
def test_parser_never_raises_on_arbitrary_cards(cards: list[str]) -> None:
    parse_header("".join(cards).encode("latin-1"))


@given(st.binary(min_size=0, max_size=12000))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_reader_only_raises_header_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.fits"
    path.write_bytes(b"SIMPLE  =" + data)
    with contextlib.suppress(HeaderError):
        read_header(str(path))
    path2 = tmp_path / "fuzz.xisf"
    path2.write_bytes(b"XISF0100" + data)
    with contextlib.suppress(HeaderError):
        read_header(str(path2))


def test_format_card_long_strings_use_continue() -> None:
    lines = format_card("LONGSTR", "x" * 200)
    assert len(lines) > 1 and all(len(line) == 80 for line in lines)
    assert all(line.startswith("CONTINUE") for line in lines[1:])


# ---------------------------------------------------------------------------------------------
# The lazy header (only the cards the normaliser reads are parsed) gives exactly what the
# eager parser gives, on every real header of the corpus and every frame of the demo


def _lazy_and_eager(data: bytes, stem: str, parts: tuple[str, ...]) -> tuple[object, object]:
    lazy = header_cards(data)
    eager = parse_header(data)
    assert dict(lazy) == eager
    return (
        normalize(lazy, data, stem, parts, NightRule(), explain=True),
        normalize(eager, data, stem, parts, NightRule(), explain=True),
    )


def test_lazy_cards_normalise_like_the_eager_parser_on_real_headers() -> None:
    from .test_real_headers import ENTRIES
    from .test_real_headers import header_bytes as corpus_bytes
    from .test_real_headers import header_cards as corpus_cards

    lazy_used = 0
    for entry in ENTRIES:
        data = corpus_bytes(corpus_cards(entry["slug"]))
        data = data[: data.index(b"END" + b" " * 77) + 80]
        lazy_used += isinstance(header_cards(data), Cards)
        rel = Path(entry["path"])
        a, b = _lazy_and_eager(data, split_name(rel.name), rel.parts[:-1])
        assert a == b, entry["slug"]
    assert lazy_used > len(ENTRIES) // 2  # the fast path is the common one


def test_lazy_cards_normalise_like_the_eager_parser_on_the_demo(tmp_path: Path) -> None:
    from pl_tui.demo import build_demo_archive

    root = tmp_path / "demo"
    build_demo_archive(root)
    compared = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            if header_kind(f) != "fits":
                continue
            try:
                raw = read_header(os.path.join(dirpath, f))
            except HeaderError:
                continue
            a, b = _lazy_and_eager(raw.header_bytes, split_name(f), Path(dirpath).relative_to(root).parts)
            assert a == b, f
            compared += 1
    assert compared > 200


def test_lazy_cards_fall_back_for_unusual_keywords() -> None:
    for odd in ("exptime =                  300", " EXPTIME=                  300", "HIERARCH ESO DET DIT = 3"):
        data = ("SIMPLE  =                    T".ljust(80) + odd.ljust(80) + "END".ljust(80)).encode()
        assert isinstance(header_cards(data), dict)
        assert header_cards(data) == parse_header(data)


def test_fixed_format_numbers_read_straight_from_the_bytes_match_the_parser() -> None:
    """The fast path for plain numbers (CCD-TEMP, RA, focuser … change every frame) gives what
    the general parser gives, and declines everything else."""
    from pl_tui.core.headers import _fixed_number

    for text in ("-9.87", "300.", "300", "+5", "007", "1E5", "-1.5e-3", "0", "6248"):
        card = f"KEY     = {text:>20} / comment".ljust(80)
        assert _fixed_number(card.encode()) == parse_card(card)[1], text
        assert type(_fixed_number(card.encode())) is type(parse_card(card)[1]), text
    for text in ("'x'", "T", "1.5D3", "1E400", "NaN", "1.2.3", "(1, 2)", "300 / s"):
        assert _fixed_number(f"KEY     = {text:>20}".ljust(80).encode()) is None, text
    assert _fixed_number(b"KEY     =                    1234567890".ljust(80)) is None  # runs past col 30


def _replace_card(data: bytes, key: str, card: str) -> bytes:
    k8 = key.encode().ljust(8)
    for off in range(0, len(data), 80):
        if data[off : off + 8] == k8:
            return data[:off] + card.ljust(80).encode() + data[off + 80 :]
    raise AssertionError(key)


def _warmed_real_headers() -> Iterator[tuple[dict, bytes, str, tuple[str, ...]]]:
    """(entry, header bytes, file stem, folders) of every real header the lazy reader takes, each
    normalised once first: the normaliser's memos hold its answers when the caller changes a card."""
    from .test_real_headers import ENTRIES
    from .test_real_headers import header_bytes as corpus_bytes
    from .test_real_headers import header_cards as corpus_cards

    for entry in ENTRIES:
        data = corpus_bytes(corpus_cards(entry["slug"]))
        data = data[: data.index(b"END" + b" " * 77) + 80]
        if not isinstance(header_cards(data), Cards):
            continue
        parts = Path(entry["path"]).parts[:-1]
        stem = split_name(Path(entry["path"]).name)
        normalize(header_cards(data), data, stem, parts, NightRule())  # warm the memos
        yield entry, data, stem, parts


def test_setup_fields_worked_out_once_follow_every_card_and_folder_that_decides_them() -> None:
    """The normaliser works out target, filter, type, rig, site, software and derived signals
    once per distinct set of their cards and folder. Warm that memo with each real header, then
    change one such card (or the folder): the frame must be what the eager parser says — a
    card left out of the memo's key would hand back the first header's answer."""
    from pl_tui.core.normalize import SETUP_KEYWORDS

    changed = 0
    for entry, data, stem, parts in _warmed_real_headers():
        present = [k for k in sorted(SETUP_KEYWORDS) if header_cards(data).get(k) is not None]
        for key in present:
            old = header_cards(data)[key]
            if isinstance(old, bool):
                new_value = "F" if old else "T"
            elif isinstance(old, int | float):
                new_value = str(old + 7)
            else:
                new_value = "'Zz " + str(old)[:40].replace("'", "") + " 2'"
            variant = _replace_card(data, key, f"{key:<8}= {new_value:>20}")
            a, b = _lazy_and_eager(variant, stem, parts)
            assert a == b, (entry["slug"], key)
            changed += 1
        a, b = _lazy_and_eager(data, stem, ("Other Target", "2024-01-01", *parts))
        assert a == b, entry["slug"]
    assert changed > 300


def test_exposure_worked_out_once_follows_its_cards_their_units_and_the_frame_type() -> None:
    """The exposure is worked out once per distinct set of exposure cards (bytes, comment and so
    unit included) and frame type. Warm that memo with each real header, then change the value,
    the unit its comment states, or the frame type (0 s counts for a bias only): the frame must
    be what the eager parser says."""
    from pl_tui.core.normalize import KEYWORDS

    changed = 0
    for entry, data, stem, parts in _warmed_real_headers():
        keys = [k for k in KEYWORDS["exposure_s"] if k in header_cards(data)]
        for key in keys:
            for value, comment in (("0.25", "[s]"), ("0.25", "[ms]"), ("0.0", "[s]"), ("250.", "milliseconds")):
                card = f"{key:<8}= {value:>20} / {comment}"
                variant = _replace_card(data, key, card)
                for type_card in ("IMAGETYP= 'Bias Frame'", "IMAGETYP= 'Light Frame'"):
                    if "IMAGETYP" in header_cards(variant):
                        variant = _replace_card(variant, "IMAGETYP", type_card)
                    a, b = _lazy_and_eager(variant, stem, parts)
                    assert a == b, (entry["slug"], card, type_card)
                    changed += 1
    assert changed > 100


def test_numbers_read_in_one_pass_give_what_the_parser_gives_as_values_change_kind() -> None:
    """Within one keyword layout, the per-frame cards are read in one pass while they hold plain
    numbers; a frame where one holds a string, a blank, an overflow or a free-format number must
    still be read as the parser reads it, before and after the pass learns to leave it out."""
    base = [
        "SIMPLE  =                    T",
        "BITPIX  =                   16",
        "NAXIS   =                    0",
        "IMAGETYP= 'Light Frame'",
        "EXPTIME =                300.0 / [s]",
        "DATE-OBS= '2024-08-13T21:34:55.123'",
        "OBJCTRA = '05 35 17.300'",
        "OBJCTDEC=                 -5.4",
        "RA      =              83.8221",
        "CCD-TEMP=                -10.1",
        "AIRMASS =                1.234",
        "SKYQUAL =                21.02",
        "XPIXSZ  =                 3.76",
        "FOCALLEN=                 530.",
        "FWHM    =                  3.2 / [arcsec] star FWHM",
        "HFR     =                 2.13",
    ]
    odd_values = [
        "CCD-TEMP= 'n/a'",
        "CCD-TEMP=",
        "CCD-TEMP=                1e999",
        "CCD-TEMP= -9.5 / free format",
        "CCD-TEMP=                 -9.9",
        "AIRMASS =                 95.0",
        "OBJCTDEC= '-05 23 28'",
        "OBJCTDEC=                 95.0",
        "SKYQUAL =                    T",
        "AIRMASS =               1.5D+0",
        "CCD-TEMP                 -10.1",  # no value indicator: no value
        "AIRMASS =                 nan",
        "AIRMASS =                1.234 5",  # a value field of digits, then more than a comment
        "CCD-TEMP=                -10.1 x / c",
        "SKYQUAL =                21.02 /",
        "CCD-TEMP=               -1_0.5",  # Python's float() takes it; FITS has no such number
        "FWHM    =               1500.0 / [arcsec] star FWHM",  # implausible: the HFR counts
        "FWHM    = 'n/a'",
        "FWHM    =                  3.2 / [px] star FWHM",
        "FWHM    =                    0",
    ]
    frames = 0
    for i, odd in enumerate(odd_values):
        # a keyword layout of its own for each case: the pass starts out reading every card
        layout = [*base, f"PLTEST{i:02d}=                    1"]
        plain = "".join(c.ljust(80) for c in [*layout, "END"]).encode()
        data = "".join((odd if c[:8] == odd[:8] else c).ljust(80) for c in [*layout, "END"]).encode()
        # twice plain first: the pass has then learnt the layout (its strings, its comments)
        for variant in (plain, plain, data, plain, data):
            assert isinstance(header_cards(variant), Cards)
            a, b = _lazy_and_eager(variant, f"f{i}", ("M 42",))
            assert a == b, odd
            frames += 1
    assert frames == 5 * len(odd_values)


_VALUE_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**22), max_value=10**22).map(str),
    st.text(alphabet="0123456789.+-eEdD ", max_size=22),
    st.text(alphabet=string.printable + "éß°µ'", max_size=30).map(lambda t: "'" + t + "'"),
    st.text(alphabet=string.ascii_letters + " '", max_size=12).map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.sampled_from(["T", "F", "", "'", "''", "' '", "'abc", "(1.0, 2.0)"]),
)


@settings(max_examples=3000, deadline=None)
@given(
    key=st.sampled_from(["DATE-OBS", "CCD-TEMP", "OBJCTRA", "EXPTIME", "FILTER"]),
    text=_VALUE_TEXT,
    width=st.sampled_from([0, 20, 25]),
    sep=st.sampled_from(["= ", "=", "  "]),
    comment=st.text(alphabet=string.printable + "éµ/'", max_size=30),
)
def test_a_card_read_straight_from_its_bytes_is_what_the_parser_reads(
    key: str, text: str, width: int, sep: str, comment: str
) -> None:
    """The lazy header reads plain numbers and plain quoted strings straight from a card's bytes
    (they change every frame); anything it reads must be what the general parser says."""
    from pl_tui.core.headers import _card_value, decode_card

    card = f"{key:<8}{sep}{text:>{width}} / {comment}".encode()[:80].ljust(80)
    assert _card_value(card) == parse_card(decode_card(card))[1]


_LAYOUT_SEQ = iter(range(10**9))


@settings(max_examples=1500, deadline=None)
@given(
    values=st.lists(
        st.tuples(_VALUE_TEXT, st.sampled_from([20, 25, 0]), st.text(alphabet=" /abc0", max_size=8)),
        min_size=6,
        max_size=6,
    ),
    frames=st.integers(min_value=1, max_value=3),
)
def test_numbers_read_in_one_pass_are_the_parsers_values_and_types(
    values: list[tuple[str, int, str]], frames: int
) -> None:
    """The per-frame numbers of a layout read in one pass (struct, regex, map(float)) are what
    the parser reads, type included (an integer stays an integer), whatever the cards hold."""
    from pl_tui.core.normalize import _PER_FRAME_CONVS, _PER_FRAME_KEYS

    keys = ["CCD-TEMP", "AIRMASS", "SKYQUAL", "AMBTEMP", "CENTALT", "DEC"]
    extra = f"PLX{next(_LAYOUT_SEQ) % 10**5:05d}= 1"  # a layout of its own: the pass starts full
    plain = [f"{k:<8}= {'1.5':>20} / plain" for k in keys]
    odd = [f"{k:<8}= {text:>{width}}{tail}" for k, (text, width, tail) in zip(keys, values, strict=True)]
    for cards in [plain, odd] * frames:
        data = "".join(c.encode()[:80].decode("utf-8", "ignore").ljust(80) for c in [*cards, extra, "END"]).encode()
        data = data[: data.index(b"END" + b" " * 77) + 80] if b"END" + b" " * 77 in data else data
        lazy = header_cards(data)
        if not isinstance(lazy, Cards):
            continue
        eager = parse_header(data)
        got = lazy.firsts(_PER_FRAME_KEYS, _PER_FRAME_CONVS)
        for value, keys_of, conv in zip(got, _PER_FRAME_KEYS, _PER_FRAME_CONVS, strict=True):
            want = next((c for k in keys_of if (r := eager.get(k)) is not None and (c := conv(r)) is not None), None)
            assert value == want and type(value) is type(want), (keys_of, value, want)


# keywords that differ in one column only: a layout key that lost a column or a card would mix them up
_LOOKALIKES = ("EXPTIME", "EXPTIMF", "FXPTIME", "EXPOSURE", "A", "B", "AB", "BA", "DATE-OBS", "DATE-OBX")


@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(_LOOKALIKES), st.integers(-999, 999)), min_size=1, max_size=8), max_size=6
    ),
    st.integers(1, 79),
)
@settings(max_examples=300)
def test_each_keyword_sequence_gets_its_own_layout(headers: list[list[tuple[str, int]]], tail: int) -> None:
    """Headers read one after another in one process share layouts by their keyword sequence:
    every header must read exactly as the eager parser reads it, whatever was read before it —
    the same keywords in another order, one column changed, one card more, or that card torn."""
    for cards in headers:
        text = "".join(f"{k:<8}= {v:>20}".ljust(80) for k, v in cards).encode()
        extra = next((k for k in _LOOKALIKES if k not in dict(cards)), "EXTRA")  # a keyword of its own
        more = f"{extra:<8}= {cards[0][1] + 1:>20}".ljust(80).encode()
        for data in (text, text + more, text + more[:tail]):
            lazy, eager = header_cards(data), parse_header(data)
            assert dict(lazy) == eager
            assert [lazy.get(k) for k in _LOOKALIKES] == [eager.get(k) for k in _LOOKALIKES]
