import Testing

@testable import SoftmaxCore
import SoftmaxText

/// The lean column recomputes per-class values on demand; every one must be bit for bit the full evaluation's.
@Suite struct PrecisionColumnTests {
  /// Equal bit patterns, or both NaN.
  func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

  func expectIdentical(_ problem: Problem, sourceLocation: SourceLocation = #_sourceLocation) {
    let full = Evaluation(problem)
    let lean = PrecisionColumn(lean: problem)
    #expect(lean.isLean)
    let name = "\(problem.precision) C=\(problem.classes)"
    #expect(lean.overflow == full.overflow, "\(name): overflow report", sourceLocation: sourceLocation)
    let scalars: [(String, Double, Double)] = [
      ("naive σ", lean.naiveSum, full.naive.sum), ("M", lean.stableMax, full.stable.max),
      ("stable σ", lean.stableSum, full.stable.sum), ("loss", lean.loss, full.loss),
      ("naive loss", lean.lossNaive, full.lossNaive),
      ("stable-softmax loss", lean.lossFromStableSoftmax, full.lossFromStableSoftmax),
    ]
    for (label, a, b) in scalars {
      #expect(same(a, b), "\(name): \(label) lean \(a) full \(b)", sourceLocation: sourceLocation)
    }
    var mismatches: [String] = []
    for i in 0..<problem.classes {
      let pairs: [(String, Double, Double)] = [
        ("z", lean.scaled(i), full.scaled[i]), ("naive e", lean.naiveExp(i), full.naive.exps[i]),
        ("naive s", lean.naiveProbability(i), full.naive.probabilities[i]),
        ("shifted", lean.shifted(i), full.stable.shifted[i]), ("stable e", lean.stableExp(i), full.stable.exps[i]),
        ("stable s", lean.stableProbability(i), full.stable.probabilities[i]),
        ("m", lean.runningMax(i), full.onlineRecurrence.runningMax[i]), ("d", lean.runningSum(i), full.onlineRecurrence.runningSum[i]),
        ("online s", lean.onlineProbability(i), full.onlineProbability(i)),
      ]
      for (label, a, b) in pairs where !same(a, b) {
        mismatches.append("\(label)[\(i)]: lean \(a) full \(b)")
      }
    }
    #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(5))", sourceLocation: sourceLocation)
  }

  @Test(arguments: [Precision.float32, .bfloat16, .float16])
  func leanMatchesFullEvaluation(precision: Precision) throws {
    var rng = PropRNG(seed: 77)
    for round in 0..<24 {
      let c = [1, 2, 7, 127, 128, 129, 300, 1000][round % 8]
      let scale = [1.0, 4, 30, 300][round % 4]
      var logits = (0..<c).map { _ in rng.normal() * scale }
      if c > 2 && round % 3 == 0 { logits[rng.int(0...(c - 1))] = -.infinity }
      var p = Problem(logits: logits, target: rng.int(0...(c - 1)), precision: precision)
      if round % 5 == 1 { p.temperature = 0.7 }
      if round % 6 == 2 { p.labelSmoothing = 0.1 }
      if round % 7 == 3 { p.softTarget = (0..<c).map { $0 % 2 == 0 ? 2.0 / Double(c + 1) : 0 } }
      guard let v = try? p.validated() else { continue }
      expectIdentical(v)
    }
  }

  @Test func leanMatchesFullEvaluationAtFloat64AboveTheWideLimit() throws {
    // Above the limit the full float64 evaluation also uses Double for its trusted path.
    var rng = PropRNG(seed: 5)
    let c = Evaluation.wideLimit + 333
    let logits = (0..<c).map { _ in rng.normal() * 50 }
    expectIdentical(try Problem(logits: logits, target: 17).validated())
    var smoothed = Problem(logits: logits, target: 3, temperature: 2.5, labelSmoothing: 0.2)
    smoothed.logits[9] = -.infinity
    expectIdentical(try smoothed.validated())
  }

