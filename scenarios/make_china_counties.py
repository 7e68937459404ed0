#!/usr/bin/env python3
"""Generate the national county scenario `scenarios/china-counties.toml` and its population file.

Usage (from anywhere; paths are relative to the repository root, the parent of this folder):

    python3 scenarios/make_china_counties.py

Python 3 standard library only. The output is deterministic: the same input gives byte-identical
files (rows in the order of the input file, no timestamps, '\\n' line ends).

Reads
    data/census2020_county_age5_sex_wide.csv   2020 census county tabulation (leiii/census, MIT),
                                               one row per area, 5-year groups by sex in columns
Writes
    data/census2020_county_age5_sex.csv        the same counts in the long layout bedsim reads:
                                               region_code, name, sex, age_start, age_end, population
    scenarios/china-counties.toml              the scenario (groups, regions, assumptions)

Which rows become regions (the input's `level` column is national / province / prefecture /
county / other_unit; rows are in administrative order: a province row, then each prefecture row
followed by its members):

* every `county` row, id = its 6-digit code as printed, name = `county_zh` as printed;
* every `other_unit` row except the two kinds of subtotal row "省直辖县级行政区划" /
  "自治区直辖县级行政区划" (their members follow them as `county` rows). These rows have no code;
  their id is the enclosing prefecture's code (the last prefecture row above them in the file)
  plus `-z01`, `-z02`, ... in file order within that prefecture;
* a `prefecture` row that has no member rows (prefecture-level cities without counties: 东莞,
  中山, 嘉峪关, 儋州), id = the prefecture's code. A prefecture whose only members are
  other_units (三沙: 西沙群岛, 南沙群岛, 中沙群岛…) is represented by those members instead.

Membership follows the file order, except that a county whose code has "90" in digits 3-4
(省直辖 units such as 济源 419001, which in this file follows 驻马店 without a subtotal row) belongs
directly to its province. The script checks every assignment: for every prefecture, province and
subtotal row, each of its 38 age-sex cells must equal the sum over its members.

Blank cells. The input never prints a zero: of its 3,358 x 38 age-sex cells none is "0", and 25
are blank, all in four small rows (东营港经济开发区, 南沙群岛, 中沙群岛…, 达孜工业园区). In each of
them the printed cells add up exactly to the row's printed male and female totals, and 三沙市's
prefecture row equals the cell-by-cell sum of its three islands with blanks read as zero. So a
blank is read as 0. A row whose blanks could not be read that way (printed cells not adding up to
its totals) would be left out and reported; there is none, so no row is excluded and the regions
add up to the national total exactly.

Groups: `china` (全国); one group per province (id = its code, name = province_zh), parent china;
one group per real prefecture with at least one member region (id = its code, name =
prefecture_zh), parent its province. Not groups: the municipalities' pseudo-prefecture rows
(市辖区 of 北京, 天津, 上海, 重庆 and 重庆's 县), whose members belong to the province directly, as do
the 省直辖 units and the prefecture-level cities without counties (which are regions).
"""

import csv
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDE = os.path.join(ROOT, "data", "census2020_county_age5_sex_wide.csv")
LONG = os.path.join(ROOT, "data", "census2020_county_age5_sex.csv")
TOML = os.path.join(ROOT, "scenarios", "china-counties.toml")

# Age groups of the county tabulation: (column suffix, age_start, age_end or None for the open group).
AGES = [("0", 0, 0), ("1_4", 1, 4)] + [(f"{a}_{a + 4}", a, a + 4) for a in range(5, 85, 5)] + [("85_plus", 85, None)]
SEXES = ["male", "female"]
CELLS = [f"{s}_{a[0]}" for s in SEXES for a in AGES]
SUBTOTALS = ("省直辖县级行政区划", "自治区直辖县级行政区划")
PSEUDO_PREFECTURES = ("市辖区", "县")  # county_zh of the municipalities' pseudo-prefecture rows

# National bed stock end-2020 (MCA, Feb 2021), for the header's derived figures.
NATIONAL_BEDS_2020 = 8_238_000


