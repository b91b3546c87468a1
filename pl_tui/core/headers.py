"""Header readers: bytes on disk → raw keyword dicts.

Owns the FITS card parser and the three ways a header is read:

* plain FITS: our own block reader (2880-byte blocks, stop at END, never the data unit) —
  about 80x cheaper than cfitsio per header and tolerant of what capture programs really write;
* ``.gz``: the same block reader over a gzip stream, decompressing only as far as END;
* ``.fz``: the same block reader over the first extension's header (tile compression keeps
  headers uncompressed), mapped back to the image's header;
* ``.xisf``: the XML header block (FITSKeyword elements and image properties).

Every reader returns a :class:`RawHeader` or raises :class:`HeaderError` with a reason a
person can act on. Files are opened read-only and never written.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import re
import stat
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

BLOCK = 2880
CARD = 80
# A header longer than this is not a capture program's header; stop rather than read a GB.
MAX_HEADER_BYTES = 2880 * 2000
_FIRST_READ = BLOCK * 4  # most capture headers (80-200 cards) fit in 2-4 blocks
_END_CARD = b"END" + b" " * 77

Opener = Callable[[str, int], int]

FITS_SUFFIXES = (".fit", ".fits", ".fts")
GZ_SUFFIXES = (".fit.gz", ".fits.gz", ".fts.gz")
FZ_SUFFIXES = (".fz",)
XISF_SUFFIXES = (".xisf",)


class HeaderError(Exception):
    """A file with a picked-up extension whose header cannot be read; str() is the reason."""


@dataclass(slots=True)
class RawHeader:
    """Keywords of one header (first occurrence wins) and the bytes they came from."""

    cards: Mapping[str, object]
    header_bytes: bytes
    kind: str  # "fits", "fits.gz", "fits.fz", "xisf"
    size: int = 0  # the file's size in bytes: part of the identity of a frame without DATE-OBS
    mtime_ns: int = 0  # its modification time, from the same fstat as the size


def header_kind(name: str) -> str | None:
    """The reader for a file name, or None when the extension is not picked up."""
    low = name.lower()
    if low.endswith(FITS_SUFFIXES):
        return "fits"
    if low.endswith(GZ_SUFFIXES):
        return "fits.gz"
    if low.endswith(FZ_SUFFIXES):
        return "fits.fz"
    if low.endswith(XISF_SUFFIXES):
        return "xisf"
    return None


# ---------------------------------------------------------------------------------------------
# Card parsing


def parse_value(text: str) -> object:
    """Parse the value field of a card (everything after ``=``), tolerantly.

    Standard values (strings, logicals, integers, floats with E or D exponents, complex) parse
    as cfitsio does. Beyond the standard: unquoted strings (``2024-08-13T22:00:00``,
    ``13/08/24``) are returned as text rather than rejected. No value → None.
    """
    s = text.lstrip()
    if not s:
        return None
    c = s[0]
    if c == "'":
        return _parse_quoted(s)
    if c == "/":
        return None
    slash = s.find("/")
    if slash >= 0:
        if c.isdigit():
            m = _UNQUOTED_DATE.match(s)
            if m:
                return m.group(0)
        s = s[:slash]
    s = s.strip()
    if not s:
        return None
    if s == "T":
        return True
    if s == "F":
        return False
    if c in _NUMBER_START:
        if s.isascii() and (s.isdigit() or (c in "+-" and s[1:].isdigit())):
            return int(s)
        try:
            f = float(s.replace("D", "E").replace("d", "e"))
        except ValueError:
            return s
        return f if math.isfinite(f) else s
    if c == "(":
        z = _parse_complex(s)
        return s if z is None else z
    return s


_UNQUOTED_DATE = re.compile(r"\d{1,4}/\d{1,2}/\d{1,4}")
_NUMBER_START = frozenset("+-.0123456789")


def _parse_quoted(s: str) -> str:
    parts = []
    j = 1
    while True:
        k = s.find("'", j)
        if k < 0:  # unterminated: take the rest of the card
            parts.append(s[j:])
            break
        if s[k + 1 : k + 2] == "'":
            parts.append(s[j : k + 1])
            j = k + 2
            continue
        parts.append(s[j:k])
        break
    return "".join(parts).rstrip()


def _parse_complex(s: str) -> complex | None:
    inner = s.strip("() ")
    bits = inner.split(",")
    if len(bits) != 2:
        return None
    try:
        re_, im = (float(b.strip().replace("D", "E")) for b in bits)
    except ValueError:
        return None
    return complex(re_, im)


_COMMENTARY = frozenset({"COMMENT", "HISTORY", ""})


def parse_card(card: str) -> tuple[str | None, object, bool]:
    """One 80-char card → (keyword or None for commentary, value, value-is-a-string)."""
    head = card[:8]
    up = head.upper()
    if up == "HIERARCH":
        rest = card[8:]
        eq = rest.find("=")
        if eq < 0:
            return None, None, False
        key = " ".join(rest[:eq].split()).upper()
        if not key:
            return None, None, False
        value = parse_value(rest[eq + 1 :])
        return key, value, isinstance(value, str)
    if up == "CONTINUE":
        value = parse_value(card[8:])
        return "CONTINUE", value, isinstance(value, str)
    eq = head.find("=")
    if eq >= 0:  # 'KEY=1': the '=' is inside the keyword field; no value indicator
        return head[:eq].strip().upper() or None, None, False
    key = up.strip()
    if key in _COMMENTARY:
        return None, None, False
    if card[8:9] != "=":
        return key, None, False  # a card without '=' has no value (as cfitsio reads it)
    value = parse_value(card[9:])
    return key, value, isinstance(value, str)


# Parsed cards keyed by their 80 bytes: INSTRUME, GAIN, FILTER, SWCREATE… repeat across
# thousands of frames, so most cards of a scan cost one dict lookup. Bounded by clearing.
_CARD_CACHE: dict[bytes, tuple[str | None, object, bool]] = {}
_CARD_CACHE_MAX = 65536
_SPLITTERS: dict[int, struct.Struct] = {}


def _parsed_cards(header: bytes) -> list[tuple[str | None, object, bool]]:
    n = len(header) // CARD
    splitter = _SPLITTERS.get(n)
    if splitter is None:
        splitter = _SPLITTERS[n] = struct.Struct(f"{CARD}s" * n)
    cards = splitter.unpack_from(header)  # all cards at once, in C
    cache = _CARD_CACHE
    parsed = list(map(cache.get, cards))  # the whole loop in C when every card is known
    if None in parsed:
        if len(cache) >= _CARD_CACHE_MAX:
            cache.clear()
        for i, hit in enumerate(parsed):
            if hit is None:
                parsed[i] = cache[cards[i]] = parse_card(decode_card(cards[i]))
    return cast("list[tuple[str | None, object, bool]]", parsed)  # every None was parsed just above


def decode_card(card: bytes) -> str:
    """A card's text: the standard says ASCII, capture programs write UTF-8 (accented target
    and observer names); Latin-1 only where the bytes are not valid UTF-8, so never mojibake."""
    try:
        return card.decode("utf-8")
    except UnicodeDecodeError:
        return card.decode("latin-1")


# Keyword fields the lazy index can look up as they are: an upper-case standard keyword padded
# with blanks, or a blank commentary field. Anything else (lower case, leading blanks, '=' in
# the field) goes through the eager parser, which normalises every card.
_STANDARD_KEYS = re.compile(rb"(?:[A-Z0-9_-][A-Z0-9_ -]{7}|        )*")
_KEY8: dict[str, bytes] = {}
_ABSENT = object()


def _key8(key: str) -> bytes:
    k8 = _KEY8.get(key)
    if k8 is None:
        k8 = _KEY8[key] = key.encode("ascii", "replace").ljust(8)[:8] if len(key) <= 8 else b""
    return k8


class _Numbers:
    """A layout's one-pass plan for a set of per-frame number fields (see _Layout.numbers)."""

    __slots__ = ("equals", "fields", "others", "pack", "tails", "taken")

    def __init__(
        self, fields: tuple[tuple[str, ...], ...], pack: struct.Struct, taken: tuple[int, ...], others: tuple[int, ...]
    ) -> None:
        self.fields = fields
        self.pack = pack
        self.taken = taken
        self.others = others
        self.equals = (b"= ",) * len(taken)
        # the columns after the values the last time _PLAIN_NUMBERS took them all: a program writes
        # the same comments frame after frame, and then only the values need looking at
        self.tails: tuple[bytes, ...] | None = None