  @Test func overflowAndUnderflowCasesMatch() throws {
    // float16 overflows at 11.09; bfloat16 keeps float32's range; huge negative logits underflow everywhere.
    let cases: [[Double]] = [
      [12, 1, 0, -3], [11, 11, 0], [-20, -30, -100], [100, 200, 300], [1000, -1000, 0], [-.infinity, 3, 3],
    ]
    for logits in cases {
      for precision in [Precision.float32, .bfloat16, .float16] {
        guard let p = try? Problem(logits: logits, target: 1, precision: precision).validated() else { continue }
        expectIdentical(p)
      }
    }
  }

  @Test func columnChoosesLeanOnlyAboveTheLimit() throws {
    let small = try Problem(logits: [1, 2, 3], target: 0, precision: .float16).validated()
    #expect(!PrecisionColumn(small).isLean)
    let big = try Problem(
      logits: (0..<(Evaluation.wideLimit + 1)).map { Double($0 % 13) }, target: 0, precision: .float16
    ).validated()
    #expect(PrecisionColumn(big).isLean)
  }
}

/// Calls `body` with every finite float16 value, the midpoint to its upper neighbour (a tie), and the values of `F`
/// just beside each of them: where a rounding to float16 can go wrong.
func forEachHalfNeighbourhood<F: BinaryFloatingPoint>(_: F.Type, _ body: (F) -> Void) {
  for bits in UInt16.min...UInt16.max {
    let h = Float16(bitPattern: bits)
    guard h.isFinite else { continue }
    var points = [F(h)]
    let next = F(h.nextUp)
    if next.isFinite { points.append(F(h) + (next - F(h)) / 2) }
    for v in points {
      body(v)
      body(v.nextUp)
      body(v.nextDown)
    }
  }
}

@Suite struct HalfInFloatTests {
  func check(_ f: Float, sourceLocation: SourceLocation = #_sourceLocation) {
    let fast = HalfInFloat.round(f)
    let library = Float(Float16(f))
    #expect(
      fast.bitPattern == library.bitPattern || (fast.isNaN && library.isNaN),
      "\(f) (0x\(String(f.bitPattern, radix: 16))): fast \(fast), Float16 \(library)", sourceLocation: sourceLocation)
  }

  @Test func roundsEveryHalfValueAndTheFloatsAroundIt() {
    forEachHalfNeighbourhood(Float.self) { check($0) }
  }

  @Test func roundsTheEdgesOfTheRange() {
    let edges: [Float] = [
      65504, 65519, 65519.998, 65520, 65536, 1e30, .greatestFiniteMagnitude, .infinity, -.infinity, .nan,
      0x1p-14, Float(0x1p-14).nextDown, 0x1p-24, 0x1p-25, Float(0x1p-25).nextUp, 0x1p-26, 0x1.8p-24,
      .leastNonzeroMagnitude, 0, -0.0, -0x1p-25, -Float(0x1p-25).nextUp, -65520,
    ]
    for f in edges {
      check(f)
    }
  }

  @Test func roundsRandomFloats() {
    var rng = PropRNG(seed: 16)
    for _ in 0..<200_000 {
      let bits = UInt32(truncatingIfNeeded: rng.next())
      // Bias toward float16's range: exponents near 0 (the interesting region), plus anything at all.
      let f = Float(bitPattern: bits)
      check(f)
      check(Float(sign: f.sign, exponent: Int(bits % 48) - 28, significand: 1 + Float(bits >> 9) * 0x1p-23))
    }
  }
}

@Suite struct RoundToHalfTests {
  func check(_ x: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    let fast = Precision.float16.round(x)
    let library = Double(Float16(x))
    #expect(
      fast.bitPattern == library.bitPattern || (fast.isNaN && library.isNaN),
      "\(x): fast \(fast), Float16 \(library)", sourceLocation: sourceLocation)
  }

  @Test func everyHalfValueItsMidpointsAndNeighbours() {
    forEachHalfNeighbourhood(Double.self) { check($0) }
  }

  @Test func edgesAndRandomDoubles() {
    for x: Double in [
      65504, 65519.999, 65520, 1e300, .infinity, -.infinity, .nan, 0x1p-14, 0x1p-25, 0x1p-26, 0, -0.0,
      -0x1p-25, .leastNonzeroMagnitude, -.greatestFiniteMagnitude,
    ] {
      check(x)
    }
    var rng = PropRNG(seed: 61)
    for _ in 0..<200_000 {
      check(Double(bitPattern: rng.next()))
      check(rng.normal() * Double.pow(2, Double(rng.int(-30...17))))
    }
  }
}

