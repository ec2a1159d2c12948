#!/usr/bin/env bash
# Heap allocations per keystroke in the explorer, counted by valgrind (memcheck's "total heap usage") in tmux.
#   bench/explorer-allocations.sh [classes] [key]      default: 64 classes, key j (cursor move); try + (an edit)
# Runs the key 10 and 30 times and prints the difference per press. Slow (valgrind): about a minute. valgrind 3.19
# cannot read the release binary's DWARF 5, so a copy with the debug info stripped is run.
set -euo pipefail
cd "$(dirname "$0")/.."
classes=${1:-64}
key=${2:-j}
bin=$(mktemp)
objcopy --strip-debug .build/release/softmax-lab "$bin"
count() {
  local log session=sml-alloc-$$
  log=$(mktemp)
  tmux new -d -s "$session" -x 120 -y 40 "valgrind --log-file=$log $bin --random $classes --seed 1"
  sleep 8
  for _ in $(seq "$1"); do
    tmux send-keys -t "$session" "$key"
    sleep 0.3
  done
  sleep 2
  tmux send-keys -t "$session" q
  for _ in $(seq 100); do grep -q "total heap usage" "$log" && break; sleep 0.3; done
  sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$log" | tr -d ,
  rm -f "$log"
}
a=$(count 10)
b=$(count 30)
rm -f "$bin"
echo "$classes classes, key '$key': $a allocations with 10 presses, $b with 30: $(((b - a) / 20)) per keystroke"
