#!/usr/bin/env bash
# The README's two pictures, rendered by headless chromium (offline) from a checkout whose
# default pipeline has run:  benchmarks/screenshots.sh RUN_DIR   (writes docs/plots.png, docs/attention.png)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"; run="$(cd "$1" && pwd)"; tmp="$(mktemp -d)"
shoot() {  # page, png, window size
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$tmp/profile-$RANDOM" --virtual-time-budget=10000 \
    --hide-scrollbars --window-size="$3" --screenshot="$2" "file://$1" 2>/dev/null
}
(cd "$run" && dvc plots show --html-template "$here/nmt/vega/offline.html" -o "$tmp/plots" >/dev/null)
shoot "$tmp/plots/index.html" "$here/docs/plots.png" 1000,"${PLOTS_HEIGHT:-820}"
nmt translate --model "$run/models/bundle" --attention "$tmp/attention.html" "she lives next door to us ." >/dev/null
shoot "$tmp/attention.html" "$here/docs/attention.png" 480,440
rm -rf "$tmp"
