import Foundation
import SoftmaxCore
import SoftmaxLesson
import SoftmaxText
import Testing

@testable import SoftmaxTUI

/// The screen-truth test: every screen of a corpus of more than a thousand states, at four terminal sizes and in both
/// digit modes, is read back and checked.
///
/// - (a) a number written after a named quantity (`s_2 = …`, `∂l/∂x_0 = …`, `σ = …`, a cell of the logits table or of
///   the Jacobian heatmap) is the evaluation's value at the digits shown;
/// - (b) every arithmetic chain `a ∘ b = c = …` holds at the digits shown (interval arithmetic: a number shown with k
///   significant digits stands for every value that rounds to it);
/// - (c) no number is cut at a panel edge, and in Unicode mode every negative number carries the one minus sign `−`.
///
/// Numbers are read with the help of ``NumberRecorder``: the views record every number they format with the value it
/// came from, so the test knows which tokens on screen are rounded numbers (and from which value) and which are exact
/// literals of the text (the `1` of `s_T − 1`).
@Suite struct ScreenTruthTests {
  /// One state of the corpus.
  struct Case {
    var name: String
    var state: AppState
    /// Every size and both digit modes (the edge cases), or one rotating size and mode per screen.
    var everySize: Bool
  }

  static let sizes = [(64, 20), (80, 24), (120, 40), (200, 60)]

  /// The corpus: presets, tour steps, edge cases and seeded random states.
  static func corpus() -> [Case] {
    var cases: [Case] = []
    func add(_ name: String, _ p: Problem, everySize: Bool = false, _ adjust: (inout AppState) -> Void = { _ in }) {
      guard let v = try? p.validated() else { return }
      var s = AppState(problem: v)
      adjust(&s)
      cases.append(Case(name: name, state: s, everySize: everySize))
    }
    for (k, preset) in Preset.all.enumerated() {
      add("preset \(k) \(preset.name)", preset.problem, everySize: preset.problem.classes < 1000)
    }
    let tour = BuiltInLessons.tour.lesson
    for (k, step) in tour.steps.enumerated() {
      guard var s = try? step.setup.state() else { continue }
      s.lesson = tour
      s.tourStep = k
      cases.append(Case(name: "tour \(k)", state: s, everySize: true))
    }
    let edges: [(String, Problem)] = [
      ("tiny loss", Problem(logits: [40, 0], target: 0)),
      ("tiny loss other target", Problem(logits: [40, 0], target: 1)),
      ("f32 dominant", Problem(logits: [17, 0, 0], target: 0, precision: .float32)),
      ("f32 dominant off-target", Problem(logits: [17, 0, 0], target: 1, precision: .float32)),
      ("tau 2", Problem(logits: [1, 2, 3], target: 0, temperature: 2)),
      ("tau 0.05", Problem(logits: [1, 2, 3], target: 2, temperature: 0.05)),
      ("smoothing", Problem(logits: [1, 2, 3], target: 0, labelSmoothing: 0.1)),
      ("soft target", Problem(logits: [1, 2, 3], target: 0, softTarget: [0.2, 0.3, 0.5])),
      ("upstream", Problem(logits: [1, 2, 3], target: 1, upstream: 0.37)),
      ("masked", Problem(logits: [0, -.infinity, 2], target: 0)),
      ("one class", Problem(logits: [3], target: 0)),
      ("overflow f64", Problem(logits: [1000, 1001, 1002], target: 2)),
      ("bf16 small", Problem(logits: [1, 2, 3], target: 0, precision: .bfloat16)),
      ("f16 small", Problem(logits: [0.1, -0.2, 0.3], target: 2, precision: .float16)),
      ("subnormal f32", Problem(logits: [0, 100], target: 0, precision: .float32)),
      ("negative logits", Problem(logits: [-3.5, -0.25, -7], target: 1)),
      ("twelve", Problem(logits: SeededRandom.logits(count: 12, seed: 12, scale: 2), target: 5)),
    ]
    for (name, p) in edges {
      for precision in Precision.allCases {
        var q = p
        q.precision = precision
        add("\(name) \(precision.rawValue)", q, everySize: true)
      }
    }
    for c in [1_000, 50_257, 131_072] {
      add(
        "large \(c)",
        Problem(logits: SeededRandom.logits(count: c, seed: UInt64(c), scale: 3), target: 4, precision: .bfloat16))
      add("large \(c) f64", Problem(logits: SeededRandom.logits(count: c, seed: UInt64(c), scale: 3), target: 7))
    }
    // Seeded random states: every precision, temperatures, smoothing, soft targets, masks, upstream gradients.
    var rng = SplitMix(seed: 0x5eed)
    while cases.count < 1_040 {
      let classes = [1, 2, 3, 4, 5, 6, 8, 12, 40][Int(rng.next() % 9)]
      let scale = [0.5, 2, 8, 30, 120][Int(rng.next() % 5)]
      var logits = (0..<classes).map { _ in (rng.unit() * 2 - 1) * scale }
      if classes > 2, rng.next() % 8 == 0 { logits[Int(rng.next() % UInt64(classes))] = -.infinity }
      var p = Problem(
        logits: logits, target: Int(rng.next() % UInt64(classes)),
        precision: Precision.allCases[Int(rng.next() % UInt64(Precision.allCases.count))])
      switch rng.next() % 6 {
      case 0: p.temperature = [0.25, 0.5, 2, 3][Int(rng.next() % 4)]
      case 1: p.labelSmoothing = [0.05, 0.1, 0.3][Int(rng.next() % 3)]
      case 2 where classes > 1:
        let w = (0..<classes).map { _ in rng.unit() + 0.05 }
        let total = w.reduce(0, +)
        p.softTarget = w.map { $0 / total }
      case 3: p.upstream = [0.5, 2, -1.25][Int(rng.next() % 3)]
      default: break
      }
      if p.target < classes, logits[p.target] == -.infinity { p.target = (p.target + 1) % classes }
      add("random \(cases.count)", p) { s in
        s.selection = Int(rng.next() % UInt64(classes))
        s.cursorI = Int(rng.next() % UInt64(classes))
        s.cursorN = Int(rng.next() % UInt64(classes))
      }
    }
    return cases
  }

