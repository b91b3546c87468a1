#!/usr/bin/env python3
# ruff: noqa
# A verbatim copy of the team's shared generator (/work/shared/bench/gen_archive.py), kept here so that
# the tests and benchmarks that build large archives run from a clean clone (CI).
"""Generate a synthetic NINA-like astrophotography FITS archive for header-scan benchmarks.

Layout:  <root>/<target>/<YYYY-MM-DD>/<LIGHT|FLAT|DARK>/<nina-style-name>.fits
         ~14 targets x 3..7 nights x 3 frame types  ~= 200 folders.

Each file: a valid primary header of ~60-90 cards (a few % up to ~115 cards, so the
header spans 2, 3 or occasionally 4 blocks of 2880 bytes) followed by a SPARSE data unit
(the file is ftruncate()d to the full size declared by BITPIX/NAXISn, padded to 2880), so
`ls -l` sizes are realistic but only the header blocks use disk space.

Headers vary from frame to frame the way real ones do (times, temperatures, pointing, focuser,
weather), and each file's mtime is the end of its exposure. Pure stdlib; deterministic for a
given --seed.  Usage:
    python3 gen_archive.py --root ${TMPDIR:-/tmp}/fitsbench/a20k  -n 20000
    python3 gen_archive.py --root ${TMPDIR:-/tmp}/fitsbench/a100k -n 100000
    python3 gen_archive.py --root /tmp/x -n 2000 --dims 6248x4176   # 52 MB apparent / file
    python3 gen_archive.py --root /tmp/x -n 1000 --dense            # real (non-sparse) data
"""

import argparse
import datetime as dt
import os
import random
import sys
import time

BLOCK = 2880

# (name, ra_deg, dec_deg)
TARGETS = [
    ("M 42", 83.8221, -5.3911),
    ("M 31", 10.6847, 41.2689),
    ("NGC 7000", 314.75, 44.33),
    ("IC 1396", 324.74, 57.50),
    ("M 33", 23.4621, 30.6602),
    ("NGC 6960", 311.42, 30.71),
    ("M 101", 210.8023, 54.3489),
    ("IC 434", 85.2458, -2.4583),
    ("Barnard's Loop", 86.0, 0.0),
    ("M 45", 56.75, 24.1167),
    ("NGC 2244", 97.98, 4.94),
    ("M 16", 274.70, -13.80),
    ("Sh2-129", 318.42, 59.98),
    ("NGC 281", 13.20, 56.63),
]

CAMERAS = [
    # name, naxis1, naxis2, pix um, color?, egain
    ("ZWO ASI2600MM Pro", 6248, 4176, 3.76, False, 0.25),
    ("ZWO ASI2600MC Pro", 6248, 4176, 3.76, True, 0.25),
    ("ZWO ASI294MM Pro", 4144, 2822, 4.63, False, 0.31),
    ("QHY268M", 6252, 4176, 3.76, False, 0.33),
]
SCOPES = [
    ("Askar FRA400", 400, 5.6),
    ("William Optics RedCat 51", 250, 4.9),
    ("Sky-Watcher Esprit 100ED", 550, 5.5),
    ("Celestron RASA 8", 400, 2.0),
]
MOUNTS = ["iOptron CEM40", "Sky-Watcher EQ6-R Pro", "ZWO AM5"]
MONO_FILTERS = ["L", "R", "G", "B", "Ha", "OIII", "SII"]
COLOR_FILTERS = ["UVIRCut", "L-eXtreme", "L-Pro"]


def fmt_val(v):
    """Right-justified (cols 11-30) value field per FITS fixed format."""
    if isinstance(v, bool):
        return "%20s" % ("T" if v else "F")
    if isinstance(v, int):
        return "%20d" % v
    if isinstance(v, float):
        s = repr(v)
        if "e" in s or "E" in s:
            s = "%.15G" % v
        elif "." not in s:
            s += ".0"
        return "%20s" % s
    # string: quote, escape, pad to >= 8 chars inside quotes
    s = str(v).replace("'", "''")
    return "%-20s" % ("'%-8s'" % s)


def card(key, value=None, comment=None):
    if key in ("COMMENT", "HISTORY", ""):
        c = "%-8s%s" % (key, value or "")
    else:
        c = "%-8s= %s" % (key, fmt_val(value))
        if comment:
            c += " / " + comment
    if len(c) > 80:
        c = c[:80]
    return "%-80s" % c


