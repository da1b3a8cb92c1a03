#!/usr/bin/env bash
# Rebuilds every table and the plot of experiments/README.md section 3 from the archives in
# this folder alone (no store): progress.txt (the table, the tests at equal compute),
# progress.csv (per campaign and compute step), progress.svg (median and quartiles per arm),
# proposals.txt (how often the sampler proposes Primer's changes in this regime).
#
#   experiments/evolution-vs-random/render.sh [OUT]     # default OUT: this folder
#
# $PRIMER names the primer binary (default: target/release/primer of this checkout).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
primer=${PRIMER:-$root/target/release/primer}
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
cd "$out"
# The compute every campaign was given (run.sh's $COMPUTE).
at=4e12
"$primer" progress --db "archive://$here" --at $at --svg progress.svg > progress.txt
"$primer" progress --db "archive://$here" --at $at --format csv > progress.csv
"$primer" proposals "$here/campaign.toml" > proposals.txt
