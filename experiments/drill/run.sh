#!/usr/bin/env bash
# Regenerates experiments/drill/ (what experiments/drill/README.md shows):
#   1. the full chaos drill (20 worker kills, 5 controller kills, seed 1) on SQLite, and on
#      PostgreSQL when a postgres:// URL of an empty database is given -> chaos-sqlite.json,
#      chaos-postgres.json; with workers started by the controller: the same with
#      max_attempts = 2 (strict.toml) -> chaos-strict-spawned.json, and with SIGTERM instead of
#      SIGKILL for the workers (preemption) -> chaos-term-spawned.json,
#   2. 10,000 random programs, seed 1 -> programs-10000.json,
#   3. every fuzz target for --fuzz-seconds each (default 120) -> fuzz.txt.
# Stores and logs go to a temporary folder outside the checkout.
#
#   experiments/drill/run.sh [postgres://USER@HOST:PORT/DB] [--fuzz-seconds N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pg=""
fuzz_seconds=120
while [ $# -gt 0 ]; do
  case "$1" in
    postgres://*|postgresql://*) pg="$1" ;;
    --fuzz-seconds) fuzz_seconds="$2"; shift ;;
    *) echo "usage: $0 [postgres://...] [--fuzz-seconds N]" >&2; exit 2 ;;
  esac
  shift
done
cd "$root"
cargo xtask setup
cargo build --release -p primer-cli -p primer-engine --bins
primer="$root/target/release/primer"
work="$(mktemp -d)"
"$primer" drill chaos --db "sqlite://$work/chaos.db" --seed 1 --logs "$work/logs-sqlite" --out "$here/chaos-sqlite.json"
if [ -n "$pg" ]; then
  "$primer" drill chaos --db "$pg" --seed 1 --logs "$work/logs-postgres" --out "$here/chaos-postgres.json"
fi
"$primer" drill chaos --db "sqlite://$work/strict.db" --config "$here/strict.toml" --name strict --spawned --seed 1 \
  --logs "$work/logs-strict" --out "$here/chaos-strict-spawned.json"
"$primer" drill chaos --db "sqlite://$work/term.db" --spawned --worker-signal term --seed 1 \
  --logs "$work/logs-term" --out "$here/chaos-term-spawned.json"
"$primer" drill programs --count 10000 --seed 1 --keep "$work/kept" --out "$here/programs-10000.json"
cargo xtask fuzz --seconds "$fuzz_seconds" | tee "$here/fuzz.txt"