def fail(msg):
    sys.exit(f"make_china_counties: {msg}")


def read_rows():
    with open(WIDE, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in CELLS + ["region_code", "level", "province_zh", "prefecture_zh", "county_zh", "pop_total", "pop_male", "pop_female"] if c not in rows[0]]
    if missing:
        fail(f"{WIDE}: missing columns {missing}")
    for i, r in enumerate(rows):
        r["line"] = i + 2  # line in the file, header = 1
        blanks = [c for c in CELLS if r[c].strip() == ""]
        cells = [int(r[c]) if r[c].strip() else 0 for c in CELLS]
        half = len(AGES)
        ok = sum(cells[:half]) == int(r["pop_male"]) and sum(cells[half:]) == int(r["pop_female"])
        ok = ok and int(r["pop_male"]) + int(r["pop_female"]) == int(r["pop_total"])
        r["cells"] = cells
        r["blanks"] = blanks
        r["has_data"] = ok
        if not ok and not blanks:
            fail(f"line {r['line']}: age groups do not add up to the printed totals")
    return rows


def classify(rows):
    """Returns (provinces, prefectures, regions, excluded, subtotals) following the file order."""
    provinces = []  # dicts: code, name, row, members (region indices), prefectures
    prefectures = []  # dicts: code, name, row, province, members, pseudo
    regions = []  # dicts: id, name, row, province, prefecture (or None), kind
    excluded = []
    subtotals = []  # dicts: row, province, members
    national = None
    prov = pref = sub = None
    zcount = {}
    for r in rows:
        level = r["level"]
        if level == "national":
            national = r
            continue
        if level == "province":
            prov = {"code": r["region_code"], "name": r["province_zh"], "row": r, "members": []}
            provinces.append(prov)
            pref = sub = None
            continue
        if prov is None:
            fail(f"line {r['line']}: a {level} row before any province row")
        if level == "prefecture":
            pseudo = r["county_zh"] in PSEUDO_PREFECTURES
            pref = {"code": r["region_code"], "name": r["prefecture_zh"], "row": r, "province": prov,
                    "members": [], "pseudo": pseudo}
            prefectures.append(pref)
            sub = None
            continue
        if level == "other_unit" and r["county_zh"] in SUBTOTALS:
            sub = {"row": r, "province": prov, "members": []}
            subtotals.append(sub)
            pref = None
            continue
        if level not in ("county", "other_unit"):
            fail(f"line {r['line']}: unknown level '{level}'")
        code = r["region_code"].strip()
        direct = level == "county" and code[2:4] == "90"  # 省直辖 unit
        if level == "county":
            rid = code
        else:
            if pref is None:
                fail(f"line {r['line']}: other_unit '{r['county_zh']}' outside any prefecture")
            zcount[pref["code"]] = zcount.get(pref["code"], 0) + 1
            rid = f"{pref['code']}-z{zcount[pref['code']]:02d}"
        reg = {"id": rid, "name": r["county_zh"].strip(), "row": r, "province": prov,
               "prefecture": None if direct or pref is None else pref, "kind": level}
        # membership for the sum checks, recorded whether or not the row has data
        if reg["prefecture"] is not None:
            pref["members"].append(reg)
        elif sub is not None:
            sub["members"].append(reg)
        prov["members"].append(reg)
        if not r["has_data"]:
            excluded.append(reg)
            continue
        regions.append(reg)
    # prefecture rows without member rows: the prefecture itself is the region
    for p in prefectures:
        if p["members"] or p["pseudo"]:
            continue
        if p["row"]["has_data"]:
            reg = {"id": p["code"], "name": p["name"], "row": p["row"], "province": p["province"],
                   "prefecture": None, "kind": "prefecture"}
            regions.append(reg)
            p["province"]["members"].append(reg)
            p["self_region"] = reg
        else:
            excluded.append({"id": p["code"], "name": p["name"], "row": p["row"], "kind": "prefecture"})
    return national, provinces, prefectures, regions, excluded, subtotals


