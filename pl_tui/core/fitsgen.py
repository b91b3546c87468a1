"""Writing FITS and XISF headers: for the demo archive, the tests and the benchmarks.

Never used on an archive the user scans — pl-tui does not write there. ``format_card`` writes
standard cards; a plain ``str`` in a card list is written verbatim (padded to 80), which is how
tests produce the non-standard cards real capture programs emit.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import quoteattr

from .headers import BLOCK, CARD

Card = tuple[str, object] | tuple[str, object, str] | str


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return ("T" if value else "F").rjust(20)
    if isinstance(value, int):
        return str(value).rjust(20)
    if isinstance(value, float):
        text = repr(value).upper()
        if "." not in text and "E" not in text:
            text += "."
        return text.rjust(20)
    if isinstance(value, complex):
        return f"({value.real!r}, {value.imag!r})".rjust(20)
    if value is None:
        return ""
    s = str(value).replace("'", "''")
    return f"'{s.ljust(8)}'"


def format_card(key: str, value: object, comment: str = "") -> list[str]:
    """One keyword → one or more 80-char cards (HIERARCH for long keys, CONTINUE for long strings)."""
    if len(key) > 8 or " " in key:
        prefix = f"HIERARCH {key} = "
    else:
        prefix = f"{key.ljust(8)}= "
    if isinstance(value, str):
        s = value.replace("'", "''")
        room = CARD - len(prefix) - 2
        if len(s) + 2 <= CARD - len(prefix):
            return [_pad(prefix + f"'{s.ljust(8)}'" + (f" / {comment}" if comment else ""))]
        # long string: CONTINUE convention, each piece ending in '&'; never split a doubled quote
        out = []
        first = True
        while s:
            room = (CARD - len(prefix) - 3) if first else CARD - 10 - 3
            piece = s[:room]
            if piece.endswith("'") and not piece.endswith("''"):
                piece = piece[:-1]
            while piece.count("'") % 2:
                piece = piece[:-1]
            s = s[len(piece) :]
            amp = "&" if s else ""
            out.append(_pad((prefix if first else "CONTINUE  ") + f"'{piece}{amp}'"))
            first = False
        return out
    text = prefix + _format_value(value)
    if comment:
        text += f" / {comment}"
    return [_pad(text)]


def _pad(text: str) -> str:
    return text[:CARD].ljust(CARD)


def header_bytes(cards: Iterable[Card], naxis: Sequence[int] = (), bitpix: int = 16, encoding: str = "utf-8") -> bytes:
    """A primary header: SIMPLE/BITPIX/NAXIS first, the given cards, END, padded to blocks."""
    lines = format_card("SIMPLE", True) + format_card("BITPIX", bitpix)
    lines += format_card("NAXIS", len(naxis))
    for i, n in enumerate(naxis, 1):
        lines += format_card(f"NAXIS{i}", n)
    for c in cards:
        if isinstance(c, str):
            lines.append(_pad(c))
        else:
            lines += format_card(*c)
    lines.append(_pad("END"))
    # each card is 80 bytes: UTF-8 text (as N.I.N.A. writes accented names) takes fewer characters
    data = b"".join(line.rstrip().encode(encoding)[:CARD].ljust(CARD) for line in lines)
    return data + b" " * (-len(data) % BLOCK)


def data_size(naxis: Sequence[int], bitpix: int = 16) -> int:
    if not naxis:
        return 0
    n = abs(bitpix) // 8
    for a in naxis:
        n *= a
    return n + (-n % BLOCK)


def write_fits(
    path: str | os.PathLike[str],
    cards: Iterable[Card],
    naxis: Sequence[int] = (16, 16),
    bitpix: int = 16,
    sparse: bool = True,
    encoding: str = "utf-8",
) -> None:
    """Write a FITS file with a data unit of the right size (a hole when sparse: no disk used)."""
    head = header_bytes(cards, naxis, bitpix, encoding)
    size = data_size(naxis, bitpix)
    with open(path, "wb") as f:
        f.write(head)
        if size:
            if sparse:
                f.truncate(len(head) + size)
            else:
                f.write(b"\0" * size)


def xisf_bytes(
    keywords: Iterable[tuple[str, object]],
    properties: Iterable[tuple[str, str, str]] = (),
    geometry: str = "16:16:1",
    image_type: str | None = None,
) -> bytes:
    """A monolithic XISF file: signature, header length, XML header, then a small data block."""
    kw = "".join(
        f'<FITSKeyword name={quoteattr(k)} value={quoteattr(_format_value(v).strip())} comment=""/>'
        for k, v in keywords
    )
    props = "".join(f"<Property id={quoteattr(i)} type={quoteattr(t)} value={quoteattr(v)}/>" for i, t, v in properties)
    w, h, c = (int(x) for x in geometry.split(":"))
    nbytes = w * h * c * 2
    itype = f" imageType={quoteattr(image_type)}" if image_type else ""

    def xml(offset: int) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<xisf version="1.0" xmlns="http://www.pixinsight.com/xisf">'
            f'<Image geometry="{geometry}" sampleFormat="UInt16" colorSpace="Gray"'
            f' location="attachment:{offset}:{nbytes}"{itype}>{kw}{props}</Image>'
            "</xisf>"
        ).encode()

    body = xml(0)
    offset = 16 + len(body) + 32
    body = xml(offset).ljust(offset - 16, b" ")
    return b"XISF0100" + struct.pack("<II", len(body), 0) + body + b"\0" * nbytes