def ra_hms(ra):
    h = ra / 15.0
    hh = int(h)
    mm = int((h - hh) * 60)
    ss = ((h - hh) * 60 - mm) * 60
    return "%02d %02d %05.2f" % (hh, mm, ss)


def dec_dms(dec):
    sgn = "-" if dec < 0 else "+"
    d = abs(dec)
    dd = int(d)
    mm = int((d - dd) * 60)
    ss = ((d - dd) * 60 - mm) * 60
    return "%s%02d %02d %04.1f" % (sgn, dd, mm, ss)


def build_plan(n, rng):
    """Return list of (target_idx, night_date, frametype) folders and a per-file folder pick."""
    folders = []
    base = dt.date(2022, 9, 1)
    for ti, _ in enumerate(TARGETS):
        nights = sorted(rng.sample(range(0, 420), rng.randint(3, 7)))
        for nd in nights:
            d = base + dt.timedelta(days=nd)
            for ft in ("LIGHT", "FLAT", "DARK"):
                folders.append((ti, d, ft))
    weights = [0.72 if ft == "LIGHT" else (0.18 if ft == "FLAT" else 0.10) for (_, _, ft) in folders]
    return folders, weights


def make_header(rng, tgt, night, ft, seq, cam, scope, mount, filt, site, naxis_override):
    name, ra0, dec0 = tgt
    camname, nx, ny, pix, color, egain = cam
    if naxis_override:
        nx, ny = naxis_override
    sname, flen, fratio = scope
    # time: start ~21:00 local on night + seq * (exp + overhead)
    exp = {
        "LIGHT": rng.choice([60.0, 120.0, 180.0, 300.0, 600.0]),
        "FLAT": round(rng.uniform(0.05, 4.0), 4),
        "DARK": rng.choice([60.0, 120.0, 180.0, 300.0, 600.0]),
    }[ft]
    t_loc = dt.datetime.combine(night, dt.time(21, 0)) + dt.timedelta(seconds=seq * (exp + 7.3) + rng.uniform(0, 2))
    t_utc = t_loc - dt.timedelta(hours=1)
    ms = "%03d" % (t_loc.microsecond // 1000)
    temp = -10.0
    ccdt = round(temp + rng.uniform(-0.3, 0.3), 1)
    alt = round(rng.uniform(25, 85), 4)
    az = round(rng.uniform(0, 360), 4)
    ra = round(ra0 + rng.uniform(-0.01, 0.01), 10)
    dec = round(dec0 + rng.uniform(-0.01, 0.01), 10)
    fpos = rng.randint(8000, 32000)
    ftemp = round(rng.uniform(-5, 15), 2)
    cards = [
        card("SIMPLE", True, "C# FITS"),
        card("BITPIX", 16),
        card("NAXIS", 2, "Dimensionality"),
        card("NAXIS1", nx),
        card("NAXIS2", ny),
        card("BZERO", 32768),
        card("BSCALE", 1),
        card("EXTEND", True, "Extensions are permitted"),
        card("IMAGETYP", ft, "Type of exposure"),
        card("EXPOSURE", exp, "[s] Exposure duration"),
        card("EXPTIME", exp, "[s] Exposure duration"),
        card("DATE-LOC", t_loc.strftime("%Y-%m-%dT%H:%M:%S.") + ms, "Time of observation (local)"),
        card("DATE-OBS", t_utc.strftime("%Y-%m-%dT%H:%M:%S.") + ms, "Time of observation (UTC)"),
        card("XBINNING", 1, "X axis binning factor"),
        card("YBINNING", 1, "Y axis binning factor"),
        card("GAIN", 100, "Sensor gain"),
        card("OFFSET", 50, "Sensor gain offset"),
        card("EGAIN", egain, "[e-/ADU] Electrons per A/D unit"),
        card("XPIXSZ", pix, "[um] Pixel X axis size"),
        card("YPIXSZ", pix, "[um] Pixel Y axis size"),
        card("INSTRUME", camname, "Imaging instrument name"),
        card("SET-TEMP", temp, "[degC] CCD temperature setpoint"),
        card("CCD-TEMP", ccdt, "[degC] CCD temperature"),
        card("READOUTM", "High Gain 2CMS" if "QHY" in camname else "Normal", "Sensor readout mode"),
    ]
    if color:
        cards += [
            card("BAYERPAT", "RGGB", "Sensor Bayer pattern"),
            card("XBAYROFF", 0, "Bayer pattern X axis offset"),
            card("YBAYROFF", 0, "Bayer pattern Y axis offset"),
        ]
    cards += [
        card("USBLIMIT", 40, "Camera-specific USB setting"),
        card("TELESCOP", sname, "Name of telescope"),
        card("FOCALLEN", flen, "[mm] Focal length"),
        card("FOCRATIO", fratio, "Focal ratio"),
        card("RA", ra, "[deg] RA of telescope"),
        card("DEC", dec, "[deg] Declination of telescope"),
        card("CENTALT", alt, "[deg] Altitude of telescope"),
        card("CENTAZ", az, "[deg] Azimuth of telescope"),
        card(
            "AIRMASS",
            round(1.0 / max(0.05, __import__("math").sin(alt * 3.14159265 / 180)), 6),
            "Airmass at frame center (Gueymard 1993)",
        ),
        card("PIERSIDE", rng.choice(["East", "West"]), "Telescope pointing state"),
        card("SITEELEV", site[2], "[m] Observation site elevation"),
        card("SITELAT", site[0], "[deg] Observation site latitude"),
        card("SITELONG", site[1], "[deg] Observation site longitude"),
        card("FWHEEL", "ZWO Filter Wheel" if not color else "Manual Filter Drawer", "Filter Wheel name"),
        card("FILTER", filt, "Active filter name"),
        card("FOCNAME", "ZWO Focuser", "Focusing equipment name"),
        card("FOCPOS", fpos, "[step] Focuser position"),
        card("FOCUSPOS", fpos, "[step] Focuser position"),
        card("FOCUSSZ", 5.0, "[um] Focuser step size"),
        card("FOCTEMP", ftemp, "[degC] Focuser temperature"),
        card("FOCUSTEM", ftemp, "[degC] Focuser temperature"),
        card("ROTNAME", "ZWO CAA", "Rotator equipment name"),
        card("ROTATOR", round(rng.uniform(0, 360), 2), "[deg] Mechanical rotator angle"),
        card("ROTATANG", round(rng.uniform(0, 360), 2), "[deg] Mechanical rotator angle"),
        card("ROTSTPSZ", 0.01, "[deg] Rotator step size"),
        card("OBJECT", name, "Name of the object of interest"),
        card("OBJCTRA", ra_hms(ra0), "[H M S] RA of imaged object"),
        card("OBJCTDEC", dec_dms(dec0), "[D M S] Declination of imaged object"),
        card("OBJCTROT", round(rng.uniform(0, 360), 2), "[deg] planned rotation of imaged object"),
    ]
    if rng.random() < 0.7:  # weather block (NINA writes it when an ObservingConditions device is connected)
        cards += [
            card("CLOUDCVR", round(rng.uniform(0, 30), 2), "[percent] Cloud coverage"),
            card("DEWPOINT", round(rng.uniform(-10, 10), 2), "[degC] Dew point"),
            card("HUMIDITY", round(rng.uniform(30, 95), 2), "[percent] Relative humidity"),
            card("PRESSURE", round(rng.uniform(990, 1030), 2), "[hPa] Air pressure"),
            card("AMBTEMP", round(rng.uniform(-5, 20), 2), "[degC] Ambient air temperature"),
            card("WINDDIR", round(rng.uniform(0, 360), 1), "[deg] Wind direction: 0=N 180=S 90=E 270=W"),
            card("WINDSPD", round(rng.uniform(0, 20), 2), "[kph] Wind speed"),
            card("SKYQUAL", round(rng.uniform(18, 21.8), 2), "[mag/arcsec^2] Sky quality"),
            card("SKYTEMP", round(rng.uniform(-40, -10), 2), "[degC] Sky temperature"),
            card("STARFWHM", round(rng.uniform(1.5, 4.5), 3), "[arcsec] Star FWHM"),
        ]
    cards += [
        card("ROWORDER", "TOP-DOWN", "FITS Image Orientation"),
        card("EQUINOX", 2000.0, "Equinox of celestial coordinate system"),
        card(
            "MJD-OBS",
            round(59000.0 + (t_utc - dt.datetime(2020, 5, 31)).total_seconds() / 86400.0, 8),
            "[d] Modified Julian Date",
        ),
        card("SWCREATE", "N.I.N.A. 3.1.2.9001 (x64)", "Software that created this file"),
    ]
    r = rng.random()
    ncom = rng.randint(3, 10) if r < 0.97 else rng.randint(30, 50)  # ~3% long headers -> 4 blocks
    for i in range(ncom):
        if i % 3 == 0:
            cards.append(
                card(
                    "HISTORY",
                    " Sequence plan %d, instruction %d, autofocus run %d" % (rng.randint(1, 99), i, rng.randint(1, 40)),
                )
            )
        else:
            cards.append(card("COMMENT", " Sequence '%s' / target %s, frame %d of plan" % (ft, name, seq)))
    cards.append("%-80s" % "END")
    hdr = "".join(cards)
    pad = (-len(hdr)) % BLOCK
    hdr += " " * pad
    return hdr.encode("ascii"), exp, t_loc, nx, ny


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument(
        "--dims",
        default="1024x1024",
        help="NAXIS1xNAXIS2 written in every header (default 1024x1024 -> ~2 MB files); "
        "'camera' uses the real sensor size (50+ MB apparent, still sparse)",
    )
    ap.add_argument("--dense", action="store_true", help="write real (non-sparse) pseudo-random pixel data")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    naxis_override = None if args.dims == "camera" else tuple(int(x) for x in args.dims.split("x"))
    folders, weights = build_plan(args.n, rng)
    # per-target fixed rig (camera/scope/site)
    rigs = []
    for ti in range(len(TARGETS)):
        cam = rng.choice(CAMERAS)
        rigs.append(
            (
                cam,
                rng.choice(SCOPES),
                rng.choice(MOUNTS),
                (round(rng.uniform(35, 55), 4), round(rng.uniform(-10, 20), 4), rng.randint(0, 1500)),
            )
        )
    picks = rng.choices(range(len(folders)), weights=weights, k=args.n)
    counts = [0] * len(folders)
    for p in picks:
        counts[p] += 1

    t0 = time.time()
    made = 0
    total_apparent = 0
    dense_block = None
    for fi, (ti, night, ft) in enumerate(folders):
        if counts[fi] == 0:
            continue
        cam, scope, mount, site = rigs[ti]
        color = cam[4]
        d = os.path.join(args.root, TARGETS[ti][0], night.isoformat(), ft)
        os.makedirs(d, exist_ok=True)
        filt_list = COLOR_FILTERS if color else MONO_FILTERS
        nf = counts[fi]
        per_filter = max(1, nf // len(filt_list))
        for seq in range(nf):
            filt = (
                filt_list[min(seq // per_filter, len(filt_list) - 1)]
                if ft != "DARK"
                else ("Dark" if not color else filt_list[0])
            )
            hdr, exp, t_loc, nx, ny = make_header(
                rng, TARGETS[ti], night, ft, seq, cam, scope, mount, filt, site, naxis_override
            )
            data_len = nx * ny * 2
            data_len += (-data_len) % BLOCK
            fname = "%s_%s_%.2f_%.2fs_%04d.fits" % (t_loc.strftime("%Y-%m-%d_%H-%M-%S"), filt, -10.0, exp, seq)
            path = os.path.join(d, fname)
            with open(path, "wb") as f:
                f.write(hdr)
                if args.dense:
                    if dense_block is None:
                        dense_block = os.urandom(1 << 20)
                    left = data_len
                    while left > 0:
                        k = min(left, len(dense_block))
                        f.write(dense_block[:k])
                        left -= k
                else:
                    f.truncate(len(hdr) + data_len)  # sparse data unit
            end_utc = (
                (t_loc - dt.timedelta(hours=1) + dt.timedelta(seconds=exp)).replace(tzinfo=dt.timezone.utc).timestamp()
            )
            os.utime(path, (end_utc, end_utc))  # like a real archive: modified when the exposure ended
            made += 1
            total_apparent += len(hdr) + data_len
    el = time.time() - t0
    nfold = sum(1 for c in counts if c)
    print(
        "generated %d files in %d folders under %s in %.1fs (%.0f files/s); apparent size %.1f GB"
        % (made, nfold, args.root, el, made / el, total_apparent / 1e9),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