def add(vecs):
    out = [0] * len(CELLS)
    for v in vecs:
        out = [a + b for a, b in zip(out, v)]
    return out


def check_sums(national, provinces, prefectures, subtotals):
    """Every aggregate row equals the sum of its members, cell by cell."""
    bad = []
    for p in prefectures:
        if p["members"] and add(m["row"]["cells"] for m in p["members"]) != p["row"]["cells"]:
            bad.append(f"prefecture {p['code']} {p['name']}")
    for s in subtotals:
        if add(m["row"]["cells"] for m in s["members"]) != s["row"]["cells"]:
            bad.append(f"subtotal {s['province']['name']}")
    for pv in provinces:
        if add(m["row"]["cells"] for m in pv["members"]) != pv["row"]["cells"]:
            bad.append(f"province {pv['code']} {pv['name']}")
        # the province row also equals its prefecture rows plus its direct members
        parts = [p["row"]["cells"] for p in prefectures if p["province"] is pv]
        parts += [m["row"]["cells"] for m in pv["members"] if m["prefecture"] is None and m["kind"] != "prefecture"]
        if add(parts) != pv["row"]["cells"]:
            bad.append(f"province {pv['code']} {pv['name']} (prefecture rows + direct units)")
    if add(pv["row"]["cells"] for pv in provinces) != national["cells"]:
        bad.append("national")
    return bad


def elderly(row, from_age=60):
    return sum(v for v, (s, a) in zip(row["cells"], [(s, a) for s in SEXES for a in AGES]) if a[1] >= from_age)


def write_long(regions):
    with open(LONG, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["region_code", "name", "sex", "age_start", "age_end", "population"])
        for reg in regions:
            cells = reg["row"]["cells"]
            for si, sex in enumerate(SEXES):
                for ai, (_, start, end) in enumerate(AGES):
                    w.writerow([reg["id"], reg["name"], sex, start, "" if end is None else end, cells[si * len(AGES) + ai]])


def fill(text, values):
    """Replaces {key} by values[key] (no other braces are touched: TOML inline tables use them)."""
    for k, v in values.items():
        text = text.replace("{" + k + "}", str(v))
    return text


