#!/usr/bin/env bash
# Evolution against random search: 3 seeds each, two campaigns at a time (one worker each),
# then best-so-far against compute. Resumable: run it again and finished campaigns are only
# reported. The store lives outside the checkout (first argument; default below); the summary
# it leaves here (progress.csv, progress.json, progress.svg, analyze-*.json) is what the README
# tables are made from.
#
#   experiments/evolution-vs-random/run.sh [sqlite:///path/to/store.db]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
primer="$root/target/release/primer"
db="${1:-sqlite://$HOME/primer-runs/evolution-vs-random.db}"
mkdir -p "$(dirname "${db#sqlite://}")"
config="$here/campaign.toml"
random="$(mktemp --suffix=.toml -p "$here")"
trap 'rm -f "$random"' EXIT
sed 's/^strategy = "evolution"/strategy = "random"/' "$config" > "$random"
for seed in 1 2 3; do
  "$primer" search "$config" --db "$db" --name "evolution-$seed" --seed "$seed" > "$here/.evolution-$seed.log" 2>&1 &
  "$primer" search "$random" --db "$db" --name "random-$seed" --seed "$seed" > "$here/.random-$seed.log" 2>&1 &
  wait
done
names=(evolution-1 evolution-2 evolution-3 random-1 random-2 random-3)
"$primer" progress "${names[@]}" --db "$db" --svg "$here/progress.svg" | tee "$here/progress.txt"
"$primer" progress "${names[@]}" --db "$db" --format csv > "$here/progress.csv"
for n in "${names[@]}"; do
  "$primer" analyze "$n" --db "$db" --format json > "$here/analyze-$n.json"
done
