#!/usr/bin/env python3
"""Derive bedsim's sub-national inputs from the 2010 and 2020 censuses.

Usage (paths are relative to the repository root, the parent of this folder):

    python3 scenarios/make_subnational.py           # write the files below
    python3 scenarios/make_subnational.py --check   # exit 1 if a written file would change

Python 3 standard library only; the output is deterministic (same input, byte-identical files).

Reads
    data/census2010_county_age5_sex_wide.csv    2010 census county tabulation (leiii/census, MIT)
    data/census2020_county_age5_sex_wide.csv    2020 census county tabulation (leiii/census, MIT)
    data/census2010_province_age5_sex.csv       2010 census by province, 5-year groups to 100+
    data/census2020_province_age5_sex.csv       2020 census by province
    data/china_census_mx_single_age_sex.csv     national census deaths and population by age, 2010
    data/wpp2024_china_mx_age5_sex.csv          UN WPP 2024 death rates by 5-year period

Writes (each file's columns are described in data/SOURCES.md)
    data/census2010_county_age5_sex.csv         2010 counties in the long layout bedsim reads
    data/crosswalk_county_2010_2020.csv         comparable units of the two censuses
    data/mortality_levels_2010.csv              mortality level of every unit (indirect standardisation)
    data/migration_2010_2020.csv                net migration rates by sex and age (cohort residual)
    data/observed_2020.csv                      2020 census counts of the back-test's units
    scenarios/backtest-2010-provinces.toml      the back-test scenarios (2010 -> 2020)
    scenarios/backtest-2010-counties.toml

The methods are documented where they are computed below and in docs/validation.md.
"""

import csv
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_china_counties as m20  # noqa: E402  (the 2020 regions exactly as china-counties.toml has them)

DATA = os.path.join(ROOT, "data")
WIDE10 = os.path.join(DATA, "census2010_county_age5_sex_wide.csv")

AGES = m20.AGES  # (suffix, start, end) of the county tables: 0, 1-4, 5-9, ..., 80-84, 85+
SEXES = m20.SEXES
CELLS = m20.CELLS
N_GROUPS = len(AGES)


def fail(msg):
    sys.exit(f"make_subnational: {msg}")


# ----------------------------------------------------------------------------------------------
# 2010 regions
# ----------------------------------------------------------------------------------------------

def norm(name):
    """Names as printed, with the variant character 巿 (U+5DFF) of the 2010 file read as 市."""
    return name.strip().replace("巿", "市")


SUFFIXES = ["自治县", "自治旗", "特区", "林区", "新区", "管理区", "行委", "县", "市", "区", "旗"]


def stem(name):
    """A name without its administrative suffix: 文登市 and 文登区 are one place renamed."""
    s = norm(name)
    for x in SUFFIXES:
        if s.endswith(x) and len(s) > len(x):
            return s[: -len(x)]
    return s


def read_rows10():
    with open(WIDE10, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in CELLS + ["region_code", "level", "name_zh", "pop_total", "crude_death_rate_per_1000"] if c not in rows[0]]
    if missing:
        fail(f"{WIDE10}: missing columns {missing}")
    for i, r in enumerate(rows):
        r["line"] = i + 2
        r["cells"] = [int(r[c]) if r[c].strip() else 0 for c in CELLS]
    return rows


def classify10(rows):
    """The 2010 county-level units, as make_china_counties.classify does for 2020: every county
    row; every other_unit row that is not a subtotal or a municipality's pseudo-prefecture row
    (市辖区, 县), with id = the enclosing prefecture's code (or the province's, for units under a
    province directly) + -zNN; and every prefecture without member rows (2010: 东莞, 中山, 三亚,
    嘉峪关, whose figures are in a 市辖区 row)."""
    regions = []
    prefectures = {}
    prov = pref = None
    zcount = {}
    for r in rows:
        level, code, name = r["level"], r["region_code"].strip(), norm(r["name_zh"])
        if level == "province":
            prov, pref = code, None
            continue
        if level == "prefecture":
            pref = code
            prefectures[code] = (r, prov)
            continue
        if level == "other_unit" and name in ("省直辖县级行政区划", "自治区直辖县级行政区划"):
            pref = None
            continue
        if level == "other_unit" and name in ("市辖区", "县"):
            continue
        if level == "county":
            rid = code
        elif level == "other_unit":
            key = pref or prov
            zcount[key] = zcount.get(key, 0) + 1
            rid = f"{key}-z{zcount[key]:02d}"
        else:
            fail(f"{WIDE10}:{r['line']}: unknown level '{level}'")
        regions.append({"id": rid, "name": name, "row": r, "province": prov,
                        "prefecture": pref if code[2:4] != "90" else None, "kind": level})
    have = {g["prefecture"] for g in regions}
    for code, (r, pv) in prefectures.items():
        if code not in have:
            regions.append({"id": code, "name": norm(r["name_zh"]), "row": r, "province": pv,
                            "prefecture": None, "kind": "prefecture"})
    return regions


# ----------------------------------------------------------------------------------------------
# Crosswalk: comparable units of 2010 and 2020
# ----------------------------------------------------------------------------------------------

def sum_cells(units):
    out = [0] * len(CELLS)
    for u in units:
        for k, v in enumerate(u["row"]["cells"]):
            out[k] += v
    return out


def aged(cells, from_age):
    return sum(v for v, (_, start, _e) in zip(cells, AGES * 2) if start >= from_age)


# Units whose people aged 50+ in 2020, over their people aged 40+ in 2010, differ from the
# national ratio by more than this factor are taken to have changed boundaries (or to be merged
# with a unit that did): ten years of net migration at those ages moves a county's count by
# +-15% at most in all but a few dozen units, while a district that gives a development zone a
# third of its area loses a third of its people.
PLAUSIBLE = (0.7, 1.4)


