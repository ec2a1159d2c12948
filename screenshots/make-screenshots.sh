#!/usr/bin/env bash
# Regenerates the README screenshots (screenshots/*.png) from the real program.
#
#   screenshots/make-screenshots.sh            # all scenes
#   screenshots/make-screenshots.sh descent    # only the named scenes
#
# Builds softmax-lab into its own scratch path (.build-screenshots, ignored by git), runs each scene in a private
# tmux server at 120x40 (TERM=tmux-256color, LANG=C.UTF-8), sends keys, waits until the screen shows the expected
# text, captures it with colours (`tmux capture-pane -p -e`) and renders the capture with screenshots/ansi2png.py.
# Installs tmux, fonts-dejavu-core (apt-get) and Pillow (pip) when they are missing.
#
# Environment: SOFTMAX_LAB_BIN=path skips the build and uses that binary; KEEP_ANSI=1 keeps the raw captures in
# .build-screenshots/ansi/; WAIT_TIMEOUT (seconds, default 20) bounds every wait.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
scratch="$root/.build-screenshots"
out="$here"
cols=120
rows=40
wait_timeout="${WAIT_TIMEOUT:-20}"
socket_base="softmax-lab-shots-$$"
socket="$socket_base"
scene_no=0
export LANG=C.UTF-8 LC_ALL=C.UTF-8
unset NO_COLOR TMUX || true

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'make-screenshots: %s\n' "$*" >&2; exit 1; }

# --- dependencies -------------------------------------------------------------------------------------------------

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $*"
  fi
}

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $*, and no apt-get to install it"
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v tmux >/dev/null 2>&1 || apt_install tmux
font_dir=/usr/share/fonts/truetype/dejavu
if [ ! -f "$font_dir/DejaVuSansMono.ttf" ] || [ ! -f "$font_dir/DejaVuSansMono-Bold.ttf" ]; then
  apt_install fonts-dejavu-core
fi
command -v python3 >/dev/null 2>&1 || apt_install python3

python=python3
venv="$scratch/venv"
if ! python3 -c 'import PIL' 2>/dev/null; then
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import PIL' 2>/dev/null; then
    python="$venv/bin/python"
  else
    log "installing Pillow"
    if ! python3 -m pip install --quiet pillow || ! python3 -c 'import PIL' 2>/dev/null; then
      # Externally managed Python (PEP 668) or no pip: use a private venv.
      log "installing Pillow into $venv"
      python3 -m venv --clear "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv --clear "$venv"; }
      "$venv/bin/python" -m pip install --quiet pillow
      python="$venv/bin/python"
    fi
  fi
fi
"$python" -c 'import PIL' || die "Pillow is not importable"

# --- build --------------------------------------------------------------------------------------------------------

if [ -n "${SOFTMAX_LAB_BIN:-}" ]; then
  bin="$SOFTMAX_LAB_BIN"
else
  log "swift build --scratch-path .build-screenshots"
  (cd "$root" && swift build --scratch-path "$scratch" --product softmax-lab >&2) || die "swift build failed"
  bin="$(cd "$root" && swift build --scratch-path "$scratch" --show-bin-path)/softmax-lab"
fi
[ -x "$bin" ] || die "no binary at $bin"

# --- tmux ---------------------------------------------------------------------------------------------------------

conf="$scratch/tmux.conf"
mkdir -p "$scratch/ansi"
cat >"$conf" <<'EOF'
set -g status off
set -g default-terminal tmux-256color
set -g escape-time 0
set -g history-limit 0
EOF

