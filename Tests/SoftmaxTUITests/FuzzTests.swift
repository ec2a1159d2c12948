import SoftmaxCore
import Testing

@testable import SoftmaxTUI

/// The fuzzer's own seeded generator (SplitMix64), so a failing run can be replayed from its seed.
struct FuzzRNG: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
  mutating func chance(_ p: Double) -> Bool { unit() < p }
  mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
  mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }
}

/// Drives an `Explorer` with random events, checking the state's invariants after every event and rendering every
/// step at the current size.
struct ExplorerFuzzer {
  var rng: FuzzRNG
  var explorer: Explorer
  var events = 0
  var renders = 0
  var refusals = 0
  var commits = 0
  var undos = 0
  var unwinds = 0
  var quits = 0
  var largestC = 0
  var smallestC = Int.max
  var screensSeen: Set<Screen> = []
  var precisionsSeen: Set<Precision> = []
  var buffer = Buffer(width: 0, height: 0)
  /// Whether presets may be applied (the GPT-2 preset has 50,257 classes: kept to the runs that want it).
  var allowPresets = false
  /// Keys sent while a `=` or `#` line is open.
  var lineKeys = 0
  var handleTime = Duration.zero
  var renderTime = Duration.zero

  /// Numbers typed into edit lines: ordinary values, the format limits, and hostile text.
  static let typed: [String] = [
    "0", "1", "-1", "2.5", "-0", "1e-3", "3", "10", "88", "88.8", "700", "710", "1e4", "65504", "65520", "70000",
    "1e38", "3.5e38", "1e308", "1e400", "-1e400", "5e-324", "1e-45", "6e-8", "-inf", "inf", "+inf", "−∞", "∞", "nan",
    "NaN", "-nan", "0x1p-3", "1e", "e5", "--1", "1.2.3", "", "abc", "0.5", "0.1", "2", "-2", "1.0000001", "−3",
  ]
  static let plainKeys: [Key] = [
    .up, .down, .left, .right, .shiftUp, .shiftDown, .shiftLeft, .shiftRight, .pageUp, .pageDown, .home, .end,
    .enter, .escape, .backspace, .delete, .tab, .backTab,
  ]
  static let commandCharacters = Array("kj+-=_[]taxspulTEg1234HJKLfv rn<>.,?eé#€−∞😀0123456789.")

  init(seed: UInt64, problem: Problem) {
    rng = FuzzRNG(seed: seed)
    explorer = Explorer(problem: problem)
    explorer.handle(.resize(width: 120, height: 40))
  }

  mutating func randomSize() -> (Int, Int) {
    if rng.chance(0.3) { return (rng.int(1...63), rng.int(1...30)) }
    if rng.chance(0.1) { return (rng.pick([1, 300, 64, 63]), rng.pick([1, 100, 20, 19])) }
    return (rng.int(64...300), rng.int(20...100))
  }

  /// One random event (or a short burst of them, for edits and add/remove runs).
  mutating func step() {
    // `#` makes a random vector of as many classes as are typed (up to 2^20, which a debug build evaluates slowly):
    // keep its line to two digits.
    if let e = explorer.state.edit, e.field == .classCount, !e.selected, e.text.utf8Count >= 2 {
      send(.key(.backspace))
    }
    // The `=` and `#` lines take almost every key as text: after a few keys, confirm or cancel them (no draw from the
    // generator, so the rest of a run is as before), so that a run still reaches everything else.
    if let e = explorer.state.edit, e.field == .vector || e.field == .classCount {
      lineKeys += 1
      if lineKeys > 6 {
        lineKeys = 0
        send(.key(events % 2 == 0 ? .enter : .escape))
        if explorer.state.edit != nil { send(.key(.escape)) }
      }
    } else {
      lineKeys = 0
    }
    let r = rng.unit()
    let state = explorer.state
    if r < 0.18 {
      send(.key(rng.pick(ExplorerFuzzer.plainKeys)))
    } else if r < 0.45 {
      send(.key(.character(rng.pick(ExplorerFuzzer.commandCharacters))))
    } else if r < 0.55 {
      // An edit: open a field, clear some of it, type a value, confirm (or cancel, or leave it open).
      send(.key(.character(rng.pick(Array("eelTEg")))))
      for _ in 0..<rng.int(0...8) { send(.key(.backspace)) }
      for ch in ExplorerFuzzer.typed.randomElement(using: &rng) ?? "" { send(.key(.character(ch))) }
      let end = rng.unit()
      if end < 0.75 {
        send(.key(.enter))
      } else if end < 0.9 {
        send(.key(.escape))
      }
    } else if r < 0.60 {
      // A run of adds (towards large C) or removes (down to C = 1, and one more that must be refused).
      let grow = state.problem.classes < 8 || (state.problem.classes < 600 && rng.chance(0.5))
      for _ in 0..<rng.int(1...(grow ? 40 : 120)) {
        if explorer.state.edit != nil { send(.key(.escape)) }
        send(.key(.character(grow ? "a" : "x")))
      }
    } else if r < 0.68 {
      send(.key(rng.chance(0.6) ? .character("u") : .control("r")))
    } else if r < 0.74 {
      send(.key(.character("p")))
    } else if r < 0.80 {
      let (w, h) = randomSize()
      send(.resize(width: w, height: h))
    } else if r < 0.84 {
      let kind = rng.pick([MouseEvent.Kind.press, .wheelUp, .wheelDown])
      send(.mouse(MouseEvent(kind: kind, x: rng.int(-2...(state.width + 2)), y: rng.int(-2...(state.height + 2)))))
    } else if r < 0.87 {
      send(.tick)
    } else if r < 0.88 {
      send(.key(.character("w")))
    } else if r < 0.885 {
      send(.key(rng.chance(0.5) ? .character("q") : .control("c")))
    } else if r < 0.89 && allowPresets {
      send(.key(.character(rng.chance(0.5) ? "P" : "O")))
    } else if r < 0.90 {
      send(.key(.character(rng.chance(0.5) ? "?" : "f")))
    } else if r < 0.995 {
      send(.key(.character(rng.pick(Array("+-kjstx")))))
    } else {
      unwind()
    }
  }