# Changes the rules below cannot see, from the State Council's approvals of boundary changes:
# 2011 巢湖 prefecture dissolved, its 居巢区 became the county-level city 巢湖市 under 合肥; 五台山
# 风景名胜区 (printed with code 170971 in the 2020 file) was carved out of 五台县; 2019 莱芜 joined
# 济南 and its 莱城区 became 莱芜区; 2017 那曲县 became 色尼区 (and 班嘎县 is the 2010 file's
# spelling of 班戈县); 2011 the county-level 铜仁市 became 碧江区.
MANUAL_LINKS = [("341402", "340181"), ("140922", "170971"), ("371202", "370116"), ("542421", "540602"),
                ("542428", "540627"), ("522201", "520602")]


def crosswalk(reg10, reg20):
    """Groups the 2010 and 2020 units into comparable units ("clusters"): sets of 2010 units and
    2020 units covering the same territory as far as codes, names and the populations tell.

    1. A code present in both censuses links the two units (a code renamed keeps its territory
       in most cases; where it does not, step 3 finds it).
    2. A 2010 unit without a 2020 code is linked to the 2020 unit of its province with the same
       name stem (文登市 -> 文登区), preferring one in the same prefecture.
    3. Links whose old-age cohort ratio is implausible (see PLAUSIBLE), and the units left
       unlinked, are pooled by prefecture (the first four digits of the code), then, where a
       prefecture's pool has units of one census only, by province.
    4. A pool that still has units of one census only (development zones carved out of urban
       districts) joins the clusters of its prefecture's urban districts (codes ending 01-20).
    5. Comparable units still implausible are merged with the prefecture's other implausible
       ones when that makes them plausible; those still implausible are marked "implausible":
       most are real destinations and sources (三亚's retirees, 深圳's districts, the
       Northeast's forest districts), some boundary changes the codes do not show; their rates
       are kept within max_rate.
    Returns the clusters as (list of 2010 indices, list of 2020 indices, how) sorted by the first
    2020 id."""
    n10 = len(reg10)
    N = n10 + len(reg20)
    parent = list(range(N))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i, j):
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    code20 = {r["id"]: j for j, r in enumerate(reg20)}
    linked10, linked20 = set(), set()
    for i, r in enumerate(reg10):
        j = code20.get(r["id"])
        if j is not None:
            union(i, n10 + j)
            linked10.add(i)
            linked20.add(j)
    by_stem = {}
    for j, r in enumerate(reg20):
        by_stem.setdefault((r["province"]["code"], stem(r["name"])), []).append(j)
    stems20 = [(r["province"]["code"], stem(r["name"]), j) for j, r in enumerate(reg20)]
    for i, r in enumerate(reg10):
        if i in linked10:
            continue
        pv, st = r["province"], stem(r["name"])
        cands = by_stem.get((pv, st), [])
        if not cands:
            # 开县 -> 开州区, 蓟县 -> 蓟州区: the old stem begins the new one
            cands = [j for p, s2, j in stems20 if p == pv and s2 != st and s2.startswith(st)]
        if len(cands) > 1:
            cands = [j for j in cands if j not in linked20] or cands
        if len(cands) > 1:
            cands = [j for j in cands if reg20[j]["id"][:4] == r["id"][:4]]
        if len(cands) == 1:
            union(i, n10 + cands[0])
            linked10.add(i)
            linked20.add(cands[0])
    for a, b in MANUAL_LINKS:
        i = next((i for i, r in enumerate(reg10) if r["id"] == a), None)
        j = code20.get(b)
        if i is None or j is None:
            fail(f"manual link {a} -> {b}: no such unit")
        union(i, n10 + j)
        linked10.add(i)
        linked20.add(j)

    def members(root_filter=None):
        cl = {}
        for i in range(N):
            cl.setdefault(find(i), []).append(i)
        return list(cl.values())

    def split(mem):
        return [i for i in mem if i < n10], [i - n10 for i in mem if i >= n10]

    def ratio(mem):
        a, b = split(mem)
        c10, c20 = sum_cells(reg10[i] for i in a), sum_cells(reg20[j] for j in b)
        old = aged(c10, 40)
        return aged(c20, 50) / old if old else float("nan")

    national = ratio(list(range(N)))
    province = [r["province"] for r in reg10] + [r["province"]["code"] for r in reg20]
    prefix = [r["id"][:4] for r in reg10] + [r["id"][:4] for r in reg20]
    pooled = set()
    pool = []
    for mem in members():
        a, b = split(mem)
        rel = ratio(mem) / national if a and b else float("nan")
        if not (a and b) or not (PLAUSIBLE[0] <= rel <= PLAUSIBLE[1]):
            pool.append(mem)
            pooled.update(mem)
    # 3. pool by prefecture, then one-sided pools by province
    by_pref = {}
    for mem in pool:
        by_pref.setdefault((province[mem[0]], prefix[mem[0]]), []).extend(mem)
    one_sided = []
    for allm in by_pref.values():
        for i in allm[1:]:
            union(allm[0], i)
        a, b = split(allm)
        if not a or not b:
            one_sided.append(allm)
    # One-sided pools of a prefecture that exists in both censuses go to step 4; those of a
    # prefecture whose code changed (巢湖 dissolved, 铜仁地区 -> 铜仁市) are pooled by province.
    prefixes10 = {prefix[i] for i in range(n10)}
    prefixes20 = {prefix[i] for i in range(n10, N)}
    by_prov = {}
    still = []
    for allm in one_sided:
        if prefix[allm[0]] in prefixes10 and prefix[allm[0]] in prefixes20:
            still.append(allm)
        else:
            by_prov.setdefault(province[allm[0]], []).append(allm)
    for groups in by_prov.values():
        a_any = any(split(g)[0] for g in groups)
        b_any = any(split(g)[1] for g in groups)
        if a_any and b_any:
            allm = [i for g in groups for i in g]
            for i in allm[1:]:
                union(allm[0], i)
        else:
            still.extend(groups)
    # 4. one-sided pools join their prefecture's urban districts (or the province's, when the
    #    prefecture has none in 2010)
    for allm in still:
        pv, pf = province[allm[0]], prefix[allm[0]]
        core = [i for i in range(n10) if reg10[i]["id"][:4] == pf and reg10[i]["id"][4:].isdigit() and 1 <= int(reg10[i]["id"][4:]) <= 20]
        core = [i for i in core if i not in allm]
        if not core:
            # no urban districts (a league or prefecture of counties): its largest unit
            same = [i for i in range(n10) if reg10[i]["id"][:4] == pf and i not in allm]
            core = sorted(same, key=lambda i: -int(reg10[i]["row"]["pop_total"] or 0))[:1]
        if not core:
            print("UNPLACED", pv, pf, [reg20[i - n10]['id']+reg20[i - n10]['name'] if i >= n10 else reg10[i]['id']+reg10[i]['name'] for i in allm])
            continue
        for i in core + allm[1:]:
            union(allm[0], i)
    # 5. Comparable units still implausible (a boundary change between two units that both kept
    #    their codes, such as a district that gave part of its area to a new one) are merged
    #    with the other implausible units of their prefecture when together they are plausible
    #    (the area moved between them).
    bad = [mem for mem in members() if not (PLAUSIBLE[0] <= ratio(mem) / national <= PLAUSIBLE[1])]
    by_pref = {}
    for mem in bad:
        by_pref.setdefault((province[mem[0]], prefix[mem[0]]), []).append(mem)
    for groups in by_pref.values():
        allm = [i for g in groups for i in g]
        if len(groups) > 1 and PLAUSIBLE[0] <= ratio(allm) / national <= PLAUSIBLE[1]:
            for i in allm[1:]:
                union(allm[0], i)
    out = []
    for mem in members():
        a, b = split(mem)
        if not a or not b:
            fail(f"a comparable unit has units of one census only: {[reg10[i]['name'] for i in a]} {[reg20[j]['name'] for j in b]}")
        if not (PLAUSIBLE[0] <= ratio(mem) / national <= PLAUSIBLE[1]):
            how = "implausible"
        elif len(a) == 1 and len(b) == 1 and not (set(mem) & pooled):
            how = "code" if reg10[a[0]]["id"] == reg20[b[0]]["id"] else "name"
        elif len(a) == 1 and len(b) == 1:
            how = "pooled"
        else:
            how = "merged"
        out.append((sorted(a, key=lambda i: reg10[i]["id"]), sorted(b, key=lambda j: reg20[j]["id"]), how))
    out.sort(key=lambda c: reg20[c[1][0]]["id"])
    return out