def q(s):
    """A TOML basic string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    rows = read_rows()
    national, provinces, prefectures, regions, excluded, subtotals = classify(rows)

    # --- checks -------------------------------------------------------------------------------
    bad = check_sums(national, provinces, prefectures, subtotals)
    if bad:
        fail("aggregate rows differ from the sum of their members: " + "; ".join(bad))
    ids = [r["id"] for r in regions]
    if len(set(ids)) != len(ids):
        fail("duplicate region ids")
    for i in ids:
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in i):
            fail(f"region id '{i}' is not ASCII letters/digits/-/_")
    nat_total = int(national["pop_total"])
    reg_total = sum(int(r["row"]["pop_total"]) for r in regions)
    exc_total = sum(int(r["row"]["pop_total"]) for r in excluded)
    if reg_total != nat_total - exc_total:
        fail(f"regions add up to {reg_total}, not national {nat_total} - excluded {exc_total}")
    # every county row and every data-bearing non-subtotal other_unit is a region exactly once
    n_county = sum(1 for r in rows if r["level"] == "county")
    n_other = sum(1 for r in rows if r["level"] == "other_unit" and r["county_zh"] not in SUBTOTALS)

    # --- groups -------------------------------------------------------------------------------
    used = {id(r) for r in regions}
    pref_groups = [p for p in prefectures if not p["pseudo"] and any(id(m) in used for m in p["members"])]
    pg_ids = {p["code"] for p in pref_groups}
    group_ids = {"china"} | {pv["code"] for pv in provinces} | pg_ids
    clash = group_ids & set(ids)
    if clash:
        fail(f"ids used by both a group and a region: {sorted(clash)}")

    def group_of(reg):
        p = reg["prefecture"]
        return p["code"] if p is not None and p["code"] in pg_ids else reg["province"]["code"]

    nat_60 = elderly(national)
    reg_60 = sum(elderly(r["row"]) for r in regions)
    small = sorted(regions, key=lambda r: elderly(r["row"]))[:5]
    names = {}
    for r in regions:
        names.setdefault(r["name"], []).append(r["id"])
    dup_names = {n: v for n, v in names.items() if len(v) > 1}

    print(f"input rows: {len(rows)} ({n_county} county, {n_other} other_unit without the {len(subtotals)} subtotal rows)")
    print(f"regions: {len(regions)} = {sum(r['kind'] == 'county' for r in regions)} county rows + "
          f"{sum(r['kind'] == 'other_unit' for r in regions)} other_units + "
          f"{sum(r['kind'] == 'prefecture' for r in regions)} prefecture-level cities without counties "
          f"({', '.join(r['id'] + ' ' + r['name'] for r in regions if r['kind'] == 'prefecture')})")
    print(f"groups: 1 national + {len(provinces)} provinces + {len(pref_groups)} prefectures = {1 + len(provinces) + len(pref_groups)}")
    zeros = sum(1 for r in rows for c in CELLS if r[c].strip() == "0")
    print(f"age-sex cells printed as 0: {zeros}; blank: {sum(len(r['blanks']) for r in rows)}, read as 0 in: " + ", ".join(f"{r['county_zh']} ({len(r['blanks'])} blank)" for r in rows if r["blanks"]))
    print(f"excluded rows without usable age data: {len(excluded)} "
          + ", ".join(f"{e['name']} ({e['row']['pop_total']})" for e in excluded))
    print(f"aggregate rows equal the sum of their members in all 38 cells: {len(prefectures)} prefecture, {len(provinces)} province, {len(subtotals)} subtotal rows and the nation")
    print(f"population: national {nat_total:,} - excluded {exc_total:,} = {nat_total - exc_total:,}; regions {reg_total:,}: "
          + ("equal" if reg_total == nat_total - exc_total else "DIFFERENT"))
    print(f"aged 60+: national {nat_60:,}, regions {reg_60:,}")
    print("smallest 60+ counts: " + ", ".join(f"{r['id']} {r['name']} {elderly(r['row'])}" for r in small))
    print(f"display names used by more than one region: {len(dup_names)} names, {sum(len(v) for v in dup_names.values())} regions")

    write_long(regions)
    write_toml(provinces, pref_groups, regions, group_of, nat_60, nat_total)
    print(f"wrote {os.path.relpath(LONG, ROOT)} ({os.path.getsize(LONG):,} bytes) and {os.path.relpath(TOML, ROOT)} ({os.path.getsize(TOML):,} bytes)")


HEADER = """\
# China by county-level unit (2020 census): the national 14th Five-Year Plan target for the
# nursing-type share of elderly-care beds and an illustrative beds-per-1,000 target, tested in
# every county, prefecture and province, 2020-2035.
#
# GENERATED by scenarios/make_china_counties.py from data/census2020_county_age5_sex_wide.csv.
# Do not edit by hand: change the script and run `python3 scenarios/make_china_counties.py`.
#
# Units ({n_regions} regions, {n_groups} groups):
# * every county-level row of the 2020 census county tabulation with its own code ({n_county}, id =
#   its code, name as printed; this includes development zones the yearbook counts with a code,
#   such as Weihai's 371071-371073);
# * {n_other} units without a code (development zones, 管理区, Sansha's three island groups), id = the
#   enclosing prefecture's code + "-zNN" in file order;
# * {n_prefself} prefecture-level cities without counties, id = the city's code:
#   {prefself}.
# The subtotal rows 省直辖县级行政区划 / 自治区直辖县级行政区划 are not regions (their members are).
# Blank age cells in four small rows are zeros (the tabulation prints no zero; see the script), so
# no row is left out: the regions add up to the national census total, {nat_total} residents,
# {nat_60} aged 60+.
# Groups: 全国; the {n_prov} provinces (id = code); {n_pref} prefectures (id = code) with at least one
# region. Units directly under a province (省直辖 units, the municipalities' districts and
# counties, the prefecture-level cities without counties) have the province as their group.
# Doubtful in the data: 五台山风景名胜区 (Xinzhou, Shanxi) is printed with code 170971 (17 is no
# province; probably 140971); it is kept as printed. Many display names repeat across provinces
# (e.g. 朝阳区, 鼓楼区): the id tells them apart.
#
# Sources:
# * Population: 2020 census county tabulation (NBS), compiled in GitHub leiii/census (MIT), see
#   ../data/SOURCES.md; reshaped by the script to ../data/census2020_county_age5_sex.csv.
# * Beds: Ministry of Civil Affairs (MCA) bulletins as in china-provinces.toml: end-2020 823.8万 beds
#   including community beds (preliminary figure, Feb 2021); institutional beds 518.3万 (2022),
#   517.2万 (2023), 507.7万 (2024); nursing-type beds 58.9% of institutional beds (2023).
# * Target: State Council, "十四五"国家老龄事业发展和养老服务体系规划 (Feb 2022): 养老机构护理型床位
#   占比 55% by 2025.
#
# NOT FOUND: beds, institutions or nursing-bed shares by province, prefecture or county (see
# ../data/SOURCES.md). The national stock and the national programme are therefore split across
# all {n_regions} units by each unit's 2020 census count of people aged 60+ (an ASSUMPTION, see
# [capacity]). Consequence: every unit starts at the national {bpt} beds per 1,000 aged 60+ and the
# national nursing share, and units differ in later years only through their elderly populations
# (ageing, their own mortality levels and migration). The bed results per unit show where the
# growth of the elderly outruns a nationally uniform bed supply; they are NOT estimates of local
# bed stocks. The projections of the elderly themselves do not depend on this rule.
#
# Mortality and migration by unit come from the 2010 and 2020 censuses (scenarios/
# make_subnational.py): each unit's mortality level from its 2010 crude death rate, and its net
# migration by sex and age from the cohort residual of the two censuses, carried forward with an
# uncertainty set by the 2010 -> 2020 back-test (docs/validation.md).
#
# Everything the sources do not give is marked ASSUMPTION with the range it is given.

