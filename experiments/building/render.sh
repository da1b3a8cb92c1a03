#!/usr/bin/env bash
# Rebuilds the tables of experiments/README.md section 6 from this folder's archives alone (no
# store): what the warm-started campaign reused and saved (savings-warm.txt, analyze-warm.txt),
# the lineage of its best candidate back through the first campaign (lineage-warm.txt), and the
# Pareto campaign's front (front-pareto.txt) beside the first campaign's (front-first.txt).
#
#   experiments/building/render.sh [OUT]     # default OUT: this folder
#
# $PRIMER names the primer binary (default: target/release/primer of this checkout).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
primer=${PRIMER:-$root/target/release/primer}
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
cd "$out"
db="archive://$here"
"$primer" savings building-first building-warm --db "$db" > savings-warm.txt
"$primer" analyze building-warm --top 5 --db "$db" > analyze-warm.txt
best=$("$primer" top building-warm -k 1 --db "$db" --format csv | sed -n 2p | cut -d, -f2)
"$primer" lineage "$best" --db "$db" > lineage-warm.txt
"$primer" top building-pareto --pareto --db "$db" > front-pareto.txt
"$primer" top building-first --pareto --db "$db" > front-first.txt