  /// The screens of a state: the four views, and the Stability lab's three sections.
  static func screens(of state: AppState) -> [AppState] {
    var out: [AppState] = []
    for screen in Screen.allCases {
      var s = state
      s.screen = screen
      if screen == .stability {
        for section in StabilitySection.allCases {
          s.stabilitySection = section
          out.append(s)
        }
      } else {
        out.append(s)
      }
    }
    return out
  }

  @Test func everyNumberOnEveryScreenIsTrue() {
    let cases = Self.corpus()
    var stats = Stats()
    var failures: [String: (count: Int, example: String)] = [:]
    var rotation = 0
    for c in cases {
      let ev = Evaluation(c.state.problem)
      for state in Self.screens(of: c.state) {
        var variants: [(Int, Int, Bool)] = []
        if c.everySize {
          for (w, h) in Self.sizes { for full in [false, true] { variants.append((w, h, full)) } }
        } else {
          let (w, h) = Self.sizes[rotation % Self.sizes.count]
          variants.append((w, h, rotation % 2 == 1))
          rotation += 1
        }
        for (w, h, full) in variants {
          var s = state
          s.fullDigits = full
          s.width = w
          s.height = h
          let unicode = (w + h) % 3 != 0
          let ctx = RenderContext(unicode: unicode)
          let recorder = NumberRecorder()
          var buf = Buffer(width: 0, height: 0)
          NumberRecorder.$current.withValue(recorder) {
            Frame.render(s, evaluation: ev, comparison: nil, into: &buf, width: w, height: h, context: ctx)
          }
          stats.screens += 1
          var checker = ScreenChecker(
            buffer: buf, recorded: recorder.numbers, evaluation: ev, state: s, unicode: unicode)
          checker.run()
          stats.numbers += checker.numbers
          stats.equations += checker.equations
          stats.named += checker.named
          for f in checker.failures {
            let key = "\(state.screen) \(f.kind)"
            let example = "\(c.name) \(w)×\(h) \(full ? "full" : "4-digit"): \(f.detail)\n    │\(f.line)"
            failures[key, default: (0, example)].count += 1
          }
        }
      }
      stats.states += 1
    }
    print(
      "screen truth: \(stats.states) states, \(stats.screens) screens, \(stats.numbers) numbers, "
        + "\(stats.equations) equations, \(stats.named) named quantities checked")
    #expect(stats.states >= 1_000)
    for (key, f) in failures.sorted(by: { $0.key < $1.key }) {
      Issue.record("\(key): \(f.count) failures, e.g. \(f.example)")
    }
  }

