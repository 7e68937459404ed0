#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/corpus/{scenario,csv_loaders}/.

Scenario seeds: the shipped scenarios (china-counties.toml trimmed to Beijing: the whole file
is 229 KB and 2,989 regions), the small scenario of tests/cli/main.rs with relative data paths
(the targets read scenarios as if they were in scenarios/), each bad scenario of
tests/cli/bad_input.rs, and a few with `#--set` override lines.

CSV seeds: the data files (compact copies with only the columns the loaders read, and heads of
the large ones), a region-values table, and the bad data files of tests/cli/bad_input.rs.

Run from the repository root: python3 fuzz/make_seeds.py
"""

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"
MAX_CSV = 256 * 1024


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def rust_string(s):
    """Decodes the escapes used in the test file's string literals."""
    return re.sub(r'\\(.)', lambda m: {"n": "\n", '"': '"', "\\": "\\", "t": "\t"}[m.group(1)], s)


def small_scenario():
    """The fixture of tests/cli/main.rs, with data paths relative to scenarios/."""
    src = (ROOT / "tests/cli/main.rs").read_text()
    body = src[src.index('r#"') + 3 : src.index('"#')]
    return body.replace("{d}", "../data").replace("{{", "{").replace("}}", "}")


def scenario_seeds():
    for p in sorted((ROOT / "scenarios").glob("*.toml")):
        if p.name == "china-counties.toml":
            continue
        put("scenario", p.name, p.read_bytes())

    # china-counties.toml trimmed to the nation, Beijing and its districts.
    text = (ROOT / "scenarios/china-counties.toml").read_text()
    blocks = re.split(r"(?m)^(?=\[)", text)
    keep = []
    for b in blocks:
        if b.startswith("[[group]]"):
            if not re.search(r'(?m)^id = "(china|110000)"', b):
                continue
        elif b.startswith("[[region]]"):
            if not re.search(r'(?m)^group = "110000"', b):
                continue
        keep.append(b)
    put("scenario", "china-counties-beijing.toml", "".join(keep))

    base = small_scenario()
    put("scenario", "small.toml", base)
    put(
        "scenario",
        "small-overrides.toml",
        "#--set draws=500\n#--set plan.new-home.year=2024\n"
        '#--set care.trend={ dist = "normal", mean = 0, sd = 0.01 }\n'
        "#--set capacity.stock.0.community=9000\n#--set target.beds-2025.threshold=30\n" + base,
    )
    put("scenario", "small-bad-override.toml", "#--set target.nope.threshold=3\n#--set draws=abc\n#--set nope\n" + base)

    # Every replacement the bad-input tests make in the fixture.
    tests = (ROOT / "tests/cli/bad_input.rs").read_text()
    lit = r'"((?:[^"\\]|\\.)*)"'
    pairs = re.findall(r"replace\(\s*&small_scenario\(\),\s*" + lit + r",\s*" + lit, tests)
    pairs += re.findall(r"\(\s*" + lit + r",\s*" + lit + r",\s*" + lit + r",\s*" + lit + r",?\s*\)", tests)
    n = 0
    for pair in pairs:
        old, new = rust_string(pair[0]), rust_string(pair[1])
        if old in base:
            n += 1
            put("scenario", f"bad-{n:02}.toml", base.replace(old, new, 1))
    put("scenario", "bad-no-regions.toml", base[: base.index("[[region]]")] + base[base.index("[mortality]") :])
    b = base.encode()
    i = b.index(b"draws =")
    put("scenario", "bad-utf8.toml", b[:i] + b"\xff\xfe" + b[i:])
    put("scenario", "bad-cycle.toml", base.replace(
        "[[region]]", '[[group]]\nid = "a"\nparent = "b"\n\n[[group]]\nid = "b"\nparent = "a"\n\n[[region]]', 1))
    print(f"scenario: {n} replacements of tests/cli/bad_input.rs")


def compact(path, columns, head=None, rows_filter=None):
    """The named columns of a CSV file (first `head` data rows, or those passing the filter)."""
    import csv
    import io

    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        n = 0
        for row in r:
            if rows_filter and not rows_filter(row):
                continue
            w.writerow([row[c] for c in columns])
            n += 1
            if head and n >= head:
                break
    return out.getvalue()


def head(path, lines):
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(lines))


def csv_seeds():
    data = ROOT / "data"
    for p in sorted(data.glob("*.csv")):
        b = p.read_bytes()
        put("csv_loaders", p.name, b if len(b) <= MAX_CSV else head(p, 120))
    mx = ["period_start", "period_end", "age_start", "mx_male", "mx_female"]
    put("csv_loaders", "mx-compact.csv", compact(data / "wpp2024_china_mx_age5_sex.csv", mx))
    put(
        "csv_loaders",
        "mx-compact-1980-2020.csv",
        compact(data / "wpp2024_china_mx_age5_sex.csv", mx, rows_filter=lambda r: 1980 <= int(r["period_start"]) < 2020),
    )
    put("csv_loaders", "shape-compact.csv", compact(data / "china_2020_pop_single_age_sex.csv", ["age", "sex", "population"]))
    pop = ["region_code", "sex", "age_start", "age_end", "population"]
    put(
        "csv_loaders",
        "pop-compact-pingliang.csv",
        compact(data / "census2020_target_regions_age5_sex.csv", pop, rows_filter=lambda r: r["region_code"] in ("620802", "620821")),
    )
    put("csv_loaders", "pop-compact-provinces.csv", compact(data / "census2020_province_age5_sex.csv", pop, head=90))
    put("csv_loaders", "region-values.csv", "region_code,registered_elderly\n620802,81234\n620821,\"70 000\"\n620822,-1\n")
    # The bad data files of tests/cli/bad_input.rs.
    put("csv_loaders", "empty.csv", b"")
    put("csv_loaders", "header-only.csv", "region_code,sex,age_start,age_end,population\n")
    put("csv_loaders", "wrong-header.csv", "region,sex,age_from,age_end,population\n620802,male,0,0,10\n")
    pc = compact(data / "census2020_target_regions_age5_sex.csv", pop, rows_filter=lambda r: r["region_code"] == "620802")
    put("csv_loaders", "bom.csv", b"\xef\xbb\xbf" + pc.encode())
    lines = pc.splitlines()
    for i, line in enumerate(lines):
        if ",male,60,64," in line:
            lines[i] = line.replace(",male,", ",male,extra,", 1)
        elif ",female,70,74," in line:
            lines[i] = line.rsplit(",", 1)[0] + ",-5"
        elif ",male,0,0," in line:
            lines[i] = line.rsplit(",", 1)[0] + ",三千"
    put("csv_loaders", "ragged-negative-chinese.csv", "\n".join(lines) + "\n")
    bad = pc.encode()
    i = bad.index(b"620802", 100)
    put("csv_loaders", "latin.csv", bad[:i] + b"\xff\xfe" + bad[i:])
    put("csv_loaders", "quoted-crlf.csv", pc.replace("\n", "\r\n").replace("620802,", '"620802",'))


if __name__ == "__main__":
    scenario_seeds()
    csv_seeds()
    for t in ("scenario", "csv_loaders"):
        files = list((OUT / t).iterdir())
        digest = hashlib.sha256(b"".join(sorted(f.read_bytes() for f in files))).hexdigest()[:12]
        print(f"{t}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes ({digest})")
