"""The demo archive: a small, realistic, deterministic archive to try pl-tui on.

Three rigs and three capture programs (NINA mono narrowband + LRGB, SGP one-shot colour,
a Seestar), date-first and target-first folder layouts, calibration frames, a stacking copy
(duplicates), masters and calibrated files (derived), a rejected folder, frames with missing
keywords (unknown, folder fallback) and a few broken files (unreadable). Also the header
recipes the benchmark uses. Frame data units are sparse holes: the archive costs almost no disk.
"""

from __future__ import annotations

import gzip
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .core.fitsgen import Card, header_bytes, write_fits, xisf_bytes
from .core.headers import read_fits

BERLIN = (52.52, 13.40)


def _iso(dt: datetime, frac: int = 3) -> str:
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        s += "." + f"{dt.microsecond:06d}"[:frac]
    return s


def nina_cards(
    target: str,
    filt: str | None,
    start_utc: datetime,
    exposure: float = 300.0,
    imagetyp: str = "LIGHT",
    camera: str = "ZWO ASI2600MM Pro",
    telescope: str = "RedCat 51",
    focal: float = 250.0,
    ra: float = 148.8882,
    dec: float = 69.0653,
    ccd_temp: float = -10.0,
    utc_offset_h: float = 2.0,
    pad_to: int = 80,
) -> list[Card]:
    """A N.I.N.A.-style light header (both EXPOSURE and EXPTIME, DATE-LOC, SITE*, SWCREATE)."""
    local = start_utc + timedelta(hours=utc_offset_h)
    cards: list[Card] = [
        ("EXTEND", True),
        ("BZERO", 32768),
        ("BSCALE", 1),
        ("IMAGETYP", imagetyp, "Type of exposure"),
        ("EXPOSURE", exposure, "[s] Exposure duration"),
        ("EXPTIME", exposure, "[s] Exposure duration"),
        ("DATE-LOC", _iso(local, 7), "Time of observation (local)"),
        ("DATE-OBS", _iso(start_utc, 7), "Time of observation (UTC)"),
        ("XBINNING", 1),
        ("YBINNING", 1),
        ("GAIN", 100),
        ("OFFSET", 50),
        ("EGAIN", 0.25),
        ("XPIXSZ", 3.76),
        ("YPIXSZ", 3.76),
        ("INSTRUME", camera),
        ("SET-TEMP", -10.0),
        ("CCD-TEMP", ccd_temp),
        ("READOUTM", "Normal"),
        ("TELESCOP", telescope),
        ("FOCALLEN", focal),
        ("FOCRATIO", round(focal / 51, 1)),
        ("RA", round(ra, 4)),
        ("DEC", round(dec, 4)),
        ("CENTALT", 45.2),
        ("CENTAZ", 320.1),
        ("AIRMASS", 1.41),
        ("PIERSIDE", "West"),
        ("SITEELEV", 34.0),
        ("SITELAT", BERLIN[0]),
        ("SITELONG", BERLIN[1]),
        ("OBJECT", target),
        ("OBJCTRA", _sexa(ra / 15)),
        ("OBJCTDEC", _sexa(dec, sign=True)),
        ("ROWORDER", "TOP-DOWN"),
        ("EQUINOX", 2000.0),
        ("SWCREATE", "N.I.N.A. 3.1.2.9001 (x64)"),
    ]
    if filt is not None:
        cards.insert(20, ("FWHEEL", "ZWO EFW"))
        cards.insert(21, ("FILTER", filt))
    i = 0
    while len(cards) < pad_to - 5:  # SIMPLE, BITPIX, NAXIS, NAXIS1, NAXIS2 come first
        cards.append((f"FOCUS{i:03d}", round(4321 + i * 0.5, 1)))
        i += 1
    return cards


def _sexa(v: float, sign: bool = False) -> str:
    neg = v < 0
    v = abs(v)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    txt = f"{d:02d} {m:02d} {s:04.1f}"
    if sign:
        txt = ("-" if neg else "+") + txt
    return txt