  /// The checker must catch what it claims to catch.
  @Test func theCheckerCatchesFalseScreens() throws {
    let p = try Problem(logits: [1, 2, 3], target: 0).validated()
    let ev = Evaluation(p)
    func failures(_ lines: [String], recorded: [(Double, String)]) -> [ScreenChecker.Failure] {
      var buf = Buffer(width: 80, height: lines.count)
      for (y, l) in lines.enumerated() { buf.write(TextLine(l), x: 0, y: y) }
      var c = ScreenChecker(
        buffer: buf,
        recorded: recorded.map { NumberRecorder.Number(value: $0.0, text: $0.1, form: .significant(4)) },
        evaluation: ev, state: AppState(problem: p), unicode: true)
      c.run()
      return c.failures
    }
    let s0 = ev.softmax[0]
    // A true chain, a false chain, a wrong named value, a cut number, a hyphen minus.
    #expect(
      failures(["│ ∂c/∂x_0 = s_0 − 1 = 0.09003 − 1 = −0.9100 │"], recorded: [(s0, "0.09003"), (s0 - 1, "−0.9100")])
        .isEmpty)
    #expect(
      failures(["│ 0.09003 − 1 = −0.9200 │"], recorded: [(s0, "0.09003"), (-0.92, "−0.9200")]).map(\.kind) == [
        "chain does not hold"
      ])
    #expect(failures(["│ s_0 = 0.09103 │"], recorded: [(0.09103, "0.09103")]).map(\.kind) == ["wrong value of s_i"])
    #expect(
      failures(["│ row sum 5.2041704279…│"], recorded: [(5.204e-18, "5.204170427930421e-18")]).map(\.kind).contains(
        "number cut"))
    #expect(failures(["│ s_0 = -0.5 │"], recorded: [(-0.5, "-0.5")]).map(\.kind).contains("hyphen minus"))
    #expect(
      failures(["│ ∂c/∂x_0 = 1.000 − 1 = 0 │"], recorded: [(1, "1.000")]).map(\.kind).contains("wrong value of ∂c/∂x_i")
    )
  }

  struct Stats {
    var states = 0
    var screens = 0
    var numbers = 0
    var equations = 0
    var named = 0
  }
}

/// A small deterministic generator (SplitMix64) for the corpus.
struct SplitMix {
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
}

/// A closed interval of reals, computed in `Float80` and widened by a few ulps at each step.
struct Interval {
  var lo: Float80
  var hi: Float80

  init(_ lo: Float80, _ hi: Float80) {
    self.lo = lo
    self.hi = hi
  }
  init(exactly v: Float80) { self.init(v, v) }

  var isValid: Bool { !lo.isNaN && !hi.isNaN }

  func intersects(_ o: Interval) -> Bool { lo <= o.hi && o.lo <= hi }
  func contains(_ v: Float80) -> Bool { lo <= v && v <= hi }

  static func widen(_ a: Float80, _ b: Float80) -> Interval { Interval(a.nextDown.nextDown, b.nextUp.nextUp) }
  static func + (a: Interval, b: Interval) -> Interval { widen(a.lo + b.lo, a.hi + b.hi) }
  static func - (a: Interval, b: Interval) -> Interval { widen(a.lo - b.hi, a.hi - b.lo) }
  static prefix func - (a: Interval) -> Interval { Interval(-a.hi, -a.lo) }
  static func * (a: Interval, b: Interval) -> Interval {
    let p = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi].filter { !$0.isNaN }
    guard let lo = p.min(), let hi = p.max() else { return Interval(.nan, .nan) }
    return widen(lo, hi)
  }
  static func / (a: Interval, b: Interval) -> Interval {
    if b.lo <= 0 && b.hi >= 0 {
      if b.lo == 0 && b.hi == 0 { return Interval(.nan, .nan) }
      return Interval(-.infinity, .infinity)
    }
    return a * Interval(1 / b.hi, 1 / b.lo)
  }
  func map(_ f: (Float80) -> Float80) -> Interval {  // monotone increasing f
    Interval.widen(f(lo), f(hi))
  }
}