# ----------------------------------------------------------------------------------------------
# Mortality levels: indirect standardisation of the 2010 census crude death rates
# ----------------------------------------------------------------------------------------------

MX_FILE = os.path.join(DATA, "china_census_mx_single_age_sex.csv")

# Plausible range of a unit's level (the provinces range from 0.70, 上海, to 1.60, 西藏). Beyond
# it a ratio says more about the data than about mortality: city districts whose residents are
# mostly young migrants (福田区 0.38: migrants go home to die, and their deaths are reported
# there) or very small units; such levels are clamped and given a wider uncertainty.
LEVEL_RANGE = (0.5, 2.0)
CLAMPED_SDLOG = 0.15

# Disasters in the census year (November 2009 - October 2010) whose deaths are not a level of
# mortality: the Yushu earthquake of 14 April 2010 (玉树县, about 2,700 dead) and the Zhouqu
# mudslide of 8 August 2010 (舟曲县, about 1,800 dead). These units take their province's level.
DISASTERS = {"632721": "Yushu earthquake, April 2010", "623023": "Zhouqu mudslide, August 2010"}

# Uncertainty added to every level (sdlog) for what a 2010 crude death rate cannot tell about
# a unit's mortality in the projection years: change of the differential since 2010, and
# differences in how completely deaths were reported. ASSUMPTION, see docs/validation.md.
LEVEL_DRIFT_SDLOG = 0.05


def national_group_rates(census_year=2010):
    """The census's national death rates (deaths / average population) by sex in the county
    tables' age groups (0, 1-4, 5-9, ..., 80-84, 85+). Deaths are under-reported in the census
    (see SOURCES.md), but units' crude death rates come from the same census, so the ratio of
    observed to expected deaths compares like with like."""
    pop = {s: [0.0] * 101 for s in SEXES}
    dth = {s: [0.0] * 101 for s in SEXES}
    with open(MX_FILE, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if int(r["census_year"]) == census_year and r["residence"] == "total" and r["sex"] in SEXES:
                a = int(r["age"])
                pop[r["sex"]][a] = float(r["average_population"])
                dth[r["sex"]][a] = float(r["deaths"])
    out = []
    for s in SEXES:
        for _, start, end in AGES:
            e = 100 if end is None else end
            out.append(sum(dth[s][start:e + 1]) / sum(pop[s][start:e + 1]))
    return out  # in CELLS order


def observed_expected(units, rates):
    """Observed deaths (crude death rate x population) and deaths expected at the national
    rates on the units' own age structure, summed over the units."""
    obs = exp = 0.0
    for u in units:
        r = u["row"]
        cdr = r["crude_death_rate_per_1000"].strip()
        if not cdr or not r["pop_total"].strip():
            continue
        obs += float(cdr) / 1000.0 * int(r["pop_total"])
        exp += sum(c * m for c, m in zip(r["cells"], rates))
    return obs, exp


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return 0.0 if n == 0 else (xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2]))