  /// Undoes everything, then redoes everything: the problem must come back exactly.
  mutating func unwind() {
    for _ in 0..<2 { send(.key(.escape), render: false) }
    let start = explorer.state.problem
    let redoBefore = explorer.state.redoStack
    var undone = 0
    while !explorer.state.undoStack.isEmpty {
      send(.key(.character("u")), render: false)
      undone += 1
    }
    for _ in 0..<undone { send(.key(.control("r")), render: false) }
    #expect(explorer.state.problem == start, "undo all + redo all did not restore the problem")
    #expect(explorer.state.redoStack == redoBefore)
    unwinds += 1
  }

  /// Sends one event and checks every invariant; renders unless told not to.
  mutating func send(_ event: Event, render: Bool = true) {
    let before = explorer.state
    let action = KeyMap.action(for: event, in: before)
    let t0 = ContinuousClock.now
    let keepGoing = explorer.handle(event)
    handleTime += ContinuousClock.now - t0
    events += 1
    let after = explorer.state
    check(before: before, after: after, action: action)
    if !keepGoing {
      #expect(after.quitRequested)
      #expect(action == .quit)
      quits += 1
      var restarted = after
      restarted.quitRequested = false
      explorer = Explorer(state: restarted)
    }
    if after.exportRequested {
      // The shell would write the file; here the export "fails", and a failed export must change nothing else.
      explorer.finishExport(StatusMessage("export failed (fuzz)", isError: true))
      #expect(explorer.state.problem == after.problem)
    }
    if render { draw() }
  }

