#!/usr/bin/env bash
# Remakes docs/report-hainan-zh.png and docs/report-hainan-en.png: the first screen of the
# Hainan report (the shipped default scenario, 10,000 draws), in each language, as headless
# Chromium (Debian's package `chromium`) shows it at 1280 x 1800.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
for lang in zh en; do
  out=$(mktemp -d)
  target/release/bedsim run --quiet --lang "$lang" --out "$out/res"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$out/profile" --window-size=1280,1800 \
    --screenshot="docs/report-hainan-$lang.png" "file://$out/res/report.html" 2>/dev/null
  rm -rf "$out"
done
ls -l docs/report-hainan-*.png
