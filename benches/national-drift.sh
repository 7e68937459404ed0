#!/usr/bin/env bash
# Whether the machine's speed moves under bedsim differently from under the numpy peer
# (docs/performance.md, "3 December"): ROUNDS times, the peer, a national run on one thread
# (2,000 draws), the peer again and a national run on two threads (4,000 draws), each bedsim
# line with its simulation, `project` and summaries in seconds.
#
#   benches/national-drift.sh BINARY        # ROUNDS (3), PEER (../shared/peers/numpy_peer.py)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
. benches/peer.sh
need_peer
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
peer() { python3 "$PEER" 40 1000 16 20 | grep -o "region-draw-years/s=[0-9.e+]*" | cut -d= -f2; }
run() {
    rm -rf "$OUT/run"
    "$1" run scenarios/china-counties.toml --draws "$2" --threads "$3" --no-charts --quiet --out "$OUT/run" > /dev/null
    python3 - "$OUT/run/manifest.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["stage_seconds"]["engine"]
print(f"{e['project'] + e['summarise_regions'] + e['groups']:.2f} / {e['project']:.2f} / {e['summarise_regions']:.2f}")
PY
}
for r in $(seq "${ROUNDS:-3}"); do
    p=$(peer)
    a=$(run "$1" 2000 1)
    q=$(peer)
    b=$(run "$1" 4000 2)
    echo "round $r: peer $p | 1 thread, 2000 draws: simulation/project/summaries $a s | peer $q | 2 threads, 4000 draws: $b s"
done
