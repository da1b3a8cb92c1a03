#!/usr/bin/env bash
# Rebuilds the tables of experiments/README.md section 4 from this folder's archives alone (no
# store): proposals.txt (how many proposals of each Primer motif the campaigns' size makes
# likely, from the sampler's measured rates), progress.txt (best so far; across campaigns, how
# many have a Primer motif in their top 5) and analyze-NAME.txt per campaign (each motif's
# first birth, survival, share and best rank; what the top 5 share) and winner-NAME.prim per
# campaign (its best candidate as a program file, which compare.sh trains against the baselines).
#
#   experiments/rediscover-bpe/render.sh [OUT]     # default OUT: this folder
#
# $PRIMER names the primer binary (default: target/release/primer of this checkout).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
primer=${PRIMER:-$root/target/release/primer}
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
cd "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$primer" proposals "$root/experiments/rediscover-bpe.toml" > proposals.txt
"$primer" progress --db "archive://$here" > progress.txt
for a in "$here"/*.archive.json.gz; do
  name=$(basename "$a" .archive.json.gz)
  "$primer" analyze "$name" --top 5 --db "archive://$a" > "analyze-$name.txt"
  best=$("$primer" top "$name" -k 1 --db "archive://$a" --format csv | tail -n +2 | cut -d, -f2)
  "$primer" export "$best" --db "archive://$a" --format prim --out "$tmp" --force > /dev/null
  mv "$tmp/program.prim" "winner-$name.prim"
done
