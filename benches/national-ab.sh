#!/usr/bin/env bash
# Two builds of bedsim on the national run, against each other and against the numpy peer, in
# one sitting (docs/performance.md, "The national run").
#
#   benches/national-ab.sh OLD NEW            # four rounds: 3 peer runs, OLD, 3 peer runs, NEW
#   MODE=concurrent benches/national-ab.sh OLD NEW
#                                             # OLD and NEW at the same time, one thread each
#
# OLD and NEW are copies of two release binaries (cargo build --release, then cp
# target/release/bedsim /tmp/bedsim-new). The machines this runs on are shared and their speed
# moves by 30% within an hour, so the first mode puts peer runs right before every bedsim run
# and the ratio is taken against their median; the second lets the machine's other load fall on
# both builds alike, for a paired comparison (the peer is not run). Each bedsim line gives the
# wall time, the engine's stages and their sum (the simulation), and the peak memory.
#
#   ROUNDS (4; 2 concurrent), DRAWS (10000), PEER (../shared/peers/numpy_peer.py)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 OLD NEW" >&2; exit 2; }
MODE=${MODE:-alternate}
DRAWS=${DRAWS:-10000}
. benches/peer.sh
[ "$MODE" = concurrent ] || need_peer
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; $MODE, $DRAWS draws"

# run NAME BINARY [ARGS...]: one national run into $OUT/NAME.
run() {
    local name=$1 bin=$2
    shift 2
    rm -rf "$OUT/$name"
    /usr/bin/time -f "%e %M" -o "$OUT/$name.time" "$bin" run scenarios/china-counties.toml \
        --draws "$DRAWS" --no-charts --quiet --out "$OUT/$name" "$@" 2> "$OUT/$name.err" || {
        cat "$OUT/$name.err" >&2
        exit 1
    }
}

report() {
    python3 - "$1" "$OUT" <<'PY'
import json, sys
name, out = sys.argv[1], sys.argv[2]
e = json.load(open(f"{out}/{name}/manifest.json"))["stage_seconds"]["engine"]
wall, kb = open(f"{out}/{name}.time").read().split()
sim = e["project"] + e["summarise_regions"] + e["groups"]
print(f"{name:4s} wall {float(wall):6.2f} project {e['project']:6.2f} summarise {e['summarise_regions']:5.2f} "
      f"groups {e['groups']:5.2f} simulation {sim:6.2f} peak {int(kb) // 1024} MiB")
PY
}

peer() {
    python3 "$PEER" 40 1000 16 20 | grep -o "region-draw-years/s=[0-9.e+]*"
}

if [ "$MODE" = concurrent ]; then
    for _ in $(seq "${ROUNDS:-2}"); do
        run old "$1" --threads 1 &
        a=$!
        run new "$2" --threads 1 &
        b=$!
        # A failed run has printed its error: stop rather than report a missing manifest.
        wait "$a" && wait "$b" || exit 1
        report old
        report new
    done
else
    for _ in $(seq "${ROUNDS:-4}"); do
        for i in 1 2 3; do peer; done
        run old "$1" && report old
        for i in 1 2 3; do peer; done
        run new "$2" && report new
    done
    echo "region-draw-years: $((2989 * DRAWS * 16)) (divide by a build's median simulation, then by the peer's median)"
fi