/// Reads one rendered screen back and checks it (see ``ScreenTruthTests``).
struct ScreenChecker {
  struct Failure {
    var kind: String
    var detail: String
    var line: String
  }

  let buffer: Buffer
  let recorded: [NumberRecorder.Number]
  let evaluation: Evaluation
  let state: AppState
  let unicode: Bool
  /// The texts the views formatted, normalised to ASCII minus, with the values they came from.
  let formatted: [String: [Double]]
  /// Texts formatted with their shortest exact digits, and texts formatted with a digit count.
  let shortestTexts: Set<String>
  var fourDigit: Set<String> = []
  var failures: [Failure] = []
  var numbers = 0
  var equations = 0
  var named = 0

  init(buffer: Buffer, recorded: [NumberRecorder.Number], evaluation: Evaluation, state: AppState, unicode: Bool) {
    self.buffer = buffer
    self.recorded = recorded
    self.evaluation = evaluation
    self.state = state
    self.unicode = unicode
    var f: [String: [Double]] = [:]
    var shortest: Set<String> = []
    for n in recorded {
      f[Self.normalise(n.text), default: []].append(n.value)
      if case .shortest = n.form {
        shortest.insert(Self.normalise(n.text))
      } else {
        fourDigit.insert(Self.normalise(n.text))
      }
    }
    self.formatted = f
    self.shortestTexts = shortest
  }

  static func normalise(_ s: String) -> String { s.replacingOccurrences(of: "−", with: "-") }

  mutating func fail(_ kind: String, _ detail: String, _ line: String) {
    failures.append(Failure(kind: kind, detail: detail, line: line))
  }

  // MARK: Tokens

  struct Token {
    var text: String
    var start: Int
    var end: Int
  }

  static func isNumberChar(_ c: Character) -> Bool { c.isASCII && (c.isNumber || c == ".") }

  /// The number tokens of a segment: an optional sign, digits with a point, an optional exponent; `inf`, `nan`.
  static func tokens(_ chars: [Character]) -> [Token] {
    var out: [Token] = []
    var i = 0
    while i < chars.count {
      let c = chars[i]
      let prev: Character? = i > 0 ? chars[i - 1] : nil
      let signed = (c == "-" || c == "−") && i + 1 < chars.count && (chars[i + 1].isNumber && chars[i + 1].isASCII)
      if (c.isASCII && c.isNumber) || signed {
        // Not part of a name (x_12, e^{40}'s digits count; `h2`, `f32`, `128k` do not).
        if let p = prev, p.isLetter || p == "_" || (p.isASCII && p.isNumber) || p == "." {
          i += 1
          while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
          continue
        }
        let start = i
        if signed { i += 1 }
        while i < chars.count, isNumberChar(chars[i]) { i += 1 }
        if i + 1 < chars.count, chars[i] == "e",
          chars[i + 1].isNumber
            || ((chars[i + 1] == "-" || chars[i + 1] == "+" || chars[i + 1] == "−") && i + 2 < chars.count
              && chars[i + 2].isNumber)
        {
          i += 2
          while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
        } else if i < chars.count, chars[i] == "e", i + 1 == chars.count || !chars[i + 1].isLetter {
          i += 1  // a dangling exponent: a cut number
        }
        var text = String(chars[start..<i])
        if text.hasSuffix("."), text.count > 1, !(i < chars.count && chars[i] == " ") {
          text.removeLast()
        } else if text.hasSuffix(".") {
          text.removeLast()
        }
        out.append(Token(text: text, start: start, end: start + text.count))
        i = start + text.count
        if i == start { i += 1 }
      } else {
        i += 1
      }
    }
    return out
  }

