// Heap allocations per keystroke in the explorer: the update (key → action → new state and evaluations) and the render
// (the whole frame into a reused buffer), counted apart, per screen, vector size, terminal size and kind of key.
//
//   swift run -c release softmax-lab-allocations            the table
//   swift run -c release softmax-lab-allocations --check    exit 1 if a render or the update of any key allocates
//
// Counting works by replacing malloc in this executable (CAllocationCounter); only the calling thread is counted.
// Measure a release build: a debug build leaves generic code unspecialised and allocates where release does not.

import CAllocationCounter
import SoftmaxCore
import SoftmaxTUI
import SoftmaxText

#if canImport(Glibc)
  import Glibc
#endif

/// What one kind of key costs, per press.
struct Cost {
  var update = 0
  var render = 0
  var presses = 0
  var perUpdate: Double { presses == 0 ? 0 : Double(update) / Double(presses) }
  var perRender: Double { presses == 0 ? 0 : Double(render) / Double(presses) }
}

/// Keys that move, scroll, toggle or switch, and never change the problem.
func navigation(_ screen: Screen) -> [Event] {
  var keys: [Event] = [.key(.down), .key(.down), .key(.up), .key(.up), .key(.character("?")), .key(.character("?"))]
  keys += [.key(.character("f")), .key(.character("f")), .key(.character("]")), .key(.character("["))]
  switch screen {
  case .derivation:
    keys += [.key(.right), .key(.left), .key(.character("J")), .key(.character("K")), .key(.pageDown), .key(.pageUp)]
  case .explore:
    keys += [.key(.character("L")), .key(.character("H")), .key(.character("J")), .key(.character("K"))]
  case .stability:
    keys += (0..<StabilitySection.allCases.count).map { _ in .key(.character("v")) }
  case .descent: break
  }
  return keys
}

/// Keys that change the problem: a nudge up and back down (on the Stability lab, in every section in turn).
func edits(_ screen: Screen) -> [Event] {
  let nudge: [Event] = [.key(.character("+")), .key(.character("-"))]
  guard screen == .stability else { return nudge }
  return StabilitySection.allCases.flatMap { _ in nudge + [.key(.character("v"))] }
}

func measure(
  _ screen: Screen, classes: Int, width: Int, height: Int, context: RenderContext, keys: [Event], rounds: Int,
  onlyEdits: Bool
) -> Cost {
  let logits = classes == 3 ? [1.0, 2, 3] : SeededRandom.logits(count: classes, seed: 5, scale: 2)
  guard let problem = try? Problem(logits: logits, target: classes / 2).validated() else { return Cost() }
  var explorer = Explorer(problem: problem)
  explorer.handle(.resize(width: width, height: height))
  explorer.perform(.showScreen(screen))
  var buffer = Buffer(width: width, height: height)
  var cost = Cost()
  func press(_ key: Event, counted: Bool) {
    sml_allocations_begin()
    explorer.handle(key)
    let u = sml_allocations_end()
    sml_allocations_begin()
    explorer.render(into: &buffer, width: width, height: height, context: context)
    let r = sml_allocations_end()
    if counted {
      cost.update += u
      cost.render += r
      cost.presses += 1
    }
  }
  // The first presses may grow buffers that are then reused; they are not counted.
  for key in keys { press(key, counted: false) }
  for _ in 0..<rounds {
    // A section change between edits only moves the edits to the next section; it is measured with navigation.
    for key in keys { press(key, counted: !(onlyEdits && key == .key(.character("v")))) }
  }
  return cost
}

let arguments = CommandLine.arguments.dropFirst()
let check = arguments.contains("--check")
guard sml_allocations_end() >= 0 else {
  print("softmax-lab-allocations: this platform's malloc cannot be counted (glibc only)")
  exit(check ? 1 : 0)
}
let sizes = [(80, 24), (120, 40), (200, 60)]
let contexts: [(String, RenderContext)] = [
  ("256 colours", RenderContext(colorMode: .extended, unicode: true)),
  ("ASCII, no colour", RenderContext(colorMode: .none, unicode: false)),
]
var failures: [String] = []
print("allocations per keystroke (update / render), release build; navigation = moves, scrolls, toggles, sections")
print(
  "view        classes  size     navigation: 256 colours  ASCII     edits (+/−): 256 colours  ASCII")
