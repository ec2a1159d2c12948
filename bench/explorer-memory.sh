#!/usr/bin/env bash
# Max RSS of the explorer on a 131,072-class vector, driven through tmux like a user would.
#   bench/explorer-memory.sh [keys…]      e.g.  bench/explorer-memory.sh + + - u p p     (Explore: edits, undo, precision)
#                                                bench/explorer-memory.sh 3 + - + u       (Stability lab)
# Prints "<seconds> <max RSS in KB>" from /usr/bin/time. N=… changes the vector size. Needs a release build and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.build/release/softmax-lab
out=$(mktemp)
session=sml-memory-$$
tmux new -d -s "$session" -x 120 -y 40 "/usr/bin/time -f '%e %M' -o $out $bin --random ${N:-131072} --seed 1"
sleep 1.5
for k in "$@"; do
  tmux send-keys -t "$session" "$k"
  sleep 0.4
done
tmux send-keys -t "$session" q
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.2; done
cat "$out"
rm -f "$out"