  mutating func check(before: AppState, after: AppState, action: Action?) {
    let p = after.problem
    let c = p.classes
    largestC = max(largestC, c)
    smallestC = min(smallestC, c)
    screensSeen.insert(after.screen)
    precisionsSeen.insert(p.precision)
    #expect(c >= 1)
    #expect((0..<c).contains(p.target), "target \(p.target) out of range for C=\(c)")
    #expect((0..<c).contains(after.selection), "selection \(after.selection) out of range for C=\(c)")
    #expect((0..<c).contains(after.cursorI) && (0..<c).contains(after.cursorN))
    #expect(p.logits.contains { $0 != -.infinity }, "every logit masked")
    if p != before.problem {
      // Every logit finite in the precision (or -inf), every knob valid: validation is a no-op on the state.
      for x in p.logits {
        #expect(!x.isNaN && x != .infinity && p.precision.round(x) == x, "logit \(x) not exact in \(p.precision)")
      }
      do {
        #expect(try p.validated() == p, "the state's problem is not a validated problem")
      } catch {
        Issue.record("the state's problem fails validation: \(error.message)")
      }
    }
    #expect(explorer.evaluation.problem == p, "the cached evaluation is stale")
    if after.screen == .stability { #expect(explorer.comparison?.problem == p, "stale precision comparison") }
    // The explorer's evaluations follow each action's message (`ProblemChange`) in place; their numbers must be bit
    // for bit a fresh evaluation's (a message that said less than the action did would leave some stale).
    if c <= 64 {
      let ev = explorer.evaluation
      let fresh = Evaluation(p)
      var diffs = Diff.compare(PrecisionColumn(ev), fresh, indices: Array(0..<c))
      for (l, x, y) in [("updated loss", ev.updatedLoss, fresh.updatedLoss)] where !Diff.same(x, y) {
        diffs.append("\(l): \(x) vs \(y)")
      }
      if !ev.gradient.elementsEqual(fresh.gradient, by: Diff.same) { diffs.append("gradient") }
      if after.screen == .stability, let comparison = explorer.comparison {
        var r = DiffRNG(UInt64(events))
        diffs += PrecisionComparisonUpdateDifferentialTests.compare(
          comparison, PrecisionComparison(p), edited: [], rng: &r)
      }
      #expect(diffs.isEmpty, "after \(String(describing: action)): \(diffs.prefix(4))")
    }
    #expect(after.undoStack.count + after.redoStack.count <= AppState.maxUndo)

    // Undo and redo return the exact prior entered values; everything else that changes them records it first. The
    // problem is always the entered values rounded into the precision.
    let e = after.entered
    // Every action but a tick starts with no message, so an error after it is its own (even when it repeats the one
    // before: two undos refused alike).
    let refused = after.message?.isError == true && (after.message != before.message || action != .tick)
    if e.precision == .float64 || after.lens == nil {
      #expect(after.lens == nil || after.lens?.classes != p.classes || e == p || p.precision != .float64)
    }
    if var rounded = try? e.validated() {
      rounded.precision = p.precision
      #expect(rounded == p, "the problem is not the entered values rounded into \(p.precision)")
    }
    switch action {
    case .undo?:
      if let top = before.undoStack.last, !refused {
        undos += 1
        #expect(e == top.restoring(before.entered), "undo did not restore the exact prior values")
        #expect(after.selection == min(top.selection, c - 1))
        #expect(after.redoStack.last?.restoring(e) == before.entered)
        #expect(after.redoStack.last?.selection == before.selection)
        #expect(after.undoStack == Array(before.undoStack.dropLast()))
      } else {
        #expect(e == before.entered && after.redoStack == before.redoStack)
      }
    case .redo?:
      if let top = before.redoStack.last, !refused {
        #expect(e == top.restoring(before.entered), "redo did not restore the exact state")
        #expect(after.undoStack.last?.restoring(e) == before.entered)
        #expect(after.undoStack.last?.selection == before.selection)
      } else {
        #expect(e == before.entered && after.undoStack == before.undoStack)
      }
    case .tourNext?, .tourBack?:
      // A tour step sets up its lesson from scratch (a fresh state, empty history): by design, not a lost edit.
      #expect(after.tourStep == nil || after.undoStack.isEmpty)
    case .cyclePrecision?:
      // A lens: the entered values stay (only the precision changes) and the history is untouched.
      var same = before.entered
      same.precision = e.precision
      #expect(e == same, "the precision key changed the entered values")
      #expect(after.undoStack == before.undoStack && after.redoStack == before.redoStack)
    default:
      // Compared by bits: 0 and −0 are different logits to keep.
      let same =
        e == before.entered && e.logits.elementsEqual(before.entered.logits) { $0.bitPattern == $1.bitPattern }
      if !same {
        commits += 1
        #expect(
          after.undoStack.last?.restoring(e) == before.entered,
          "a change was not recorded for undo: \(String(describing: action))")
        if case .nudgeRow? = action {
        } else {
          #expect(after.undoStack.last?.selection == before.selection)
        }
        #expect(after.redoStack.isEmpty)
      } else {
        #expect(
          after.undoStack == before.undoStack && after.redoStack == before.redoStack,
          "history changed without a change: \(String(describing: action)) \(before.entered) → \(e)")
      }
    }
    // A refused action leaves the problem as it was.
    if let m = after.message, m.isError, m != before.message {
      refusals += 1
      #expect(p == before.problem, "refused (\(m.text)) but the problem changed")
    }
  }

  mutating func draw() {
    let w = explorer.state.width
    let h = explorer.state.height
    let context = rng.chance(0.85) ? RenderContext() : RenderContext(colorMode: .none, unicode: false)
    let t0 = ContinuousClock.now
    explorer.render(into: &buffer, width: w, height: h, context: context)
    renderTime += ContinuousClock.now - t0
    renders += 1
    #expect(buffer.width == w && buffer.height == h && buffer.cells.count == w * h, "buffer is not \(w)×\(h)")
    for cell in buffer.cells {
      let v = cell.scalar.value
      if v < 0x20 || (0x7F...0x9F).contains(v) || (!context.unicode && v >= 0x80) {
        Issue.record("cell U+\(String(v, radix: 16)) at \(w)×\(h) on \(explorer.state.screen)")
        break
      }
    }
  }
}