def mortality_levels(rows10, reg10, clusters, reg20):
    """Mortality levels relative to the nation, by indirect standardisation, for the 2010
    provinces, the 2010 units and the 2020 units (through the comparable units).

    A unit's standardised mortality ratio is its observed deaths over those expected at the
    national rates on its ages, divided by the nation's. Small units' ratios are mostly Poisson
    noise, so each is shrunk towards its province's by the Poisson-gamma empirical-Bayes rule
    (Clayton & Kaldor 1987, Biometrics 43:671): the unit's level is gamma with the province's
    level as mean and shape alpha a priori; after its O deaths observed against E expected it is
    gamma(alpha + O, alpha / province + E), mean (alpha + O) / (alpha / province + E). alpha is
    estimated from the spread of the units' log ratios around their province's (robustly: the
    median absolute deviation), less their Poisson part. The level's uncertainty is that
    posterior's (sdlog about 1 / sqrt(alpha + O)) plus LEVEL_DRIFT_SDLOG."""
    rates = national_group_rates(2010)
    provinces = [r for r in rows10 if r["level"] == "province"]
    nat_o, nat_e = observed_expected([{"row": r} for r in provinces], rates)
    nat = nat_o / nat_e
    # A province's level from its units' deaths, without the disasters' (the province's printed
    # rate includes them: 青海 by about 9%).
    prov = {}
    for r in provinces:
        code = r["region_code"]
        o, e = observed_expected([u for u in reg10 if u["province"] == code and u["id"] not in DISASTERS], rates)
        prov[code] = {"name": norm(r["name_zh"]), "o": o, "e": e, "smr": o / e / nat}
    # alpha from the spread of county log ratios around their province's
    devs, poisson = [], []
    for u in reg10:
        o, e = observed_expected([u], rates)
        if o >= 5 and e > 0:
            devs.append(math.log(o / e / nat / prov[u["province"]]["smr"]))
            poisson.append(1.0 / o)
    mad = median([abs(x - median(devs)) for x in devs]) * 1.4826
    tau2 = max(mad * mad - median(poisson), 1e-4)
    alpha = 1.0 / tau2

    def level(units, province):
        o, e = observed_expected([u for u in units if u["id"] not in DISASTERS], rates)
        e_rel = e * nat  # expected deaths at the nation's level of mortality
        mu = prov[province]["smr"]
        a, b = alpha + o, alpha / mu + e_rel
        mult, sd, note = a / b, math.sqrt(1.0 / a + LEVEL_DRIFT_SDLOG ** 2), ""
        if any(u["id"] in DISASTERS for u in units):
            note = "without " + "; ".join(DISASTERS[u["id"]] for u in units if u["id"] in DISASTERS)
        if not LEVEL_RANGE[0] <= mult <= LEVEL_RANGE[1]:
            note = f"clamped from {mult:.3f}"
            mult, sd = min(max(mult, LEVEL_RANGE[0]), LEVEL_RANGE[1]), max(sd, CLAMPED_SDLOG)
        return {"o": o, "e": e_rel, "raw": (o / e_rel) if e_rel > 0 else float("nan"),
                "multiplier": mult, "sdlog": sd, "note": note}

    out10 = {u["id"]: level([u], u["province"]) for u in reg10}
    out20 = {}
    for a, b, _how in clusters:
        lv = level([reg10[i] for i in a], reg10[a[0]]["province"])
        for j in b:
            out20[reg20[j]["id"]] = lv
    provinces_out = {}
    for code, p in prov.items():
        provinces_out[code] = {"o": p["o"], "e": p["e"] * nat, "raw": p["smr"], "multiplier": p["smr"],
                               "sdlog": math.sqrt(1.0 / p["o"] + LEVEL_DRIFT_SDLOG ** 2), "note": ""}
    return {"alpha": alpha, "tau": math.sqrt(tau2), "national_ratio": nat}, provinces_out, out10, out20


# ----------------------------------------------------------------------------------------------
# Net migration 2010-2020: the cohort residual
# ----------------------------------------------------------------------------------------------

WPP_MX = os.path.join(DATA, "wpp2024_china_mx_age5_sex.csv")