@Suite struct WithColumnsTests {
  @Test func sameNumbersAsComputedOneByOne() throws {
    var rng = PropRNG(seed: 9)
    let c = Evaluation.parallelThreshold + 77
    let logits = (0..<c).map { _ in rng.normal() * 3 }
    for problem in [
      try Problem(logits: logits, target: 5).validated(),
      try Problem(logits: logits, target: 5, precision: .float32, temperature: 0.5).validated(),
    ] {
      let others = Precision.allCases.filter { $0 != problem.precision }
      let (evaluation, columns) = Evaluation.withColumns(problem, precisions: others)
      let alone = Evaluation(problem)
      #expect(evaluation.loss == alone.loss)
      #expect(evaluation.gradient == alone.gradient)
      #expect(evaluation.updatedLogits == alone.updatedLogits)
      // Deferred in withColumns, computed up front alone: the same value either way.
      #expect(evaluation.updatedLoss == alone.updatedLoss)
      #expect(evaluation.online.runningSum == alone.online.runningSum)
      #expect(columns.count == others.count)
      for (precision, result) in zip(others, columns) {
        var p = problem
        p.precision = precision
        let expected = PrecisionColumn(try p.validated())
        let column = try result.get()
        #expect(column.problem.precision == precision)
        #expect(column.loss.bitPattern == expected.loss.bitPattern, "\(precision)")
        #expect(column.naiveSum.bitPattern == expected.naiveSum.bitPattern, "\(precision)")
        #expect(column.runningSum(c - 1).bitPattern == expected.runningSum(c - 1).bitPattern, "\(precision)")
      }
    }
  }

  @Test func aPrecisionThatCannotHoldTheInputIsAFailedColumn() throws {
    let problem = try Problem(logits: [70_000] + (0..<(Evaluation.parallelThreshold)).map(Double.init), target: 0)
      .validated()
    let (_, columns) = Evaluation.withColumns(problem, precisions: [.float16, .float32])
    #expect(throws: InputError.self) { try columns[0].get() }
    #expect(try columns[1].get().problem.precision == .float32)
  }
}

@Suite struct NaiveSumDiagnosisTests {
  @Test func float16SumOfManyOnesStallsAt2048() throws {
    // 1 + 1 + … in float16: at 2048 the spacing is 2, so 2048 + 1 rounds back to 2048 (ties to even).
    let p = try Problem(logits: [Double](repeating: 0, count: 5000), target: 0, precision: .float16).validated()
    let report = Evaluation(p).overflow
    #expect(report.outcome == .inaccurate)
    #expect(report.label == "sum error")
    let error = try #require(report.sumRelativeError)
    #expect(abs(error - (1 - 2048.0 / 5000)) < 1e-12)
    #expect(report.diagnosis.description.contains("is 2048 against the exact 5000, 2.44× too small"), "\(report.diagnosis)")
    // The lean column reads the same verdict off its own pass.
    #expect(PrecisionColumn(p).overflow == report)
  }

  @Test func aSumErrorIsReportedEvenWithSubnormalTerms() throws {
    // One e^{−10} is subnormal in float16, but the verdict that matters is the sum of 5,000 ones stalling at 2048.
    let p = try Problem(logits: [Double](repeating: 0, count: 5000) + [-10], target: 0, precision: .float16)
      .validated()
    let report = Evaluation(p).overflow
    #expect(report.subnormal == [5000])
    #expect(report.label == "sum error")
    #expect(report.exponentialsFail)
  }

  @Test func aSumTooLargeIsWordedAsSuch() throws {
    // From 2048 on, each term of about 1.1 is added as a whole step of 2: the float16 sum comes out too large.
    let p = try Problem(
      logits: [7.625] + [Double](repeating: 0.0953, count: 100), target: 0, precision: .float16
    ).validated()
    let report = Evaluation(p).overflow
    #expect(report.label == "sum error")
    #expect(report.diagnosis.description.contains("too large"), "\(report.diagnosis)")
    #expect(!report.exponentialsFail)
  }