  /// The interval a shown number stands for: exact for a literal of the text (not formatted from a value), every value
  /// that rounds to it for a formatted one, widened by one ulp of the problem's precision where the value was computed
  /// in that precision.
  func interval(of text: String) -> Interval? {
    let t = Self.normalise(text)
    let facts = state.problem.precision.facts
    // `inf` is a value past the precision's range (what `e^{1000}` is in float64), not the extended real.
    if t == "inf" { return Interval(Float80(facts.maxFinite), .infinity) }
    if t == "-inf" { return Interval(-.infinity, -Float80(facts.maxFinite)) }
    guard let v = Float80(t) else { return nil }
    // A view may write the sign itself in front of a formatted magnitude.
    let unsigned = t.hasPrefix("-") ? String(t.dropFirst()) : t
    guard formatted[t] != nil || formatted[unsigned] != nil, unsigned != "0" else { return Interval(exactly: v) }
    // Half a unit in the last shown digit.
    let mantissa = t.split(separator: "e", maxSplits: 1)[0]
    let exponent = t.split(separator: "e", maxSplits: 1).count > 1 ? Int(t.split(separator: "e")[1]) ?? 0 : 0
    let fraction = mantissa.split(separator: ".", maxSplits: 1)
    let decimals = fraction.count > 1 ? fraction[1].count : 0
    var half = Float80(0.5)
    for _ in 0..<decimals { half /= 10 }
    var e = exponent
    while e > 0 {
      half *= 10
      e -= 1
    }
    while e < 0 {
      half /= 10
      e += 1
    }
    // Shortest round-trip digits stand for the precision's value, itself rounded from the exact result.
    let magnitude = Swift.max(abs(Double(v)), facts.leastNormal)
    let ulp = Float80(facts.ulpOfOne * magnitude)
    let r = Swift.max(half, ulp)
    return Interval(v - r, v + r)
  }

  // MARK: Running

  mutating func run() {
    for y in 0..<buffer.height {
      let line = buffer.line(y)
      let chars = Array(line)
      checkCuts(chars, line)
      checkTable(y, chars, line)
    }
    checkChains()
  }

  /// (c): a number next to an ellipsis, a dangling exponent, a number that is a strict prefix of a formatted number
  /// running into a panel edge, a hyphen for a negative number in Unicode mode.
  mutating func checkCuts(_ chars: [Character], _ line: String) {
    // One sign per number: `a − −0.03418` or `a + -2` is written `a − (−0.03418)` or `a + 2`.
    if line.range(of: #"[−+×·/-] [−-][0-9]"#, options: .regularExpression) != nil {
      fail("two signs", "an operator followed by a signed number", line)
    }
    if !unicode, line.range(of: #"[^ ]\?[^ ]"#, options: .regularExpression) != nil {
      fail("no ASCII spelling", "a symbol drawn as ?", line)
    }
    for t in Self.tokens(chars) {
      numbers += 1
      let before: Character? = t.start > 0 ? chars[t.start - 1] : nil
      let after: Character? = t.end < chars.count ? chars[t.end] : nil
      if before == "…" || after == "…" || (!unicode && (before == "#" || after == "#")) {
        fail("number cut", "\(t.text) beside an ellipsis", line)
      } else if t.text.hasSuffix("e") || t.text.hasSuffix("e-") || t.text.hasSuffix("e+") {
        fail("number cut", "\(t.text) has no exponent", line)
      } else if let a = after, a == "│" || a == "|" || a == "┐" || a == "┘" || a == "─",
        t.text.count >= 4, formatted[Self.normalise(t.text)] == nil,
        formatted.keys.contains(where: { $0.count > t.text.count && $0.hasPrefix(Self.normalise(t.text)) })
      {
        fail("number cut", "\(t.text) runs into the edge", line)
      }
      // (d) In the 4-digit mode a number has the mode's digits: exact digits only when they are short (`709.78`).
      let digits = t.text.filter(\.isNumber).count
      let key = Self.normalise(t.text)
      if !state.fullDigits, digits > 7, shortestTexts.contains(key), !fourDigit.contains(key) {
        fail("full digits in the 4-digit mode", "\(t.text)", line)
      }
      if unicode, t.text.hasPrefix("-") {
        fail("hyphen minus", "\(t.text) is written with a hyphen in Unicode mode", line)
      }
    }
  }

  // MARK: Named quantities

  /// The value a name on screen stands for, if the checker knows it.
  func value(ofName raw: String) -> (kind: String, value: Double)? {
    let name = raw.trimmingCharacters(in: .whitespaces)
    let ev = evaluation
    let p = ev.problem
    func index(_ prefix: String, _ s: String) -> Int? {
      guard s.hasPrefix(prefix), let k = Int(s.dropFirst(prefix.count)), k >= 0, k < p.classes else { return nil }
      return k
    }
    if let k = index("s_", name) { return ("s_i", ev.softmax[k]) }
    if let k = index("∂l/∂x_", name) { return ("∂l/∂x_i", ev.gradient[k]) }
    if let k = index("∂c/∂x_", name), p.upstream == 1 { return ("∂c/∂x_i", ev.gradient[k]) }
    if name.hasPrefix("∂s_"), let slash = name.firstIndex(of: "/") {
      let i = Int(name[name.index(name.startIndex, offsetBy: 3)..<slash])
      let rest = name[name.index(after: slash)...]
      if let i, i < p.classes, rest.hasPrefix("∂x_"), let n = Int(rest.dropFirst(3)), n < p.classes {
        return ("∂s_i/∂x_n", ev.jacobian(i, n))
      }
    }
    if name == "c" || name == "c = −log s_T" { return ("c", ev.loss) }
    return nil
  }