def sgp_cards(target: str, start_utc: datetime, exposure: float = 180.0, imagetyp: str = "Light Frame") -> list[Card]:
    """A Sequence Generator Pro one-shot-colour header: EXPOSURE only, TEMPERAT, CCDXBIN."""
    return [
        ("OBJECT", target),
        ("DATE-OBS", _iso(start_utc, 3)),
        ("DATE-LOC", _iso(start_utc + timedelta(hours=1, seconds=exposure + 2), 3)),
        ("IMAGETYP", imagetyp),
        ("EXPOSURE", exposure),
        ("CCDXBIN", 1),
        ("CCDYBIN", 1),
        ("XPIXSZ", 3.76),
        ("YPIXSZ", 3.76),
        ("INSTRUME", "ZWO ASI533MC Pro"),
        ("TELESCOP", "Esprit 100ED"),
        ("FOCALLEN", 550),
        ("APTDIA", 100),
        ("TEMPERAT", -5.2),
        ("SET-TEMP", -5.0),
        ("GAIN", 101),
        ("BAYERPAT", "RGGB"),
        ("OBJCTRA", "00 42 44"),
        ("OBJCTDEC", "+41 16 09"),
        ("SITELAT", "52 31 12"),
        ("SITELONG", "13 24 00"),
        ("CREATOR", "Sequence Generator Pro v4.2.0.1000"),
    ]


def seestar_cards(target: str, start_utc: datetime) -> list[Card]:
    return [
        ("OBJECT", target),
        ("DATE-OBS", _iso(start_utc, 6)),
        ("EXPTIME", 10.0),
        ("IMAGETYP", "Light"),
        ("INSTRUME", "Seestar S50"),
        ("TELESCOP", "Seestar S50"),
        ("FOCALLEN", 250.0),
        ("XPIXSZ", 2.9),
        ("YPIXSZ", 2.9),
        ("XBINNING", 1),
        ("YBINNING", 1),
        ("GAIN", 80),
        ("CCD-TEMP", 24.5),
        ("BAYERPAT", "GRBG"),
        ("RA", 315.0),
        ("DEC", 44.3),
        ("CREATOR", "ZWO Seestar S50"),
    ]


NIGHTS_A = ["2024-03-08", "2024-03-09", "2024-04-02", "2025-02-20"]