  @Test func smallVectorsAndWideFormatsStayFine() throws {
    for precision in Precision.allCases {
      let p = try Problem(logits: [1, 2, 3], target: 0, precision: precision).validated()
      #expect(Evaluation(p).overflow.outcome == .fine, "\(precision)")
    }
    let wide = try Problem(logits: [Double](repeating: 0, count: 5000), target: 0).validated()
    #expect(Evaluation(wide).overflow.outcome == .fine)
    #expect((Evaluation(wide).overflow.sumRelativeError ?? 1) < 1e-12)
  }
}

/// A lean column updated to a problem that differs in some logits must be bit for bit a fresh column of that problem.
@Suite struct PrecisionColumnUpdateTests {
  func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

  /// Every scalar, the overflow report and every per-class value of `a` and `b` are identical.
  func expectIdentical(
    _ a: PrecisionColumn, _ b: PrecisionColumn, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(a.overflow == b.overflow, "\(name): overflow report", sourceLocation: sourceLocation)
    let scalars: [(String, Double, Double)] = [
      ("naive σ", a.naiveSum, b.naiveSum), ("M", a.stableMax, b.stableMax), ("stable σ", a.stableSum, b.stableSum),
      ("loss", a.loss, b.loss), ("naive loss", a.lossNaive, b.lossNaive),
      ("stable-softmax loss", a.lossFromStableSoftmax, b.lossFromStableSoftmax),
    ]
    for (label, x, y) in scalars {
      #expect(same(x, y), "\(name): \(label) updated \(x) fresh \(y)", sourceLocation: sourceLocation)
    }
    var mismatches: [String] = []
    let c = b.problem.classes
    for i in 0..<c {
      var pairs: [(String, Double, Double)] = [
        ("z", a.scaled(i), b.scaled(i)), ("naive e", a.naiveExp(i), b.naiveExp(i)),
        ("naive s", a.naiveProbability(i), b.naiveProbability(i)), ("shifted", a.shifted(i), b.shifted(i)),
        ("stable e", a.stableExp(i), b.stableExp(i)), ("stable s", a.stableProbability(i), b.stableProbability(i)),
        ("online s", a.onlineProbability(i), b.onlineProbability(i)),
      ]
      // Each running value replays up to `checkpointStride` steps: on large vectors every checkpoint's first and
      // last, and a sample in between (the saved states themselves are all compared through them).
      let stride = PrecisionColumn.checkpointStride
      if c < 1000 || i % stride == 0 || i % stride == stride - 1 || i % 37 == 0 || i >= c - 3 {
        pairs += [("m", a.runningMax(i), b.runningMax(i)), ("d", a.runningSum(i), b.runningSum(i))]
      }
      for (label, x, y) in pairs where !same(x, y) { mismatches.append("\(label)[\(i)]: updated \(x) fresh \(y)") }
    }
    #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(5))", sourceLocation: sourceLocation)
  }

  /// Applies `edits` one after the other to a lean column of `base` (each update starting from the previous one's
  /// terms) and compares each result with a fresh column.
  func checkEdits(
    _ base: Problem, _ edits: [(String, (inout [Double]) -> Void)], sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    var column = PrecisionColumn(lean: base)
    var problem = base
    for (label, edit) in edits {
      edit(&problem.logits)
      guard let validated = try? problem.validated() else { continue }
      problem = validated
      column.update(to: validated, anySize: true)
      let name = "\(base.precision) C=\(base.classes) \(label)"
      #expect(column.isUpdate, "\(name): not updated in place", sourceLocation: sourceLocation)
      expectIdentical(column, PrecisionColumn(lean: validated), name, sourceLocation: sourceLocation)
    }
  }

  static func argmax(_ x: [Double]) -> Int { x.indices.max { x[$0] < x[$1] || (x[$0] == x[$1] && $0 > $1) }! }