  /// (a) and (b): arithmetic chains, with the named quantity at their head when there is one.
  mutating func checkChains() {
    // Continuation lines (`= …` under the line that starts the chain) join their chain, per panel column.
    var open: [Int: (name: String?, parts: [String], line: String)] = [:]
    for y in 0..<buffer.height {
      let line = buffer.line(y)
      var x = 0
      for segment in line.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "│" || $0 == "|" }) {
        defer { x += segment.count + 1 }
        let trimmed = segment.trimmingCharacters(in: .whitespaces)
        if var o = open[x], let last = o.parts.last, last.hasSuffix(" =") || last == "=" {
          // The line broke after an `=`: this line's first clause is the chain's next part.
          o.parts[o.parts.count - 1] = String(last.dropLast()).trimmingCharacters(in: .whitespaces)
          if o.parts[o.parts.count - 1].isEmpty { o.parts.removeLast() }
          let rest = clauses(of: trimmed)
          if let first = rest.first { o.parts += clauseParts(first) }
          o.line += "\n    │" + line
          open[x] = o
          if rest.count > 1 {
            check(o.name, o.parts, o.line)
            open[x] = nil
          }
          continue
        }
        let endsInOperator = open[x]?.parts.last.map { p in p.last.map { "×·/+−-".contains($0) } ?? false } ?? false
        if let first = trimmed.first, endsInOperator || ("×·/+−-".contains(first) && trimmed.dropFirst().first == " "),
          var o = open[x], let last = o.parts.last
        {
          // A wrapped line that starts with an operator goes on with the last expression (`= 0.1863 × (1 − 0.1863)`
          // then `/ 2`).
          let rest = clauses(of: trimmed)
          o.parts[o.parts.count - 1] = last + " " + (rest.first.map { clauseParts($0).first ?? $0 } ?? "")
          if let more = rest.first.map(clauseParts), more.count > 1 { o.parts += more.dropFirst() }
          o.line += "\n    │" + line
          open[x] = o
          continue
        }
        if trimmed.hasPrefix("= "), var o = open[x] {
          // The first clause goes on with the chain; any later one starts its own.
          let rest = clauses(of: String(trimmed.dropFirst(2)))
          if let first = rest.first { o.parts.append(contentsOf: clauseParts(first)) }
          o.line += "\n    │" + line
          open[x] = rest.count > 1 ? nil : o
          if rest.count > 1 { check(o.name, o.parts, o.line) }
          for clause in rest.dropFirst() {
            if let o = open.removeValue(forKey: x) { check(o.name, o.parts, o.line) }
            let parts = clauseParts(clause)
            guard parts.count >= 2 else { continue }
            open[x] = (parts[0], Array(parts.dropFirst()), line)
          }
          continue
        }
        if let o = open.removeValue(forKey: x) { check(o.name, o.parts, o.line) }
        for clause in clauses(of: String(segment)) {
          // Only a chain that ends its line can go on in the next.
          if let o = open.removeValue(forKey: x) { check(o.name, o.parts, o.line) }
          if clause.hasPrefix("= ") {
            // `= …` whose head is on a line the checker does not read as a chain (prose): a chain without a name.
            open[x] = (nil, clauseParts(String(clause.dropFirst(2))), line)
            continue
          }
          let parts = clauseParts(clause)
          guard parts.count >= 2 else { continue }
          let head = parts[0]
          var probe = ExpressionParser(Array(head), checker: self)
          if probe.parse(allowTrailing: false) != nil {
            open[x] = (nil, parts, line)
          } else {
            // The name is what follows the last colon of the first part (`chain rule: ∂c/∂x_0`).
            var name = head
            if let colon = head.lastIndex(of: ":") { name = String(head[head.index(after: colon)...]) }
            open[x] = (name, Array(parts.dropFirst()), line)
          }
        }
      }
      _ = x
    }
    for o in open.values { check(o.name, o.parts, o.line) }
  }

  /// A segment split into clauses at two or more spaces and at ` · ` (a separator when spaced).
  func clauses(of segment: String) -> [String] {
    var out: [String] = []
    for piece in segment.components(separatedBy: "  ") {
      for c in piece.components(separatedBy: " · ") {
        for d in c.components(separatedBy: ", ") {
          for e in d.components(separatedBy: "; ") {
            let t = e.trimmingCharacters(in: .whitespaces)
            if !t.isEmpty { out.append(t) }
          }
        }
      }
    }
    return out
  }

  func clauseParts(_ clause: String) -> [String] {
    clause.components(separatedBy: " = ").map { $0.trimmingCharacters(in: .whitespaces) }
  }

  mutating func check(_ name: String?, _ parts: [String], _ line: String) {
    var values: [(String, Interval)] = []
    for (k, part) in parts.enumerated() {
      var parser = ExpressionParser(Array(part), checker: self)
      guard let v = parser.parse(allowTrailing: k == parts.count - 1) else { continue }
      values.append((part, v))
    }
    guard !values.isEmpty else { return }
    if values.count >= 2 || parts.count >= 2 { equations += 1 }
    for a in 0..<values.count {
      for b in (a + 1)..<values.count where !values[a].1.intersects(values[b].1) {
        fail("chain does not hold", "\(values[a].0) ≠ \(values[b].0)", line)
        return
      }
    }
    if let name, let (kind, truth) = value(ofName: name) {
      named += 1
      // The evaluation's value is itself the precision's rounding of the exact one.
      let facts = state.problem.precision.facts
      let slack = Float80(facts.ulpOfOne * Swift.max(abs(truth), facts.leastNormal))
      for (text, v) in values where !Interval(v.lo - slack, v.hi + slack).contains(Float80(truth)) {
        fail("wrong value of \(kind)", "\(name) = \(text), but the evaluation has \(truth)", line)
        return
      }
    }
  }

  // MARK: Tables

  /// The column headers seen so far on this screen, per panel (by the panel's left edge).
  var logitsHeader: Set<Int> = []
  var heatmapColumns: [Int: [Int]] = [:]

  /// The logits table of the Explore screen (`i  x_i  s_i  ∂l/∂x_i  x_i after`) and the Jacobian heatmap
  /// (`n=0 n=1 …` over rows `i=0 …`): every cell is the evaluation's value at its digits.
  mutating func checkTable(_ y: Int, _ chars: [Character], _ line: String) {
    guard state.screen == .explore, state.edit == nil else { return }
    let ev = evaluation
    let p = ev.problem
    if line.contains("┌") || line.contains("└") || line.contains("+-") {
      logitsHeader.removeAll()
      heatmapColumns.removeAll()
      return
    }
    var x = 0
    for segment in line.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "│" || $0 == "|" }) {
      defer { x += segment.count + 1 }
      let text = String(segment)
      let trimmed = text.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("i ") && trimmed.contains("x_i") && trimmed.contains("s_i") {
        logitsHeader.insert(x)
        continue
      }
      if trimmed.hasPrefix("n=") {
        heatmapColumns[x] = trimmed.split(separator: " ").compactMap { Int($0.dropFirst(2)) }
        continue
      }
      let toks = Self.tokens(Array(text)).map(\.text)
      if logitsHeader.contains(x), toks.count >= 4, let i = Int(toks[0]), i < p.classes {
        var expected: [(String, Double)] = [
          ("x_i", p.logits[i]), ("s_i", ev.softmax[i]), ("∂l/∂x_i", ev.gradient[i]),
        ]
        if ev.stepRefusal == nil { expected.append(("x_i after", ev.updatedLogits[i])) }
        for (k, (name, truth)) in expected.enumerated() where k + 1 < toks.count {
          compare(name: "\(name) (table)", toks[k + 1], truth, line)
        }
      }
      if let columns = heatmapColumns[x], trimmed.hasPrefix("i="),
        let i = Int(trimmed.dropFirst(2).prefix { $0.isNumber }),
        i < p.classes
      {
        let toks = Self.tokens(Array(trimmed.drop { $0 != " " })).map(\.text)
        for (n, t) in zip(columns, toks) where n < p.classes {
          compare(name: "∂s_i/∂x_n (heatmap)", t, ev.jacobian(i, n), line)
        }
      }
    }
  }

  /// A table cell against the evaluation's value.
  mutating func compare(name: String, _ text: String, _ truth: Double, _ line: String) {
    guard let v = interval(of: text) else { return }
    named += 1
    let facts = state.problem.precision.facts
    let slack = Float80(facts.ulpOfOne * Swift.max(abs(truth), facts.leastNormal))
    let t = Float80(truth)
    if truth.isInfinite
      ? Float80(truth) != v.lo && Float80(truth) != v.hi : !Interval(v.lo - slack, v.hi + slack).contains(t)
    {
      fail("wrong value of \(name)", "\(text), but the evaluation has \(truth)", line)
    }
  }
}