name = "china-counties"
description = "China by county-level unit ({n_regions} units, 2020 census): national stock split by elderly, nursing share >= 55% and an illustrative 30 beds/1,000 by 2025"
base_year = 2020          # census of 1 Nov 2020, taken as end-2020
horizon = 2035
# 10,000 draws: probabilities to within about ±0.5 percentage points (standard error at p = 0.5).
# The run holds per-draw values for a chunk of counties at a time, within a memory budget
# (`bedsim run --memory`), so memory does not grow with draws x units; see docs/performance.md
# for the measured time and peak memory of this scenario.
draws = 10000
seed = 20201102
elderly_age = 60

[population]
file = "../data/census2020_county_age5_sex.csv"            # {n_regions} units, 0, 1-4, ..., 80-84, 85+
shape_file = "../data/china_2020_pop_single_age_sex.csv"   # national single-year shape for splitting 5-year groups
"""

MIDDLE = """\
[mortality]
# UN WPP 2024 death rates for China, moved on by a Lee-Carter model fitted on 1980-2020, its
# random-walk and drift uncertainty calibrated to WPP 2024's probabilistic e0 intervals
# (docs/validation.md); each unit's level from the 2010 census crude death rates by indirect
# standardisation, shrunk towards its province (data/mortality_levels_2020_units.csv, made by
# scenarios/make_subnational.py; see the header).
file = "../data/wpp2024_china_mx_age5_sex.csv"
base_period = 2015        # base schedule: the 2015-2020 rates
fit_from = 1980           # Lee-Carter fitted on 1980-1985 .. 2015-2020 (avoids the 1959-61 famine)
fit_to = 2020
drift = "fitted"          # per draw: normal(fitted drift, calibrated standard error)
sigma = "calibrated"
drift_se = "calibrated"
calibrate_to = "../data/wpp2024_china_e0_annual.csv"
levels_file = "../data/mortality_levels_2020_units.csv"
shocks = "national"

