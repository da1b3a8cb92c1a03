#!/usr/bin/env bash
# The rediscovery campaign (experiments/rediscover-primer.toml), then what it found:
#   1. the campaign itself (resumes where it stopped; `--candidates N` caps it for this run),
#   2. primer analyze (JSON and table) and the best-so-far curve,
#   3. its top 2 programs against the Transformer and Primer-EZ over 3 seeds, at the campaign's
#      model and budget, on Shakespeare and on Moby-Dick (`cargo xtask setup --corpora`).
# The store lives outside the checkout (first argument; default below); what this leaves here
# (analyze.*, progress.*, top.csv, compare-*.{json,txt,svg}) is what experiments/README.md shows.
#
#   experiments/rediscover/run.sh [sqlite:///path/to/store.db] [--candidates N] [--skip-search]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
primer="$root/target/release/primer"
db="sqlite://$HOME/primer-runs/rediscover.db"
search_args=()
skip_search=false
for a in "$@"; do
  case "$a" in
    sqlite://*|postgres://*) db="$a" ;;
    --skip-search) skip_search=true ;;
    *) search_args+=("$a") ;;
  esac
done
mkdir -p "$(dirname "${db#sqlite://}")"
name=rediscover-primer
if [ "$skip_search" = false ]; then
  "$primer" search "$root/experiments/rediscover-primer.toml" --db "$db" "${search_args[@]}"
fi
"$primer" analyze "$name" --db "$db" --top 5 | tee "$here/analyze.txt"
"$primer" analyze "$name" --db "$db" --top 5 --format json > "$here/analyze.json"
"$primer" progress "$name" --db "$db" --format csv > "$here/progress.csv"
"$primer" top "$name" -k 10 --db "$db" --format csv > "$here/top.csv"
top=$("$primer" top "$name" -k 2 --db "$db" --format csv | tail -n +2 | cut -d, -f2 | sed 's/^/candidate:/')
programs="$root/search-spaces/programs"
for corpus in shakespeare moby-dick; do
  # The campaign's model and training settings (experiments/rediscover-primer.toml).
  "$primer" compare "$programs/transformer.prim" "$programs/primer_ez.prim" $top \
    --budgets 1.25e11flops,2.5e11flops --seeds 3 --db "$db" \
    --d-model 32 --seq-len 64 --n-layers 2 --batch 16 --lr 0.002 --warmup 500 --eval-interval 50 --threads 2 \
    --corpus "$root/.cache/corpus/$corpus.txt" --svg "$here/compare-$corpus.svg" | tee "$here/compare-$corpus.txt"
done
