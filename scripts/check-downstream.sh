#!/usr/bin/env bash
# SoftmaxCore must be usable as a versioned dependency: SwiftPM refuses a git dependency whose build graph for the
# products used holds `unsafeFlags`. This builds a small downstream package, in a temporary folder, that depends on a
# local git repository holding this work tree's tracked files (tagged 1.0.0) through a file:// URL and `from:
# "1.0.0"`, and runs it: it computes a softmax with SoftmaxCore and checks it. Offline: swift-numerics and
# swift-argument-parser resolve through git's insteadOf mapping of github.com, like every build here.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/softmax-lab"
git ls-files -z | xargs -0 cp --parents -P -t "$tmp/softmax-lab"
(
  cd "$tmp/softmax-lab"
  git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm snapshot && git tag 1.0.0
)
mkdir -p "$tmp/downstream/Sources/downstream"
cat >"$tmp/downstream/Package.swift" <<MANIFEST
// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "downstream",
  dependencies: [.package(url: "file://$tmp/softmax-lab", from: "1.0.0")],
  targets: [
    .executableTarget(
      name: "downstream", dependencies: [.product(name: "SoftmaxCore", package: "softmax-lab")])
  ]
)
MANIFEST
cat >"$tmp/downstream/Sources/downstream/main.swift" <<'SWIFT'
import Foundation
import SoftmaxCore

let s = Softmax.stable([1.0, 2.0, 3.0]).probabilities
let expected = [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]
guard s.count == 3, zip(s, expected).allSatisfy({ abs($0 - $1) <= 1e-15 }), abs(s.reduce(0, +) - 1) <= 1e-15 else {
  print("downstream: unexpected softmax \(s)")
  exit(1)
}
print("downstream: SoftmaxCore 1.0.0 from a git tag computes softmax([1, 2, 3]) = \(s)")
SWIFT
cd "$tmp/downstream"
swift build 2>&1 | tail -n 5
.build/debug/downstream