def build_demo_archive(root: str | os.PathLike[str], seed: int = 42) -> dict[str, int]:
    """Write the demo archive under root (created if needed). Returns counts by kind."""
    rnd = random.Random(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = {"lights": 0, "calibration": 0, "other": 0}
    big = (6248, 4176)

    def light(path: Path, cards: list[Card], naxis: tuple[int, int] = big) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_fits(path, cards, naxis)
        counts["lights"] += 1

    # Rig A, NINA, date-first layout: <night>/LIGHT/<target>/<target>_<filter>_<n>.fits
    plan = {
        "M 81": [("L", 12, 120.0), ("R", 6, 120.0), ("G", 6, 120.0), ("B", 6, 120.0), ("Ha", 8, 300.0)],
        "NGC 7000": [("Ha", 10, 300.0), ("OIII", 10, 300.0)],
        "Sh2-129": [("Ha", 6, 600.0), ("OIII", 6, 600.0)],
    }
    for n_idx, night in enumerate(NIGHTS_A):
        base = datetime.fromisoformat(night + "T19:30:00").replace(tzinfo=UTC)
        for target, filters in plan.items():
            if (target == "Sh2-129") != (n_idx >= 2):
                continue
            t = base
            for filt, n, exp in filters:
                for k in range(n):
                    t += timedelta(seconds=exp + 3, milliseconds=rnd.randint(0, 999))
                    name = f"{target.replace(' ', '')}_{filt}_{exp:.0f}s_{k + 1:04d}.fits"
                    ra, dec = (
                        (148.888, 69.065) if target == "M 81" else (314.7, 44.3) if "7000" in target else (325.8, 60.2)
                    )
                    light(
                        root / night / "LIGHT" / target.replace(" ", "") / name,
                        nina_cards(
                            target, filt, t, exp, ra=ra, dec=dec, ccd_temp=-10.0 + rnd.choice((0, 0, 0.1, -0.1, 1.6))
                        ),
                    )
        # calibration for rig A that night
        for f_idx, filt in enumerate(("L", "R", "G", "B", "Ha", "OIII")):
            for k in range(3):
                p = root / night / "FLAT" / filt / f"FLAT_{filt}_{k + 1:04d}.fits"
                p.parent.mkdir(parents=True, exist_ok=True)
                t = base + timedelta(hours=-2, seconds=f_idx * 60 + k * 5, milliseconds=rnd.randint(0, 999))
                write_fits(p, nina_cards("FlatWizard", filt, t, 2.5, "FLAT"), big)
                counts["calibration"] += 1
    for exp in (120.0, 300.0, 600.0):
        for k in range(4):
            p = root / "Calibration" / "DARK" / f"DARK_{exp:.0f}s_{k + 1:04d}.fits"
            p.parent.mkdir(parents=True, exist_ok=True)
            t = datetime(2024, 3, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=k * (exp + 5) + exp)
            write_fits(p, [c for c in nina_cards("", None, t, exp, "DARK") if c[0] != "OBJECT"], big)
            counts["calibration"] += 1
    for k in range(4):
        p = root / "Calibration" / "BIAS" / f"BIAS_{k + 1:04d}.fits"
        t = datetime(2024, 3, 1, 11, 0, tzinfo=UTC) + timedelta(milliseconds=k * 350)
        p.parent.mkdir(parents=True, exist_ok=True)
        write_fits(p, [c for c in nina_cards("", None, t, 0.0, "BIAS") if c[0] != "OBJECT"], big)
        counts["calibration"] += 1

    # Rig B, SGP, target-first layout: M31/<night>/LIGHT/...
    for night in ("2024-09-02", "2024-09-03"):
        t = datetime.fromisoformat(night + "T20:10:00").replace(tzinfo=UTC)
        for k in range(15):
            t += timedelta(seconds=183)
            light(root / "M31" / night / "LIGHT" / f"M31_{k + 1:03d}.fits", sgp_cards("M 31", t), (3008, 3008))
    # An SGP session that runs past UTC midnight: one night, not two
    t = datetime(2024, 10, 5, 23, 30, tzinfo=UTC)
    for k in range(8):
        t += timedelta(seconds=183)
        light(
            root / "M31" / "2024-10-05" / "LIGHT" / f"M31_late_{k + 1:03d}.fits",
            sgp_cards("Andromeda Galaxy", t),
            (3008, 3008),
        )

    # Rig C, Seestar: XISF from a smart telescope's export, and gzip-compressed FITS
    for k in range(6):
        t = datetime(2024, 7, 14, 21, 40, tzinfo=UTC) + timedelta(seconds=11 * k)
        p = root / "Seestar" / "NGC 7000" / f"Light_NGC7000_10.0s_{k:03d}.fits.gz"
        p.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(p, "wb", compresslevel=1) as f:
            f.write(header_bytes(seestar_cards("NGC 7000", t), (1080, 1920)))
            f.write(b"\0" * 2880)
        counts["lights"] += 1
    for k in range(4):
        t = datetime(2024, 7, 15, 21, 40, tzinfo=UTC) + timedelta(seconds=11 * k)
        kws = [(c[0], c[1]) for c in seestar_cards("NGC 7000", t)]
        p = root / "Seestar" / "NGC 7000" / f"Light_NGC7000_10.0s_{k + 10:03d}.xisf"
        p.write_bytes(xisf_bytes(kws, geometry="1080:1920:1", image_type="Light"))
        counts["lights"] += 1

    # Copies, derived, rejected, unknown, broken
    first_night = root / NIGHTS_A[0] / "LIGHT" / "M81"
    stack = root / "Processing" / "M81 stack project"
    stack.mkdir(parents=True, exist_ok=True)
    for src in sorted(first_night.iterdir())[:5]:  # a copy: same header bytes, same size
        with open(src, "rb") as frame_file:
            head = frame_file.read(2880 * 4)
        (stack / src.name).write_bytes(head)
        os.truncate(stack / src.name, src.stat().st_size)
        counts["other"] += 1
    cal = root / "Processing" / "calibrated"
    cal.mkdir(parents=True, exist_ok=True)
    for src in sorted(first_night.iterdir())[:3]:
        write_fits(cal / (src.stem + "_c.fits"), [*_cards_of(src), ("PEDESTAL", 100)], big)
        counts["other"] += 1
    masters = root / "Processing" / "masters"
    masters.mkdir(parents=True, exist_ok=True)
    write_fits(
        masters / "MasterDark_300s.fits",
        [("IMAGETYP", "Master Dark"), ("EXPTIME", 300.0), ("NCOMBINE", 4), ("INSTRUME", "ZWO ASI2600MM Pro")],
        big,
    )
    counts["other"] += 1
    rej = root / NIGHTS_A[1] / "LIGHT" / "M81" / "rejected"
    rej.mkdir(parents=True, exist_ok=True)
    for k in range(3):
        t = datetime(2024, 3, 9, 23, 0, tzinfo=UTC) + timedelta(seconds=130 * k)
        write_fits(rej / f"M81_L_120s_cloud_{k + 1:04d}.fits", nina_cards("M 81", "L", t, 120.0), big)
        counts["other"] += 1
    # no OBJECT: the folder supplies the target (inferred → Unknown bucket)
    odd = root / NIGHTS_A[2] / "LIGHT" / "NGC7000"
    t = datetime(2024, 4, 2, 22, 0, tzinfo=UTC)
    for k in range(2):
        cards = [
            c
            for c in nina_cards("", "Ha", t + timedelta(seconds=303 * k), 300.0, ra=314.7, dec=44.3)
            if c[0] != "OBJECT"
        ]
        light(odd / f"noname_Ha_{k + 1:04d}.fits", cards)
    # a mono light without filter
    light(
        root / NIGHTS_A[2] / "LIGHT" / "M81" / "M81_nofilter_0001.fits",
        nina_cards("M 81", None, datetime(2024, 4, 2, 23, 59, tzinfo=UTC), 120.0),
    )
    # Suspect: an M81 frame that points at NGC 7000 (the sequence's target was not updated),
    # and one whose DATE-LOC says the capture PC ran on UTC−5 at a Berlin site
    light(
        root / NIGHTS_A[2] / "LIGHT" / "M81" / "M81_Ha_300s_0099.fits",
        nina_cards("M 81", "Ha", datetime(2024, 4, 2, 21, 30, tzinfo=UTC), 300.0, ra=314.7, dec=44.3),
    )
    light(
        root / NIGHTS_A[2] / "LIGHT" / "M81" / "M81_Ha_300s_0098.fits",
        nina_cards("M 81", "Ha", datetime(2024, 4, 2, 21, 20, tzinfo=UTC), 300.0, utc_offset_h=-5.0),
    )
    broken = root / "Broken"
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "empty.fits").write_bytes(b"")
    (broken / "tiny.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    (broken / "snapshot.fits").write_bytes(
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(rnd.randrange(256) for _ in range(4000))
    )
    (broken / "no_end.fits").write_bytes(
        header_bytes([("OBJECT", "M81")], (10, 10))[: 2880 * 2 - 80]
        .replace(b"END" + b" " * 77, b" " * 80)
        .ljust(5760, b" ")
    )
    counts["other"] += 4
    (root / "README.txt").write_text("pl-tui demo archive: sub-frames with headers only (sparse data units).\n")
    return counts


def _cards_of(path: Path) -> list[Card]:
    """The cards of a demo FITS file (minus the structural ones), to make a processed copy."""
    raw = read_fits(str(path)).cards
    skip = {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2"}
    return [(k, v) for k, v in raw.items() if k not in skip]
