#!/usr/bin/env bash
# Regenerates experiments/throughput/: the matmul peak, compiled vs hand-written training
# throughput with MFU, bf16 against f32 and pinned against unpinned workers (`run.sh devices`),
# candidates per core-hour with the workers' time breakdown, and the
# hurdles' and dedup's savings on four 64-candidate and two 200-candidate campaigns. Stores go to $STORE_DIR (default
# /tmp/primer-throughput), outside the checkout; run it again to resume the campaigns.
# Needs the machine to itself (about 85 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=experiments/throughput
store_dir=${STORE_DIR:-/tmp/primer-throughput}
mkdir -p "$store_dir"
cargo build --release --quiet -p primer-cli -p primer-engine
primer=target/release/primer
what=${1:-all}
if [[ $what == all || $what == bench ]]; then
  $primer bench matmul --out $out/matmul.json | tee $out/matmul.txt
  $primer bench train --rounds 5 --out $out/train.json | tee $out/train.txt
  $primer bench campaign experiments/demo.toml --candidates 64 --dir "$store_dir/campaign" \
    --out $out/campaign.json | tee $out/campaign.txt
  $primer bench campaign $out/demo-eval200.toml --splits 2x1 --candidates 64 --dir "$store_dir/campaign-eval200" \
    --out $out/campaign-eval200.json | tee $out/campaign-eval200.txt
  $primer bench campaign $out/bpe4096.toml --splits 2x1 --candidates 12 --dir "$store_dir/campaign-bpe4096" \
    --out $out/campaign-bpe4096.json | tee $out/campaign-bpe4096.txt
fi
if [[ $what == all || $what == devices ]]; then
  # bf16 against f32 on this CPU (the measurement behind the CPU's refusal of bf16), and
  # workers pinned to cores of their own against unpinned ones.
  $primer bench train --precision bf16 --out $out/bf16-cpu.json | tee $out/bf16-cpu.txt
  $primer bench campaign experiments/demo.toml --splits 2x1 --pin --candidates 24 --dir "$store_dir/pin" \
    --out $out/pin.json | tee $out/pin.txt
  # Loss parity at the demo's 600 steps, 3 seeds (the test suite runs 150).
  PRIMER_PARITY_STEPS=600 cargo test --release -q -p primer-torch --test precision -- --nocapture \
    bf16_training_loss_stays_within_the_seed_spread_of_f32 | grep -E "prim:|after" | tee $out/bf16-parity.txt
fi
if [[ $what == all || $what == hurdles ]]; then
  for c in h2-w0 h2-w20 h4-w0 h4-w20; do
    $primer search $out/hurdles-$c.toml --db "sqlite://$store_dir/hurdles.db" > "$store_dir/$c.log"
  done
  $primer savings hurdles-h2-w0 hurdles-h2-w20 hurdles-h4-w0 hurdles-h4-w20 --blocks 2 \
    --db "sqlite://$store_dir/hurdles.db" | tee $out/savings.txt
  for w in 0 20; do
    $primer search $out/hurdles-h2-w$w.toml --name hurdles-h2-w$w-long --candidates 200 \
      --db "sqlite://$store_dir/hurdles.db" > "$store_dir/h2-w$w-long.log"
  done
  $primer savings hurdles-h2-w0-long hurdles-h2-w20-long --blocks 4 \
    --db "sqlite://$store_dir/hurdles.db" | tee $out/savings-long.txt
fi