[fertility]
# As china-provinces.toml: 2020 census TFR 1.3; births fell to about 9.0-9.5 million a year in
# 2022-2024, a TFR of about 1.0-1.1. ASSUMPTION: triangular(0.9, 1.1, 1.4), the same level in every
# unit (county TFRs differ widely; births do not affect the 60+ before 2080, only the totals).
tfr = { dist = "triangular", low = 0.9, mode = 1.1, high = 1.4 }
sex_ratio_at_birth = 1.11   # boys per girl, 2020 census

[migration]
# Net migration by sex and age of every unit from the 2010 -> 2020 cohort residual of the two
# censuses (data/migration_2010_2020.csv; units that could not be matched between the censuses
# share the schedule of their comparable unit, data/crosswalk_county_2010_2020.csv). ASSUMPTION:
# the next decades carry a share of the last decade's rates, uniform(0.3, 1.0) per draw and the
# same for every unit, and each unit deviates from that by laplace(0, 5.75) per 1,000 a year at
# ages of weight 1 plus its province's laplace(0, 2.04) (set on the province groups): 0.8 times
# the spreads the 2010 -> 2020 back-test measured, with their age profile (docs/validation.md).
schedule_file = "../data/migration_2010_2020.csv"
persistence = { dist = "uniform", low = 0.3, high = 1.0 }
rate_per_1000 = { dist = "laplace", mean = 0, scale = 5.75 }
age_bands = [0, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80]
age_weights = [1.8, 4.0, 5.17, 3.41, 2.65, 2.36, 1.85, 1.57, 1.36, 1.31, 1.24, 1.0, 0.91, 1.0, 1.26, 2.04]

[care]
# As hainan.toml and china-provinces.toml (national literature values, see scenarios/README.md):
# dependency prevalence by age band (60-69, 70-79, 80+) from the age gradient of Chen et al. 2023
# (ADL disability 10.8%, 21.2%, 47.0%) scaled by 1.017 so the 2015 national total matches the Fourth
# Sample Survey (18.3% of people aged 60+ disabled or semi-disabled). ASSUMPTION: the fully
# dependent are 25%, 30% and 40% of the dependent in the three bands; the same prevalence in every
# unit.
age_bands = [60, 70, 80]
partial = [0.082, 0.151, 0.287]
full = [0.027, 0.065, 0.191]
female_to_male = 1.2        # Chen et al. 2023: 21.4% female vs 17.9% male
level = { dist = "lognormal", meanlog = 0.0, sdlog = 0.2 }    # definitions differ widely (18-32%)
trend = { dist = "normal", mean = -0.015, sd = 0.01, low = -0.06, high = 0.03 }  # CHNS 1997-2006: -3%/yr
reference_year = 2015       # the prevalence is the 2015 survey's; the trend runs from then
# ASSUMPTION (as hainan.toml): uptakes chosen to give about 3% of the elderly in institutions, the
# "9073" planning rule.
# Uptakes chosen so that about 3% of the 60+ would use an institutional bed in 2020 (3.0% with
# these means), China's "9073" planning rule (90% at home, 7% community, 3% institutions).
uptake_independent = { dist = "beta", alpha = 3, beta = 247 }  # mean 1.2%
uptake_partial = { dist = "beta", alpha = 7.5, beta = 92.5 }   # mean 7.5%
uptake_full = { dist = "beta", alpha = 8.8, beta = 31.2 }      # mean 22%

[capacity]
# The end-2020 national stock (MCA, Feb 2021: 823.8万 beds including community beds), taken as the
# stock before the 2021 deliveries: stock_year = base_year, and the plan items start in 2021.
stock_year = 2020