for screen in Screen.allCases {
  for classes in [3, 64, 131_072] {
    for (w, h) in sizes {
      let rounds = classes > 1000 ? 2 : 5
      var cells: [String] = []
      for (kind, keys) in [("navigation", navigation(screen)), ("edits", edits(screen))] {
        for (name, context) in contexts {
          let cost = measure(
            screen, classes: classes, width: w, height: h, context: context, keys: keys, rounds: rounds,
            onlyEdits: kind == "edits")
          let u = cost.perUpdate
          let r = cost.perRender
          cells.append("\(format(u)) / \(format(r))")
          if r > 0 || u > 0 {
            failures.append(
              "\(screen.title) C=\(classes) \(w)×\(h) \(name), \(kind): update \(format(u)), render \(format(r))")
          }
        }
      }
      print(
        pad(screen.title.lowercased(), 12) + pad(String(classes), 9) + pad("\(w)×\(h)", 9)
          + pad(cells[0], 25) + pad(cells[1], 10) + pad(cells[2], 26) + cells[3])
    }
  }
}
// Other keys that change the problem, at 120×40: each sequence leaves the problem as it found it, and is reported per
// key press (the edit line's keys included); `--check` fails on these too.
let otherEdits: [(String, [Event])] = {
  func typed(_ opener: Character, _ text: String) -> [Event] {
    [.key(.character(opener))] + (0..<24).map { _ in .key(.backspace) } + text.map { .key(.character($0)) }
      + [.key(.enter)]
  }
  let undoRedo: [Event] = [.key(.character("u")), .key(.control("r")), .key(.character("u"))]
  // The line editor's keys: cursor moves, an insert in the middle, Ctrl-W, Alt-Backspace, Ctrl-U, Ctrl-K, a paste-free
  // retype, then Enter (one logit) or Esc (the whole-vector line).
  let editorKeys: [Event] =
    [
      .key(.character("e")), .key(.left), .key(.character("5")), .key(.left), .key(.control("b")),
      .key(.character("1")),
    ]
    + [.key(.home), .key(.control("f")), .key(.end), .key(.control("a")), .key(.control("e")), .key(.right)]
    + [.key(.control("w")), .key(.character("2")), .key(.altBackspace), .key(.control("u")), .key(.character("3"))]
    + [.key(.character(".")), .key(.character("5")), .key(.left), .key(.control("k")), .key(.backspace)]
    + [
      .key(.home), .key(.delete), .key(.control("d")), .key(.character("1")), .key(.character(".")),
      .key(.character("5")),
    ]
    + [.key(.enter)]
  let vectorKeys: [Event] =
    [.key(.character("=")), .key(.left), .key(.left), .key(.character("7")), .key(.control("w"))]
    + [.key(.home), .key(.right), .key(.character("1")), .key(.control("k")), .key(.control("u")), .key(.escape)]
  return [
    (
      "editor keys (e ← 5 ← ^B 1 Home ^F End ^A ^E → ^W 2 M-⌫ ^U 3.5 ← ^K ⌫ Home Del ^D 1.5 ⏎), u ^R u",
      editorKeys + undoRedo
    ),
    ("whole-vector line (= ← ← 7 ^W Home → 1 ^K ^U Esc)", vectorKeys),
    ("logit typed (e ⌫… 1.5 ⏎), u ^R u", typed("e", "1.5") + undoRedo),
    ("temperature typed (T ⌫… 2 ⏎), u ^R u", typed("T", "2") + undoRedo),
    ("target (j t), u ^R u, k", [.key(.down), .key(.character("t"))] + undoRedo + [.key(.up)]),
  ]
}()
print("\nother edits at 120×40, 256 colours: allocations per key press (update / render)")
for screen in Screen.allCases {
  for classes in [64, 131_072] {
    var cells: [String] = []
    for (name, keys) in otherEdits {
      let cost = measure(
        screen, classes: classes, width: 120, height: 40, context: contexts[0].1, keys: keys,
        rounds: classes > 1000 ? 1 : 3, onlyEdits: false)
      cells.append("\(format(cost.perUpdate)) / \(format(cost.perRender))")
      if cost.update > 0 || cost.render > 0 {
        failures.append(
          "\(screen.title) C=\(classes) 120×40, \(name): update \(format(cost.perUpdate)), render \(format(cost.perRender))"
        )
      }
    }
    print(pad(screen.title.lowercased(), 12) + pad(String(classes), 9) + cells.map { pad($0, 14) }.joined())
  }
}
print("columns: " + otherEdits.map(\.0).joined(separator: "; "))

if failures.isEmpty {
  print("no render allocates, and no key allocates in its update")
} else {
  print("allocating where nothing should:")
  for f in failures { print("  " + f) }
}
exit(check && !failures.isEmpty ? 1 : 0)

func format(_ x: Double) -> String {
  x == x.rounded() ? String(Int(x)) : DecimalFormat.significant(x, digits: 3)
}

func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: Swift.max(1, n - s.count)) }