tm() { tmux -L "$socket" -f "$conf" "$@"; }
# Kills the current scene's tmux server and removes its socket.
cleanup() {
  local path
  path="$(tmux -L "$socket" display-message -p '#{socket_path}' 2>/dev/null || true)"
  tmux -L "$socket" kill-server >/dev/null 2>&1 || true
  [ -z "$path" ] || rm -f "$path"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts the program with the given arguments in a fresh 120x40 session.
start() {
  cleanup
  scene_no=$((scene_no + 1))
  socket="$socket_base-$scene_no"  # a fresh server per scene: no race with the previous one shutting down
  local cmd
  cmd="$(printf '%q ' env -u NO_COLOR -u COLUMNS -u LINES TERM=tmux-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 "$bin" "$@")"
  tm new-session -d -s shot -x "$cols" -y "$rows" "$cmd"
  tm set-option -t shot remain-on-exit on >/dev/null
}

screen() { tm capture-pane -p -t shot 2>/dev/null || true; }

# Waits until the screen contains the literal text $1.
wait_for() {
  local text="$1" deadline=$((SECONDS + wait_timeout))
  while ! screen | grep -qF -- "$text"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      screen >&2
      die "timed out after ${wait_timeout}s waiting for: $text"
    fi
    sleep 0.1
  done
}

# Waits until two captures 0.3 s apart are identical (the program has finished redrawing).
wait_stable() {
  local a b deadline=$((SECONDS + wait_timeout))
  a="$(tm capture-pane -p -e -t shot)"
  while :; do
    sleep 0.3
    b="$(tm capture-pane -p -e -t shot)"
    [ "$a" = "$b" ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && die "screen never settled"
    a="$b"
  done
}

# Sends keys (tmux key names, e.g. n Right Space) one at a time.
keys() { local k; for k in "$@"; do tm send-keys -t shot "$k"; sleep 0.05; done; }

# Captures the screen with colours and renders it to screenshots/$1.png.
shoot() {
  local name="$1" ansi="$scratch/ansi/$1.ansi"
  shift
  wait_stable
  tm capture-pane -p -e -N -t shot >"$ansi"
  "$python" "$here/ansi2png.py" "$ansi" "$out/$name.png" --cols "$cols" --rows "$rows" "$@"
  [ -n "${KEEP_ANSI:-}" ] || rm -f "$ansi"
  log "wrote screenshots/$name.png"
  keys q
}

# --- scenes -------------------------------------------------------------------------------------------------------

# Explore: the Jacobian cursor on an off-diagonal cell of the target row, so the cell panel shows −s_i s_n and the
# chain rule ∂c/∂x_2 = s_2; the selection on row 1 leaves the target row 0 in its yellow.
scene_explore() {
  start --logits 1,2,3 --target 0
  wait_for "Cell i=0, n=0"
  keys j L L  # select row 1, so the target row 0 shows in its own colour
  wait_for "Cell i=0, n=2"
  shoot explore
}

# Derivation of ∂l/∂x_1 with target 0 (n ≠ T), every step with the numbers substituted.
scene_derivation() {
  start --logits 1,2,3 --target 0
  wait_for "Cell i=0, n=0"
  keys 2
  wait_for "Derivation of"
  keys Right
  wait_for "class n = 1"
  shoot derivation
}

# Stability lab on the first preset, [1000, 1001, 1002]: naive softmax overflows in every precision.
scene_stability() {
  start --logits 1,2,3 --target 0
  wait_for "Cell i=0, n=0"
  keys 3
  wait_for "Stability lab"
  keys P
  wait_for "overflow"
  shoot stability
}

# Gradient descent with η = 1 after 15 single steps: the loss curve and the logits' drift.
scene_descent() {
  start --logits 1,2,3 --target 0 --lr 1
  wait_for "Cell i=0, n=0"
  keys 4
  wait_for "Run: step 0"
  local i
  for i in $(seq 1 15); do
    keys n
    wait_for "Run: step $i "
  done
  shoot descent
}

# The guided tour at step 3 (the Jacobian).
scene_tour() {
  start tour
  wait_for "What softmax does"
  keys N
  wait_for "The loss"
  keys t  # the step waits for its key
  wait_for "pressed t"
  keys N
  wait_for "The Jacobian"
  shoot tour
}

# A lesson file at its third step (the quotient rule: the Jacobian cell −s_0 s_2 under the cursor).
scene_lesson() {
  start lesson "$root/examples/lessons/index-notation.md"
  wait_for "Softmax and the loss"
  keys N N
  wait_for "The quotient rule"
  shoot lesson
}

# A quiz question answered wrong once: the quantity hidden, the givens shown, the verdict in the status line.
scene_quiz() {
  start quiz --seed 7 --count 5
  wait_for "what is softmax[0]?"
  keys 0 . 5 Enter
  wait_for "right"
  keys N
  wait_for "what is gradient[1]?"
  keys 0 . 5 Enter
  wait_for "try again"
  shoot quiz
}

# Explore in the light theme, rendered as a white terminal: for projectors and handouts on white.
scene_light() {
  start --logits 1,2,3 --target 0 --theme light
  wait_for "Cell i=0, n=0"
  keys j L L
  wait_for "Cell i=0, n=2"
  shoot explore-light --light
}

# The Stability lab's overflow preset in the light theme: the naive column's inf/NaN and the status bar's marker on
# white.
scene_stability_light() {
  start --logits 1,2,3 --target 0 --theme light
  wait_for "Cell i=0, n=0"
  keys 3
  wait_for "Stability lab"
  keys P
  wait_for "overflow"
  shoot stability-light --light
}

# The whole-vector prompt (`=`): a vector typed over the pre-filled one, the cursor moved back into it.
scene_vector() {
  start --logits 1,2,3 --target 0
  wait_for "Cell i=0, n=0"
  keys =
  wait_for "edit logits = 1, 2, 3"
  tm send-keys -t shot -l "1000, 1001, 1002, -inf"
  wait_for "edit logits = 1000, 1001, 1002, -inf"
  keys C-w Left Left
  wait_for "edit logits = 1000, 1001, 1002, "
  shoot vector-prompt
}

all_scenes=(explore derivation stability descent tour lesson quiz light stability_light vector)
scenes=("$@")
[ "${#scenes[@]}" -gt 0 ] || scenes=("${all_scenes[@]}")
for s in "${scenes[@]}"; do
  declare -F "scene_$s" >/dev/null || die "unknown scene '$s' (known: ${all_scenes[*]})"
  log "scene $s"
  "scene_$s"
done
cleanup