/// Parses a numeric expression (numbers, + − × · /, parentheses, `e^{…}`, `log`) into an interval.
struct ExpressionParser {
  let chars: [Character]
  let checker: ScreenChecker
  var i = 0

  init(_ chars: [Character], checker: ScreenChecker) {
    self.chars = chars
    self.checker = checker
  }

  mutating func skipSpaces() { while i < chars.count, chars[i] == " " { i += 1 } }

  func peek() -> Character? { i < chars.count ? chars[i] : nil }

  mutating func parse(allowTrailing: Bool) -> Interval? {
    guard let v = expression() else { return nil }
    skipSpaces()
    if i < chars.count {
      // A clause may end in a mark or words after a space: `0 ✗`, `4.248e-18 (rounded)`.
      guard allowTrailing, i > 0, chars[i - 1] == " ", let c = peek(), !"+-−×·/*=".contains(c) else { return nil }
    }
    return v.isValid ? v : nil
  }

  mutating func expression() -> Interval? {
    guard var v = term() else { return nil }
    while true {
      let save = i
      skipSpaces()
      guard let c = peek(), c == "+" || c == "−" || (c == "-" && i > save) else {
        i = save
        return v
      }
      i += 1
      skipSpaces()
      guard let t = term() else { return nil }
      v = c == "+" ? v + t : v - t
    }
  }

