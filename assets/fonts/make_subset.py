#!/usr/bin/env python3
"""Build NotoSansSC-bedsim-subset.otf: a single-face CFF/OpenType subset of
Noto Sans CJK SC Regular, for plotters' ab_glyph backend (include_bytes!).

Rerun (needs `pip install fonttools`, tested with fonttools 4.68.0):

    apt-get update && cd /tmp && apt-get download fonts-noto-cjk
    dpkg-deb -x fonts-noto-cjk_*.deb /tmp/noto
    python3 assets/fonts/make_subset.py [TTC] [DATA_DIR] [OUT]

Defaults (documented constants below):
    TTC      = /tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
               (Debian fonts-noto-cjk 1:20220127+repack1-1)
    DATA_DIR = /work/shared/data
    OUT      = <this script's folder>/NotoSansSC-bedsim-subset.otf

The face is chosen by name ("Noto Sans CJK SC", face index 2 in that .ttc),
not by index. The output keeps the source's CFF (CID-keyed) outlines, so it is
an .otf; it is a plain single-face font, not a collection.

After writing, the script verifies that the cmap covers all printable ASCII and
every character of every county_zh value of census2020_county_age5_sex_wide.csv,
and exits non-zero if anything is missing.
"""
import csv
import os
import sys

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = os.path.dirname(os.path.abspath(__file__))
TTC = sys.argv[1] if len(sys.argv) > 1 else \
    "/tmp/noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DATA = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/data"
OUT = sys.argv[3] if len(sys.argv) > 3 else \
    os.path.join(HERE, "NotoSansSC-bedsim-subset.otf")
FACE_NAME = "Noto Sans CJK SC"

# CSV file -> Chinese name columns whose characters must all be covered.
CSV_COLUMNS = {
    "census2020_county_age5_sex_wide.csv": ["province_zh", "prefecture_zh", "county_zh"],
    "census2020_province_age5_sex.csv": ["region_name_zh"],
    "census2020_target_regions_age5_sex.csv": ["province_zh", "prefecture_zh", "county_zh"],
}


def ascii_printable():
    return set(range(0x20, 0x7F))  # U+0020..U+007E


def punctuation():
    cps = set()
    cps |= set(range(0x2000, 0x2070))  # General Punctuation U+2000..U+206F
    cps |= set(range(0x3000, 0x3040))  # CJK Symbols and Punctuation U+3000..U+303F
    cps |= set(range(0xFF00, 0xFFF0))  # Halfwidth and Fullwidth Forms U+FF00..U+FFEF
    # degree, percent, multiplication, plus a few chart-label signs:
    # NBSP ± · × ÷ − ℃ ‰(already in U+2000 block)
    cps |= {0x00B0, 0x0025, 0x00D7, 0x00A0, 0x00B1, 0x00B7, 0x00F7,
            0x2212, 0x2103, 0x2030}
    return cps


def gb2312_hanzi():
    """All GB2312 hanzi: every 2-byte sequence 0xB0A1..0xF7FE that decodes."""
    cps = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                s = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            cps |= {ord(c) for c in s}
    return cps


def csv_chars(path, columns):
    cps = set()
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for col in columns:
                cps |= {ord(c) for c in (row[col] or "")}
    return cps


def find_face(ttc):
    n = 0
    while True:
        try:
            f = TTFont(ttc, fontNumber=n, lazy=True)
        except Exception:
            break
        name = f["name"].getDebugName(1)
        f.close()
        if name == FACE_NAME:
            return n
        n += 1
    sys.exit(f"face {FACE_NAME!r} not found in {ttc}")


def main():
    face = find_face(TTC)
    print(f"source: {TTC} face {face} ({FACE_NAME})")

    sets = {
        "ascii": ascii_printable(),
        "punct+signs": punctuation(),
        "gb2312_hanzi": gb2312_hanzi(),
    }
    data_chars = set()
    for fn, cols in CSV_COLUMNS.items():
        data_chars |= csv_chars(os.path.join(DATA, fn), cols)
    sets["csv_names"] = data_chars
    wanted = set().union(*sets.values())
    for k, v in sets.items():
        print(f"  {k}: {len(v)} code points")
    extra = data_chars - sets["gb2312_hanzi"] - sets["ascii"] - sets["punct+signs"]
    print(f"  csv chars outside GB2312/ASCII/punct: {len(extra)}: "
          + "".join(sorted(chr(c) for c in extra)))
    print(f"  total requested: {len(wanted)}")

    opts = subset.Options()
    opts.font_number = face
    opts.hinting = False            # --no-hinting
    opts.layout_features = []       # --layout-features=''  (no GSUB/GPOS features)
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]
    opts.name_IDs = ["*"]           # keep copyright / licence name records
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.glyph_names = False
    opts.desubroutinize = False     # subroutinized CFF is smaller here
    opts.ignore_missing_unicodes = True

    font = subset.load_font(TTC, opts, dontLoadGlyphNames=True)
    best = font.getBestCmap()
    missing_src = sorted(c for c in wanted if c not in best)
    print(f"  requested but absent from the source face: {len(missing_src)}")
    s = subset.Subsetter(opts)
    s.populate(unicodes=wanted)
    s.subset(font)
    subset.save_font(font, OUT, opts)
    font.close()

    # ---- verification ----
    f = TTFont(OUT)
    cmap = f.getBestCmap()
    outline = "CFF" if "CFF " in f else ("glyf" if "glyf" in f else "?")
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes, "
          f"{f['maxp'].numGlyphs} glyphs, {len(cmap)} cmap entries, outlines={outline}")
    need = ascii_printable()
    with open(os.path.join(DATA, "census2020_county_age5_sex_wide.csv"),
              newline="", encoding="utf-8") as fh:
        counties = [r["county_zh"] for r in csv.DictReader(fh)]
    for c in counties:
        need |= {ord(ch) for ch in c}
    need |= data_chars
    missing = sorted(c for c in need if c not in cmap)
    print(f"verify: {len(counties)} county_zh values, {len(need)} required code points "
          f"(ASCII + all CSV name columns), missing: {len(missing)}")
    if missing:
        print("  missing: " + " ".join(f"U+{c:04X}({chr(c)})" for c in missing))
        sys.exit(1)


if __name__ == "__main__":
    main()
