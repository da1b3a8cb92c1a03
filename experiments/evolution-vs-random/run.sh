#!/usr/bin/env bash
# Evolution against random search (issue 27): for each seed, one campaign per arm of
# campaign.toml (`strategy = "evolution"` and `"random"`), the two side by side (one worker
# each), each given the same training compute: it runs its 64 candidates, then is extended by 8
# at a time (each extension bred from every earlier result, so the procedure is deterministic)
# until it has spent $COMPUTE training FLOPs (default 4e12; render.sh compares every
# campaign's best so far at exactly that compute). Each is archived here as it finishes
# (`ARM-SEED.archive.json.gz`, `primer archive`).
#
# A campaign whose archive here has reached $COMPUTE is skipped; one archived short of it is
# copied back into the store (from its archive, when the store lacks it) and extended. So
# running it again resumes, on this machine or another; the store lives outside the checkout
# ($STORE). `render.sh` then rebuilds every table and the plot from the archives alone.
#
#   experiments/evolution-vs-random/run.sh [FIRST [LAST]]     # seeds FIRST..LAST, default 1..40
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cargo build --release --quiet -p primer-cli -p primer-engine
primer="$root/target/release/primer"
store=${STORE:-sqlite://$HOME/primer-runs/evolution-vs-random.db}
mkdir -p "$(dirname "${store#sqlite://}")"
compute=${COMPUTE:-4e12}
first=${1:-1}
last=${2:-40}
config="$here/campaign.toml"
random="$(mktemp --suffix=.toml -p "$here")"
trap 'rm -f "$random"' EXIT
sed 's/^strategy = "evolution"/strategy = "random"/' "$config" > "$random"

# Exit status 0 when campaign $1 in store $2 has spent at least $compute training FLOPs.
reached() {
  "$primer" progress "$1" --db "$2" --format json 2> /dev/null | python3 -c '
import json, sys
points = json.load(sys.stdin)["campaigns"][0]["points"]
sys.exit(0 if points and points[-1][0] >= float(sys.argv[1]) else 1)' "$compute" 2> /dev/null
}

# The candidates campaign $1 holds now in the store (0 when it is not there).
holds() {
  "$primer" status --db "$store" --format json 2> /dev/null | python3 -c '
import json, sys
print(next((c["target"] for c in json.load(sys.stdin) if c["name"] == sys.argv[1]), 0))' "$1" || echo 0
}

for ((seed = first; seed <= last; seed++)); do
  pids=()
  for arm in evolution random; do
    name=$arm-$seed
    archive="$here/$name.archive.json.gz"
    [[ -f "$archive" ]] && reached "$name" "archive://$archive" && continue
    file=$config
    [[ $arm == random ]] && file=$random
    (
      log="/tmp/primer-$name.log"
      if [[ -f "$archive" && $(holds "$name") == 0 ]]; then
        "$primer" store copy "archive://$archive" "$store" > /dev/null
      fi
      n=$(holds "$name")
      ((n >= 64)) || n=64
      nice "$primer" search "$file" --db "$store" --name "$name" --seed "$seed" --candidates "$n" >> "$log" 2>&1
      until reached "$name" "$store"; do
        n=$((n + 8))
        nice "$primer" search "$file" --db "$store" --name "$name" --seed "$seed" --candidates "$n" >> "$log" 2>&1
      done
      "$primer" archive "$name" --db "$store" --out "$archive" > /dev/null
      echo "$name done: $n candidates ($(date -u +%H:%M:%S))"
    ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
