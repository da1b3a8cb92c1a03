#!/usr/bin/env bash
# Runs or resumes the rediscovery campaigns (issue 27) in the regime issue 26 chose
# (experiments/rediscover-bpe.toml): one campaign per seed, grown in rounds of $STEP candidates
# each (default 20: a session of a few hours ends with the campaigns level) up to $CANDIDATES
# (default 1500), so that every campaign has as many candidates as the others whenever the run
# stops. Each round ends by writing each campaign's archive into this folder (`primer archive`),
# which is what the documents read.
#
#   experiments/rediscover-bpe/run.sh [SEED ...]      # default seeds: 1 2 3
#
# The store lives outside the checkout: $STORE (default sqlite:///tmp/primer-rediscover-bpe.db).
# Running it again resumes every campaign where it stopped; a campaign the store lacks is first
# copied into it from its archive here (`primer store copy`), so a run resumes from the
# committed archives on another machine or in another checkout (a campaign's identity compares
# the files it read by their contents, not their paths).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p primer-cli -p primer-engine
primer=target/release/primer
store=${STORE:-sqlite:///tmp/primer-rediscover-bpe.db}
step=${STEP:-20}
total=${CANDIDATES:-1500}
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3)

# The candidates campaign $1 has results for in the store (0 when it is not there).
holds() {
  "$primer" status --db "$store" --format json 2> /dev/null | python3 -c '
import json, sys
print(next((c["done"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]), 0))' "$1" 2> /dev/null || echo 0
}

for s in "${seeds[@]}"; do
  name=rediscover-bpe-$s
  archive=experiments/rediscover-bpe/$name.archive.json.gz
  if [[ -f "$archive" && $(holds "$name") == 0 ]]; then
    "$primer" store copy "archive://$archive" "$store"
  fi
done
for ((target = step; target <= total; target += step)); do
  for s in "${seeds[@]}"; do
    name=rediscover-bpe-$s
    (($(holds "$name") < target)) || continue
    echo "== $name: up to $target candidates ($(date -u +%H:%M:%S))"
    nice "$primer" search experiments/rediscover-bpe.toml --db "$store" --seed "$s" --name "$name" \
      --candidates "$target"
    "$primer" archive "$name" --db "$store" --out "experiments/rediscover-bpe/$name.archive.json.gz"
  done
done
