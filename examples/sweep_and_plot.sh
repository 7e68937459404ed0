#!/usr/bin/env bash
# Example: a small sweep from a script, and a plot of one result.
#
#   examples/sweep_and_plot.sh [BEDSIM] [OUT_DIR]
#
# Runs a grid sweep of Chun'an's conversion programme (how many general beds are converted to
# nursing-type beds) and plots the probability of meeting the 2025 nursing-share target against
# it, as an SVG. Reads the sweep's CSV with Python's standard library only, so it runs anywhere
# Python 3 does; with polars or pandas installed, `pl.read_parquet(f"{out}/sweep.parquet")` reads
# the same table with its types.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bedsim=${1:-"$here/target/release/bedsim"}
out=${2:-results/example-sweep}
mkdir -p "$(dirname "$out")"

"$bedsim" sweep "$here/scenarios/chunan.toml" \
  --vary plan.nursing-upgrade.beds.mode=50..300 \
  --method grid --steps 6 --draws 500 --seed 7 \
  --out "$out" --force --quiet --format json > "$out.json"

python3 - "$out" <<'PY'
import csv, json, sys
out = sys.argv[1]
meta = json.load(open(out + ".json"))
assert meta["ok"], meta
rows = [r for r in csv.DictReader(open(f"{out}/sweep.csv", encoding="utf-8"))
        if r["target"] == "nursing-share-2025"]
param = meta["parameters"][0]["path"]
pts = sorted((float(r[param]), float(r["probability_met"])) for r in rows)
w, h, m = 640, 400, 60
x0, x1 = pts[0][0], pts[-1][0]
sx = lambda x: m + (x - x0) / (x1 - x0) * (w - 2 * m)
sy = lambda p: h - m - p * (h - 2 * m)
path = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(p):.1f}" for i, (x, p) in enumerate(pts))
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<rect width="{w}" height="{h}" fill="white"/>',
       f'<line x1="{m}" y1="{h-m}" x2="{w-m}" y2="{h-m}" stroke="black"/>',
       f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h-m}" stroke="black"/>',
       f'<path d="{path}" fill="none" stroke="#0072B2" stroke-width="3"/>']
for x, p in pts:
    svg.append(f'<circle cx="{sx(x):.1f}" cy="{sy(p):.1f}" r="4" fill="#0072B2"/>')
    svg.append(f'<text x="{sx(x):.1f}" y="{h-m+18}" text-anchor="middle">{x:.0f}</text>')
for p in (0, 0.5, 1):
    svg.append(f'<text x="{m-8}" y="{sy(p)+4:.1f}" text-anchor="end">{p:.0%}</text>')
svg.append(f'<text x="{w/2}" y="{h-15}" text-anchor="middle">{param} (most likely conversions)</text>')
svg.append(f'<text x="{w/2}" y="30" text-anchor="middle" font-size="15">Chun\'an: P(nursing share &gt;= 60% by 2025)</text>')
svg.append("</svg>")
open(f"{out}/probability.svg", "w").write("\n".join(svg))
print(f"{len(pts)} points; P(met) from {pts[0][1]:.1%} to {pts[-1][1]:.1%}; plot in {out}/probability.svg")
PY