  @Test(arguments: Precision.allCases)
  func editsMatchAFreshColumn(precision: Precision) throws {
    let huge: Double = precision == .float16 ? 60_000 : 1e30
    for c in [2, 127, 128, 129, 300, Evaluation.wideLimit, Evaluation.wideLimit + 1, Evaluation.wideLimit + 130] {
      var rng = PropRNG(seed: UInt64(c))
      let logits = (0..<c).map { _ in rng.normal() * 3 }
      let base = try Problem(logits: logits, target: c / 2, precision: precision).validated()
      let mid = c / 2
      var edits: [(String, (inout [Double]) -> Void)] = [
        ("small edit, same max", { x in x[mid] = x[mid] == x.max()! ? x[mid] : (x[mid] + x.max()!) / 2 }),
        ("undo-like edit back", { x in x[mid] -= 0.25 }),
        ("raise the max", { x in x[mid] = x.max()! + 2 }),
        ("lower the old max", { x in x[Self.argmax(x)] -= 7 }),
        ("last element", { x in x[c - 1] += 1 }),
        ("first element", { x in x[0] -= 1.5 }),
        ("first element becomes the max", { x in x[0] = x.max()! + 0.5 }),
        ("last element becomes the max", { x in x[c - 1] = x.max()! + 0.5 }),
        ("several logits", { x in for j in stride(from: 1, to: c, by: max(1, c / 5)) { x[j] *= 0.5 } }),
        ("huge logit (overflow)", { x in x[mid] = huge }),
        ("back from overflow", { x in x[mid] = 1 }),
        ("masked logit", { x in x[c - 1] = -.infinity }),
        ("masked max", { x in x[Self.argmax(x)] = -.infinity }),
        ("unmasked", { x in x[c - 1] = 0.5 }),
        ("tie with the max before it", { x in x[0] = x.max()! }),
        ("no change", { _ in }),
      ]
      if c > 2 {
        edits.append(
          (
            "two edits around a checkpoint",
            { x in
              x[min(c - 1, 128)] += 1
              x[min(c - 1, 127)] -= 1
            }
          ))
      }
      try checkEdits(base, edits)
    }
  }

  @Test(arguments: [Precision.float16, .float32])
  func smoothingSoftTargetAndTemperature(precision: Precision) throws {
    let c = 700
    var rng = PropRNG(seed: 3)
    let logits = (0..<c).map { _ in rng.normal() * 2 }
    var smoothed = Problem(logits: logits, target: 4, precision: precision, labelSmoothing: 0.1)
    smoothed.temperature = 0.75
    let edits: [(String, (inout [Double]) -> Void)] = [
      ("edit", { x in x[300] += 1 }), ("raise the max", { x in x[600] = 20 }), ("first", { x in x[0] = -1 }),
    ]
    try checkEdits(try smoothed.validated(), edits)
    let soft = Problem(
      logits: logits, target: 0, precision: precision, softTarget: (0..<c).map { $0 % 2 == 0 ? 2.0 / Double(c) : 0 })
    try checkEdits(try soft.validated(), edits)
  }

  @Test func otherChangesRebuildTheColumn() throws {
    var rng = PropRNG(seed: 8)
    let c = Evaluation.wideLimit + 50
    let base = try Problem(logits: (0..<c).map { _ in rng.normal() }, target: 3, precision: .float32).validated()
    var changes: [(String, Problem)] = []
    var p = base
    p.temperature = 0.5
    changes.append(("temperature", p))
    p = base
    p.target = 4
    changes.append(("target", p))
    p = base
    p.labelSmoothing = 0.1
    changes.append(("smoothing", p))
    p = base
    p.precision = .float16
    changes.append(("precision", p))
    p = base
    p.logits.append(0)
    changes.append(("class count", p))
    for (label, changed) in changes {
      var column = PrecisionColumn(base)
      #expect(column.isLean)
      let validated = try changed.validated()
      column.update(to: validated)
      #expect(!column.isUpdate, "\(label): should be rebuilt")
      expectIdentical(column, PrecisionColumn(lean: validated), label)
    }
    // A logit edit on a lean column above the limit is an update; a full column (small problem) is rebuilt.
    var column = PrecisionColumn(base)
    p = base
    p.logits[7] += 1
    column.update(to: try p.validated())
    #expect(column.isUpdate)
    var small = PrecisionColumn(try Problem(logits: [1, 2, 3], precision: .float32).validated())
    small.update(to: try Problem(logits: [1, 2, 4], precision: .float32).validated())
    #expect(!small.isLean && !small.isUpdate)
    #expect(small.loss == PrecisionColumn(try Problem(logits: [1, 2, 4], precision: .float32).validated()).loss)
  }
}