class _Layout:
    """Where each keyword's first card sits, for headers with one sequence of keywords.

    A capture program writes the same keywords in the same order frame after frame, so the
    offsets — and which of a set of keywords are present — are worked out once per sequence,
    and a header of a known sequence is never indexed card by card."""

    __slots__ = ("_numbers", "_ordered", "_pairs", "_raw", "offsets")

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        n = len(keys)
        # first occurrence wins: fill from the last card back
        self.offsets = dict(zip(reversed(keys), range((n - 1) * CARD, -1, -CARD), strict=True))
        self._pairs: dict[frozenset[str], tuple[tuple[str, int], ...]] = {}
        self._raw: dict[int, tuple[tuple[str, ...], struct.Struct]] = {}
        self._ordered: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._numbers: dict[int, _Numbers] = {}  # by id(fields); each holds its fields, so ids stay theirs

    def numbers(self, fields: tuple[tuple[str, ...], ...], header: bytes | None = None) -> _Numbers:
        """How to read the first present card of each of ``fields`` in one pass: a struct that
        takes columns 9-80 of each (``= ``, the 20-column value, the rest of the card), the
        index in ``fields`` of each card taken, and those of the fields present but not taken.
        Given a ``header`` whose pass failed, the cards that are not plain numbers there are
        left out from then on (strings such as N.I.N.A.'s OBJCTRA)."""
        got = self._numbers.get(id(fields))
        if got is None or got.fields is not fields or header is not None:
            present = [(i, o[0]) for i, keys in enumerate(fields) if (o := self.ordered(keys))]
            taken = present
            if got is not None and got.fields is fields and header is not None:
                kept = set(got.taken)
                taken = [
                    (i, off) for i, off in present if i in kept and _fixed_number(header[off : off + CARD]) is not None
                ]
            taken.sort(key=lambda p: p[1])
            fmt, pos = [], 0
            for _, off in taken:
                fmt.append(f"{off + 8 - pos}x2s20s50s")
                pos = off + CARD
            chosen = tuple(i for i, _ in taken)
            others = tuple(i for i, _ in present if i not in chosen)
            got = self._numbers[id(fields)] = _Numbers(fields, struct.Struct("".join(fmt)), chosen, others)
        return got

    def ordered(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        """Offsets of those of ``keys`` present, in the order of ``keys``."""
        got = self._ordered.get(keys)
        if got is None:
            found = (self.offsets.get(_key8(k)) for k in keys if len(k) <= 8)
            got = self._ordered[keys] = tuple(o for o in found if o is not None)
        return got

    def pairs(self, keys: frozenset[str]) -> tuple[tuple[str, int], ...]:
        """(keyword, offset) of those of ``keys`` present, in header order."""
        got = self._pairs.get(keys)
        if got is None:
            found = ((k, self.offsets.get(_key8(k))) for k in keys if len(k) <= 8)
            got = self._pairs[keys] = tuple(sorted(((k, o) for k, o in found if o is not None), key=lambda p: p[1]))
        return got

    def raw(self, keys: tuple[str, ...]) -> struct.Struct:
        """A struct that takes exactly the cards of ``keys`` present, in header order, in C."""
        got = self._raw.get(id(keys))  # by identity: hashing a 40-keyword tuple costs more than the rest
        if got is None or got[0] is not keys:
            fmt, pos = [], 0
            for _, off in self.pairs(frozenset(keys)):
                fmt.append(f"{off - pos}x{CARD}s")
                pos = off + CARD
            got = self._raw[id(keys)] = (keys, struct.Struct("".join(fmt)))  # holds keys: its id stays its own
        return got[1]


# conv(value) of text cards that Cards.first read: commanded coordinates repeat every frame
_CONVERTED: dict[tuple[bytes, Callable[[object], object]], object] = {}
_CONVERTED_MAX = 8192
_LAYOUTS: dict[bytes, _Layout | None] = {}  # keyword columns (header_cards) → layout; None: not standard
_LAYOUTS_MAX = 4096
_KEY_SPLITTERS: dict[int, struct.Struct] = {}


class Cards(Mapping[str, object]):
    """{KEYWORD: value} of one header, each card parsed the first time it is asked for.

    A capture header holds 60–150 cards, of which the normaliser reads about 40; the rest (the
    weather block, focuser, rotator, HISTORY …) stay bytes until someone iterates — the frame
    inspector. Same values as :func:`parse_header`, which it falls back to when the header has
    anything unusual (HIERARCH, CONTINUE, lower-case or indented keywords)."""

    __slots__ = ("_full", "_header", "_layout", "_memo")

    def __init__(self, header: bytes, layout: _Layout) -> None:
        self._header = header
        self._layout = layout
        self._memo: dict[str, object] = {}
        self._full: dict[str, object] | None = None

    def get(self, key: str, default: object = None) -> object:
        v = self._memo.get(key, _ABSENT)
        if v is not _ABSENT:
            return v
        if key in _COMMENTARY:
            return default  # commentary cards have no value (parse_header leaves them out)
        k8 = _KEY8.get(key)
        off = self._layout.offsets.get(_key8(key) if k8 is None else k8)
        if off is None:
            return default
        v = self._memo[key] = _card_value(self._header[off : off + CARD])
        return v

    def first(self, keys: tuple[str, ...], conv: Callable[[object], object]) -> object:
        """``conv(value)`` of the first of ``keys`` present whose value ``conv`` takes, else None:
        a keyword table's fallbacks, looking only at the cards the header has."""
        header = self._header
        for off in self._layout.ordered(keys):
            card = header[off : off + CARD]
            if card[10:11] == b"'":  # a text (OBJCTRA '05 35 17.3'): what conv makes of it, by its bytes
                value = _CONVERTED.get((card, conv), _ABSENT)
                if value is _ABSENT:
                    if len(_CONVERTED) >= _CONVERTED_MAX:
                        _CONVERTED.clear()
                    value = _card_value(card)
                    value = _CONVERTED[card, conv] = None if value is None else conv(value)
            else:
                value = _card_value(card)
                if value is not None:
                    value = conv(value)
            if value is not None:
                return value
        return None

    def firsts(self, keys: tuple[tuple[str, ...], ...], convs: tuple[Callable[[object], object], ...]) -> list[object]:
        """``[self.first(k, conv) for k, conv in zip(keys, convs)]``, the plain numbers among
        those cards read in one pass: the temperatures, pointing and conditions of every frame."""
        layout = self._layout
        plan = layout.numbers(keys)
        taken = plan.taken
        parts = plan.pack.unpack_from(self._header)
        texts = parts[1::3]
        tails = parts[2::3]
        values: list[float] | None = None
        if (
            tails == plan.tails and parts[0::3] == plan.equals and not b"".join(texts).translate(None, _NUMBER_CHARS)
        ) or _PLAIN_NUMBERS.fullmatch(b"".join(parts)):
            plan.tails = tails
            try:
                values = list(map(float, texts))
            except ValueError:  # a blank value field
                values = None
            else:  # an integer stays an integer, as the parser reads it
                if any(map(float.is_integer, values)):  # (-10.0 is one; 'is_integer' says perhaps)
                    for j, (raw, text) in enumerate(zip(values, texts, strict=True)):
                        if raw.is_integer() and text.translate(None, _NOT_INTEGER_BYTES) == text:
                            values[j] = int(text)
        if values is None:
            layout.numbers(keys, self._header)  # leave out what is no plain number here
            return [self.first(k, conv) for k, conv in zip(keys, convs, strict=True)]
        out: list[object] = [None] * len(keys)
        finite = math.isfinite(sum(values))  # else one (or a sum of huge ones) overflowed: look at each
        for i, raw in zip(taken, values, strict=True):
            v = convs[i](raw) if finite or math.isfinite(raw) else None
            out[i] = self.first(keys[i], convs[i]) if v is None else v  # None: the fallbacks
        for i in plan.others:
            out[i] = self.first(keys[i], convs[i])
        return out

    def comment(self, key: str) -> str | None:
        """The comment of ``key``'s card, like :func:`card_comment`."""
        off = self._layout.offsets.get(_key8(key))
        if off is None:
            return None
        card = self._header[off : off + CARD]
        if card[30:32] == b" /" and card[10:11] != b"'" and b"/" not in card[10:30]:
            return _comment_text(card[32:])  # a fixed-format value: the comment starts at column 33
        return card_comment(card, key)

    def subset(self, keys: frozenset[str]) -> dict[str, object]:
        """{KEYWORD: value} of those of ``keys`` the header has, parsing only their cards."""
        header = self._header
        return {key: _card_value(header[off : off + CARD]) for key, off in self._layout.pairs(keys)}

    def raw(self, keys: tuple[str, ...]) -> bytes:
        """The 80 bytes of each of ``keys``' cards, absent ones left out: two headers give the
        same bytes exactly when they have the same such cards (each card starts with its
        keyword, and only a keyword's first card counts). A cheap key for what they decide."""
        return b"".join(self._layout.raw(keys).unpack_from(self._header))

    def __getitem__(self, key: str) -> object:
        v = self.get(key, _ABSENT)
        if v is _ABSENT:
            raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and len(key) <= 8 and _key8(key) in self._layout.offsets

    def _all(self) -> dict[str, object]:
        if self._full is None:
            self._full = parse_header(self._header)
        return self._full

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _card_value(card: bytes) -> object:
    """One card's value: a plain number straight from its bytes (what changes from frame to
    frame, so a cache would only fill up), anything else through the parsed-card cache."""
    if card[10:11] != b"'":
        value = _fixed_number(card)
        if value is not None:
            return value
    elif card[8:10] == b"= " and card.isascii():  # a quoted string: DATE-OBS and the like
        end = card.find(b"'", 11)
        if end > 0 and card[end + 1 : end + 2] != b"'":  # no quote doubled inside
            return card[11:end].decode("ascii").rstrip()
    hit = _CARD_CACHE.get(card)
    if hit is None:
        if len(_CARD_CACHE) >= _CARD_CACHE_MAX:
            _CARD_CACHE.clear()
        hit = _CARD_CACHE[card] = parse_card(decode_card(card))
    return hit[1]


@lru_cache(maxsize=1024)
def _comment_text(raw: bytes) -> str | None:
    return decode_card(raw).strip() or None


_NUMBER_BYTES = b"0123456789.+-eE"
# Columns 9-80 of cards holding plain fixed-format numbers, one after another: '= ', the value
# in columns 11-30, then only blanks up to the comment's '/' (or to the end of the card).
_PLAIN_NUMBERS = re.compile(rb"(?:= [ 0-9.eE+-]{20}(?= {50}| */)[\x00-\xff]{50})*")
_NOT_INTEGER_BYTES = b".eE"
_NUMBER_CHARS = b" 0123456789.eE+-"  # what _PLAIN_NUMBERS lets into a value field


def _fixed_number(card: bytes) -> int | float | None:
    """The value of a card holding a plain number in the standard fixed format (``KEY     = ``
    then the number right-justified in columns 11-30), straight from the bytes; None for
    anything else (strings, logicals, D exponents, free format), which the general parser reads.
    CCD-TEMP, RA, DEC, focuser and weather values differ in every frame: this is their path."""
    if card[8:10] != b"= " or card[30:31] not in b" /":
        return None
    tail = card[30:].lstrip()
    if tail and tail[:1] != b"/":  # more than the 20 columns before the comment: not this format
        return None
    field = card[10:30].strip()
    if not field or field.translate(None, _NUMBER_BYTES):
        return None
    if field.isdigit() or (field[:1] in b"+-" and field[1:].isdigit()):
        return int(field)
    try:
        f = float(field)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def header_cards(header: bytes) -> Mapping[str, object]:
    """Header bytes up to END → a lazy :class:`Cards` (the scan's hot path), or the eagerly parsed
    dict when the header needs the general parser."""
    # every card's keyword field, column by column: eight strided slices in C name the sequence
    whole = header if not len(header) % CARD else header[: len(header) - len(header) % CARD]
    columns = b"".join([whole[0::CARD], whole[1::CARD], whole[2::CARD], whole[3::CARD],
                        whole[4::CARD], whole[5::CARD], whole[6::CARD], whole[7::CARD]])  # fmt: skip
    layout = _LAYOUTS.get(columns, _ABSENT)
    if layout is _ABSENT:
        n = len(header) // CARD
        splitter = _KEY_SPLITTERS.get(n)
        if splitter is None:
            splitter = _KEY_SPLITTERS[n] = struct.Struct(f"8s{CARD - 8}x" * n)
        keys = splitter.unpack_from(header)  # the same fields, card by card
        if len(_LAYOUTS) >= _LAYOUTS_MAX:
            _LAYOUTS.clear()
        standard = b"CONTINUE" not in keys and b"HIERARCH" not in keys and _STANDARD_KEYS.fullmatch(b"".join(keys))
        layout = _LAYOUTS[columns] = _Layout(keys) if standard else None
    if layout is None:
        return parse_header(header)
    return Cards(header, cast(_Layout, layout))


def parse_header(header: bytes) -> dict[str, object]:
    """Header bytes up to END → {KEYWORD: value}; first occurrence wins; CONTINUE joined."""
    parsed = _parsed_cards(header)
    # first wins: build from the last card back, so earlier cards overwrite later ones
    out = {key: value for key, value, _ in reversed(parsed)}
    if "CONTINUE" in out:
        return _join_continued(parsed)
    out.pop(None, None)  # commentary
    out.pop("END", None)
    return cast("dict[str, object]", out)  # the None key (commentary) is gone


def _join_continued(parsed: list[tuple[str | None, object, bool]]) -> dict[str, object]:
    out: dict[str, object] = {}
    long_key: str | None = None  # key whose string value ends in '&' and may continue
    for key, value, _is_str in parsed:
        if key is None:
            continue
        if key == "CONTINUE":
            if long_key is not None:
                prev = out[long_key]
                if isinstance(prev, str) and isinstance(value, str):
                    out[long_key] = prev[:-1] + value
                    if not value.endswith("&"):
                        long_key = None
            continue
        if key == "END":
            break
        if key in out:
            long_key = None
            continue
        out[key] = value
        long_key = key if isinstance(value, str) and value.endswith("&") else None
    return out


def iter_cards(header: bytes) -> Iterator[tuple[str, str]]:
    """Every card up to END as (keyword field, rest) for display — commentary included."""
    for i in range(0, len(header), CARD):
        card = decode_card(header[i : i + CARD])
        if card[:8].rstrip().upper() == "END":
            return
        yield card[:8].rstrip(), card[8:].rstrip()


def card_comment(header_bytes: bytes, key: str) -> str | None:
    """The comment of the first ``key`` card (the text after the value's ``/``), or None.

    Read on demand, for the few keywords whose comment can state a unit (EXPTIME ``/ [ms]``):
    the parser keeps no comments, so the hot path pays nothing for them. Works on the card
    bytes of FITS headers and on the XML of an XISF header (FITSKeyword ``comment``)."""
    if header_bytes[:1] == b"<" or header_bytes[:5] == b"<?xml" or b"<xisf" in header_bytes[:512]:
        m = re.search(
            rb'<FITSKeyword\s[^>]*?name="\s*' + re.escape(key.encode()) + rb'\s*"[^>]*?comment="([^"]*)"',
            header_bytes,
            re.IGNORECASE,
        )
        return m.group(1).decode("utf-8", "replace").strip() or None if m else None
    head = key.encode("ascii").ljust(8)[:8]
    pos = header_bytes.find(head)
    while pos >= 0 and (pos % CARD or header_bytes[pos + 8 : pos + 9] != b"="):
        pos = header_bytes.find(head, pos + 1)
    if pos < 0:
        return None
    card = decode_card(header_bytes[pos : pos + CARD])
    rest = card[10:].lstrip()
    if rest.startswith("'"):  # skip the quoted string (doubled quotes are part of it)
        j = 1
        while True:
            k = rest.find("'", j)
            if k < 0:
                return None
            if rest[k + 1 : k + 2] == "'":
                j = k + 2
                continue
            rest = rest[k + 1 :]
            break
    slash = rest.find("/")
    return rest[slash + 1 :].strip() or None if slash >= 0 else None


# ---------------------------------------------------------------------------------------------
# FITS block reader


def _find_end(buf: bytes, start: int) -> int:
    """Offset of the END card (card-aligned) in buf at or after start, or -1."""
    pos = buf.find(_END_CARD, start)
    while pos >= 0 and pos % CARD:
        pos = buf.find(_END_CARD, pos + 1)
    if pos >= 0:
        return pos
    # 'END' followed by non-blank junk still ends a header for a tolerant reader
    for off in range(start - start % CARD, len(buf) - CARD + 1, CARD):
        if buf[off : off + 3] == b"END" and buf[off + 3 : off + 8].strip() == b"":
            return off
    return -1


def _sniff(first: bytes) -> str:
    if first.startswith(b"\xff\xd8\xff"):
        return "not a FITS file (it is a JPEG image)"
    if first.startswith(b"\x89PNG"):
        return "not a FITS file (it is a PNG image)"
    if first.startswith(b"XISF"):
        return "not a FITS file (it is an XISF file)"
    if first.startswith(b"\x1f\x8b"):
        return "not a FITS file (it is gzip-compressed but not named .gz)"
    if first.startswith((b"II*\x00", b"MM\x00*")):
        return "not a FITS file (it is a TIFF image)"
    if first.startswith(b"XTENSION"):
        return "not a FITS primary header (starts with XTENSION)"
    return "not a FITS file (no SIMPLE card at the start)"


def _read_fits_blocks(read: Callable[[int], bytes], first: bytes = b"SIMPLE") -> bytes:
    """Read 2880-byte blocks through ``read`` until the END card; return the header bytes."""
    buf = read(_FIRST_READ)
    if not buf:
        raise HeaderError("empty file (0 bytes)" if first == b"SIMPLE" else "file ends before its extension")
    if not buf.startswith(first):
        raise HeaderError(_sniff(buf[:16]) if first == b"SIMPLE" else "no extension header where one should start")
    if len(buf) < BLOCK:
        raise HeaderError(f"smaller than one FITS block ({len(buf)} of 2880 bytes)")
    scanned = 0
    while True:
        end = _find_end(buf, scanned)
        if end >= 0:
            return buf[: end + CARD]
        if b"\x00" in buf:  # cards are ASCII text: binary data and no END means END was never written
            raise HeaderError(f"header truncated: binary data within {len(buf)} bytes and no END card")
        scanned = max(0, len(buf) - CARD + 1)
        if len(buf) >= MAX_HEADER_BYTES:
            raise HeaderError(f"no END card in the first {MAX_HEADER_BYTES} bytes")
        more = read(_FIRST_READ)
        if not more:
            if len(buf) % BLOCK:
                raise HeaderError(f"header truncated: file ends after {len(buf)} bytes without END")
            raise HeaderError("no END card: header truncated or not FITS")
        buf += more


def _prefixed(first: bytes, read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """``read``, whose first call starts with the bytes already read."""
    pending = [first]

    def read_again(n: int) -> bytes:
        if pending:
            head = pending.pop()
            return head + read(n - len(head)) if n > len(head) else head
        return read(n)

    return read_again


def _os_read_all(fd: int) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        chunks = []
        while n > 0:
            b = os.read(fd, n)
            if not b:
                break
            chunks.append(b)
            n -= len(b)
        return b"".join(chunks)

    return read


_O_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_O_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: str, opener: Opener = os.open) -> int:
    """Open read-only, without touching atime where the OS lets us (O_NOATIME needs ownership)."""
    if _O_NOATIME:
        try:
            return opener(path, _O_FLAGS | _O_NOATIME)
        except PermissionError:  # not our file: open it the ordinary way
            return opener(path, _O_FLAGS)
    return opener(path, _O_FLAGS)


def read_fits(path: str, opener: Opener = os.open) -> RawHeader:
    fd, size, mtime_ns = _open(path, opener)
    try:
        first = os.read(fd, _FIRST_READ)
        end = first.find(_END_CARD) if first.startswith(b"SIMPLE") and len(first) >= BLOCK else -1
        if end >= 0 and not end % CARD:  # the usual header: one read, END on a card boundary
            data = first[: end + CARD]
        else:
            data = _read_fits_blocks(_prefixed(first, _os_read_all(fd)))
    except OSError as e:
        raise HeaderError(_os_reason(e)) from e
    finally:
        os.close(fd)
    return RawHeader(header_cards(data), data, "fits", size, mtime_ns)


def read_fits_gz(path: str, opener: Opener = os.open) -> RawHeader:
    fd, size, mtime_ns = _open(path, opener)
    try:
        with os.fdopen(fd, "rb", closefd=False) as raw, gzip.GzipFile(fileobj=raw) as gz:
            data = _read_fits_blocks(gz.read)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        if isinstance(e, gzip.BadGzipFile) or "gzip" in str(e).lower():
            raise HeaderError(f"not a valid gzip file ({e})") from e
        if isinstance(e, EOFError):
            raise HeaderError("gzip stream ends inside the FITS header") from e
        raise HeaderError(_os_reason(e)) from e
    finally:
        os.close(fd)
    return RawHeader(header_cards(data), data, "fits.gz", size, mtime_ns)


def read_fits_fz(path: str, opener: Opener = os.open) -> RawHeader:
    """Tile-compressed FITS: the image header of the first extension, read by the block reader.

    fpack keeps headers uncompressed: an empty primary HDU, then a BINTABLE whose header holds
    the image's cards and the Z-keywords. Two header reads and a seek past the (empty) primary
    data: no decompression, bounded memory, O_NOATIME like every other read — cfitsio would
    inflate the whole image (a gzip-bombed .fz into gigabytes) and parse the name as its filename
    syntax."""
    fd, size, mtime_ns = _open(path, opener)
    try:
        primary = _read_fits_blocks(_os_read_all(fd))
        offset = len(primary) + (-len(primary) % BLOCK) + _data_size(parse_header(primary), 0)
        if offset >= size:
            raise HeaderError("not a tile-compressed FITS file (no extension after the primary header)")
        os.lseek(fd, offset, os.SEEK_SET)
        table = _read_fits_blocks(_os_read_all(fd), first=b"XTENSION")
    except OSError as e:
        raise HeaderError(_os_reason(e)) from e
    finally:
        os.close(fd)
    cards = parse_header(table)
    if cards.get("ZIMAGE") is not True:
        raise HeaderError("not a tile-compressed image (its first extension has no ZIMAGE = T)")
    return RawHeader(image_header_of_compressed(cards), table, "fits.fz", size, mtime_ns)


def _data_size(cards: Mapping[str, object], default: int) -> int:
    """Bytes of the data unit a header declares, padded to whole blocks (FITS standard §4.4.1)."""
    naxis = cards.get("NAXIS")
    bitpix = cards.get("BITPIX")
    if not isinstance(naxis, int) or not isinstance(bitpix, int) or naxis < 0 or naxis > 999:
        return default
    if naxis == 0:
        return 0
    n = abs(bitpix) // 8
    for i in range(1, naxis + 1):
        axis = cards.get(f"NAXIS{i}")
        if not isinstance(axis, int) or axis < 0:
            return default
        n *= axis
    pcount, gcount = cards.get("PCOUNT", 0), cards.get("GCOUNT", 1)
    if isinstance(pcount, int) and isinstance(gcount, int):
        n = (n + pcount * abs(bitpix) // 8) * gcount if pcount else n * gcount
    return n + (-n % BLOCK)


# Tile compression (FITS standard §10) stores the image's own structural keywords as Z*
# keywords of a binary table; undo that to get the header of the image, as fitsheader shows it.
_Z_RENAMES = {
    "ZSIMPLE": "SIMPLE", "ZTENSION": "XTENSION", "ZBITPIX": "BITPIX", "ZNAXIS": "NAXIS",
    "ZPCOUNT": "PCOUNT", "ZGCOUNT": "GCOUNT", "ZEXTEND": "EXTEND", "ZBLOCKED": "BLOCKED",
    "ZHECKSUM": "CHECKSUM", "ZDATASUM": "DATASUM",
}  # fmt: skip
_TABLE_ONLY = re.compile(
    r"(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|THEAP|T(TYPE|FORM|UNIT|NULL|SCAL|ZERO|DIM)\d+"
    r"|ZIMAGE|ZCMPTYPE|ZMASKCMP|ZQUANTIZ|ZDITHER0|ZTILE\d+|ZNAME\d+|ZVAL\d+|CHECKSUM|DATASUM)$"
)


def image_header_of_compressed(cards: dict[str, object]) -> dict[str, object]:
    if cards.get("ZIMAGE") is not True:
        return cards
    out: dict[str, object] = {}
    for key, value in cards.items():
        if key in _Z_RENAMES:
            out[_Z_RENAMES[key]] = value
        elif key.startswith("ZNAXIS") and key[6:].isdigit():
            out["NAXIS" + key[6:]] = value
        elif not _TABLE_ONLY.match(key):
            out[key] = value
    out.setdefault("SIMPLE", True)
    return out


def fitsio_cards(hdr: object) -> dict[str, object]:
    """A fitsio FITSHDR → {KEYWORD: value} with the same rules as ours (first wins)."""
    out: dict[str, object] = {}
    for rec in hdr.records():  # type: ignore[attr-defined]  # fitsio has no type hints: a FITSHDR
        name = rec.get("name")
        if not name:
            continue
        name = name.upper()
        if name in ("COMMENT", "HISTORY", "CONTINUE") or name in out:
            continue
        out[name] = rec.get("value")
    return out


def _open(path: str, opener: Opener) -> tuple[int, int, int]:
    """(fd, size, mtime in ns) of a regular file opened read-only. A FIFO, socket or device named ``.fits``
    is refused without blocking (O_NONBLOCK: opening a FIFO with no writer would wait forever)."""
    try:
        fd = open_readonly(path, opener)
    except OSError as e:
        raise HeaderError(_os_reason(e)) from e
    try:
        st = os.fstat(fd)
    except OSError as e:
        os.close(fd)
        raise HeaderError(_os_reason(e)) from e
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise HeaderError("not a regular file (a pipe, socket or device)")
    return fd, st.st_size, st.st_mtime_ns


def _os_reason(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied"
    if isinstance(e, FileNotFoundError):
        return "vanished during the scan"
    if isinstance(e, IsADirectoryError):
        return "is a directory"
    return f"cannot read: {e.strerror or e}"


# ---------------------------------------------------------------------------------------------
# XISF

_XISF_NS = "{http://www.pixinsight.com/xisf}"
# XISF image properties → the FITS keyword they stand in for, with a unit factor.
_XISF_PROPERTIES: dict[str, tuple[str, float | None]] = {
    "Observation:Object:Name": ("OBJECT", None),
    "Instrument:Filter:Name": ("FILTER", None),
    "Instrument:ExposureTime": ("EXPTIME", 1.0),
    "Observation:Time:Start": ("DATE-OBS", None),
    "Instrument:Camera:Name": ("INSTRUME", None),
    "Instrument:Telescope:Name": ("TELESCOP", None),
    "Instrument:Telescope:FocalLength": ("FOCALLEN", 1000.0),  # XISF stores metres
    "Instrument:Telescope:Aperture": ("APTDIA", 1000.0),
    "Instrument:Camera:XBinning": ("XBINNING", 1.0),
    "Instrument:Camera:YBinning": ("YBINNING", 1.0),
    "Instrument:Sensor:Temperature": ("CCD-TEMP", 1.0),
    "Instrument:Sensor:TargetTemperature": ("SET-TEMP", 1.0),
    "Instrument:Sensor:XPixelSize": ("XPIXSZ", 1.0),
    "Instrument:Sensor:YPixelSize": ("YPIXSZ", 1.0),
    "Observation:Location:Latitude": ("SITELAT", 1.0),
    "Observation:Location:Longitude": ("SITELONG", 1.0),
    "Observation:Location:Elevation": ("SITEELEV", 1.0),
    "Observation:Center:RA": ("RA", 1.0),
    "Observation:Center:Dec": ("DEC", 1.0),
    "XISF:CreatorApplication": ("SWCREATE", None),
}
# Parsing XML takes 7-13× its size in memory (a 38 MB header cost 510 MB): larger headers are
# listed as unreadable with this reason. Real ones are kilobytes (docs/decisions.md).
MAX_XISF_HEADER = 16 * 1024 * 1024


def read_xisf(path: str, opener: Opener = os.open) -> RawHeader:
    fd, size, mtime_ns = _open(path, opener)
    try:
        read = _os_read_all(fd)
        head = read(16)
        if len(head) < 16 or not head.startswith(b"XISF0100"):
            if not head:
                raise HeaderError("empty file (0 bytes)")
            raise HeaderError("not an XISF file (no XISF0100 signature)")
        (length,) = struct.unpack_from("<I", head, 8)
        if length > MAX_XISF_HEADER:
            raise HeaderError(
                f"XISF header of {length:,} bytes is larger than pl-tui reads ({MAX_XISF_HEADER:,} bytes: "
                "parsing it would take about ten times that in memory)"
            )
        xml_bytes = read(length)
        if len(xml_bytes) < length:
            raise HeaderError("XISF header truncated")
    except OSError as e:
        raise HeaderError(_os_reason(e)) from e
    finally:
        os.close(fd)
    return RawHeader(parse_xisf_xml(xml_bytes), xml_bytes, "xisf", size, mtime_ns)


def parse_xisf_xml(xml_bytes: bytes) -> dict[str, object]:
    """FITSKeyword elements of the first Image first, then image properties for what is absent."""
    try:
        root = ET.fromstring(xml_bytes.rstrip(b"\x00 \t\r\n"))
    except ET.ParseError as e:
        raise HeaderError(f"XISF header is not valid XML ({e})") from e
    except (LookupError, ValueError) as e:  # <?xml encoding="UTF-8F"?> and the like (found by fuzzing)
        raise HeaderError(f"XISF header cannot be decoded ({e})") from e
    image = root.find(f"{_XISF_NS}Image")
    if image is None:
        image = root.find("Image")
    if image is None:
        raise HeaderError("XISF header has no Image element")
    out: dict[str, object] = {}
    for el in image:
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "FITSKeyword":
            name = (el.get("name") or "").strip().upper()
            if name and name not in _COMMENTARY and name not in out:
                out[name] = parse_value(el.get("value") or "")
    props: list[ET.Element] = [el for el in image if el.tag.rsplit("}", 1)[-1] == "Property"]
    meta = root.find(f"{_XISF_NS}Metadata")
    if meta is not None:
        props += [el for el in meta if el.tag.rsplit("}", 1)[-1] == "Property"]
    for el in props:
        target = _XISF_PROPERTIES.get(el.get("id") or "")
        if target is None:
            continue
        key, factor = target
        if key in out:
            continue
        raw = el.get("value")
        if raw is None:
            raw = (el.text or "").strip()
        if factor is None:
            out[key] = raw
        else:
            try:
                out[key] = float(raw) * factor
            except ValueError:
                continue
    geometry = (image.get("geometry") or "").split(":")
    if len(geometry) >= 2 and "NAXIS1" not in out:
        with contextlib.suppress(ValueError):
            out["NAXIS1"], out["NAXIS2"] = int(geometry[0]), int(geometry[1])
    if image.get("imageType") and "IMAGETYP" not in out:
        out["IMAGETYP"] = image.get("imageType")
    if any(el.get("id", "").startswith("PixInsight:ProcessingHistory") for el in props):
        out.setdefault("PIPROCESSED", True)
    return out


_READERS = {"fits": read_fits, "fits.gz": read_fits_gz, "fits.fz": read_fits_fz, "xisf": read_xisf}


def read_header(path: str, kind: str | None = None, opener: Opener = os.open) -> RawHeader:
    """Read the header of any picked-up file; HeaderError carries the reason when it can't."""
    kind = kind or header_kind(path)
    if kind is None:
        raise HeaderError("not a FITS or XISF file name")
    return _READERS[kind](path, opener)
