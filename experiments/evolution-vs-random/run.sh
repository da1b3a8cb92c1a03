#!/usr/bin/env bash
# Evolution against random search (issue 27): for each seed, one campaign per arm of
# campaign.toml (`strategy = "evolution"` and `"random"`), the two side by side (one worker
# each), each archived here as it finishes (`ARM-SEED.archive.json.gz`, `primer archive`).
# A seed whose two archives are here is skipped, so running it again resumes, on this machine
# or another; the store lives outside the checkout ($STORE). `render.sh` then rebuilds every
# table and the plot from the archives alone.
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
first=${1:-1}
last=${2:-40}
config="$here/campaign.toml"
random="$(mktemp --suffix=.toml -p "$here")"
trap 'rm -f "$random"' EXIT
sed 's/^strategy = "evolution"/strategy = "random"/' "$config" > "$random"
for ((seed = first; seed <= last; seed++)); do
  pids=()
  for arm in evolution random; do
    name=$arm-$seed
    [[ -f "$here/$name.archive.json.gz" ]] && continue
    file=$config
    [[ $arm == random ]] && file=$random
    (
      nice "$primer" search "$file" --db "$store" --name "$name" --seed "$seed" > "/tmp/primer-$name.log" 2>&1
      "$primer" archive "$name" --db "$store" --out "$here/$name.archive.json.gz" > /dev/null
      echo "$name done ($(date -u +%H:%M:%S))"
    ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