[[capacity.stock]]
group = "china"
# ASSUMPTION (rule): no sub-national bed table was found, so the national beds are split across
# all {n_regions} units in proportion to each unit's 2020 census count of people aged 60+. Every
# unit therefore starts at the national {bpt} beds per 1,000 aged 60+ ({beds} / {nat_60})
# and the national nursing share; real local stocks differ widely (no data).
split = "elderly"
# ASSUMPTION (as china-provinces.toml): institutional share of the 2020 total triangular(0.58, 0.61,
# 0.64) (0.617 in 2021, 0.625 in 2022), community the complement triangular(0.36, 0.39, 0.42);
# sampled independently, so the 2020 total is 823.8万 on average (sd about 1.4%).
institutional = { dist = "triangular", low = 4778040, mode = 5025180, high = 5272320 }
community = { dist = "triangular", low = 2965680, mode = 3212820, high = 3459960 }
# ASSUMPTION: nursing-type share of institutional beds at end-2020 uniform(0.40, 0.50): below the
# 55% set for 2025 in Feb 2022; 58.9% was reported for 2023 after a national conversion push.
nursing_share = { dist = "uniform", low = 0.40, high = 0.50 }

# ---------------------------------------------------------------------------------------------
# The national programme 2021-2025 as a BACKCAST, the same three items as china-provinces.toml
# (sized so that the simulated national totals follow the bulletins: institutional beds 503.7
# (2021), 518.3 (2022), 517.2 (2023), 507.7 (2024) 万; nursing share 58.9% in 2023). They are
# calibrated to reported national totals, NOT taken from plan documents, and split over all units
# by their 2020 elderly like the stock (ASSUMPTION). Delay 0, no cancellation, delivered share 1:
# the uncertainty is in the size ranges. Community beds stay at their 2020 level (bedsim cannot
# remove community beds; the bulletins show 311.1 (2022) to 291.5 (2024) 万), so beds per 1,000 from
# 2022 on are overstated by up to about 1 bed per 1,000 elderly.
# ---------------------------------------------------------------------------------------------

[[plan]]
id = "new-institutions"
kind = "new"
group = "china"
split = "elderly"
year = 2021
# ASSUMPTION: gross new institutional beds 2021-2025 triangular(35, 50, 65)万, phased 22%, 36%,
# 20%, 11%, 11%; nursing-type share of new beds triangular(0.5, 0.7, 0.9).
beds = { dist = "triangular", low = 350000, mode = 500000, high = 650000 }
phasing = [0.22, 0.36, 0.20, 0.11, 0.11]
nursing_share = { dist = "triangular", low = 0.5, mode = 0.7, high = 0.9 }
delay = 0
cancel_probability = 0
delivered_share = 1

[[plan]]
id = "rural-welfare-home-closures"
kind = "closure"
group = "china"
split = "elderly"
year = 2021
# ASSUMPTION: closures and mergers of small rural welfare homes (敬老院) and other small
# institutions, triangular(30, 45, 60)万 beds over 2021-2025, phased 22%, 12%, 24%, 30%, 12%;
# uniform(0, 0.2) of them nursing-type.
beds = { dist = "triangular", low = 300000, mode = 450000, high = 600000 }
phasing = [0.22, 0.12, 0.24, 0.30, 0.12]
nursing_share = { dist = "uniform", low = 0.0, high = 0.2 }
delay = 0
cancel_probability = 0
delivered_share = 1

[[plan]]
id = "nursing-conversion"
kind = "conversion"
group = "china"
split = "elderly"
year = 2021
# ASSUMPTION: general beds converted to nursing-type beds over 2021-2025, triangular(35, 60, 85)万,
# front-loaded (27%, 32%, 27%, 7%, 7%) as the push towards the 55% target came before 2023.
beds = { dist = "triangular", low = 350000, mode = 600000, high = 850000 }
phasing = [0.27, 0.32, 0.27, 0.07, 0.07]
delay = 0
cancel_probability = 0
delivered_share = 1

