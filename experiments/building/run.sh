#!/usr/bin/env bash
# Campaigns that build on campaigns (issue 30), at the demo's settings (experiments/demo.toml:
# Shakespeare as bytes, d_model 64, 5e11 FLOPs per candidate, two hurdles, 2 workers):
#
# 1. `building-first`: the demo's campaign cut to 32 candidates;
# 2. `building-warm`: a second campaign (seed 2, 32 candidates) seeded with the first one's 5
#    best (`--seed-from campaign:building-first --seed-top 5`): their losses, measured under
#    the same settings, are reused, not trained again, and so is any child the first campaign
#    measured;
# 3. `building-pareto`: a Pareto search (pareto.toml: the demo's settings, tournaments by
#    non-dominated rank of (loss, training FLOPs per byte)), 48 candidates.
#
# Each is archived here when it is done; a campaign whose archive is here is skipped, so
# running it again resumes. The store lives outside the checkout ($STORE). `render.sh` then
# rebuilds the tables from the archives alone.
#
#   experiments/building/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cargo build --release --quiet -p primer-cli -p primer-engine
primer="$root/target/release/primer"
store=${STORE:-sqlite://$HOME/primer-runs/building.db}
mkdir -p "$(dirname "${store#sqlite://}")"
demo="$root/experiments/demo.toml"
run() {
  local name=$1
  shift
  [[ -f "$here/$name.archive.json.gz" ]] && return 0
  "$primer" search "$@" --db "$store" --name "$name"
  "$primer" archive "$name" --db "$store" --out "$here/$name.archive.json.gz"
}
# The first campaign's archive is enough to seed the second on another machine: copy it in.
if [[ -f "$here/building-first.archive.json.gz" ]] && ! "$primer" top building-first -k 1 --db "$store" > /dev/null 2>&1; then
  "$primer" store copy "archive://$here/building-first.archive.json.gz" "$store"
fi
run building-first "$demo" --candidates 32
run building-warm "$demo" --seed 2 --candidates 32 --seed-from campaign:building-first --seed-top 5
run building-pareto "$here/pareto.toml"
