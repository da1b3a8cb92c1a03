#!/usr/bin/env bash
# Outputs a change that must not alter behaviour (issue 28's reshaping) leaves byte-identical:
#
#   tools/golden.sh OUT_BEFORE      # at the commit before the change
#   tools/golden.sh OUT_AFTER       # after it
#   diff -r OUT_BEFORE OUT_AFTER    # nothing
#
# 1. every command that only reads, in every format, and the report's page, on the committed
#    campaign archives (stores written by an earlier primer); 2. a one-worker campaign's history (a function of its config
#    and seed), without the wall-clock column; 3. `compare --format json` of the Transformer and
#    Primer-EZ (training, tiny); 4. model.py of the reference programs.
# $PRIMER names the primer binary (default: target/release/primer of this checkout).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
primer=${PRIMER:-$root/target/release/primer}
out="$(mkdir -p "$1" && cd "$1" && pwd)"
cd "$root"
for a in experiments/*/*.archive.json.gz; do
  name=$(basename "$a" .archive.json.gz)
  db="archive://$root/$a"
  for fmt in table json csv; do
    "$primer" top "$name" -k 20 --db "$db" --format "$fmt" > "$out/top-$name.$fmt"
    "$primer" analyze "$name" --db "$db" --format "$fmt" > "$out/analyze-$name.$fmt"
    "$primer" progress "$name" --db "$db" --format "$fmt" > "$out/progress-$name.$fmt"
    "$primer" savings "$name" --db "$db" --format "$fmt" > "$out/savings-$name.$fmt"
    "$primer" hurdles "$name" --db "$db" --format "$fmt" > "$out/hurdles-$name.$fmt"
  done
  best=$("$primer" top "$name" -k 1 --db "$db" --format csv | sed -n 2p | cut -d, -f2)
  "$primer" show "$best" --db "$db" --format json > "$out/show-$name.json"
  "$primer" lineage "$best" --db "$db" --format json > "$out/lineage-$name.json"
  "$primer" lineage "$best" --db "$db" --dot > "$out/lineage-$name.dot"
  # The report's page, its clock readings blanked (an unfinished campaign's elapsed time too).
  "$primer" report "$name" --db "$db" --out "$out/report-$name.html" > /dev/null
  sed -i -E 's/"(generated_at|elapsed|eta)":[0-9.e+-]+/"\1":X/g' "$out/report-$name.html"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/golden.toml" <<TOML
name = "golden"
seed = 7
search_space = "$root/search-spaces/primer-cpu.toml"
seeds = ["$root/search-spaces/programs/transformer.prim"]
candidates = 12
workers = 1

[model]
d_model = 16
seq_len = 16
n_layers = 1

[training]
budget = "30steps"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2
validation_bytes = 4096

[evolution]
population = 6
tournament = 3

[hurdles]
count = 2
min_predecessors = 2
TOML
"$primer" search "$tmp/golden.toml" --db "sqlite://$tmp/golden.db" > /dev/null 2>&1
"$primer" top golden -k 100 --db "sqlite://$tmp/golden.db" --format csv | cut -d, -f1-8,10- > "$out/history-golden.csv"
(cd "$tmp" && "$primer" compare "$root/search-spaces/programs/transformer.prim" \
  "$root/search-spaces/programs/primer_ez.prim" --budgets 2e9flops,4e9flops --seeds 1 --d-model 16 \
  --seq-len 16 --n-layers 1 --batch 4 --svg compare.svg --format json > "$out/compare.json" 2> /dev/null)
for p in transformer primer_ez primer; do
  "$primer" export "search-spaces/programs/$p.prim" --out "$tmp/$p" --format pytorch --d-model 64 --seq-len 64 > /dev/null
  cp "$tmp/$p/model.py" "$out/model-$p.py"
done
echo "golden outputs in $out: $(ls "$out" | wc -l) files"