# National 14th FYP target (国务院 "十四五"国家老龄事业发展和养老服务体系规划, Feb 2022): nursing-type
# beds >= 55% of institutional beds by end-2025, tested in every unit and group (all units share
# the national share by construction of the split).
[[target]]
id = "nursing-share-2025"
metric = "nursing_share"
op = ">="
threshold = 0.55
year = 2025
units = "all"

# ILLUSTRATIVE beds-per-1,000 targets: the national 14th FYP plan sets no beds-per-1,000 figure
# that was found in a citable source, so these are NOT plan targets. 30 beds per 1,000 people aged
# 60+ is the national target of the 12th FYP (国务院办公厅《社会养老服务体系建设规划(2011—2015年)》:
# 每千名老年人拥有养老床位数达到30张 by 2015; MCA reported 30.3 for 2015), close to the national
# end-2020 level ({bpt}) and below Hainan's provincial 32 for 2025 (the only beds-per-1,000 target
# among the project's plan documents). It asks whether each unit keeps at least that level while
# its elderly grow; with the stock split by elderly, all units start at the national level and
# fall behind in proportion to the growth of their 60+. Change it with
# --set target.beds-per-1000-2025.threshold=32 (Hainan's level) or any other figure.
[[target]]
id = "beds-per-1000-2025"
metric = "beds_per_1000_elderly"
op = ">="
threshold = 30
year = 2025
units = "all"

# ILLUSTRATIVE: the same level held to 2035, the end of the projection (no plan beyond 2025 is
# modelled, so this shows the beds needed to keep pace with the growth of the elderly).
[[target]]
id = "beds-per-1000-2035"
metric = "beds_per_1000_elderly"
op = ">="
threshold = 30
year = 2035
units = "all"
"""


def write_toml(provinces, pref_groups, regions, group_of, nat_60, nat_total):
    n_prov = len(provinces)
    prefself = [r for r in regions if r["kind"] == "prefecture"]
    fmt = dict(
        n_regions=len(regions),
        n_groups=1 + n_prov + len(pref_groups),
        n_county=sum(r["kind"] == "county" for r in regions),
        n_other=sum(r["kind"] == "other_unit" for r in regions),
        n_prefself=len(prefself),
        prefself=", ".join(f"{r['name']} {r['id']}" for r in prefself),
        n_prov=n_prov,
        n_pref=len(pref_groups),
        nat_total=f"{nat_total:,}",
        nat_60=f"{nat_60:,}",
        beds=f"{NATIONAL_BEDS_2020:,}",
        bpt=f"{NATIONAL_BEDS_2020 / nat_60 * 1000:.1f}",
    )
    out = [fill(HEADER, fmt), ""]
    out.append("# Groups: the nation, its provinces, and the prefectures with at least one region.")
    out.append('[[group]]\nid = "china"\nname = "全国"\n')
    for pv in provinces:
        out.append(f'[[group]]\nid = {q(pv["code"])}\nname = {q(pv["name"])}\nparent = "china"\n'
                   'migration_rate = { dist = "laplace", mean = 0, scale = 2.04 }   # the province\'s shared part\n')
    for p in pref_groups:
        out.append(f'[[group]]\nid = {q(p["code"])}\nname = {q(p["name"])}\nparent = {q(p["province"]["code"])}\n')
    out.append("# Regions, in the order of the census file, by province. Migration, mortality and fertility:")
    out.append("# the defaults below ([migration], [mortality], [fertility]) for every unit.")
    by_prov = {}
    for r in regions:
        by_prov.setdefault(r["province"]["code"], []).append(r)
    for pv in provinces:
        regs = by_prov.get(pv["code"], [])
        out.append(f"\n# ---- {pv['name']} ({pv['code']}): {len(regs)} regions")
        for r in regs:
            lines = [f"[[region]]", f"id = {q(r['id'])}", f"name = {q(r['name'])}", f"group = {q(group_of(r))}"]
            if r["id"] == "170971":
                lines[1] += "   # as printed in the source; probably 140971 (17 is no province)"
            out.append("\n".join(lines) + "\n")
    out.append(fill(MIDDLE, fmt))
    with open(TOML, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
