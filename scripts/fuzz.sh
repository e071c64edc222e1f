#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 600), one after the other, and prints
# executions and findings per target. Needs the nightly toolchain and `cargo install cargo-fuzz`.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  cargo +nightly fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 >"logs/$target.log" 2>&1
  status=$?
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "logs/$target.log" | grep -Eo '[0-9]+$' | tail -1)
  [ -z "$execs" ] && execs=$(grep -Eo '^#[0-9]+' "logs/$target.log" | tail -1 | tr -d '#')
  crashes=$(ls "artifacts/$target" 2>/dev/null | wc -l)
  echo "$target: exit $status, ${execs:-?} executions in ${seconds}s, $crashes artifacts"
done