def wpp_periods():
    out = {}
    with open(WPP_MX, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault(int(r["period_start"]), []).append((int(r["age_start"]), float(r["mx_male"]), float(r["mx_female"])))
    return {k: sorted(v) for k, v in out.items()}


def five_year_person_years(groups, sex, level):
    """An abridged life table (WPP's groups 0, 1-4, 5-9, ..., 100+; a = 0.1 at 0, 1.5 at 1-4,
    half the interval above, the open group closed by 1/m) with the death rates times `level`:
    person-years lived in 0-4, 5-9, ..., 80-84 and 85+ per birth."""
    l, big_l = 1.0, []
    for k, (start, mm, mf) in enumerate(groups):
        m = (mm if sex == 0 else mf) * level
        if k + 1 == len(groups):
            big_l.append(l / m)
            break
        n = groups[k + 1][0] - start
        a = 0.1 if start == 0 else (1.5 if start == 1 else n / 2)
        q = min(n * m / (1 + (n - a) * m), 1.0)
        d = l * q
        big_l.append(n * (l - d) + a * d)
        l -= d
    five = [big_l[0] + big_l[1]] + big_l[2:]  # 0-4, 5-9, ..., 95-99, 100+
    return five[:17] + [sum(five[17:])]  # ..., 80-84, 85+


def survive_decade(p18, sex, level, periods):
    """Survivors ten years on (two five-year steps, 2010-2015 and 2015-2020 rates) of a
    population in 18 groups 0-4, ..., 80-84, 85+; the 85+ of the end are the survivors of the
    80+ of each step (T(85)/T(80))."""
    cur = list(p18)
    for start in (2010, 2015):
        big_l = five_year_person_years(periods[start], sex, level)
        nxt = [0.0] * 18
        for k in range(16):
            nxt[k + 1] = cur[k] * big_l[k + 1] / big_l[k]
        nxt[17] = (cur[16] + cur[17]) * big_l[17] / (big_l[16] + big_l[17])
        cur = nxt
    return cur


def groups18(cells):
    """County-table cells (0, 1-4, 5-9, ..., 85+ by sex) as 18 groups 0-4, ..., 85+ by sex."""
    n = len(AGES)
    out = []
    for s in range(2):
        c = cells[s * n:(s + 1) * n]
        out.append([c[0] + c[1]] + c[2:])
    return out


# Largest annual net migration rate written, per 1,000, by age: beyond it a residual is a
# boundary change the crosswalk missed rather than migration (a decade at -60 a year removes
# 45% of a cohort; the county spread at 60-64 is about 7 a year). Students and young workers
# move most.
def max_rate(age_start):
    if 15 <= age_start < 35:
        return 150.0
    if age_start < 50:
        return 100.0
    return 60.0


def cohort_ratios(cells10, cells20, level, periods):
    """The 2020 count of each cohort over its 2010 count survived to 2020, by sex, for the 2020
    groups 10-14 ... 85+ (index 2..17); None where the expected count is zero."""
    p10, p20 = groups18(cells10), groups18(cells20)
    out = []
    for s in range(2):
        e = survive_decade(p10[s], s, level, periods)
        out.append([None, None] + [(p20[s][k] / e[k]) if e[k] > 0 and p20[s][k] > 0 else None for k in range(2, 18)])
    return out


def annual_rates(ratio, national):
    """Annual net migration rates per 1,000 by sex for the groups 0-4 ... 85+ from a unit's
    cohort ratios over the nation's (the national ratio is census coverage and the difference
    between the census and WPP's mortality, not migration).

    A cohort aged 5h-5 .. 5h-1 in 2010 is aged 5h+5 .. 5h+9 in 2020: over the decade it lives
    through the ages around 5h .. 5h+4, so the cohort's annual rate, (ratio)^(1/10) - 1, is the
    rate of the group h (the group it is in halfway). The 85+ and 80-84 take the rate of the
    cohort that ends in the 85+; the 0-4 (born during the decade) take the 5-9's."""
    out = []
    for s in range(2):
        r = [None] * 18
        for h in range(1, 16):
            a, b = ratio[s][h + 1], national[s][h + 1]
            if a is not None and b:
                r[h] = (a / b) ** 0.1 - 1.0
        a, b = ratio[s][17], national[s][17]
        if a is not None and b:
            r[16] = r[17] = (a / b) ** 0.1 - 1.0
        r[0] = r[1]
        out.append([max(-max_rate(AGE18[g][0]), min(max_rate(AGE18[g][0]), 1000.0 * v)) if v is not None else 0.0
                    for g, v in enumerate(r)])
    return out


AGE18 = [(0, 4)] + [(a, a + 4) for a in range(5, 85, 5)] + [(85, None)]


def migration_schedules(reg10, reg20, clusters, levels20, rows10, rows20, prefectures20, periods, prov_rates):
    """Annual net migration rates per 1,000 by sex and the groups 0-4 ... 85+, from the 2010 ->
    2020 cohort residual: of every 2020 unit (its comparable unit's), of every 2020 prefecture
    whose comparable units lie inside it, and of every province."""
    cells_nat10 = sum_cells(reg10)
    cells_nat20 = sum_cells(reg20)
    national = cohort_ratios(cells_nat10, cells_nat20, 1.0, periods)
    out = {}
    where = {}  # 2020 unit -> its comparable unit (a list of 2020 ids) for the prefecture rows
    per_cluster = []
    for a, b, how in clusters:
        c10 = sum_cells(reg10[i] for i in a)
        c20 = sum_cells(reg20[j] for j in b)
        level = levels20[reg20[b[0]]["id"]]["multiplier"]
        rates = annual_rates(cohort_ratios(c10, c20, level, periods), national)
        per_cluster.append(rates)
        for j in b:
            out[reg20[j]["id"]] = rates
            where[reg20[j]["id"]] = (a, b)
    # prefectures whose units' comparable units all lie inside them
    pref_rows, pref_levels = {}, {}
    for p in prefectures20:
        members = [m["id"] for m in p["members"] if m["id"] in where]
        if p["pseudo"] or not members or p["code"] in out:
            continue
        cl = {tuple(where[m][1]) for m in members}
        inside = all(reg20[j]["id"] in members for c in cl for j in c)
        if inside:
            a_all = sorted({i for m in members for i in where[m][0]})
            b_all = sorted({j for c in cl for j in c})
            c10 = sum_cells(reg10[i] for i in a_all)
            c20 = sum_cells(reg20[j] for j in b_all)
            mult = sd = pop = 0.0
            for j in b_all:
                lv = levels20[reg20[j]["id"]]
                w = int(reg20[j]["row"]["pop_total"])
                mult, sd, pop = mult + lv["multiplier"] * w, sd + lv["sdlog"] * w, pop + w
            pref_rows[p["code"]] = annual_rates(cohort_ratios(c10, c20, mult / pop, periods), national)
            pref_levels[p["code"]] = {"o": float("nan"), "e": float("nan"), "raw": float("nan"), "multiplier": mult / pop,
                                      "sdlog": sd / pop, "note": "prefecture: population-weighted mean of its units", "name": p["name"]}
    return out, pref_rows, pref_levels, national, per_cluster


def province_schedules(rows10, rows20, prov_levels, periods, national):
    by10 = {r["region_code"]: r for r in rows10 if r["level"] == "province"}
    out = {}
    for r in rows20:
        if r["level"] != "province":
            continue
        code = r["region_code"]
        r10 = by10[code]
        out[code] = annual_rates(cohort_ratios(r10["cells"], r["cells"], prov_levels[code]["multiplier"], periods), national)
    return out


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------

def csv_text(header, rows):
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def fmt(v, nd):
    s = f"{v:.{nd}f}"
    return "0" if s.strip("-0.") == "" else s


def long_layout(units):
    """(id, name, cells) -> census long layout rows."""
    rows = []
    for uid, name, cells in units:
        for si, sex in enumerate(SEXES):
            for ai, (_, start, end) in enumerate(AGES):
                rows.append([uid, name, sex, start, "" if end is None else end, cells[si * len(AGES) + ai]])
    return rows


# ----------------------------------------------------------------------------------------------
# The back-test scenarios
# ----------------------------------------------------------------------------------------------

# Migration uncertainty of a unit over a decade when nothing is known of its migration: net
# migrants per 1,000 a year, normal(0, sd) per unit and draw, times an age profile (the
# relative spread of the 2010-2020 rates across units by age). Set from the back-test itself
# (docs/validation.md, "Calibration"); the forward scenarios derive theirs from these.
# The spreads are measured by `migration_spread` below, as the scale of a Laplace (double
# exponential) distribution fitted to the central 80% of units: (q90 - q10) / (2 ln 5), across
# units of the annual rates, both sexes averaged, at 60-64 (the weight-1 age), for a county's
# deviation from its province and for the provinces' deviations from the nation; the age
# profile is the counties' scale at each age over that at 60-64. The rates' tails are heavy
# (the central 90% of counties spans 4 times their interquartile range, a normal's 2.4, a
# Laplace's 3.3), so a normal fitted to either end misses the other; the outer 20% (boundary
# changes the crosswalk missed among them) do not set the scale.
NOISE_BANDS = [0, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80]


def laplace_scale(xs):
    xs = sorted(xs)
    n = len(xs)

    def q(p):
        h = (n - 1) * p
        lo = int(math.floor(h))
        return xs[lo] + (h - lo) * (xs[min(lo + 1, n - 1)] - xs[lo])
    return (q(0.9) - q(0.1)) / (2.0 * math.log(5.0))


def migration_spread(cluster_rates, cluster_province, prov_rates, pick=lambda k: True):
    """Per 5-year group (AGE18; the rates of 0-4 and 5-9, and of 80-84 and 85+, are the same):
    (Laplace scale of counties' deviations from their province, of the provinces'), in rates
    per 1,000 a year; over the comparable units `pick` keeps."""
    out = []
    for g in range(18):
        within = [0.5 * (r[0][g] + r[1][g]) - 0.5 * (prov_rates[cluster_province[k]][0][g] + prov_rates[cluster_province[k]][1][g])
                  for k, r in enumerate(cluster_rates) if pick(k)]
        prov = [0.5 * (r[0][g] + r[1][g]) for r in prov_rates.values()]
        out.append((laplace_scale(within), laplace_scale(prov)))
    return out


def noise_parameters(spread):
    """County and province Laplace scales at 60-64, and the weights of NOISE_BANDS (the counties'
    scale by age over that at 60-64)."""
    ref = spread[12][0]
    band_group = {0: 0, 10: 2, 15: 3, 20: 4, 25: 5, 30: 6, 35: 7, 40: 8, 45: 9, 50: 10, 55: 11, 60: 12, 65: 13, 70: 14, 75: 15, 80: 16}
    weights = [round(spread[band_group[b]][0] / ref, 2) for b in NOISE_BANDS]
    return round(ref, 2), round(spread[12][1], 2), weights

# Mortality uncertainty: the random-walk and drift standard deviations of k per sex that make
# the 2020-based projection's e0 intervals those of WPP 2024 (`bedsim check` of a scenario with
# `sigma = "calibrated"` prints them); the back-test uses the same, since they describe how
# uncertain China's mortality is a decade ahead, not what happened after 2010.
SIGMA = (1.0386, 0.8026)
DRIFT_SE = (0.1856, 0.2444)

BACKTEST_COMMON = """\
[mortality]
file = "../data/wpp2024_china_mx_age5_sex.csv"
base_period = 2005        # the 2005-2010 rates: nothing after 2010
fit_from = 1980
fit_to = 2010
drift = "fitted"
# Random walk and drift uncertainty of k per year, [male, female]: those that give the
# 2020-based projections WPP 2024's e0 intervals (see make_subnational.py, SIGMA).
sigma = {sigma}
drift_se = {drift_se}
# Levels from the 2010 census crude death rates (indirect standardisation, shrunk towards the
# province for small units): what a demographer had in 2010.
levels_file = "../data/mortality_levels_2010_units.csv"

[fertility]
# China's TFR 2010-2020 was about 1.6-1.7 (WPP); the 60+, 65+ and 80+ of 2020 do not depend on it.
tfr = {{ dist = "triangular", low = 1.4, mode = 1.65, high = 1.8 }}

[migration]
# Nothing was known in 2010 of the decade's migration: net migrants laplace(0, scale) per 1,000
# a year per unit and draw (scale {noise_sd} for a unit, plus, for a county, its province's
# shared laplace(0, {noise_prov_sd})), with the age profile of the spread of the 2010-2020 rates
# across units. Measured on this decade (make_subnational.py, migration_spread).
rate_per_1000 = {{ dist = "laplace", mean = 0, scale = {noise_sd} }}
age_bands = {bands}
age_weights = {weights}

[care]
# The shipped defaults (scenarios/README.md); not used by the back-test.
age_bands = [60, 70, 80]
partial = [0.082, 0.151, 0.287]
full = [0.027, 0.065, 0.191]
reference_year = 2015
uptake_independent = 0.012
uptake_partial = 0.075
uptake_full = 0.22

[capacity]
stock_year = 2010

[[capacity.stock]]
group = "china"
institutional = 1        # placeholder: the back-test is about population

[backtest]
file = "{observed}"
shape_file = "../data/china_2020_pop_single_age_sex.csv"
date = "2020-11-01"
"""


def write_backtests(reg10, clusters, reg20, rows10, files, noise):
    county_sd, province_sd, weights = noise

    def common_for(sd):
        return BACKTEST_COMMON.format(sigma=f"[{SIGMA[0]}, {SIGMA[1]}]", drift_se=f"[{DRIFT_SE[0]}, {DRIFT_SE[1]}]", noise_sd=sd,
                                      noise_prov_sd=province_sd, bands=NOISE_BANDS,
                                      weights=weights, observed="{observed}")
    province_noise = f'migration_rate = {{ dist = "laplace", mean = 0, scale = {province_sd} }}'
    common = common_for(province_sd)
    provinces = [r for r in rows10 if r["level"] == "province"]
    head = ("# GENERATED by scenarios/make_subnational.py; do not edit by hand.\n"
            "#\n"
            "# Back-test: {what} projected from the 2010 census (1 November 2010) to the 2020 census with\n"
            "# only what was known in 2010, and compared with what the 2020 census counted\n"
            "# (`bedsim run` prints the coverage of the 50% and 90% intervals; docs/validation.md).\n"
            "# Not a plan: capacity and care are placeholders, there are no targets.\n\n")
    # provinces
    out = [head.format(what="China's 31 provinces"),
           'name = "backtest-2010-provinces"',
           'description = "Back-test: the 31 provinces from the 2010 census to the 2020 census"',
           "base_year = 2010", "horizon = 2020", "draws = 1000", "seed = 2010", "",
           "[population]", 'file = "../data/census2010_province_age5_sex.csv"',
           'shape_file = "../data/china_2010_pop_single_age_sex.csv"', 'date = "2010-11-01"', "",
           '[[group]]\nid = "000000"\nname = "全国"\n']
    for r in provinces:
        out.append(f'[[region]]\nid = {m20.q(r["region_code"])}\nname = {m20.q(norm(r["name_zh"]))}\ngroup = "000000"\n')
    out.append(common.replace("{observed}", "../data/observed_2020_provinces.csv").replace('group = "china"\ninstitutional', 'group = "000000"\ninstitutional'))
    common = common_for(county_sd)
    files["scenarios/backtest-2010-provinces.toml"] = "\n".join(out)
    # counties: regions are the 2010 units; a comparable unit of several 2010 units is a group
    out = [head.format(what=f"China's {len(reg10)} county-level units of 2010"),
           'name = "backtest-2010-counties"',
           f'description = "Back-test: {len(reg10)} county-level units from the 2010 census to the 2020 census"',
           "base_year = 2010", "horizon = 2020", "draws = 1000", "seed = 2010", "",
           "[population]", 'file = "../data/census2010_county_age5_sex.csv"',
           'shape_file = "../data/china_2010_pop_single_age_sex.csv"', 'date = "2010-11-01"', "",
           "# Groups: the nation, the provinces, and the comparable units of more than one 2010 unit",
           "# (data/crosswalk_county_2010_2020.csv).",
           '[[group]]\nid = "china"\nname = "全国"\n']
    for r in provinces:
        out.append(f'[[group]]\nid = {m20.q(r["region_code"])}\nname = {m20.q(norm(r["name_zh"]))}\nparent = "china"\n{province_noise}\n')
    group_of = {}
    for k, (a, b, how) in enumerate(clusters):
        if len(a) > 1:
            gid = f"cu-{reg10[a[0]]['id']}"
            names = "+".join(reg10[i]["name"] for i in a[:4]) + ("+..." if len(a) > 4 else "")
            out.append(f'[[group]]\nid = {m20.q(gid)}\nname = {m20.q(names)}\nparent = {m20.q(reg10[a[0]]["province"])}\n')
            for i in a:
                group_of[i] = gid
    for i, r in enumerate(reg10):
        if not any(int(c) > 0 for c in r["row"]["cells"]):
            continue
        out.append(f'[[region]]\nid = {m20.q(r["id"])}\nname = {m20.q(r["name"])}\ngroup = {m20.q(group_of.get(i, r["province"]))}\n')
    out.append(common.replace("{observed}", "../data/observed_2020_county_units.csv"))
    files["scenarios/backtest-2010-counties.toml"] = "\n".join(out)


def observed_county_units(reg10, clusters, reg20, rows20):
    """The 2020 census counts of the county back-test's units: each comparable unit (under its
    2010 region's id, or its group's), each province and the nation."""
    units = []
    for a, b, _how in clusters:
        if not any(any(int(c) > 0 for c in reg10[i]["row"]["cells"]) for i in a):
            continue
        uid = reg10[a[0]]["id"] if len(a) == 1 else f"cu-{reg10[a[0]]['id']}"
        names = "+".join(reg20[j]["name"] for j in b[:4]) + ("+..." if len(b) > 4 else "")
        units.append((uid, names, "county", sum_cells(reg20[j] for j in b)))
    for r in rows20:
        if r["level"] == "province":
            units.append((r["region_code"], norm(r["province_zh"]), "province", r["cells"]))
    units.append(("china", "全国", "nation", sum_cells(reg20)))
    rows = []
    for uid, _name, level, cells in units:
        for row in long_layout([(uid, "", cells)]):
            rows.append([row[0]] + row[2:] + [level])
    return rows


def profile_2010():
    """China's 2010 single-year profile: the census's average population over the year before
    census day (as china_2020_pop_single_age_sex.csv for 2020)."""
    rows = []
    with open(MX_FILE, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if int(r["census_year"]) == 2010 and r["residence"] == "total" and r["sex"] in SEXES:
                rows.append([int(r["age"]), r["age_label"], r["sex"], int(round(float(r["average_population"]))),
                             "mean_2009-11-01_to_2010-10-31",
                             "derived from NBS 2010 census Table 6-4 (average population) via china_census_mx_single_age_sex.csv"])
    rows.sort(key=lambda x: (SEXES.index(x[2]), x[0]))
    return rows


def main():
    check = "--check" in sys.argv[1:]
    rows10 = read_rows10()
    reg10 = classify10(rows10)
    rows20 = m20.read_rows()
    _nat, _provs, prefs20, reg20, _exc, _subs = m20.classify(rows20)
    for r in rows20:
        if r["level"] == "province":
            r["cells"] = r["cells"]
    clusters = crosswalk(reg10, reg20)
    info, prov_levels, lv10, lv20 = mortality_levels(rows10, reg10, clusters, reg20)
    periods = wpp_periods()
    national = cohort_ratios(sum_cells(reg10), sum_cells(reg20), 1.0, periods)
    sched_prov = province_schedules(rows10, rows20, prov_levels, periods, national)
    sched20, sched_pref, pref_levels, _national, per_cluster = migration_schedules(
        reg10, reg20, clusters, lv20, rows10, rows20, prefs20, periods, sched_prov)
    cluster_province = [reg10[a[0]]["province"] for a, _b, _h in clusters]
    usable = [True for _c in clusters]  # every comparable unit, destinations and boundary changes alike
    spread = migration_spread(per_cluster, cluster_province, sched_prov, lambda k: usable[k])
    halves = [migration_spread(per_cluster, cluster_province, sched_prov, lambda k, h=h: usable[k] and k % 2 == h) for h in (0, 1)]
    noise = noise_parameters(spread)

    files = {}
    files["data/census2010_county_age5_sex.csv"] = csv_text(
        ["region_code", "name", "sex", "age_start", "age_end", "population"],
        long_layout([(r["id"], r["name"], r["row"]["cells"]) for r in reg10 if any(int(c) > 0 for c in r["row"]["cells"])]))
    files["data/china_2010_pop_single_age_sex.csv"] = csv_text(
        ["age", "age_label", "sex", "population", "population_concept", "source"], profile_2010())
    xw = []
    for k, (a, b, how) in enumerate(clusters):
        cid = f"x{k + 1:04d}"
        for i in a:
            xw.append([cid, "2010", reg10[i]["id"], reg10[i]["name"], reg10[i]["province"], how])
        for j in b:
            xw.append([cid, "2020", reg20[j]["id"], reg20[j]["name"], reg20[j]["province"]["code"], how])
    files["data/crosswalk_county_2010_2020.csv"] = csv_text(["unit", "census", "region_code", "name", "province", "link"], xw)

    def level_rows(items, names):
        return [[code, names.get(code, v.get("name", "")), fmt(v["o"], 1) if v["o"] == v["o"] else "", fmt(v["e"], 1) if v["e"] == v["e"] else "",
                 fmt(v["raw"], 4) if v["raw"] == v["raw"] else "",
                 fmt(v["multiplier"], 4), fmt(v["sdlog"], 4), v["note"]] for code, v in items]
    header = ["region_code", "name", "deaths_observed", "deaths_expected", "smr_raw", "multiplier", "sdlog", "note"]
    prov_names = {r["region_code"]: norm(r["name_zh"]) for r in rows10 if r["level"] == "province"}
    names10 = {r["id"]: r["name"] for r in reg10}
    names20 = {r["id"]: r["name"] for r in reg20}
    files["data/mortality_levels_2010_units.csv"] = csv_text(header, level_rows(sorted(prov_levels.items()), prov_names) + level_rows(lv10.items(), names10))
    lv20_rows = level_rows(sorted(prov_levels.items()), prov_names) + level_rows(lv20.items(), names20) + level_rows(sorted(pref_levels.items()), {})
    files["data/mortality_levels_2020_units.csv"] = csv_text(header, lv20_rows)
    mig = []
    for code, rates in list(sorted(sched_prov.items())) + list(sched20.items()) + list(sorted(sched_pref.items())):
        for si, sex in enumerate(SEXES):
            for g, (a0, a1) in enumerate(AGE18):
                mig.append([code, sex, a0, "" if a1 is None else a1, fmt(rates[si][g], 2)])
    files["data/migration_2010_2020.csv"] = csv_text(["region_code", "sex", "age_start", "age_end", "rate_per_1000"], mig)
    prov_obs = []
    with open(os.path.join(DATA, "census2020_province_age5_sex.csv"), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            prov_obs.append([r["region_code"], r["sex"], r["age_start"], r["age_end"], r["population"],
                             "nation" if r["region_code"] == "000000" else "province"])
    files["data/observed_2020_provinces.csv"] = csv_text(["region_code", "sex", "age_start", "age_end", "population", "level"], prov_obs)
    files["data/observed_2020_county_units.csv"] = csv_text(
        ["region_code", "sex", "age_start", "age_end", "population", "level"], observed_county_units(reg10, clusters, reg20, rows20))
    write_backtests(reg10, clusters, reg20, rows10, files, noise)
    files["data/migration_spread_2010_2020.csv"] = csv_text(
        ["age_start", "age_end", "county_scale_per_1000", "province_scale_per_1000", "county_scale_even_units", "county_scale_odd_units"],
        [[a0, "" if a1 is None else a1, fmt(spread[g][0], 2), fmt(spread[g][1], 2), fmt(halves[0][g][0], 2), fmt(halves[1][g][0], 2)]
         for g, (a0, a1) in enumerate(AGE18)])

    changed = []
    for rel, text in files.items():
        path = os.path.join(ROOT, rel)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old != text:
            changed.append(rel)
            if not check:
                with open(path, "w", encoding="utf-8", newline="\n") as f:
                    f.write(text)
    n_links = {}
    for _a, _b, how in clusters:
        n_links[how] = n_links.get(how, 0) + 1
    print(f"2010 units: {len(reg10)}; 2020 units: {len(reg20)}; comparable units: {len(clusters)} "
          f"({', '.join(f'{v} {k}' for k, v in sorted(n_links.items()))})")
    print(f"migration noise (per 1,000 a year at 60-64): county {noise[0]}, province {noise[1]}; age weights {noise[2]}")
    print(f"mortality levels: national observed/expected {info['national_ratio']:.4f}; county spread around the "
          f"province (sdlog) {info['tau']:.3f}, prior shape alpha {info['alpha']:.1f}")
    if check:
        if changed:
            print("out of date: " + ", ".join(changed))
            sys.exit(1)
        print("all files up to date")
    else:
        print("wrote " + ", ".join(files))


if __name__ == "__main__":
    main()