  mutating func term() -> Interval? {
    guard var v = factor() else { return nil }
    while true {
      let save = i
      skipSpaces()
      guard let c = peek(), c == "×" || c == "·" || c == "/" || c == "*" else {
        i = save
        return v
      }
      i += 1
      skipSpaces()
      guard let f = factor() else { return nil }
      v = c == "/" ? v / f : v * f
    }
  }

  mutating func factor() -> Interval? {
    skipSpaces()
    guard let c = peek() else { return nil }
    if c == "−" || c == "-" {
      if i + 1 < chars.count, chars[i + 1].isNumber {
        return number()
      }
      i += 1
      return factor().map { -$0 }
    }
    if c == "(" {
      i += 1
      guard let v = expression() else { return nil }
      skipSpaces()
      guard peek() == ")" else { return nil }
      i += 1
      return v
    }
    if c == "e", i + 2 < chars.count, chars[i + 1] == "^", chars[i + 2] == "{" {
      i += 3
      guard let v = expression(), peek() == "}" else { return nil }
      i += 1
      return v.map { Float80.exp($0) }
    }
    if chars[i...].starts(with: "log ") {
      i += 4
      guard let v = factor(), v.lo > 0 else { return nil }
      return v.map { Float80.log($0) }
    }
    if c.isNumber || c == "i" { return number() }
    return nil
  }

  mutating func number() -> Interval? {
    let start = i
    if peek() == "−" || peek() == "-" { i += 1 }
    while i < chars.count, chars[i].isASCII, chars[i].isNumber || chars[i] == "." { i += 1 }
    if i + 1 < chars.count, chars[i] == "e", chars[i + 1].isNumber || chars[i + 1] == "-" || chars[i + 1] == "+" {
      i += 2
      while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
    }
    if chars[i...].starts(with: "inf") { i += 3 }
    // A number glued to a name (`2x`, `s_0`) is not a number.
    if i < chars.count, chars[i].isLetter || chars[i] == "_" || chars[i] == "^" { return nil }
    return checker.interval(of: String(chars[start..<i]))
  }
}
