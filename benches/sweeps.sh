#!/usr/bin/env bash
# Staged sweeps against one run, measured in one sitting (docs/performance.md, "Sweeps").
#
#   cargo build --release && benches/sweeps.sh            # about 15 minutes on 2 cores
#   SOBOL=1 benches/sweeps.sh                              # also the national Sobol' sweep (~1 h)
#   PEER=../shared/peers/numpy_peer.py benches/sweeps.sh   # also the numpy peer, for the ratio
#
# For each case it prints the median wall time of REPS runs (default 3) and its ratio to the
# median of one run of the same scenario, measured alternately in this sitting: the machines
# this runs on are shared, and a figure from one sitting does not carry to the next. The sweeps
# run staged (the default) and, for Hainan, also with --unstaged (every point in full), so the
# gain is measured too. Results go to a temporary folder that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BEDSIM:-target/release/bedsim}
REPS=${REPS:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

# Wall seconds of one command (its output discarded), and its peak memory in MiB.
wall() {
    /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" > /dev/null 2> "$OUT/stderr" || {
        cat "$OUT/stderr" >&2
        exit 1
    }
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$OUT/time"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# case NAME SCENARIO ARGS...: REPS alternating runs of the scenario and of the case.
case_of() {
    local name=$1 scenario=$2
    shift 2
    : > "$OUT/run.t"
    : > "$OUT/case.t"
    : > "$OUT/case.m"
    for _ in $(seq "$REPS"); do
        wall "$B" run "$scenario" --no-charts --out "$OUT/run" --force | awk '{ print $1 }' >> "$OUT/run.t"
        read -r t m < <(wall "$B" "$@" --out "$OUT/case" --force)
        echo "$t" >> "$OUT/case.t"
        echo "$m" >> "$OUT/case.m"
    done
    local run case peak
    run=$(median < "$OUT/run.t")
    case=$(median < "$OUT/case.t")
    peak=$(sort -n "$OUT/case.m" | tail -1)
    printf "%-34s %8.1f s  one run %7.1f s  ratio %5.2f  peak %6d MiB\n" "$name" "$case" "$run" "$(awk -v a="$case" -v b="$run" 'BEGIN { print a / b }')" "$peak"
}

HAINAN_VARY=(--vary plan.nursing-upgrade.beds.mode=1000..3500 --vary capacity.stock.0.community.high=8000..20000 --vary care.uptake_partial.alpha=5..10)
case_of "Hainan OAT, 3 inputs (7 points)" scenarios/hainan.toml sweep scenarios/hainan.toml --method oat --steps 2 "${HAINAN_VARY[@]}"
case_of "  the same, --unstaged" scenarios/hainan.toml sweep scenarios/hainan.toml --method oat --steps 2 "${HAINAN_VARY[@]}" --unstaged
case_of "Hainan Sobol', 3 inputs, N=64" scenarios/hainan.toml sweep scenarios/hainan.toml --method sobol --samples 64 "${HAINAN_VARY[@]}"
case_of "national OAT, 6 inputs (13 points)" scenarios/china-counties.toml sweep scenarios/china-counties.toml --method oat --steps 2 --vary-file benches/sweeps/national-oat.toml
if [ "${SOBOL:-0}" = 1 ]; then
    REPS=1 case_of "national Sobol', 8 inputs, N=256" scenarios/china-counties.toml sweep scenarios/china-counties.toml --method sobol --samples 256 --vary-file benches/sweeps/national-sobol.toml
fi
if [ -n "${PEER:-}" ]; then
    for _ in $(seq 5); do python3 "$PEER" 40 1000 16 20 | sed -n 's/.*region-draw-years\/s=\([0-9.e+]*\).*/\1/p'; done | median > "$OUT/peer"
    printf "numpy peer (40 1000 16 20, one core): median %.3g region-draw-years/s\n" "$(cat "$OUT/peer")"
fi
