#!/usr/bin/env bash
# Regenerates the report screenshots README.md and docs/guide.md show: a real small campaign
# (experiments/drill/campaign.toml, 60 candidates, 2 workers, about a minute), its report
# (`primer report`), and headless Chromium's view of it (crates/primer-cli/tests/browser.py):
# the first screen and the progress and cost sections, into this folder.
#
#   experiments/report/screenshot.sh        (PRIMER=path/to/primer to use another build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
primer="${PRIMER:-$root/target/release/primer}"
if [ -z "${PRIMER:-}" ]; then
  (cd "$root" && cargo build --release -p primer-cli -p primer-engine --bins)
fi
work="$(mktemp -d)"
"$primer" search "$root/experiments/drill/campaign.toml" --db "sqlite://$work/store.db" --workers 2 \
  --candidates 60 --name report-example > "$work/search.log"
"$primer" report report-example --db "sqlite://$work/store.db" --out "$work/report.html"
python3 "$root/crates/primer-cli/tests/browser.py" "$work/report.html" "$work/shots" --width 1280 --height 900 \
  > "$work/seen.json"
cp "$work/shots/page.png" "$here/report-top.png"
cp "$work/shots/progress.png" "$here/report-progress.png"
cp "$work/shots/cost.png" "$here/report-cost.png"
echo "wrote $here/report-{top,progress,cost}.png"