@Suite("Explorer fuzzing: random events, invariants after every one")
struct FuzzTests {
  static let seeds: [UInt64] = [1, 2, 3, 4, 5]
  static let eventsPerSeed = 4000

  @Test(arguments: seeds)
  func randomEvents(seed: UInt64) throws {
    let start = try Problem(logits: [1, 2, 3], target: 0, precision: .float64).validated()
    var fuzzer = ExplorerFuzzer(seed: seed, problem: start)
    var clock = ContinuousClock.now
    while fuzzer.events < FuzzTests.eventsPerSeed { fuzzer.step() }
    let elapsed = ContinuousClock.now - clock
    clock = .now
    print(
      "explorer fuzz seed \(seed): \(fuzzer.events) events, \(fuzzer.renders) renders, \(fuzzer.commits) changes, "
        + "\(fuzzer.undos) undos, \(fuzzer.unwinds) full unwinds, \(fuzzer.refusals) refusals, \(fuzzer.quits) quits, "
        + "C \(fuzzer.smallestC)…\(fuzzer.largestC), \(fuzzer.screensSeen.count) screens, "
        + "\(fuzzer.precisionsSeen.count) precisions in \(elapsed) (handle \(fuzzer.handleTime), render \(fuzzer.renderTime))"
    )
    // The run must have reached what it claims to test.
    #expect(fuzzer.smallestC == 1)
    #expect(fuzzer.largestC >= 40)
    #expect(fuzzer.screensSeen.count == 4)
    #expect(fuzzer.precisionsSeen.count == 4)
    #expect(fuzzer.undos > 50 && fuzzer.refusals > 30 && fuzzer.commits > 200)
  }

  /// The tour, then every preset in turn (the GPT-2 one has 50,257 classes, so only two keys are spent there, then
  /// undo must bring back the exact problem from before it).
  @Test func presetsAndTour() throws {
    let start = try Problem(logits: [0.5, -1, 2], target: 1, precision: .float32).validated()
    var fuzzer = ExplorerFuzzer(seed: 77, problem: start)
    fuzzer.explorer.perform(.tourNext)
    for k in 0..<600 {
      if k % 50 == 0 { fuzzer.send(.key(.character("n"))) }
      fuzzer.step()
    }
    for _ in Preset.all.indices {
      fuzzer.send(.key(.escape))
      let before = fuzzer.explorer.state.problem
      fuzzer.send(.key(.character("P")))
      let huge = fuzzer.explorer.state.problem.classes > 4096
      for _ in 0..<(huge ? 2 : 20) {
        if huge {
          fuzzer.send(.key(.character(fuzzer.rng.pick(Array("jk+-")))))
        } else {
          fuzzer.step()
        }
      }
      if huge {
        while fuzzer.explorer.state.problem.classes > 4096 { fuzzer.send(.key(.character("u")), render: false) }
        #expect(fuzzer.explorer.state.problem == before, "undo did not return from the 50,257-class preset exactly")
      }
    }
    print(
      "explorer fuzz presets+tour: \(fuzzer.events) events, \(fuzzer.renders) renders, C up to \(fuzzer.largestC)")
    #expect(fuzzer.largestC == 50_257)
  }

  /// C = 131,072 once: a dozen events (each re-evaluates all 131,072 classes), rendered twice.
  @Test func hugeVector() throws {
    let logits = SeededRandom.logits(count: 131_072, seed: 9, scale: 2)
    let start = try Problem(logits: logits, target: 70_000, precision: .float32).validated()
    var fuzzer = ExplorerFuzzer(seed: 131_072, problem: start)
    let keys: [Key] = [
      .character("j"), .character("+"), .end, .character("x"), .character("a"), .character("t"), .character("u"),
      .control("r"), .home,
    ]
    for k in keys { fuzzer.send(.key(k), render: false) }
    fuzzer.send(.resize(width: 300, height: 100))
    fuzzer.send(.key(.character("1")))
    print("explorer fuzz C=131072: \(fuzzer.events) events, \(fuzzer.renders) renders")
    #expect(fuzzer.largestC == 131_072 && fuzzer.smallestC == 131_071)
  }
}
