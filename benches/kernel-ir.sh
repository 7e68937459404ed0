#!/usr/bin/env bash
# Instructions the projection kernel executes for one region block (16 draws, 15 years), for
# one or more builds of the engine bench, counted by valgrind (callgrind): a figure that does not
# move with the machine's load (docs/performance.md, "4 December, night").
#
#   benches/kernel-ir.sh BENCH [BENCH...]
#
# Each BENCH is a copy of the criterion bench binary of one build (cargo bench --bench engine
# --no-run prints its path; cp it to /tmp/engine-NAME). Each runs `--bench project_one` under
# callgrind for a few seconds; the kernel's own instructions divided by its calls are printed.
# On this project's shared 2-core machines the bench's time moves by 1.5 times within minutes,
# so a change of a few percent is measured here first and timed after. An instruction count is
# not a time: two builds with the same count can differ in speed (multiplications against
# additions, spills, latency chains), so quote both.
#
#   FN (the kernel's symbol: bedsim::montecarlo::kernel::project_avx2; valgrind runs the AVX2
#   build, it does not emulate AVX-512), PROFILE_SECONDS (2: the bench's profiling loop)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BENCH [BENCH...]" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "$0: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
FN=${FN:-bedsim::montecarlo::kernel::project_avx2}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for bench in "$@"; do
    [ -x "$bench" ] || { echo "$0: $bench is not an executable bench binary" >&2; exit 2; }
done
for bench in "$@"; do
    out="$OUT/$(basename "$bench").cg"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" --bench project_one \
        --profile-time "${PROFILE_SECONDS:-2}" > "$OUT/log" 2>&1 || {
        cat "$OUT/log" >&2
        exit 1
    }
    python3 - "$out" "$FN" "$bench" <<'PY'
import re, sys
path, fn, bench = sys.argv[1:]
lines = open(path).read().split("\n")
# Callgrind names a function once as "(id) name" and then by "(id)" alone; with name compression
# off the name is repeated. Find the id, then sum its self cost (lines after its fn= header up to
# the next fn=, excluding the calls' inclusive costs) and the calls made to it.
fid = None
for l in lines:
    m = re.match(r"c?fn=\((\d+)\) (.*)$", l)
    if m and m.group(2) == fn:
        fid = m.group(1)
        break
if fid is None:
    sys.exit(f"{bench}: no function {fn} in the profile")
calls, own, inside, skip = 0, 0, False, False
for i, l in enumerate(lines):
    if l.startswith("fn="):
        inside = re.match(r"fn=\((\d+)\)", l).group(1) == fid
        continue
    if l.startswith("cfn=") and re.match(r"cfn=\((\d+)\)", l).group(1) == fid:
        m = re.match(r"calls=(\d+)", lines[i + 1])
        if m:
            calls += int(m.group(1))
    if not inside:
        continue
    if l.startswith("calls="):
        skip = True  # the next cost line is the callee's inclusive cost
        continue
    m = re.match(r"^[+-]?\d+ (\d+)", l) or re.match(r"^\* (\d+)", l)
    if m:
        if skip:
            skip = False
        else:
            own += int(m.group(1))
if calls == 0:
    sys.exit(f"{bench}: {fn} was never called")
print(f"{bench}: {own / calls:,.0f} instructions a call of {fn} ({calls} calls)")
PY
done
