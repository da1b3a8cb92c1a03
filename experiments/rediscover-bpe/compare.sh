#!/usr/bin/env bash
# Each rediscovery campaign's winner (its best candidate, committed as winner-NAME.prim, which
# render.sh writes from the campaign's archive with `primer export --format prim`) against the
# Transformer and Primer-EZ, over 3 seeds, at the campaigns' model and training settings
# (experiments/rediscover-bpe.toml: BPE 4,096 trained on the corpus's training split, d_model 64,
# seq 64, 2 layers, batch 16, lr 8e-3, warm-up 200, one thread, 64 KB validation set, 3e12
# training FLOPs, read at 1e12 and 2e12 on the way), on Shakespeare (the campaigns' corpus) and
# on Moby-Dick (`cargo xtask setup --corpora`). Each (program, seed) trains once; the same
# command gives the same numbers. Writes compare-CORPUS.{txt,svg} into this folder.
#
#   experiments/rediscover-bpe/compare.sh [CORPUS ...]     # default: shakespeare moby-dick
#
# $PRIMER names the primer binary (default: target/release/primer of this checkout).
set -euo pipefail
# Paths are relative to the checkout's root, so the committed tables name no machine's folders.
cd "$(dirname "$0")/../.."
primer=${PRIMER:-target/release/primer}
here=experiments/rediscover-bpe
programs=search-spaces/programs
corpora=("$@")
[[ ${#corpora[@]} -gt 0 ]] || corpora=(shakespeare moby-dick)
for corpus in "${corpora[@]}"; do
  text=.cache/corpus/$corpus.txt
  [[ -f "$text" ]] || { echo "compare.sh: $text is missing (cargo xtask setup --corpora)" >&2; exit 1; }
  settings=(--budgets 1e12flops,2e12flops,3e12flops --seeds 3
    --d-model 64 --seq-len 64 --n-layers 2 --batch 16 --lr 0.008 --warmup 200 --eval-interval 200
    --threads 1 --tokenizer bpe:4096 --validation-bytes 65536 --corpus "$text")
  "$primer" compare "$programs/transformer.prim" "$programs/primer_ez.prim" "$here"/winner-*.prim \
    "${settings[@]}" --svg "$here/compare-$corpus.svg" | tee "$here/compare-$corpus.txt"
done
